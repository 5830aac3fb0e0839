// A Substra-backend-like client: grpc-js stubs from @grpc/proto-loader on PROTO_DIR (keepCase), headers `mspid` and
// `channel` only. Records every RPC it calls so that a test can check the coverage of the 40 RPCs.

import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_DIR, PROTO_FILES, RPCS, type orchestrator } from '@substra-fabric/api';
import { expect } from 'vitest';

const definition = loadSync([...PROTO_FILES], {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: Number,
    enums: Number,
    defaults: true,
    oneofs: true,
});
const pkg = grpc.loadPackageDefinition(definition).orchestrator as unknown as Record<
    string,
    grpc.ServiceClientConstructor
>;

/** `Service/Method` of every RPC this process called (whatever the outcome) → name of the first test calling it. */
export const calledRpcs = new Map<string, string>();

function record(rpc: string): void {
    if (!calledRpcs.has(rpc)) calledRpcs.set(rpc, expect.getState().currentTestName ?? '(setup)');
}

export type RpcName = `${string}Service/${string}`;

type UnaryFn = (
    request: object,
    metadata: grpc.Metadata,
    callback: (err: grpc.ServiceError | null, response: unknown) => void,
) => void;
type StreamFn = (request: object, metadata: grpc.Metadata) => grpc.ClientReadableStream<orchestrator.IEvent>;

const channels = new Map<string, Map<string, grpc.Client>>();
const insecure = grpc.credentials.createInsecure();
const credentialIds = new WeakMap<grpc.ChannelCredentials, number>();
let credentialCount = 0;

function stub(address: string, service: string, credentials: grpc.ChannelCredentials = insecure): grpc.Client {
    let credentialId = credentialIds.get(credentials);
    if (credentialId === undefined) credentialIds.set(credentials, (credentialId = ++credentialCount));
    const key = `${address} ${String(credentialId)}`;
    let byService = channels.get(key);
    if (!byService) channels.set(key, (byService = new Map<string, grpc.Client>()));
    let client = byService.get(service);
    if (!client) {
        const ctor = pkg[service];
        if (!ctor) throw new Error(`unknown service ${service}`);
        client = new ctor(address, credentials);
        byService.set(service, client);
    }
    return client;
}

export function closeClients(): void {
    for (const m of channels.values()) for (const c of m.values()) c.close();
    channels.clear();
}

/** The headers of a call; undefined leaves a header out. */
export interface Headers {
    mspid: string | undefined;
    channel: string | undefined;
}

function metadataOf(headers: Headers): grpc.Metadata {
    const md = new grpc.Metadata();
    if (headers.mspid !== undefined) md.set('mspid', headers.mspid);
    if (headers.channel !== undefined) md.set('channel', headers.channel);
    return md;
}

function rpcInfo(rpc: RpcName) {
    const [service = '', method = ''] = rpc.split('/');
    const info = RPCS.find((r) => r.service === service && r.method === method);
    if (!info) throw new Error(`unknown RPC ${rpc}`);
    return { service, method };
}

/** The client of one organization on one channel of the gateway at `address`. */
export class OrgClient {
    constructor(
        readonly address: string,
        readonly mspid: string,
        readonly channel: string,
        /** TLS (and client certificate) of the connection; plaintext when undefined */
        readonly credentials?: grpc.ChannelCredentials,
    ) {}

    on(channel: string): OrgClient {
        return new OrgClient(this.address, this.mspid, channel, this.credentials);
    }

    call<T = unknown>(rpc: RpcName, request: object = {}, headers?: Partial<Headers>): Promise<T> {
        const { service, method } = rpcInfo(rpc);
        record(rpc);
        const client = stub(this.address, service, this.credentials) as unknown as Record<string, UnaryFn>;
        const fn = client[method];
        if (!fn) throw new Error(`no method ${method}`);
        const md = metadataOf({ mspid: this.mspid, channel: this.channel, ...headers });
        return new Promise<T>((resolve, reject) => {
            fn.call(client, request, md, (err, response) => {
                if (err) reject(err);
                else resolve(response as T);
            });
        });
    }

    subscribe(startEventId = '', headers?: Partial<Headers>): EventSubscription {
        record('EventService/SubscribeToEvents');
        const client = stub(this.address, 'EventService', this.credentials) as unknown as Record<string, StreamFn>;
        const fn = client.SubscribeToEvents;
        if (!fn) throw new Error('no SubscribeToEvents');
        const md = metadataOf({ mspid: this.mspid, channel: this.channel, ...headers });
        return new EventSubscription(fn.call(client, { start_event_id: startEventId }, md));
    }
}

/** Collects the events of a SubscribeToEvents stream. */
export class EventSubscription {
    readonly events: orchestrator.IEvent[] = [];
    error: grpc.ServiceError | undefined;
    readonly #waiters = new Set<() => void>();

    constructor(readonly stream: grpc.ClientReadableStream<orchestrator.IEvent>) {
        stream.on('data', (event: orchestrator.IEvent) => {
            this.events.push(event);
            this.#wake();
        });
        stream.on('error', (err: grpc.ServiceError) => {
            this.error = err;
            this.#wake();
        });
    }

    #wake(): void {
        for (const w of [...this.#waiters]) w();
    }

    /** Waits until `predicate(events)` holds; fails on a stream error or after `timeoutMs`. */
    async waitFor(
        predicate: (events: orchestrator.IEvent[]) => boolean,
        timeoutMs = 20_000,
    ): Promise<orchestrator.IEvent[]> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            if (predicate(this.events)) return this.events;
            if (this.error && this.error.code !== grpc.status.CANCELLED) throw this.error;
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`timeout waiting for events (have ${this.events.length})`);
            await new Promise<void>((resolve) => {
                const done = () => {
                    clearTimeout(timer);
                    this.#waiters.delete(done);
                    resolve();
                };
                const timer = setTimeout(done, Math.min(left, 500));
                this.#waiters.add(done);
            });
        }
    }

    /** Waits for the stream's error (e.g. a refused start id). */
    async failure(timeoutMs = 10_000): Promise<grpc.ServiceError> {
        const deadline = Date.now() + timeoutMs;
        while (!this.error) {
            if (Date.now() > deadline) throw new Error('the stream did not fail');
            await new Promise((r) => setTimeout(r, 20));
        }
        return this.error;
    }

    cancel(): void {
        this.stream.cancel();
    }
}

/** Asserts that `promise` fails with gRPC `code` and, when given, a message containing `text`. */
export async function expectGrpcError(
    promise: Promise<unknown>,
    code: grpc.status,
    text?: string,
): Promise<grpc.ServiceError> {
    let err: unknown;
    try {
        await promise;
    } catch (e) {
        err = e;
    }
    expect(err, 'the call should have failed').toBeDefined();
    const se = err as grpc.ServiceError;
    expect({ code: grpc.status[se.code], details: se.details }).toMatchObject({
        code: grpc.status[code],
        ...(text !== undefined ? { details: expect.stringContaining(text) as unknown } : {}),
    });
    return se;
}

export { grpc };
