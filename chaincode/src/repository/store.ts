/**
 * The only view of the ledger the repositories have. `StubStore` (stub-store.ts) implements it on the Fabric
 * chaincode stub; the tests run the same class on an in-memory stub with Fabric's semantics.
 *
 * Semantics the repositories rely on:
 * - `get` sees the transaction's own earlier `put`/`delete` calls (read-your-writes overlay);
 * - `scan` and `page` see committed state only, in key order, like Fabric range queries;
 * - `page` is only allowed in read-only (evaluated) transactions, as in Fabric;
 * - a stored value is never empty (Fabric treats an empty value as a deletion).
 *
 * Round trips. Every state access of fabric-shim is one message to the peer and its answer. Where the peer
 * offers batches (Fabric 3.1+, ledger/peer-batching.ts), `flush` sends a transaction's writes and `getMany`
 * its reads of many keys in a few messages; the write set, the read set and the values are those of the
 * one-key calls, so peers with and without batches endorse alike.
 *
 * Query limit. A peer caps every range query at `ledger.state.totalQueryLimit` records (core.yaml, default
 * 100000): a paginated query returns at most min(page size, limit) records, and an unpaginated one silently
 * stops after `limit` records. `queryLimit` is that setting (ORCHESTRATOR_TOTAL_QUERY_LIMIT, see
 * query-limit.ts; it must equal the peers' one, and a lower value is safe, only slower), and the store keeps
 * both kinds of query safe:
 * - `page` never asks for more than `queryLimit` records, so it may return fewer than `pageSize` records
 *   even though more follow; `readPage` (pagination.ts) accounts for that and its token continues;
 * - `scan` yields every record of the range however many there are: when one range query returned
 *   `queryLimit` records (or more), it continues with a new range query starting just after the last key. It
 *   can therefore be used in write transactions, where paginated queries are forbidden.
 */
export interface KeyValue {
    readonly key: string;
    readonly value: Uint8Array;
}

export interface StorePage {
    readonly records: readonly KeyValue[];
}

export interface Store {
    /** The peers' `ledger.state.totalQueryLimit`: no single range query returns more records (at least 2). */
    readonly queryLimit: number;

    get(key: string): Promise<Uint8Array | undefined>;
    /**
     * `get` of each key, in order. On a peer that reads many keys in one message (Fabric 3.1+), the keys not
     * yet known to this transaction cost one round trip per batch instead of one each; the values are the same.
     */
    getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
    put(key: string, value: Uint8Array): Promise<void>;
    delete(key: string): Promise<void>;

    /** Same encoding as fabric-shim's createCompositeKey. */
    compositeKey(objectType: string, attributes: readonly string[]): string;
    splitCompositeKey(key: string): { objectType: string; attributes: string[] };

    /**
     * Every committed record whose composite key starts with (objectType, ...attributes), in key order, even
     * beyond `queryLimit` records (one range query per `queryLimit` records). Stop iterating (break) to stop
     * reading: the cost is the number of records consumed.
     */
    scan(objectType: string, attributes: readonly string[]): AsyncIterable<KeyValue>;

    /**
     * At most min(`pageSize`, `queryLimit`) committed records under the partial composite key, starting at
     * `startKey` (inclusive; empty means from the first record). Read-only transactions only.
     */
    page(objectType: string, attributes: readonly string[], pageSize: number, startKey: string): Promise<StorePage>;
}
