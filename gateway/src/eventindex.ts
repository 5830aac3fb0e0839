import { orchestrator } from '@substra-fabric/api';
import { status } from '@grpc/grpc-js';
import { StatusError } from './errors';
import type { Checkpoint, EventStore, TransactionRecord } from './eventstore';
import { splitDelimited } from './wire';

/**
 * One orchestration event of the index: only the fields QueryEvents filters and sorts on, and where its
 * bytes are in the store (read them with {@link EventIndex.bytesOf}). Nothing else of the event is kept
 * in memory.
 */
export interface IndexedEvent {
    readonly id: string;
    readonly assetKey: string;
    readonly assetKind: number;
    readonly eventKind: number;
    readonly seconds: number;
    readonly nanos: number;
    readonly metadata: Readonly<Record<string, string>>;
    /** Store position and length of the event exactly as the chaincode encoded it (without `channel`). */
    readonly position: number;
    readonly length: number;
}

/** Parameters of one QueryEvents page. */
export interface EventQuery {
    readonly filter?: orchestrator.IEventQueryFilter | null;
    readonly sort?: orchestrator.SortOrder | null;
    readonly pageSize?: number | null;
    readonly pageToken?: string | null;
}

export interface EventPage {
    readonly events: IndexedEvent[];
    readonly nextPageToken: string;
}

export const DEFAULT_PAGE_SIZE = 50;

type SortKey = readonly [seconds: number, nanos: number, id: string];

function sortKey(event: IndexedEvent): SortKey {
    return [event.seconds, event.nanos, event.id];
}

function compareKeys(a: SortKey, b: SortKey): number {
    if (a[0] !== b[0]) {
        return a[0] - b[0];
    }
    if (a[1] !== b[1]) {
        return a[1] - b[1];
    }
    return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

function encodeToken(key: SortKey): string {
    return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeToken(token: string): SortKey {
    try {
        const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
        if (
            Array.isArray(parsed) &&
            parsed.length === 3 &&
            typeof parsed[0] === 'number' &&
            typeof parsed[1] === 'number' &&
            typeof parsed[2] === 'string'
        ) {
            return [parsed[0], parsed[1], parsed[2]];
        }
    } catch {
        // reported below
    }
    throw new StatusError(status.UNKNOWN, `invalid page token "${token}"`);
}

function timestampKey(ts: orchestrator.IEventQueryFilter['start']): readonly [number, number] | undefined {
    return ts ? [ts.seconds ?? 0, ts.nanos ?? 0] : undefined;
}

/** The filter of QueryEvents as a predicate: every given field must hold. */
export function eventFilter(filter: orchestrator.IEventQueryFilter | null | undefined): (e: IndexedEvent) => boolean {
    if (!filter) {
        return () => true;
    }
    const assetKey = filter.asset_key ?? '';
    const assetKind: number = filter.asset_kind ?? 0;
    const eventKind: number = filter.event_kind ?? 0;
    const metadata = Object.entries(filter.metadata ?? {});
    const start = timestampKey(filter.start);
    const end = timestampKey(filter.end);
    return (e) =>
        (assetKey === '' || e.assetKey === assetKey) &&
        (assetKind === 0 || e.assetKind === assetKind) &&
        (eventKind === 0 || e.eventKind === eventKind) &&
        metadata.every(([k, v]) => e.metadata[k] === v) &&
        (start === undefined || e.seconds > start[0] || (e.seconds === start[0] && e.nanos >= start[1])) &&
        (end === undefined || e.seconds < end[0] || (e.seconds === end[0] && e.nanos <= end[1]));
}

/** A chaincode event payload that is not a batch of orchestrator events. */
export class PayloadError extends Error {
    constructor(transactionId: string, cause: unknown) {
        super(`transaction ${transactionId}: malformed event payload: ${String(cause)}`, { cause });
        this.name = 'PayloadError';
    }
}

/**
 * Split a `chaincode-updates` payload into indexed events whose bytes start at store position
 * `payloadPosition`; throws {@link PayloadError}.
 */
export function parseTransaction(record: TransactionRecord, payloadPosition = 0): IndexedEvent[] {
    try {
        return decodeEvents(record, payloadPosition);
    } catch (err) {
        throw new PayloadError(record.transactionId, err);
    }
}

const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});
const SHARED_METADATA_LIMIT = 4096;
const sharedMetadata = new Map<string, Readonly<Record<string, string>>>();

/**
 * Event metadata repeats a lot (a few keys, a few values): identical maps share one frozen object
 * (up to {@link SHARED_METADATA_LIMIT} distinct ones), which keeps the index small.
 */
function compactMetadata(metadata: Record<string, string>): Readonly<Record<string, string>> {
    const entries = Object.entries(metadata);
    if (entries.length === 0) {
        return NO_METADATA;
    }
    const key = JSON.stringify(entries);
    const shared = sharedMetadata.get(key);
    if (shared !== undefined) {
        return shared;
    }
    const copy = Object.freeze({ ...metadata });
    if (sharedMetadata.size < SHARED_METADATA_LIMIT) {
        sharedMetadata.set(key, copy);
    }
    return copy;
}

function decodeEvents(record: TransactionRecord, payloadPosition: number): IndexedEvent[] {
    return splitDelimited(record.payload).map((bytes) => {
        const event = orchestrator.Event.decode(bytes);
        return {
            id: event.id,
            assetKey: event.asset_key,
            assetKind: event.asset_kind,
            eventKind: event.event_kind,
            seconds: event.timestamp?.seconds ?? 0,
            nanos: event.timestamp?.nanos ?? 0,
            metadata: compactMetadata(event.metadata),
            position: payloadPosition + bytes.byteOffset - record.payload.byteOffset,
            length: bytes.length,
        };
    });
}

/**
 * The events of one (channel, chaincode), in chain order (block, transaction, position in the
 * transaction), plus a (timestamp, id) ordering for QueryEvents. It is a cache of the chain: the
 * listener fills it from chaincode events, and its store only saves the work of re-reading the chain.
 */
export class EventIndex {
    readonly #store: EventStore;
    readonly #events: IndexedEvent[] = [];
    readonly #sorted: IndexedEvent[] = [];
    readonly #positions = new Map<string, number>();
    readonly #transactions = new Set<string>();
    readonly #waiters = new Set<() => void>();
    #checkpoint: Checkpoint | undefined;

    constructor(store: EventStore) {
        this.#store = store;
        this.#checkpoint = store.load((record, payloadPosition) => {
            this.#add(record, parseTransaction(record, payloadPosition));
        });
    }

    /** Number of events indexed. */
    get length(): number {
        return this.#events.length;
    }

    /** Last transaction indexed, undefined before the first one. */
    get checkpoint(): Checkpoint | undefined {
        return this.#checkpoint;
    }

    at(position: number): IndexedEvent | undefined {
        return this.#events[position];
    }

    /** The event's bytes as the chaincode encoded them, read from the store. */
    bytesOf(event: IndexedEvent): Uint8Array {
        return this.#store.read(event.position, event.length);
    }

    /** Position of an event id in chain order. */
    positionOf(id: string): number | undefined {
        return this.#positions.get(id);
    }

    hasTransaction(transactionId: string): boolean {
        return this.#transactions.has(transactionId);
    }

    /**
     * Index the events of one transaction (ignored when the transaction is already indexed). Throws,
     * indexing nothing, when the payload cannot be decoded.
     */
    append(record: TransactionRecord): number {
        if (this.#transactions.has(record.transactionId)) {
            return 0;
        }
        const events = parseTransaction(record);
        const payloadPosition = this.#store.append(record);
        this.#add(
            record,
            events.map((event) => ({ ...event, position: payloadPosition + event.position })),
        );
        this.#checkpoint = { blockNumber: record.blockNumber, transactionId: record.transactionId };
        for (const wake of [...this.#waiters]) {
            wake();
        }
        return events.length;
    }

    /** Resolves once the index holds more than `length` events or another transaction, or on abort. */
    waitForChange(signal?: AbortSignal): Promise<void> {
        return new Promise((resolve) => {
            const done = (): void => {
                this.#waiters.delete(done);
                signal?.removeEventListener('abort', done);
                resolve();
            };
            if (signal?.aborted) {
                resolve();
                return;
            }
            this.#waiters.add(done);
            signal?.addEventListener('abort', done);
        });
    }

    /** One page of QueryEvents: filtered, sorted by (timestamp, id), keyset-paginated. */
    query(query: EventQuery): EventPage {
        const match = eventFilter(query.filter);
        const pageSize = query.pageSize ? query.pageSize : DEFAULT_PAGE_SIZE;
        const descending = query.sort === orchestrator.SortOrder.DESCENDING;
        const cursor = query.pageToken ? decodeToken(query.pageToken) : undefined;
        const events: IndexedEvent[] = [];
        const step = descending ? -1 : 1;
        let i = this.#startIndex(cursor, descending);
        for (; i >= 0 && i < this.#sorted.length; i += step) {
            const event = this.#sorted[i];
            if (event === undefined || !match(event)) {
                continue;
            }
            if (events.length === pageSize) {
                const last = events[events.length - 1];
                return { events, nextPageToken: last ? encodeToken(sortKey(last)) : '' };
            }
            events.push(event);
        }
        return { events, nextPageToken: '' };
    }

    close(): void {
        for (const wake of [...this.#waiters]) {
            wake();
        }
        this.#store.close();
    }

    #startIndex(cursor: SortKey | undefined, descending: boolean): number {
        if (cursor === undefined) {
            return descending ? this.#sorted.length - 1 : 0;
        }
        // first element strictly after the cursor (ascending), or last strictly before it (descending)
        return descending ? this.#lowerBound(cursor) - 1 : this.#upperBound(cursor);
    }

    /** Index of the first event not before `key`. */
    #lowerBound(key: SortKey): number {
        return this.#partition((c) => c < 0, key);
    }

    /** Index of the first event after `key`. */
    #upperBound(key: SortKey): number {
        return this.#partition((c) => c <= 0, key);
    }

    /** Binary search: the number of leading events whose comparison with `key` satisfies `before`. */
    #partition(before: (comparison: number) => boolean, key: SortKey): number {
        let lo = 0;
        let hi = this.#sorted.length;
        while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            const event = this.#sorted[mid];
            if (event !== undefined && before(compareKeys(sortKey(event), key))) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    #add(record: TransactionRecord, events: IndexedEvent[]): void {
        // A slice of the first event id (`<txid>:<n>`) shares that string's memory.
        const first = events[0]?.id;
        const transactionId = first?.startsWith(`${record.transactionId}:`)
            ? first.slice(0, record.transactionId.length)
            : record.transactionId;
        this.#transactions.add(transactionId);
        for (const event of events) {
            this.#positions.set(event.id, this.#events.length);
            this.#events.push(event);
            this.#sorted.splice(this.#upperBound(sortKey(event)), 0, event);
        }
    }
}
