// The peer side of the chaincode shim protocol for chaincode-as-a-service: the peer dials the chaincode server
// (mutual TLS), opens `protos.Chaincode/Connect`, answers REGISTER with REGISTERED then READY, sends TRANSACTION
// messages and serves the chaincode's state requests against a TxSimulator until COMPLETED or ERROR.

import * as grpc from '@grpc/grpc-js';
import { ledger, peer } from '@hyperledger/fabric-protos';
import { RangeIterator, TxSimulator } from './simulator';

const MsgType = peer.ChaincodeMessage.Type;

/** Results per QueryResponse batch between peer and shim (Fabric's MaxResultLimit). */
const MAX_RESULT_LIMIT = 100;
/** Fabric's default ledger.state.totalQueryLimit. */
const TOTAL_QUERY_LIMIT = 100_000;

export interface ChaincodeEndpoint {
    /** e.g. mycc */
    name: string;
    /** MSP of the peer that talks to this chaincode process */
    mspId: string;
    /** package id the chaincode must register with (CHAINCODE_CCID) */
    packageId: string;
    address: string;
    tlsRootCert: Buffer;
    clientKey: Buffer;
    clientCert: Buffer;
}

export interface ExecuteResult {
    response: peer.Response;
    event: peer.ChaincodeEvent | undefined;
}

/** Failure of the execution itself (no chaincode response), reported by the peer as a status 500 without payload. */
export class ExecutionError extends Error {}

interface OpenQuery {
    iterator: RangeIterator;
    endKey: string;
    paginated: boolean;
    limit: number;
    returned: number;
    pending: ledger.queryresult.KV[];
}

interface TxContext {
    channelId: string;
    txId: string;
    simulator: TxSimulator | undefined;
    queries: Map<string, OpenQuery>;
    resolve: (msg: peer.ChaincodeMessage) => void;
}

function serialize(msg: peer.ChaincodeMessage): Buffer {
    const bytes = msg.serializeBinary();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function deserialize(bytes: Buffer): peer.ChaincodeMessage {
    return peer.ChaincodeMessage.deserializeBinary(bytes);
}

export class ChaincodeConnection {
    readonly endpoint: ChaincodeEndpoint;
    readonly #log: (line: string) => void;
    #client: grpc.Client | undefined;
    #stream: grpc.ClientDuplexStream<peer.ChaincodeMessage, peer.ChaincodeMessage> | undefined;
    #ready: Promise<void> | undefined;
    readonly #contexts = new Map<string, TxContext>();
    #queryCounter = 0;
    #closed = false;

    constructor(endpoint: ChaincodeEndpoint, log: (line: string) => void) {
        this.endpoint = endpoint;
        this.#log = log;
    }

    get connected(): boolean {
        return this.#stream !== undefined;
    }

    /** Connects (or reuses the connection). Rejects if the chaincode cannot be reached within timeoutMs. */
    connect(timeoutMs = 10_000): Promise<void> {
        if (this.#closed) return Promise.reject(new ExecutionError('the peer is stopping'));
        this.#ready ??= this.#dial(timeoutMs).catch((err: unknown) => {
            this.#ready = undefined;
            throw err;
        });
        return this.#ready;
    }

    #dial(timeoutMs: number): Promise<void> {
        const ep = this.endpoint;
        const creds = grpc.credentials.createSsl(ep.tlsRootCert, ep.clientKey, ep.clientCert);
        const client = new grpc.Client(ep.address, creds, {
            'grpc.keepalive_time_ms': 110_000,
            // The chaincode certificate names localhost; avoids Node's warning about IP addresses as TLS server names.
            'grpc.ssl_target_name_override': 'localhost',
            'grpc.max_receive_message_length': 100 * 1024 * 1024,
            'grpc.max_send_message_length': 100 * 1024 * 1024,
        });
        // A previous client (its chaincode process died, or its dial failed) is not reused.
        this.#client?.close();
        this.#client = client;
        return new Promise<void>((resolve, reject) => {
            const deadline = Date.now() + timeoutMs;
            client.waitForReady(deadline, (err) => {
                if (err) {
                    client.close();
                    reject(
                        new ExecutionError(
                            `error trying to connect to chaincode ${ep.name} for ${ep.mspId} at ${ep.address}: ${err.message}`,
                        ),
                    );
                    return;
                }
                const stream = client.makeBidiStreamRequest('/protos.Chaincode/Connect', serialize, deserialize);
                let state: 'created' | 'ready' = 'created';
                const timer = setTimeout(() => {
                    stream.cancel();
                    reject(new ExecutionError(`timeout waiting for chaincode ${ep.name} (${ep.mspId}) to register`));
                }, timeoutMs);
                stream.on('data', (msg: peer.ChaincodeMessage) => {
                    if (state === 'created') {
                        if (msg.getType() !== MsgType.REGISTER) {
                            this.#send(stream, this.#errorMsg(msg, `expected REGISTER, got ${msg.getType()}`));
                            return;
                        }
                        const id = peer.ChaincodeID.deserializeBinary(msg.getPayload_asU8());
                        if (id.getName() !== ep.packageId) {
                            clearTimeout(timer);
                            this.#send(
                                stream,
                                this.#errorMsg(msg, `chaincode ${id.getName()} is not the installed package`),
                            );
                            stream.end();
                            reject(
                                new ExecutionError(
                                    `chaincode registered as ${id.getName()}, expected package id ${ep.packageId}`,
                                ),
                            );
                            return;
                        }
                        const registered = new peer.ChaincodeMessage();
                        registered.setType(MsgType.REGISTERED);
                        this.#send(stream, registered);
                        const ready = new peer.ChaincodeMessage();
                        ready.setType(MsgType.READY);
                        this.#send(stream, ready);
                        state = 'ready';
                        this.#stream = stream;
                        clearTimeout(timer);
                        resolve();
                        return;
                    }
                    this.#onMessage(stream, msg);
                });
                const onGone = (why: string) => {
                    clearTimeout(timer);
                    if (this.#stream === stream) {
                        this.#stream = undefined;
                        this.#ready = undefined;
                        this.#log(`chaincode stream ${ep.name}/${ep.mspId} closed: ${why}`);
                    }
                    for (const ctx of this.#contexts.values()) {
                        const m = new peer.ChaincodeMessage();
                        m.setType(MsgType.ERROR);
                        m.setPayload(Buffer.from(`chaincode stream terminated: ${why}`));
                        ctx.resolve(m);
                    }
                    reject(new ExecutionError(`chaincode stream closed before registration: ${why}`));
                };
                stream.on('error', (e: Error) => {
                    onGone(e.message);
                });
                stream.on('end', () => {
                    onGone('end of stream');
                });
            });
        });
    }

    #send(stream: grpc.ClientDuplexStream<peer.ChaincodeMessage, peer.ChaincodeMessage>, msg: peer.ChaincodeMessage) {
        stream.write(msg);
    }

    #errorMsg(about: peer.ChaincodeMessage, text: string): peer.ChaincodeMessage {
        const m = new peer.ChaincodeMessage();
        m.setType(MsgType.ERROR);
        m.setPayload(Buffer.from(text));
        m.setTxid(about.getTxid());
        m.setChannelId(about.getChannelId());
        return m;
    }

    /**
     * Executes a transaction on the chaincode. `simulator` undefined means no state access is permitted
     * (not used by Fabric for chaincode invocations, kept for completeness).
     */
    async execute(
        channelId: string,
        txId: string,
        input: peer.ChaincodeInput,
        signedProposal: peer.SignedProposal,
        simulator: TxSimulator | undefined,
        timeoutMs: number,
    ): Promise<ExecuteResult> {
        await this.connect();
        const stream = this.#stream;
        if (!stream) throw new ExecutionError(`chaincode ${this.endpoint.name} is not connected`);
        const ctxKey = channelId + txId;
        if (this.#contexts.has(ctxKey)) {
            throw new ExecutionError(`txid: ${txId}(${channelId}) exists`);
        }
        const done = new Promise<peer.ChaincodeMessage>((resolve) => {
            this.#contexts.set(ctxKey, { channelId, txId, simulator, queries: new Map(), resolve });
        });
        const msg = new peer.ChaincodeMessage();
        msg.setType(MsgType.TRANSACTION);
        msg.setPayload(input.serializeBinary());
        msg.setTxid(txId);
        msg.setChannelId(channelId);
        msg.setProposal(signedProposal);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
                reject(new ExecutionError('timeout expired while executing transaction'));
            }, timeoutMs);
        });
        try {
            this.#send(stream, msg);
            const reply = await Promise.race([done, timeout]);
            if (reply.getType() === MsgType.COMPLETED) {
                const response = peer.Response.deserializeBinary(reply.getPayload_asU8());
                const ev = reply.getChaincodeEvent();
                let event: peer.ChaincodeEvent | undefined;
                if (ev && ev.getEventName() !== '') {
                    ev.setChaincodeId(this.endpoint.name);
                    ev.setTxId(txId);
                    event = ev;
                }
                return { response, event };
            }
            throw new ExecutionError(
                `transaction returned with failure: ${Buffer.from(reply.getPayload_asU8()).toString()}`,
            );
        } finally {
            clearTimeout(timer);
            const ctx = this.#contexts.get(ctxKey);
            if (ctx) {
                for (const q of ctx.queries.values()) q.iterator.close(q.endKey);
                this.#contexts.delete(ctxKey);
            }
        }
    }

    #onMessage(
        stream: grpc.ClientDuplexStream<peer.ChaincodeMessage, peer.ChaincodeMessage>,
        msg: peer.ChaincodeMessage,
    ): void {
        const type = msg.getType();
        if (type === MsgType.KEEPALIVE) return;
        const ctx = this.#contexts.get(msg.getChannelId() + msg.getTxid());
        if (type === MsgType.COMPLETED || type === MsgType.ERROR) {
            ctx?.resolve(msg);
            return;
        }
        const reply = (payload: Uint8Array) => {
            const m = new peer.ChaincodeMessage();
            m.setType(MsgType.RESPONSE);
            m.setPayload(payload);
            m.setTxid(msg.getTxid());
            m.setChannelId(msg.getChannelId());
            this.#send(stream, m);
        };
        if (!ctx) {
            this.#send(stream, this.#errorMsg(msg, `no ledger context for transaction ${msg.getTxid()}`));
            return;
        }
        try {
            reply(this.#handle(ctx, msg));
        } catch (err) {
            this.#send(stream, this.#errorMsg(msg, (err as Error).message));
        }
    }

    #handle(ctx: TxContext, msg: peer.ChaincodeMessage): Uint8Array {
        const sim = ctx.simulator;
        const payload = msg.getPayload_asU8();
        const need = (): TxSimulator => {
            if (!sim) throw new Error('no ledger context');
            return sim;
        };
        const noCollection = (collection: string) => {
            if (collection !== '') throw new Error('private data collections are not supported by the devnet');
        };
        switch (msg.getType()) {
            case MsgType.GET_STATE: {
                const req = peer.GetState.deserializeBinary(payload);
                noCollection(req.getCollection());
                return need().getState(req.getKey());
            }
            case MsgType.PUT_STATE: {
                const req = peer.PutState.deserializeBinary(payload);
                noCollection(req.getCollection());
                need().putState(req.getKey(), Buffer.from(req.getValue_asU8()));
                return new Uint8Array(0);
            }
            case MsgType.DEL_STATE: {
                const req = peer.DelState.deserializeBinary(payload);
                noCollection(req.getCollection());
                need().delState(req.getKey());
                return new Uint8Array(0);
            }
            case MsgType.GET_STATE_BY_RANGE: {
                const req = peer.GetStateByRange.deserializeBinary(payload);
                noCollection(req.getCollection());
                const metaBytes = req.getMetadata_asU8();
                const meta = metaBytes.length > 0 ? peer.QueryMetadata.deserializeBinary(metaBytes) : undefined;
                const paginated = meta !== undefined && (meta.getPagesize() !== 0 || meta.getBookmark() !== '');
                let limit = TOTAL_QUERY_LIMIT;
                const pageSize = meta?.getPagesize() ?? 0;
                if (pageSize > 0 && pageSize < limit) limit = pageSize;
                let startKey = req.getStartkey();
                if (paginated && meta.getBookmark() !== '') startKey = meta.getBookmark();
                const iterator = paginated
                    ? need().paginatedRangeIterator(startKey, req.getEndkey(), limit)
                    : need().rangeIterator(startKey, req.getEndkey());
                const id = `q${++this.#queryCounter}`;
                const q: OpenQuery = { iterator, endKey: req.getEndkey(), paginated, limit, returned: 0, pending: [] };
                ctx.queries.set(id, q);
                return this.#nextBatch(ctx, id, q).serializeBinary();
            }
            case MsgType.QUERY_STATE_NEXT: {
                const req = peer.QueryStateNext.deserializeBinary(payload);
                const q = ctx.queries.get(req.getId());
                if (!q) throw new Error(`query iterator not found`);
                return this.#nextBatch(ctx, req.getId(), q).serializeBinary();
            }
            case MsgType.QUERY_STATE_CLOSE: {
                const req = peer.QueryStateClose.deserializeBinary(payload);
                const q = ctx.queries.get(req.getId());
                if (q) {
                    q.iterator.close(q.endKey);
                    ctx.queries.delete(req.getId());
                }
                const resp = new peer.QueryResponse();
                resp.setId(req.getId());
                resp.setHasMore(false);
                return resp.serializeBinary();
            }
            case MsgType.GET_QUERY_RESULT:
                throw new Error('ExecuteQuery not supported for leveldb');
            case MsgType.GET_HISTORY_FOR_KEY:
                throw new Error('history queries are not supported by the devnet');
            default:
                throw new Error(`message type ${msg.getType()} is not supported by the devnet peer`);
        }
    }

    /** Same batching as Fabric's QueryResponseGenerator (including its one-result read-ahead). */
    #nextBatch(ctx: TxContext, id: string, q: OpenQuery): peer.QueryResponse {
        const namespace = this.endpoint.name;
        const toKv = (key: string, value: Buffer) => {
            const kv = new ledger.queryresult.KV();
            kv.setNamespace(namespace);
            kv.setKey(key);
            kv.setValue(value);
            return kv;
        };
        const finish = (): peer.QueryResponse => {
            const resp = new peer.QueryResponse();
            resp.setResultsList(q.pending.map((kv) => this.#wrap(kv)));
            q.pending = [];
            resp.setHasMore(false);
            resp.setId(id);
            if (q.paginated) {
                const meta = new peer.QueryResponseMetadata();
                meta.setFetchedRecordsCount(q.returned);
                meta.setBookmark(q.iterator.bookmark());
                resp.setMetadata(meta.serializeBinary());
            }
            q.iterator.close(q.endKey);
            ctx.queries.delete(id);
            return resp;
        };
        for (;;) {
            if (q.returned >= q.limit) return finish();
            const r = q.iterator.next();
            if (!r) return finish();
            if (!q.paginated && q.pending.length === MAX_RESULT_LIMIT) {
                const batch = q.pending;
                q.pending = [toKv(r.key, r.value)];
                q.returned++;
                const resp = new peer.QueryResponse();
                resp.setResultsList(batch.map((kv) => this.#wrap(kv)));
                resp.setHasMore(true);
                resp.setId(id);
                return resp;
            }
            q.pending.push(toKv(r.key, r.value));
            q.returned++;
        }
    }

    #wrap(kv: ledger.queryresult.KV): peer.QueryResultBytes {
        const b = new peer.QueryResultBytes();
        b.setResultbytes(kv.serializeBinary());
        return b;
    }

    close(): void {
        this.#closed = true;
        this.#stream?.cancel();
        this.#stream = undefined;
        this.#client?.close();
        this.#client = undefined;
    }
}
