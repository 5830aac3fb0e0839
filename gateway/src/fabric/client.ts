/**
 * The narrow slice of Fabric that the gateway uses. Everything else in the gateway depends on this
 * interface only, so tests plug in a small in-memory fake and the real implementation
 * (`FabricGatewayClient` in `gatewayclient.ts`) wraps `@hyperledger/fabric-gateway`. Failures are
 * `InvocationError`s (`../errors.ts`).
 */

/** Target of one chaincode invocation. */
export interface InvokeRequest {
    /** Identity (wallet entry) that signs the proposal. */
    readonly mspid: string;
    readonly channel: string;
    readonly chaincode: string;
    /** Contract name, e.g. `orchestrator.function`. */
    readonly contract: string;
    /** Contract function, e.g. `RegisterFunction`. */
    readonly fn: string;
    /** The only argument: the binary protobuf request. */
    readonly argument: Uint8Array;
}

/** Where to start reading chaincode events. */
export interface ChaincodeEventsRequest {
    readonly mspid: string;
    readonly channel: string;
    readonly chaincode: string;
    /** First block to read (inclusive). */
    readonly startBlock: bigint;
}

/** One chaincode event of a valid transaction. */
export interface ChaincodeEventRecord {
    readonly blockNumber: bigint;
    readonly transactionId: string;
    readonly eventName: string;
    readonly payload: Uint8Array;
}

/** Async iterable that releases its resources on `close()`. */
export interface CloseableAsyncIterable<T> extends AsyncIterable<T> {
    close(): void;
}

/** Lookup of the block that holds a transaction. */
export interface TransactionBlockRequest {
    readonly mspid: string;
    readonly channel: string;
    readonly transactionId: string;
    /** Chaincode whose events matter (see {@link TransactionLocation.emitted}). */
    readonly chaincode: string;
    /** Name of the chaincode event that matters. */
    readonly eventName: string;
}

/** Where a committed transaction is, and whether the event listener will ever see it. */
export interface TransactionLocation {
    readonly blockNumber: bigint;
    /**
     * Whether the transaction is valid and set a chaincode event of that name for that chaincode (only
     * such transactions reach the listener); undefined when the implementation cannot tell.
     */
    readonly emitted: boolean | undefined;
}

/** Which chain to measure. */
export interface ChainHeightRequest {
    /** Identity (wallet entry) that signs the query. */
    readonly mspid: string;
    readonly channel: string;
}

/** Search for the last block, in a range, that holds a given chaincode event. */
export interface LastEventBlockRequest {
    readonly mspid: string;
    readonly channel: string;
    readonly chaincode: string;
    readonly eventName: string;
    /** First and last block of the range (inclusive). */
    readonly fromBlock: bigint;
    readonly toBlock: bigint;
}

/** What the gateway needs from Fabric. Implementations throw `InvocationError` (`../errors.ts`) on failure. */
export interface FabricClient {
    /** Evaluate (query) a transaction function on a peer; resolves with the function's result. */
    evaluate(request: InvokeRequest): Promise<Uint8Array>;
    /** Endorse, submit to ordering and wait for a successful commit; resolves with the function's result. */
    submit(request: InvokeRequest): Promise<Uint8Array>;
    /** Chaincode events of valid transactions from a start block on, live after the chain head. */
    chaincodeEvents(request: ChaincodeEventsRequest): Promise<CloseableAsyncIterable<ChaincodeEventRecord>>;
    /** Block of a committed transaction (qscc GetBlockByTxID), or undefined when the ledger does not know it. */
    transactionBlock(request: TransactionBlockRequest): Promise<TransactionLocation | undefined>;
    /**
     * Height of the channel's chain (qscc `GetChainInfo`: `BlockchainInfo.height`, the number of blocks, so
     * the last block is height - 1). Optional: without it, an event index counts as caught up once its
     * event stream has been quiet for a while.
     */
    chainHeight?(request: ChainHeightRequest): Promise<bigint>;
    /**
     * The last block of `[fromBlock, toBlock]` holding a valid transaction that set chaincode event
     * `eventName` of `chaincode` (the last block whose events the listener will see), undefined when none
     * does. Optional: with it and {@link chainHeight}, an event index knows exactly when it has caught up
     * (the peer sends nothing for blocks without such an event); e.g. qscc `GetBlockByNumber` from
     * `toBlock` down, stopping at the first block that has one.
     */
    lastEventBlock?(request: LastEventBlockRequest): Promise<bigint | undefined>;
    /** Release every connection. */
    close(): void;
}
