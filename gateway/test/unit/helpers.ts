import * as grpc from '@grpc/grpc-js';
import { encodeEventBatch, orchestrator } from '@substra-fabric/api';
import pino from 'pino';
import { InvocationError } from '../../src/errors';
import { parseChannelConfig } from '../../src/ops/config';
import type {
    ChainHeightRequest,
    ChaincodeEventRecord,
    ChaincodeEventsRequest,
    CloseableAsyncIterable,
    FabricClient,
    InvokeRequest,
    LastEventBlockRequest,
    TransactionBlockRequest,
    TransactionLocation,
} from '../../src/fabric/client';
import { GatewayServer, type GatewayServerOptions } from '../../src/rpc/server';

export type Mode = 'evaluate' | 'submit';

export interface RecordedCall {
    readonly mode: Mode;
    readonly request: InvokeRequest;
}

interface ChainTransaction {
    readonly blockNumber: bigint;
    readonly transactionId: string;
    readonly eventName: string;
    readonly payload: Uint8Array;
}

/** In-memory stand-in for Fabric: records invocations, and holds a chain of chaincode events. */
export class FakeFabric implements FabricClient {
    readonly calls: RecordedCall[] = [];
    readonly chain: ChainTransaction[] = [];
    /** Blocks the fake ledger knows without chaincode events (invalid or event-less transactions). */
    readonly otherTransactions = new Map<string, bigint>();
    /** Blocks of transactions whose events the fake does not reveal (`emitted` undefined). */
    readonly opaqueTransactions = new Map<string, bigint>();
    readonly blockRequests: TransactionBlockRequest[] = [];
    eventRequests: ChaincodeEventsRequest[] = [];
    handler: (mode: Mode, request: InvokeRequest) => Uint8Array | Promise<Uint8Array> = (_mode, request) =>
        request.argument;
    #wakers = new Set<() => void>();
    closed = false;
    /** Height answered by chainHeight; undefined: the last block of the chain + 1 (0 when empty). */
    height: bigint | undefined;
    readonly heightRequests: ChainHeightRequest[] = [];
    readonly lastEventBlockRequests: LastEventBlockRequest[] = [];
    /** The last block of the range holding an event of that name; set to undefined to act as a client without it. */
    lastEventBlock: ((request: LastEventBlockRequest) => Promise<bigint | undefined>) | undefined = (request) => {
        this.lastEventBlockRequests.push(request);
        const blocks = this.chain
            .filter((t) => t.eventName === request.eventName)
            .map((t) => t.blockNumber)
            .filter((b) => b >= request.fromBlock && b <= request.toBlock);
        return Promise.resolve(blocks.length === 0 ? undefined : blocks.reduce((a, b) => (a > b ? a : b)));
    };

    evaluate(request: InvokeRequest): Promise<Uint8Array> {
        this.calls.push({ mode: 'evaluate', request });
        return Promise.resolve().then(() => this.handler('evaluate', request));
    }

    submit(request: InvokeRequest): Promise<Uint8Array> {
        this.calls.push({ mode: 'submit', request });
        return Promise.resolve().then(() => this.handler('submit', request));
    }

    /** Append a transaction with these events in a new block (or the given one). */
    commit(transactionId: string, events: orchestrator.IEvent[], blockNumber?: bigint): void {
        const last = this.chain[this.chain.length - 1];
        const block = blockNumber ?? (last ? last.blockNumber + 1n : 1n);
        this.chain.push({
            blockNumber: block,
            transactionId,
            eventName: 'chaincode-updates',
            payload: encodeEventBatch(events),
        });
        for (const wake of [...this.#wakers]) {
            wake();
        }
    }

    chaincodeEvents(request: ChaincodeEventsRequest): Promise<CloseableAsyncIterable<ChaincodeEventRecord>> {
        this.eventRequests.push(request);
        let open = true;
        let wake: (() => void) | undefined;
        const wakers = this.#wakers;
        const chain = this.chain;
        const iterable: CloseableAsyncIterable<ChaincodeEventRecord> = {
            async *[Symbol.asyncIterator]() {
                let next = 0;
                while (open) {
                    const tx = chain[next];
                    if (tx === undefined) {
                        await new Promise<void>((resolve) => {
                            wake = resolve;
                            wakers.add(resolve);
                        });
                        continue;
                    }
                    next++;
                    if (tx.blockNumber >= request.startBlock) {
                        yield tx;
                    }
                }
            },
            close: () => {
                open = false;
                if (wake) {
                    wakers.delete(wake);
                    wake();
                }
            },
        };
        return Promise.resolve(iterable);
    }

    transactionBlock(request: TransactionBlockRequest): Promise<TransactionLocation | undefined> {
        this.blockRequests.push(request);
        const tx = this.chain.find((t) => t.transactionId === request.transactionId);
        if (tx !== undefined) {
            const emitted = tx.eventName === request.eventName && request.chaincode !== '';
            return Promise.resolve({ blockNumber: tx.blockNumber, emitted });
        }
        const other = this.otherTransactions.get(request.transactionId);
        if (other !== undefined) {
            return Promise.resolve({ blockNumber: other, emitted: false });
        }
        const opaque = this.opaqueTransactions.get(request.transactionId);
        return Promise.resolve(opaque === undefined ? undefined : { blockNumber: opaque, emitted: undefined });
    }

    chainHeight(request: ChainHeightRequest): Promise<bigint> {
        this.heightRequests.push(request);
        const last = this.chain[this.chain.length - 1];
        return Promise.resolve(this.height ?? (last ? last.blockNumber + 1n : 0n));
    }

    close(): void {
        this.closed = true;
    }
}

export function chaincodeError(message: string): InvocationError {
    return new InvocationError('chaincode', message);
}

/** An orchestrator event as the chaincode emits it (no channel). */
export function event(
    id: string,
    fields: Partial<orchestrator.IEvent> & { seconds?: number } = {},
): orchestrator.IEvent {
    const { seconds = 1_700_000_000, ...rest } = fields;
    return {
        id,
        asset_key: 'key-1',
        asset_kind: orchestrator.AssetKind.ASSET_COMPUTE_TASK,
        event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
        timestamp: { seconds, nanos: 0 },
        ...rest,
    };
}

export const CHANNEL_YAML = `
channels:
  mychannel: [Org1MSP, Org2MSP]
  yourchannel: [Org1MSP]
  otherchannel: [Org3MSP]
chaincodes:
  yourchannel: yourcc
`;

export const silentLogger = pino({ level: 'silent' });

export interface Harness {
    readonly server: GatewayServer;
    readonly fabric: FakeFabric;
    readonly client: grpc.Client;
    readonly port: number;
    readonly metricsPort: number | undefined;
    close(): Promise<void>;
}

/** The configuration of a test gateway: loopback, a free port, CHANNEL_YAML, chaincode mycc, no metrics. */
export function testConfig(overrides: Partial<GatewayServerOptions['config']> = {}): GatewayServerOptions['config'] {
    return {
        host: '127.0.0.1',
        port: 0,
        channelConfig: parseChannelConfig(CHANNEL_YAML),
        defaultChaincode: 'mycc',
        maxReceiveMessageBytes: 4 * 1024 * 1024,
        metricsEnabled: false,
        metricsHost: '127.0.0.1',
        metricsPort: 0,
        ...overrides,
    };
}

/** Start a gateway on a free port with a fake Fabric behind it, and a raw grpc-js client. */
export async function startHarness(overrides: Partial<GatewayServerOptions> = {}): Promise<Harness> {
    const fabric = new FakeFabric();
    const server = new GatewayServer({
        config: testConfig(),
        fabric,
        logger: silentLogger,
        version: '9.9.9-test',
        invokerOverrides: { sleep: () => Promise.resolve() },
        ...overrides,
    });
    const { port, metricsPort } = await server.start();
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return {
        server,
        fabric: (overrides.fabric as FakeFabric | undefined) ?? fabric,
        client,
        port,
        metricsPort,
        close: async () => {
            client.close();
            await server.stop(500);
        },
    };
}

export function headers(values: Record<string, string | string[]>): grpc.Metadata {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(values)) {
        for (const v of Array.isArray(value) ? value : [value]) {
            metadata.add(key, v);
        }
    }
    return metadata;
}

export const ORG1 = { mspid: 'Org1MSP', channel: 'mychannel' };

const identity = (value: Buffer): Buffer => value;

/** Raw unary call: bytes in, bytes out. */
export function unary(
    client: grpc.Client,
    path: string,
    request: Uint8Array,
    metadata: grpc.Metadata,
): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        client.makeUnaryRequest(path, identity, identity, Buffer.from(request), metadata, (err, response) => {
            if (err) {
                reject(err);
            } else {
                resolve(response ?? Buffer.alloc(0));
            }
        });
    });
}

/** Unary call expected to fail; resolves with the error. */
export async function unaryError(
    client: grpc.Client,
    path: string,
    request: Uint8Array,
    metadata: grpc.Metadata,
): Promise<grpc.ServiceError> {
    try {
        await unary(client, path, request, metadata);
    } catch (err) {
        return err as grpc.ServiceError;
    }
    throw new Error(`${path} succeeded`);
}

export const SUBSCRIBE = '/orchestrator.EventService/SubscribeToEvents';
export const QUERY_EVENTS = '/orchestrator.EventService/QueryEvents';

/** Open SubscribeToEvents and collect decoded events. */
export function subscribe(
    client: grpc.Client,
    startEventId: string,
    metadata: grpc.Metadata,
): { stream: grpc.ClientReadableStream<Buffer>; events: orchestrator.Event[]; error: Promise<grpc.ServiceError> } {
    const request = orchestrator.SubscribeToEventsParam.encode({ start_event_id: startEventId }).finish();
    const stream = client.makeServerStreamRequest(SUBSCRIBE, identity, identity, Buffer.from(request), metadata);
    const events: orchestrator.Event[] = [];
    stream.on('data', (data: Buffer) => {
        events.push(orchestrator.Event.decode(data));
    });
    const error = new Promise<grpc.ServiceError>((resolve) => {
        stream.on('error', (err: grpc.ServiceError) => {
            resolve(err);
        });
    });
    return { stream, events, error };
}

/** Poll until `condition` holds (or fail after `timeoutMs`). */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) {
            throw new Error('condition not reached in time');
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}

/** A fake Fabric whose event streams deliver only `allowed` records each, then wait for more. */
export class GatedFabric extends FakeFabric {
    allowed = 0;
    readonly #wakers = new Set<() => void>();

    allow(records: number): void {
        this.allowed += records;
        for (const wake of [...this.#wakers]) {
            wake();
        }
    }

    override async chaincodeEvents(
        request: ChaincodeEventsRequest,
    ): Promise<CloseableAsyncIterable<ChaincodeEventRecord>> {
        const inner = await super.chaincodeEvents(request);
        const wakers = this.#wakers;
        const allowed = (): number => this.allowed;
        let open = true;
        let wake: (() => void) | undefined;
        return {
            async *[Symbol.asyncIterator]() {
                let delivered = 0;
                for await (const record of inner) {
                    while (open && delivered >= allowed()) {
                        await new Promise<void>((resolve) => {
                            wake = resolve;
                            wakers.add(resolve);
                        });
                        if (wake) {
                            wakers.delete(wake);
                        }
                    }
                    if (!open) {
                        return;
                    }
                    delivered++;
                    yield record;
                }
            },
            close: () => {
                open = false;
                inner.close();
                wake?.();
            },
        };
    }
}
