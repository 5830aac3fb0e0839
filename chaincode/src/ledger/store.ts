import type { KeyValue, Store, StorePage } from '../service/store';
import type { LedgerStub } from './stub';

/**
 * `Store` on the Fabric stub, for one transaction.
 *
 * Fabric's getState returns committed state only, so this keeps a transaction-local overlay of every key
 * written (or deleted) and every key already read: `get` answers from it first, which gives the business
 * logic read-your-writes and spares the peer a round trip for a key read twice. Range reads (`scan`,
 * `page`) go straight to the stub and so see committed state only (documented in service/store.ts).
 *
 * Writes are buffered and reach the stub only through `flush()`, which the transaction calls once its
 * business logic succeeded: a failed transaction leaves an empty write set, whatever it wrote before failing
 * (rule: bad input writes nothing). Fabric's refusal to mix writes and paginated queries in one transaction
 * is checked here, at the call that mixes them, as the stub would.
 */
export class StubStore implements Store {
    readonly #stub: LedgerStub;
    /** key -> latest value in this transaction; `null` = deleted or absent. */
    readonly #overlay = new Map<string, Uint8Array | null>();
    /** Writes not yet sent to the stub: key -> value, `null` = delete. */
    readonly #pending = new Map<string, Uint8Array | null>();
    #paginated = false;
    #flushed = false;

    constructor(stub: LedgerStub) {
        this.#stub = stub;
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
        for (const [key, value] of this.#pending) {
            if (value === null) {
                await this.#stub.deleteState(key);
            } else {
                await this.#stub.putState(key, value);
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
        for await (const { key, value } of this.#stub.getStateByPartialCompositeKey(objectType, [...attributes])) {
            yield { key, value };
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
            pageSize,
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
}
