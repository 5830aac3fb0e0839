import { orchestrator } from '@substra-fabric/api';
import { type EventSummary, type Instant, summaryOf } from './layout';
import { splitDelimited } from './wire';

/** Name of the chaincode event that carries the orchestration events of a transaction. */
export const CHAINCODE_EVENT_NAME = 'chaincode-updates';

/** One `chaincode-updates` chaincode event: the transaction it came from and its raw payload. */
export interface TransactionRecord {
    readonly blockNumber: bigint;
    readonly transactionId: string;
    readonly payload: Uint8Array;
}

/** One event of a transaction payload, decoded. */
export interface ParsedEvent extends EventSummary, Instant {
    readonly id: string;
    /** The event as the chaincode encoded it (a view of the payload). */
    readonly bytes: Uint8Array;
}

/** A chaincode event payload that is not a batch of orchestrator events. */
export class PayloadError extends Error {
    constructor(transactionId: string, cause: unknown) {
        super(`transaction ${transactionId}: malformed event payload: ${String(cause)}`, { cause });
        this.name = 'PayloadError';
    }
}

/** Split a `chaincode-updates` payload into its events; throws {@link PayloadError}. */
export function parseTransaction(record: TransactionRecord): ParsedEvent[] {
    try {
        return splitDelimited(record.payload).map((bytes) => {
            const event = orchestrator.Event.decode(bytes);
            return {
                id: event.id,
                ...summaryOf(event),
                seconds: event.timestamp?.seconds ?? 0,
                nanos: event.timestamp?.nanos ?? 0,
                bytes,
            };
        });
    } catch (err) {
        throw new PayloadError(record.transactionId, err);
    }
}
