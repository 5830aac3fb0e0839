import { encodeEventBatch, orchestrator } from '@substra-fabric/api';
import type { Timestamp } from './context';

/** Name of the single chaincode event that carries all orchestration events of a transaction. */
export const CHAINCODE_EVENT_NAME = 'chaincode-updates';

export interface EventSink {
    /**
     * Queue an event; its id and timestamp are assigned here and its channel is cleared (any value set by the
     * caller is replaced).
     */
    emit(event: orchestrator.IEvent): void;
}

/**
 * Collects the events of one transaction in emission order. Ids are `<txid>:<n>` with n the 0-based
 * position in the transaction: unique, deterministic across endorsers, and resumable by the gateway.
 */
export class EventQueue implements EventSink {
    readonly #txId: string;
    readonly #timestamp: Timestamp;
    readonly #events: orchestrator.Event[] = [];

    constructor(txId: string, timestamp: Timestamp) {
        this.#txId = txId;
        this.#timestamp = timestamp;
    }

    emit(event: orchestrator.IEvent): void {
        const queued = orchestrator.Event.create({
            ...event,
            // The channel is filled when events are read (QueryEvents, SubscribeToEvents), never at emission.
            channel: '',
            id: `${this.#txId}:${this.#events.length}`,
            timestamp: { seconds: this.#timestamp.seconds, nanos: this.#timestamp.nanos },
        });
        this.#events.push(queued);
    }

    get events(): readonly orchestrator.Event[] {
        return this.#events;
    }

    /**
     * Payload of the `chaincode-updates` chaincode event (see `encodeEventBatch` in the API package).
     * Undefined when the transaction emitted nothing, so no chaincode event is set.
     */
    encode(): Uint8Array | undefined {
        if (this.#events.length === 0) {
            return undefined;
        }
        return encodeEventBatch(this.#events);
    }
}
