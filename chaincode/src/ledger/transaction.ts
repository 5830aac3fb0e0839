import type { Timestamp, TxContext } from '../service/context';
import { CHAINCODE_EVENT_NAME, EventQueue } from '../service/events';
import { Services } from '../service/provider';
import { StubStore } from '../repository/stub-store';
import type { LedgerStub } from './stub';

/** One transaction's view of the ledger: the context the services see, and what to do once they succeeded. */
export interface Transaction {
    readonly ctx: TxContext;
    readonly services: Services;
    readonly events: EventQueue;
    /**
     * Call once the business logic succeeded: sends the buffered writes to the stub, then sets the single
     * `chaincode-updates` chaincode event when the transaction emitted events (nothing otherwise). A failed
     * transaction must not call it: its write set stays empty.
     */
    finish(): Promise<void>;
}

export interface TransactionOptions {
    /** The peers' totalQueryLimit; the process setting (ORCHESTRATOR_TOTAL_QUERY_LIMIT) by default. */
    readonly totalQueryLimit?: number;
}

/** The proposal timestamp, nanoseconds kept (it is the same on every endorser). */
export function txTimestamp(stub: LedgerStub): Timestamp {
    const { seconds, nanos } = stub.getTxTimestamp();
    return { seconds: seconds.toNumber(), nanos };
}

/**
 * Builds the transaction context from the stub. `requester` is the creator's MSP id
 * (`ctx.clientIdentity.getMSPID()` in a contract), never a value taken from the request.
 */
export function openTransaction(stub: LedgerStub, requester: string, options: TransactionOptions = {}): Transaction {
    const txId = stub.getTxID();
    const timestamp = txTimestamp(stub);
    const events = new EventQueue(txId, timestamp);
    const store = new StubStore(stub, { queryLimit: options.totalQueryLimit });
    const ctx: TxContext = { store, requester, txId, timestamp, events };
    const services = new Services(ctx);
    let finished = false;
    return {
        ctx,
        services,
        events,
        async finish(): Promise<void> {
            if (finished) {
                throw new Error('transaction already finished');
            }
            finished = true;
            await store.flush();
            const payload = events.encode();
            if (payload !== undefined) {
                stub.setEvent(CHAINCODE_EVENT_NAME, payload);
            }
        },
    };
}

/**
 * Runs `fn` as the body of the transaction and flushes its writes and events when it succeeds. When it
 * throws, nothing reaches the stub (empty write set, no event) and the error propagates.
 */
export async function runTransaction<T>(
    stub: LedgerStub,
    requester: string,
    fn: (services: Services, ctx: TxContext) => Promise<T>,
): Promise<T> {
    const tx = openTransaction(stub, requester);
    const result = await fn(tx.services, tx.ctx);
    await tx.finish();
    return result;
}
