/**
 * The only view of the ledger the business logic has. The ledger layer implements it on the Fabric
 * chaincode stub; tests implement it on an in-memory stub with the same semantics.
 *
 * Semantics the services rely on:
 * - `get` sees the transaction's own earlier `put`/`delete` calls (read-your-writes overlay);
 * - `scan` and `page` see committed state only, in key order, like Fabric range queries;
 * - `page` is only allowed in read-only (evaluated) transactions, as in Fabric;
 * - a stored value is never empty (Fabric treats an empty value as a deletion).
 */
export interface KeyValue {
    readonly key: string;
    readonly value: Uint8Array;
}

export interface StorePage {
    readonly records: readonly KeyValue[];
}

export interface Store {
    get(key: string): Promise<Uint8Array | undefined>;
    put(key: string, value: Uint8Array): Promise<void>;
    delete(key: string): Promise<void>;

    /** Same encoding as fabric-shim's createCompositeKey. */
    compositeKey(objectType: string, attributes: readonly string[]): string;
    splitCompositeKey(key: string): { objectType: string; attributes: string[] };

    /**
     * Every committed record whose composite key starts with (objectType, ...attributes), in key order.
     * Stop iterating (break) to stop reading: the cost is the number of records consumed.
     */
    scan(objectType: string, attributes: readonly string[]): AsyncIterable<KeyValue>;

    /**
     * At most `pageSize` committed records under the partial composite key, starting at `startKey`
     * (inclusive; empty means from the first record). Read-only transactions only.
     */
    page(objectType: string, attributes: readonly string[], pageSize: number, startKey: string): Promise<StorePage>;
}
