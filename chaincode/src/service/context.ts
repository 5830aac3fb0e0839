import type { Store } from '../repository/store';
import type { EventSink } from './events';

/** The transaction time: the proposal timestamp, identical on every endorser. */
export interface Timestamp {
    readonly seconds: number;
    readonly nanos: number;
}

/**
 * Everything a service may know about the current transaction. Nothing else is allowed to vary between
 * endorsing peers: no clock, no randomness, no environment.
 */
export interface TxContext {
    readonly store: Store;
    /** MSP id of the transaction creator; never taken from a request body. */
    readonly requester: string;
    readonly txId: string;
    readonly timestamp: Timestamp;
    readonly events: EventSink;
}
