// Transaction simulator with Fabric's semantics: reads come from committed state only (no read-your-writes),
// writes are buffered, the read set records versions, range queries record what the chaincode actually pulled
// from the iterator (for phantom detection), an empty value written is a delete, and paginated queries cannot be
// mixed with writes in one transaction.

import { ledger } from '@hyperledger/fabric-protos';
import { compareKeys, StateResult, Version, WorldState } from './state';

const { kvrwset } = ledger.rwset;

export interface RangeQueryRecord {
    startKey: string;
    endKey: string;
    itrExhausted: boolean;
    reads: { key: string; version: Version }[];
}

export class SimulationError extends Error {}

export class RangeIterator {
    readonly #sim: TxSimulator;
    readonly #gen: Generator<StateResult>;
    readonly #record: RangeQueryRecord;
    readonly #limit: number | undefined;
    #count = 0;
    #closed = false;
    #lookahead: StateResult | undefined;
    #done = false;

    constructor(sim: TxSimulator, gen: Generator<StateResult>, startKey: string, endKey: string, limit?: number) {
        this.#sim = sim;
        this.#gen = gen;
        this.#limit = limit;
        this.#record = { startKey, endKey, itrExhausted: false, reads: [] };
    }

    /** Next result, recorded in the read set; undefined once exhausted (which is recorded too). */
    next(): StateResult | undefined {
        if (this.#closed) throw new SimulationError('iterator is closed');
        if (this.#done) return undefined;
        if (this.#limit !== undefined && this.#count >= this.#limit) return undefined;
        const it = this.#gen.next();
        if (it.done) {
            this.#done = true;
            this.#record.itrExhausted = true;
            return undefined;
        }
        this.#count++;
        this.#record.reads.push({ key: it.value.key, version: it.value.version });
        // The caller may never call next() again: the range validated at commit ends at the last key read.
        this.#record.endKey = it.value.key;
        return it.value;
    }

    /** For paginated queries: the key the next page starts at ('' when nothing is left). Not a recorded read. */
    bookmark(): string {
        if (this.#done) return '';
        if (this.#lookahead === undefined) {
            const it = this.#gen.next();
            if (it.done) return '';
            this.#lookahead = it.value;
        }
        return this.#lookahead.key;
    }

    /** The record as seen on close; the range's end key reverts to the query's when the scan was exhausted. */
    close(originalEndKey: string): void {
        if (this.#closed) return;
        this.#closed = true;
        if (this.#record.itrExhausted) this.#record.endKey = originalEndKey;
        this.#sim.addRangeQuery(this.#record);
    }
}

export class TxSimulator {
    readonly namespace: string;
    readonly txId: string;
    readonly #state: WorldState;
    readonly #reads = new Map<string, Version | undefined>();
    readonly #writes = new Map<string, Buffer>();
    readonly #rangeQueries: RangeQueryRecord[] = [];
    #writePerformed = false;
    #paginatedQueryPerformed = false;
    #release: (() => void) | undefined;

    constructor(state: WorldState, namespace: string, txId: string, release: () => void) {
        this.#state = state;
        this.namespace = namespace;
        this.txId = txId;
        this.#release = release;
    }

    getState(key: string): Buffer {
        this.#checkOpen();
        const vv = this.#state.get(this.namespace, key);
        if (!this.#reads.has(key)) this.#reads.set(key, vv?.version);
        return vv ? vv.value : Buffer.alloc(0);
    }

    putState(key: string, value: Buffer): void {
        this.#checkOpen();
        if (this.#paginatedQueryPerformed) {
            throw new SimulationError(
                `txid [${this.txId}]: transaction has already performed a paginated query. Writes are not allowed`,
            );
        }
        if (key === '') throw new SimulationError('key must not be an empty string');
        this.#writePerformed = true;
        this.#writes.set(key, value);
    }

    delState(key: string): void {
        this.putState(key, Buffer.alloc(0));
    }

    rangeIterator(startKey: string, endKey: string): RangeIterator {
        this.#checkOpen();
        return new RangeIterator(this, this.#state.range(this.namespace, startKey, endKey), startKey, endKey);
    }

    paginatedRangeIterator(startKey: string, endKey: string, pageSize: number): RangeIterator {
        this.#checkOpen();
        if (this.#writePerformed) {
            throw new SimulationError(
                `txid [${this.txId}]: paginated queries are not supported in transactions that write to the ledger`,
            );
        }
        this.#paginatedQueryPerformed = true;
        return new RangeIterator(this, this.#state.range(this.namespace, startKey, endKey), startKey, endKey, pageSize);
    }

    addRangeQuery(record: RangeQueryRecord): void {
        this.#rangeQueries.push(record);
    }

    /** Serialized `rwset.TxReadWriteSet`, keys sorted as Fabric's rwset builder sorts them. */
    results(): Uint8Array {
        const txrw = new ledger.rwset.TxReadWriteSet();
        txrw.setDataModel(ledger.rwset.TxReadWriteSet.DataModel.KV);
        if (this.#reads.size === 0 && this.#writes.size === 0 && this.#rangeQueries.length === 0) {
            return txrw.serializeBinary();
        }
        const kv = new kvrwset.KVRWSet();
        const readKeys = [...this.#reads.keys()].sort(compareKeys);
        kv.setReadsList(
            readKeys.map((key) => {
                const r = new kvrwset.KVRead();
                r.setKey(key);
                const v = this.#reads.get(key);
                if (v) r.setVersion(toProtoVersion(v));
                return r;
            }),
        );
        kv.setRangeQueriesInfoList(
            this.#rangeQueries.map((q) => {
                const info = new kvrwset.RangeQueryInfo();
                info.setStartKey(q.startKey);
                info.setEndKey(q.endKey);
                info.setItrExhausted(q.itrExhausted);
                const raw = new kvrwset.QueryReads();
                raw.setKvReadsList(
                    q.reads.map((rd) => {
                        const r = new kvrwset.KVRead();
                        r.setKey(rd.key);
                        r.setVersion(toProtoVersion(rd.version));
                        return r;
                    }),
                );
                info.setRawReads(raw);
                return info;
            }),
        );
        const writeKeys = [...this.#writes.keys()].sort(compareKeys);
        kv.setWritesList(
            writeKeys.map((key) => {
                const value = this.#writes.get(key) ?? Buffer.alloc(0);
                const w = new kvrwset.KVWrite();
                w.setKey(key);
                w.setIsDelete(value.length === 0);
                w.setValue(value);
                return w;
            }),
        );
        const ns = new ledger.rwset.NsReadWriteSet();
        ns.setNamespace(this.namespace);
        ns.setRwset(kv.serializeBinary());
        txrw.setNsRwsetList([ns]);
        return txrw.serializeBinary();
    }

    get done(): boolean {
        return this.#release === undefined;
    }

    /** Releases the state lock; the simulator cannot be used afterwards. */
    finish(): void {
        const release = this.#release;
        this.#release = undefined;
        release?.();
    }

    #checkOpen(): void {
        if (!this.#release) throw new SimulationError(`txid [${this.txId}]: the simulation is already finished`);
    }
}

export function toProtoVersion(v: Version): ledger.rwset.kvrwset.Version {
    const pv = new kvrwset.Version();
    pv.setBlockNum(v.blockNum);
    pv.setTxNum(v.txNum);
    return pv;
}
