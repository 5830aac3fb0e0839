/**
 * In-memory fake of the part of fabric-shim's ChaincodeStub our ledger layer uses (src/ledger/stub.ts),
 * plus what fabric-shim's ChaincodeFromContract reads (arguments, creator, channel), with Fabric's semantics:
 *
 * - `FakeWorldState` is the committed state of one channel/namespace. A `FakeStub` is one transaction on it;
 *   its writes are buffered and reach the state only through `FakeWorldState.commit(stub)`.
 * - getState and range reads (partial composite key, paginated or not) see committed state only; keys are
 *   ordered by their UTF-8 bytes, like LevelDB.
 * - Composite keys are built by fabric-shim's own createCompositeKey/splitCompositeKey (borrowed from its
 *   prototype), so the encoding is identical: \u0000 objectType \u0000 attr \u0000 ...
 * - Paginated queries: the bookmark is the inclusive start key; the returned bookmark is the key following the
 *   page ('' at the end). As in Fabric, a transaction may not both write and run a paginated query (in either
 *   order); pageSize 0 with an empty bookmark is an unpaginated query.
 * - The peer's `ledger.state.totalQueryLimit` (FakeWorldState option, Fabric's default 100000), with the
 *   semantics of Fabric 2.5 (core/chaincode/handler.go calculateTotalReturnLimit): a paginated query returns at
 *   most min(pageSize, limit) records (pageSize 0: limit) and its bookmark is the next key; an unpaginated range
 *   query silently stops after `limit` records.
 * - `handler.handleGetStateByRange` is fabric-shim's internal call to the peer (src/ledger/stub.ts StubHandler):
 *   an unpaginated range query [start, end) that may start anywhere, composite-key namespace included.
 * - putState with an empty value is recorded as a delete (Fabric's rule).
 * - Every value read (getState call or record yielded by an iterator) counts as one state read.
 * - setEvent keeps only the last event, like Fabric.
 */
import { createHash } from 'node:crypto';
import { ChaincodeStub } from 'fabric-shim';
import type { LedgerStub, StubHandler, StubIterator, StubKV, StubPagedResponse } from '../../src/ledger/stub';

/** Upper bound Fabric appends to a partial composite key to form the end of its range. */
const MAX_UNICODE_RUNE = '\u{10ffff}';

/** One entry of a transaction's write set; `value` null means delete. */
export interface FakeWrite {
    readonly key: string;
    readonly value: Uint8Array | null;
}

export interface FakeChaincodeEvent {
    readonly name: string;
    readonly payload: Uint8Array;
}

/** What a committed transaction did, for assertions and byte-for-byte comparisons. */
export interface FakeTxRecord {
    readonly txId: string;
    readonly writes: readonly FakeWrite[];
    readonly event: FakeChaincodeEvent | undefined;
    readonly reads: number;
}

export interface FakeTxOptions {
    readonly txId: string;
    readonly timestamp: { readonly seconds: number; readonly nanos: number };
    /** MSP id of the creator. */
    readonly mspid: string;
    /** PEM certificate of the creator (needed by fabric-shim's ClientIdentity); a throwaway one by default. */
    readonly certificate?: string;
    /** Invocation arguments: function name first, as the peer sends them. */
    readonly args?: readonly (string | Uint8Array)[];
    readonly channelId?: string;
}

export function compareKeys(a: string, b: string): number {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A deterministic, Fabric-looking transaction id (64 hex characters). */
export function fakeTxId(seed: string): string {
    return createHash('sha256').update(seed).digest('hex');
}

/** Fabric's default `ledger.state.totalQueryLimit`. */
export const FABRIC_TOTAL_QUERY_LIMIT = 100_000;

export interface FakeWorldOptions {
    /** The peer's `ledger.state.totalQueryLimit`; 100000 (Fabric's default) unless given. */
    readonly totalQueryLimit?: number;
}

/** Committed state of one chaincode namespace. */
export class FakeWorldState {
    /** The peer's `ledger.state.totalQueryLimit`: no range query returns more records. */
    readonly totalQueryLimit: number;
    readonly #state = new Map<string, Uint8Array>();
    #sorted: string[] | undefined;
    /** State reads since creation (getState calls + records yielded by iterators). */
    reads = 0;
    readonly transactions: FakeTxRecord[] = [];

    constructor(options: FakeWorldOptions = {}) {
        const limit = options.totalQueryLimit ?? FABRIC_TOTAL_QUERY_LIMIT;
        if (!Number.isInteger(limit) || limit <= 0) {
            throw new Error(`invalid totalQueryLimit ${limit}`);
        }
        this.totalQueryLimit = limit;
    }

    /** Committed value, undefined when absent. Not counted as a read. */
    get(key: string): Uint8Array | undefined {
        return this.#state.get(key);
    }

    get size(): number {
        return this.#state.size;
    }

    /** Committed keys in key order (a copy). */
    keys(): string[] {
        return [...this.#sortedKeys()];
    }

    /** Committed keys k with start <= k < end (end '' = unbounded), in key order. */
    keysInRange(start: string, end: string): string[] {
        const keys = this.#sortedKeys();
        let i = lowerBound(keys, start);
        const out: string[] = [];
        for (; i < keys.length; i++) {
            const key = keys[i]!;
            if (end !== '' && compareKeys(key, end) >= 0) {
                break;
            }
            out.push(key);
        }
        return out;
    }

    /** Applies the transaction's write set and records it. */
    commit(stub: FakeStub): FakeTxRecord {
        const writes = stub.writeSet();
        for (const { key, value } of writes) {
            if (value === null) {
                this.#state.delete(key);
            } else {
                this.#state.set(key, value);
            }
        }
        if (writes.length > 0) {
            this.#sorted = undefined;
        }
        const record: FakeTxRecord = { txId: stub.getTxID(), writes, event: stub.chaincodeEvent, reads: stub.reads };
        this.transactions.push(record);
        return record;
    }

    /** Writes directly to committed state, outside any transaction (test setup only). */
    seed(key: string, value: Uint8Array): void {
        this.#state.set(key, Uint8Array.from(value));
        this.#sorted = undefined;
    }

    #sortedKeys(): string[] {
        this.#sorted ??= [...this.#state.keys()].sort(compareKeys);
        return this.#sorted;
    }
}

function lowerBound(sorted: readonly string[], key: string): number {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareKeys(sorted[mid]!, key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/** One transaction on a FakeWorldState. */
export class FakeStub implements LedgerStub {
    readonly #world: FakeWorldState;
    readonly #options: FakeTxOptions;
    readonly #writes = new Map<string, Uint8Array | null>();
    #paginatedQueryPerformed = false;
    /** The last event set, if any. */
    chaincodeEvent: FakeChaincodeEvent | undefined;
    /** State reads made by this transaction. */
    reads = 0;
    /** fabric-shim's connection to the peer, reduced to the range query the ledger layer makes through it. */
    readonly handler: StubHandler;

    constructor(world: FakeWorldState, options: FakeTxOptions) {
        this.#world = world;
        this.#options = options;
        this.handler = {
            handleGetStateByRange: async (collection, startKey, endKey, channelId, txId) => {
                await Promise.resolve();
                if (collection !== '' || channelId !== this.getChannelID() || txId !== this.getTxID()) {
                    throw new Error(`unexpected range query on ${JSON.stringify([collection, channelId, txId])}`);
                }
                return { iterator: this.#rangeIterator(startKey, endKey) };
            },
        };
    }

    getTxID(): string {
        return this.#options.txId;
    }

    getChannelID(): string {
        return this.#options.channelId ?? 'mychannel';
    }

    getTxTimestamp(): { seconds: { toNumber(): number; low: number; high: number; unsigned: boolean }; nanos: number } {
        const { seconds, nanos } = this.#options.timestamp;
        // Shaped like the Long fabric-shim returns (unsigned), with the one method our code uses.
        return {
            seconds: { low: seconds | 0, high: Math.floor(seconds / 2 ** 32), unsigned: true, toNumber: () => seconds },
            nanos,
        };
    }

    getCreator(): { mspid: string; idBytes: Uint8Array } {
        return { mspid: this.#options.mspid, idBytes: Buffer.from(this.#options.certificate ?? TEST_CERTIFICATE) };
    }

    getBufferArgs(): Buffer[] {
        return (this.#options.args ?? []).map((arg) => (typeof arg === 'string' ? Buffer.from(arg) : Buffer.from(arg)));
    }

    getStringArgs(): string[] {
        return this.getBufferArgs().map((arg) => arg.toString('utf8'));
    }

    getArgs(): string[] {
        return this.getStringArgs();
    }

    getFunctionAndParameters(): { fcn: string; params: string[] } {
        const [fcn = '', ...params] = this.getStringArgs();
        return { fcn, params };
    }

    getState(key: string): Promise<Uint8Array> {
        this.#countRead();
        // Fabric answers committed state only, and an empty value for an absent key.
        const value = this.#world.get(key);
        return Promise.resolve(value === undefined ? new Uint8Array(0) : Uint8Array.from(value));
    }

    // async, like fabric-shim: refusals are rejected promises, not synchronous throws.
    async putState(key: string, value: Uint8Array): Promise<void> {
        await Promise.resolve();
        this.#checkWrite(key);
        // An empty value is a deletion in Fabric's write set.
        this.#writes.set(key, value.length === 0 ? null : Uint8Array.from(value));
    }

    async deleteState(key: string): Promise<void> {
        await Promise.resolve();
        this.#checkWrite(key);
        this.#writes.set(key, null);
    }

    createCompositeKey(objectType: string, attributes: string[]): string {
        return ChaincodeStub.prototype.createCompositeKey.call(this, objectType, attributes);
    }

    splitCompositeKey(compositeKey: string): { objectType: string; attributes: string[] } {
        return ChaincodeStub.prototype.splitCompositeKey.call(this, compositeKey);
    }

    getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<StubKV> {
        const start = this.createCompositeKey(objectType, attributes);
        const iterator = this.#rangeIterator(start, start + MAX_UNICODE_RUNE);
        return {
            [Symbol.asyncIterator]: () => ({
                next: () => iterator.next(),
                return: async () => {
                    await iterator.close();
                    return { value: undefined, done: true };
                },
            }),
        };
    }

    async getStateByPartialCompositeKeyWithPagination(
        objectType: string,
        attributes: string[],
        pageSize: number,
        bookmark = '',
    ): Promise<StubPagedResponse> {
        await Promise.resolve(); // like fabric-shim, every refusal below is a rejected promise
        const partialKey = this.createCompositeKey(objectType, attributes);
        const end = partialKey + MAX_UNICODE_RUNE;
        if (pageSize === 0 && bookmark === '') {
            // No pagination metadata: an ordinary range query.
            return {
                iterator: this.#rangeIterator(partialKey, end),
                metadata: { fetchedRecordsCount: 0, bookmark: '' },
            };
        }
        if (this.#writes.size > 0) {
            throw new Error(
                `txid [${this.getTxID()}]: paginated queries are not supported in a transaction that writes`,
            );
        }
        if (!Number.isInteger(pageSize) || pageSize < 0) {
            throw new Error(`invalid page size ${pageSize}`);
        }
        this.#paginatedQueryPerformed = true;
        const start = bookmark === '' ? partialKey : bookmark;
        const keys = this.#world.keysInRange(start, end);
        // Fabric's calculateTotalReturnLimit: the page size when below the limit, else the limit.
        const limit = this.#world.totalQueryLimit;
        const returned = pageSize > 0 && pageSize < limit ? pageSize : limit;
        const page = keys.slice(0, returned);
        return {
            iterator: this.#iteratorOver(page),
            metadata: { fetchedRecordsCount: page.length, bookmark: keys[returned] ?? '' },
        };
    }

    setEvent(name: string, payload: Uint8Array): void {
        if (name === '') {
            throw new Error('Event name must be a non-empty string');
        }
        this.chaincodeEvent = { name, payload: Uint8Array.from(payload) };
    }

    /** The buffered writes in key order (Fabric sorts a write set by key). */
    writeSet(): FakeWrite[] {
        return [...this.#writes.entries()]
            .map(([key, value]) => ({ key, value }))
            .sort((a, b) => compareKeys(a.key, b.key));
    }

    #checkWrite(key: string): void {
        if (key === '') {
            throw new Error('key must not be an empty string');
        }
        if (this.#paginatedQueryPerformed) {
            throw new Error(
                `txid [${this.getTxID()}]: writes are not supported in a transaction that ran a paginated query`,
            );
        }
    }

    #countRead(): void {
        this.reads++;
        this.#world.reads++;
    }

    /** An unpaginated range query: like the peer, stops after totalQueryLimit records without saying so. */
    #rangeIterator(start: string, end: string): StubIterator {
        return this.#iteratorOver(this.#world.keysInRange(start, end).slice(0, this.#world.totalQueryLimit));
    }

    /** Reads each value lazily, when the caller asks for it, so that reads are counted as consumed. */
    #iteratorOver(keys: readonly string[]): StubIterator {
        let position = 0;
        let closed = false;
        return {
            next: () => {
                if (closed || position >= keys.length) {
                    return Promise.resolve({ value: undefined as unknown as StubKV, done: true });
                }
                const key = keys[position++]!;
                this.#countRead();
                const value = this.#world.get(key) ?? new Uint8Array(0);
                return Promise.resolve({ value: { key, value: Uint8Array.from(value) }, done: false });
            },
            close: () => {
                closed = true;
                return Promise.resolve();
            },
        };
    }
}

/** Throwaway self-signed certificate (generated with openssl for these tests; the key was discarded). */
export const TEST_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBqTCCAU+gAwIBAgIUZcm8OiWUVwRdxS3tVIrNn1qF/fIwCgYIKoZIzj0EAwIw
KTERMA8GA1UECgwIVGVzdCBPcmcxFDASBgNVBAMMC3Rlc3QtY2xpZW50MCAXDTI2
MTEyNTIyMzQ0N1oYDzIxMjYxMTAxMjIzNDQ3WjApMREwDwYDVQQKDAhUZXN0IE9y
ZzEUMBIGA1UEAwwLdGVzdC1jbGllbnQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AATTYaiBrkOvn0rJJ+n3F6PoLkvUgQyX+3Zrn60nE+gBQZDvArgpDfpe5flKVOI/
7DV8jde5TqHA7p9jYns1LJJbo1MwUTAdBgNVHQ4EFgQUGp+SC9Xifc8Vk2ryBtGX
oTrU0WEwHwYDVR0jBBgwFoAUGp+SC9Xifc8Vk2ryBtGXoTrU0WEwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAnQYXRNrq2gXukdxrv6DBIPlrvDL7s
Q6/Td9YocJ0IAQIhAPVqZSoC5Gt9iusrw8rFAUFXPlRzEb2Tl2fcG80hzZUg
-----END CERTIFICATE-----
`;
