/**
 * The part of fabric-shim's ChaincodeStub the ledger and repository layers use. The real stub satisfies it
 * structurally; the in-memory fake of the tests (test/support/fake-stub.ts) implements exactly this, with
 * Fabric's semantics. Keep this list short: every method added here must be added to the fake as well.
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

/**
 * fabric-shim's connection to the peer, `stub.handler` (not in fabric-shim's types). The stub's public
 * `getStateByRange` refuses start keys inside the composite-key namespace (they begin with U+0000) on the
 * chaincode side only: the peer serves any range, and the stub's own getStateByPartialCompositeKey is this very
 * call with `[partial key, partial key + U+10FFFF)`. A scan that continues past the peer's query limit needs a
 * range that starts after the last key read, so it calls this directly (unpaginated: no metadata).
 */
export interface StubHandler {
    handleGetStateByRange(
        collection: string,
        startKey: string,
        endKey: string,
        channelId: string,
        txId: string,
    ): Promise<{ readonly iterator: StubIterator }>;
}

export interface LedgerStub {
    getTxID(): string;
    getChannelID(): string;
    /** `seconds` is a Long in fabric-shim. */
    getTxTimestamp(): { seconds: { toNumber(): number }; nanos: number };

    /** An absent key reads as an empty array. */
    getState(key: string): Promise<Uint8Array>;
    putState(key: string, value: Uint8Array): Promise<void>;
    deleteState(key: string): Promise<void>;

    createCompositeKey(objectType: string, attributes: string[]): string;
    splitCompositeKey(compositeKey: string): { objectType: string; attributes: string[] };
    /** At most the peer's totalQueryLimit records, silently. */
    getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<StubKV>;
    /** At most min(pageSize, totalQueryLimit) records; the bookmark is the key of the next one. */
    getStateByPartialCompositeKeyWithPagination(
        objectType: string,
        attributes: string[],
        pageSize: number,
        bookmark?: string,
    ): Promise<StubPagedResponse>;

    setEvent(name: string, payload: Uint8Array): void;

    /** Present on fabric-shim's stub at run time; see StubHandler. */
    readonly handler?: StubHandler;
}
