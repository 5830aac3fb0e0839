import { getStatesBatched, peerBatching, sendWriteBatches } from '../ledger/peer-batching';
import type { LedgerStub, StubIterator } from '../ledger/stub';
import { keyAfter } from './keys';
import { processTotalQueryLimit } from './query-limit';
import type { KeyValue, Store, StorePage } from './store';

/** Upper bound fabric-shim appends to a partial composite key to form the end of its range. */
const MAX_UNICODE_RUNE = '\u{10ffff}';

export interface StubStoreOptions {
    /** The peers' totalQueryLimit; the process setting (query-limit.ts) by default. */
    readonly queryLimit?: number;
}

/**
 * `Store` on the Fabric stub, for one transaction.
 *
 * Fabric's getState returns committed state only, so this keeps a transaction-local overlay of every key
 * written (or deleted) and every key already read: `get` answers from it first, which gives the business
 * logic read-your-writes and spares the peer a round trip for a key read twice. Range reads (`scan`,
 * `page`) go straight to the stub and so see committed state only (documented in store.ts).
 *
 * Writes are buffered and reach the stub only through `flush()`, which the transaction calls once its
 * business logic succeeded: a failed transaction leaves an empty write set, whatever it wrote before failing
 * (rule: bad input writes nothing). Fabric's refusal to mix writes and paginated queries in one transaction
 * is checked here, at the call that mixes them, as the stub would.
 *
 * Range queries respect the peer's totalQueryLimit (store.ts): `page` asks for at most `queryLimit` records,
 * and `scan` starts a new range query after its last key whenever one returned `queryLimit` records (or more).
 */
export class StubStore implements Store {
    readonly queryLimit: number;
    readonly #stub: LedgerStub;
    /** key -> latest value in this transaction; `null` = deleted or absent. */
    readonly #overlay = new Map<string, Uint8Array | null>();
    /** Writes not yet sent to the stub: key -> value, `null` = delete. */
    readonly #pending = new Map<string, Uint8Array | null>();
    #paginated = false;
    #flushed = false;

    constructor(stub: LedgerStub, options: StubStoreOptions = {}) {
        const limit = options.queryLimit ?? processTotalQueryLimit();
        if (!Number.isSafeInteger(limit) || limit < 2) {
            throw new Error(`invalid query limit ${limit}`);
        }
        this.#stub = stub;
        this.queryLimit = limit;
    }

    async get(key: string): Promise<Uint8Array | undefined> {
        const known = this.#overlay.get(key);
        if (known !== undefined) {
            return known ?? undefined;
        }
        const value = await this.#stub.getState(key);
        const present = value.length > 0 ? value : null;
        this.#overlay.set(key, present);
        return present ?? undefined;
    }

    async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
        const unknown = [...new Set(keys.filter((key) => !this.#overlay.has(key)))];
        if (unknown.length > 0) {
            const offer = peerBatching(this.#stub.handler);
            const values =
                offer.maxGetMultiple > 0 && unknown.length > 1
                    ? await getStatesBatched(
                          this.#stub.handler,
                          offer,
                          this.#stub.getChannelID(),
                          this.#stub.getTxID(),
                          unknown,
                      )
                    : await this.#getEach(unknown);
            unknown.forEach((key, i) => {
                const value = values[i];
                this.#overlay.set(key, value !== undefined && value.length > 0 ? value : null);
            });
        }
        return keys.map((key) => this.#overlay.get(key) ?? undefined);
    }

    async #getEach(keys: readonly string[]): Promise<Uint8Array[]> {
        const values: Uint8Array[] = [];
        for (const key of keys) {
            values.push(await this.#stub.getState(key));
        }
        return values;
    }

    async put(key: string, value: Uint8Array): Promise<void> {
        if (value.length === 0) {
            // Fabric would record an empty value as a deletion: refuse it rather than lose data silently.
            throw new Error(`refusing to store an empty value under key ${JSON.stringify(key)}`);
        }
        this.#checkWrite(key);
        this.#pending.set(key, value);
        this.#overlay.set(key, value);
        return Promise.resolve();
    }

    async delete(key: string): Promise<void> {
        this.#checkWrite(key);
        this.#pending.set(key, null);
        this.#overlay.set(key, null);
        return Promise.resolve();
    }

    /** Sends the buffered writes to the stub (once, after the business logic succeeded). */
    async flush(): Promise<void> {
        if (this.#flushed) {
            throw new Error('store already flushed');
        }
        this.#flushed = true;
        const offer = peerBatching(this.#stub.handler);
        if (offer.maxWriteBatch > 0 && this.#pending.size > 1) {
            const writes = [...this.#pending].map(([key, value]) => ({ key, value }));
            await sendWriteBatches(this.#stub.handler, offer, this.#stub.getChannelID(), this.#stub.getTxID(), writes);
        } else {
            for (const [key, value] of this.#pending) {
                if (value === null) {
                    await this.#stub.deleteState(key);
                } else {
                    await this.#stub.putState(key, value);
                }
            }
        }
        this.#pending.clear();
    }

    #checkWrite(key: string): void {
        if (this.#flushed) {
            throw new Error('write after the transaction finished');
        }
        if (key === '') {
            throw new Error('key must not be an empty string');
        }
        if (this.#paginated) {
            throw new Error('writes are not supported in a transaction that ran a paginated query');
        }
    }

    compositeKey(objectType: string, attributes: readonly string[]): string {
        return this.#stub.createCompositeKey(objectType, [...attributes]);
    }

    splitCompositeKey(key: string): { objectType: string; attributes: string[] } {
        return this.#stub.splitCompositeKey(key);
    }

    async *scan(objectType: string, attributes: readonly string[]): AsyncIterable<KeyValue> {
        // Breaking out of the caller's loop returns this generator, which returns (closes) the stub iterator.
        let returned = 0;
        let last = '';
        for await (const { key, value } of this.#stub.getStateByPartialCompositeKey(objectType, [...attributes])) {
            returned++;
            last = key;
            yield { key, value };
        }
        // The peer stops an unpaginated range query at its limit without saying so: an answer of `queryLimit`
        // records or more may have been cut, so read on from just after the last key until a query returns
        // fewer (`>=`: a setting below the peers' one only continues earlier).
        const end = this.compositeKey(objectType, attributes) + MAX_UNICODE_RUNE;
        while (returned >= this.queryLimit) {
            returned = 0;
            const iterator = await this.#rangeFrom(keyAfter(last), end);
            try {
                for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
                    returned++;
                    last = next.value.key;
                    yield { key: next.value.key, value: next.value.value };
                }
            } finally {
                await iterator.close();
            }
        }
    }

    async page(
        objectType: string,
        attributes: readonly string[],
        pageSize: number,
        startKey: string,
    ): Promise<StorePage> {
        if (!Number.isInteger(pageSize) || pageSize <= 0) {
            throw new Error(`invalid page size ${pageSize}`);
        }
        if (this.#pending.size > 0) {
            throw new Error('paginated queries are not supported in a transaction that writes');
        }
        this.#paginated = true;
        const { iterator } = await this.#stub.getStateByPartialCompositeKeyWithPagination(
            objectType,
            [...attributes],
            Math.min(pageSize, this.queryLimit),
            startKey,
        );
        const records: KeyValue[] = [];
        try {
            for (;;) {
                const next = await iterator.next();
                if (next.done) {
                    break;
                }
                records.push({ key: next.value.key, value: next.value.value });
            }
        } finally {
            await iterator.close();
        }
        return { records };
    }

    /** An unpaginated range query [startKey, endKey) that may start inside a partial composite key. */
    async #rangeFrom(startKey: string, endKey: string): Promise<StubIterator> {
        const handler = this.#stub.handler;
        if (handler === undefined) {
            throw new Error('the stub offers no range query from a key');
        }
        const { iterator } = await handler.handleGetStateByRange(
            '',
            startKey,
            endKey,
            this.#stub.getChannelID(),
            this.#stub.getTxID(),
        );
        return iterator;
    }
}
