/**
 * The part of fabric-shim's ChaincodeStub the ledger layer uses. The real stub satisfies it structurally;
 * the in-memory fake of the tests (test/support/fake-stub.ts) implements exactly this, with Fabric's
 * semantics. Keep this list short: every method added here must be added to the fake as well.
 */
export interface StubKV {
    readonly key: string;
    readonly value: Uint8Array;
}

export interface StubIterator {
    next(): Promise<{ value: StubKV; done: boolean }>;
    close(): Promise<void>;
}

export interface StubPagedResponse {
    readonly iterator: StubIterator;
    readonly metadata: { readonly fetchedRecordsCount: number; readonly bookmark: string };
}

export interface LedgerStub {
    getTxID(): string;
    /** `seconds` is a Long in fabric-shim. */
    getTxTimestamp(): { seconds: { toNumber(): number }; nanos: number };

    /** An absent key reads as an empty array. */
    getState(key: string): Promise<Uint8Array>;
    putState(key: string, value: Uint8Array): Promise<void>;
    deleteState(key: string): Promise<void>;

    createCompositeKey(objectType: string, attributes: string[]): string;
    splitCompositeKey(compositeKey: string): { objectType: string; attributes: string[] };
    getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<StubKV>;
    getStateByPartialCompositeKeyWithPagination(
        objectType: string,
        attributes: string[],
        pageSize: number,
        bookmark?: string,
    ): Promise<StubPagedResponse>;

    setEvent(name: string, payload: Uint8Array): void;
}
