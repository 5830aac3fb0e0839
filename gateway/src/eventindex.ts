import { orchestrator } from '@substra-fabric/api';
import { status } from '@grpc/grpc-js';
import { StatusError } from './errors';
import {
    type ChainPosition,
    type Checkpoint,
    type EventStore,
    type Instant,
    POSITION_BYTES,
    ROW,
    TIMESTAMP_BYTES,
    type TransactionRecord,
    checkpointRow,
    decodePosition,
    encodePosition,
    encodeTimestamp,
    eventKey,
    idKey,
    indexKey,
    indexPrefix,
    prefixEnd,
    transactionKey,
} from './eventstore';
import { splitDelimited } from './wire';

/** One event read from the index: where it is on the chain, and its bytes as the chaincode encoded them. */
export interface IndexedEvent {
    readonly position: ChainPosition;
    /** The event without `channel`, exactly as in the chaincode event payload. */
    readonly bytes: Uint8Array;
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

/** What QueryEvents filters on, besides the timestamp (which is in the index keys). */
export interface EventSummary {
    readonly assetKey: string;
    readonly assetKind: orchestrator.AssetKind;
    readonly eventKind: orchestrator.EventKind;
    readonly metadata: Readonly<Record<string, string>>;
}

/** One event of a transaction payload, decoded. */
export interface ParsedEvent extends EventSummary, Instant {
    readonly id: string;
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
                assetKey: event.asset_key,
                assetKind: event.asset_kind,
                eventKind: event.event_kind,
                seconds: event.timestamp?.seconds ?? 0,
                nanos: event.timestamp?.nanos ?? 0,
                metadata: event.metadata,
                bytes,
            };
        });
    } catch (err) {
        throw new PayloadError(record.transactionId, err);
    }
}

function encodeSummary(event: EventSummary): Buffer {
    const bytes = orchestrator.Event.encode({
        asset_key: event.assetKey,
        asset_kind: event.assetKind,
        event_kind: event.eventKind,
        metadata: event.metadata,
    }).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeSummary(bytes: Uint8Array): EventSummary {
    const event = orchestrator.Event.decode(bytes);
    return {
        assetKey: event.asset_key,
        assetKind: event.asset_kind,
        eventKind: event.event_kind,
        metadata: event.metadata,
    };
}

const ASSET_UNKNOWN = orchestrator.AssetKind.ASSET_UNKNOWN;
const EVENT_UNKNOWN = orchestrator.EventKind.EVENT_UNKNOWN;

/** The non-time part of the QueryEvents filter as a predicate: every given field must hold. */
export function summaryFilter(filter: orchestrator.IEventQueryFilter | null | undefined): (e: EventSummary) => boolean {
    const assetKey = filter?.asset_key ?? '';
    const assetKind = filter?.asset_kind ?? ASSET_UNKNOWN;
    const eventKind = filter?.event_kind ?? EVENT_UNKNOWN;
    const metadata = Object.entries(filter?.metadata ?? {});
    return (e) =>
        (assetKey === '' || e.assetKey === assetKey) &&
        (assetKind === ASSET_UNKNOWN || e.assetKind === assetKind) &&
        (eventKind === EVENT_UNKNOWN || e.eventKind === eventKind) &&
        metadata.every(([k, v]) => e.metadata[k] === v);
}

/** The secondary index a filter scans: the most selective of the fields it sets. */
function indexFor(filter: orchestrator.IEventQueryFilter | null | undefined): Buffer {
    const [pair] = Object.entries(filter?.metadata ?? {});
    if (filter?.asset_key) {
        return indexPrefix.assetKey(filter.asset_key);
    }
    if (pair !== undefined) {
        return indexPrefix.metadata(pair[0], pair[1]);
    }
    if (filter?.asset_kind) {
        return indexPrefix.assetKind(filter.asset_kind);
    }
    if (filter?.event_kind) {
        return indexPrefix.eventKind(filter.event_kind);
    }
    return indexPrefix.time();
}

const TOKEN_VERSION = 1;
const TOKEN_BYTES = 1 + TIMESTAMP_BYTES + POSITION_BYTES;

/** A page cursor: the sort key (timestamp, chain position) of the last event of the previous page. */
interface Cursor {
    readonly sortKey: Buffer; // T P
}

function encodeToken(cursor: Cursor): string {
    return Buffer.concat([Buffer.of(TOKEN_VERSION), cursor.sortKey]).toString('base64url');
}

function invalidToken(token: string): StatusError {
    return new StatusError(status.UNKNOWN, `invalid page token "${token}"`);
}

/** The cursor of a page token; tokens of the previous gateway (`[seconds, nanos, id]` JSON) are accepted too. */
async function decodeToken(
    token: string,
    positionOf: (id: string) => Promise<ChainPosition | undefined>,
): Promise<Cursor> {
    const bytes = Buffer.from(token, 'base64url');
    if (bytes.length === TOKEN_BYTES && bytes[0] === TOKEN_VERSION && bytes.toString('base64url') === token) {
        return { sortKey: bytes.subarray(1) };
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
        throw invalidToken(token);
    }
    if (
        Array.isArray(parsed) &&
        parsed.length === 3 &&
        typeof parsed[0] === 'number' &&
        typeof parsed[1] === 'number' &&
        typeof parsed[2] === 'string'
    ) {
        const position = await positionOf(parsed[2]);
        if (position !== undefined) {
            const sortKey = Buffer.allocUnsafe(TIMESTAMP_BYTES + POSITION_BYTES);
            encodeTimestamp({ seconds: parsed[0], nanos: parsed[1] }, sortKey, 0);
            encodePosition(position, sortKey, TIMESTAMP_BYTES);
            return { sortKey };
        }
    }
    throw invalidToken(token);
}

interface Bound {
    readonly key: Buffer;
    readonly inclusive: boolean;
}

/** Iterator range over `prefix T P` rows: the filter's time range, after (or before) the cursor. */
function scanRange(
    prefix: Buffer,
    filter: orchestrator.IEventQueryFilter | null | undefined,
    cursor: Cursor | undefined,
    descending: boolean,
): { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer } {
    const start = filter?.start;
    const end = filter?.end;
    let lower: Bound = start
        ? {
              key: Buffer.concat([prefix, encodeTimestamp({ seconds: start.seconds ?? 0, nanos: start.nanos ?? 0 })]),
              inclusive: true,
          }
        : { key: prefix, inclusive: true };
    let upper: Bound = end
        ? {
              key: Buffer.concat([
                  prefix,
                  encodeTimestamp({ seconds: end.seconds ?? 0, nanos: end.nanos ?? 0 }),
                  Buffer.alloc(POSITION_BYTES, 0xff),
              ]),
              inclusive: true,
          }
        : { key: prefixEnd(prefix), inclusive: false };
    if (cursor !== undefined) {
        const at = Buffer.concat([prefix, cursor.sortKey]);
        if (!descending && Buffer.compare(at, lower.key) >= 0) {
            lower = { key: at, inclusive: false };
        }
        if (descending && Buffer.compare(at, upper.key) <= 0) {
            upper = { key: at, inclusive: false };
        }
    }
    return {
        ...(lower.inclusive ? { gte: lower.key } : { gt: lower.key }),
        ...(upper.inclusive ? { lte: upper.key } : { lt: upper.key }),
    };
}

/** Rows read per iterator call. */
const SCAN_BATCH = 256;
/** Most transactions, and bytes of payload, written in one LevelDB batch. */
const MAX_BATCH_TRANSACTIONS = 256;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Beyond this backlog, {@link EventIndex.backlogFull} asks the listener to wait for the writes. */
const MAX_QUEUED_TRANSACTIONS = 1024;
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

interface Pending {
    readonly record: TransactionRecord;
    readonly block: bigint;
    readonly transaction: number;
    readonly events: readonly ParsedEvent[];
    readonly malformed: PayloadError | undefined;
    readonly resolve: (count: number) => void;
    readonly reject: (err: unknown) => void;
}

/** Where the listener stands against the chain, for readiness and QueryEvents. */
export interface IndexProgress {
    /** Last block with an indexed transaction (undefined: none yet). */
    readonly block: bigint | undefined;
    /** Last block of the chain when the listener started (undefined: not known yet). */
    readonly target: bigint | undefined;
    readonly caughtUp: boolean;
}

export interface EventIndexOptions {
    /** Longest time QueryEvents waits for the index to catch up before answering UNAVAILABLE. */
    readonly catchUpWaitMs?: number;
}

export const DEFAULT_CATCH_UP_WAIT_MS = 3000;

/**
 * The events of one (channel, chaincode) in a LevelDB database ({@link EventStore}): rows in chain order
 * for SubscribeToEvents, rows in (timestamp, chain position) order per filter field for QueryEvents,
 * and the checkpoint, each transaction written in the same batch as the checkpoint that covers it.
 * Appends are queued and written in batches (group commit); the heap holds only that bounded queue, the
 * checkpoint and the callers waiting for changes, never anything per indexed event.
 *
 * It is a cache of the chain: the listener fills it from chaincode events.
 */
export class EventIndex {
    readonly #store: EventStore;
    readonly catchUpWaitMs: number;
    readonly #waiters = new Set<() => void>();
    readonly #readiness = new Set<() => void>();
    #opening: Promise<void> | undefined;
    #opened = false;
    #closed = false;
    #checkpoint: Checkpoint | undefined;
    #queue: Pending[] = [];
    #queuedBytes = 0;
    #flushing: Promise<void> | undefined;
    #failure: Error | undefined;
    #drainWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
    /** Block of the stream's last record, and the records of that block seen on this stream. */
    #streamBlock = -1n;
    #streamSeen = 0;
    #target: bigint | undefined;
    #exact = false;
    #eventTarget: bigint | undefined;
    #heightUnknowable = false;
    #quiet = false;
    #caughtUp = false;
    #version = 0;

    constructor(store: EventStore, options: EventIndexOptions = {}) {
        this.#store = store;
        this.catchUpWaitMs = options.catchUpWaitMs ?? DEFAULT_CATCH_UP_WAIT_MS;
    }

    /** Open the database (at most once at a time; after a failure, the next call tries again). */
    open(): Promise<void> {
        if (this.#closed) {
            return Promise.reject(new StatusError(status.UNAVAILABLE, 'the event index is closed'));
        }
        this.#opening ??= this.#store.open().then(
            (checkpoint) => {
                this.#checkpoint = checkpoint;
                this.#opened = true;
                this.#updateReadiness();
            },
            (err: unknown) => {
                this.#opening = undefined;
                throw new StatusError(
                    status.UNAVAILABLE,
                    `the event index cannot be opened: ${err instanceof Error ? err.message : String(err)}`,
                );
            },
        );
        return this.#opening;
    }

    /** Number of events indexed (saved). */
    get length(): number {
        return this.#checkpoint?.events ?? 0;
    }

    /** Last transaction saved, undefined before the first one (or before {@link open}). */
    get checkpoint(): Checkpoint | undefined {
        return this.#checkpoint;
    }

    /**
     * Start reading a new chaincode event stream: waits for the writes in progress and returns the
     * block to read from, the checkpoint's (its first `transactions` records are skipped as indexed).
     */
    async beginStream(): Promise<bigint> {
        await this.open();
        await this.drain().catch(() => undefined);
        this.#failure = undefined;
        this.#streamBlock = -1n;
        this.#streamSeen = 0;
        return this.#checkpoint?.blockNumber ?? 0n;
    }

    /**
     * Queue the events of one transaction of the stream; resolves with the number of events indexed once
     * they are saved (0 for a transaction already indexed), rejects with {@link PayloadError} for a
     * payload that cannot be decoded (the checkpoint still moves past it), or with the write's error.
     */
    append(record: TransactionRecord): Promise<number> {
        if (this.#failure !== undefined) {
            return Promise.reject(this.#failure);
        }
        if (record.blockNumber === this.#streamBlock) {
            this.#streamSeen++;
        } else {
            this.#streamBlock = record.blockNumber;
            this.#streamSeen = 1;
        }
        let events: ParsedEvent[] = [];
        let malformed: PayloadError | undefined;
        try {
            events = parseTransaction(record);
        } catch (err) {
            malformed = err instanceof PayloadError ? err : new PayloadError(record.transactionId, err);
        }
        return new Promise((resolve, reject) => {
            this.#queue.push({
                record,
                block: record.blockNumber,
                transaction: this.#streamSeen - 1,
                events,
                malformed,
                resolve,
                reject,
            });
            this.#queuedBytes += record.payload.length;
            this.#flushing ??= this.#flush();
        });
    }

    /** Whether the listener should wait for {@link drain} before reading more (or a write failed). */
    get backlogFull(): boolean {
        return (
            this.#failure !== undefined ||
            this.#queue.length >= MAX_QUEUED_TRANSACTIONS ||
            this.#queuedBytes >= MAX_QUEUED_BYTES
        );
    }

    /** Resolves once everything appended is saved; rejects when a write failed. */
    drain(): Promise<void> {
        if (this.#failure !== undefined) {
            return Promise.reject(this.#failure);
        }
        if (this.#flushing === undefined) {
            return Promise.resolve();
        }
        return new Promise((resolve, reject) => {
            this.#drainWaiters.push({ resolve, reject });
        });
    }

    /** Chain position of an event id, undefined when not indexed. */
    async positionOf(id: string): Promise<ChainPosition | undefined> {
        await this.open();
        const value = await this.#store.db.get(idKey(id));
        return value === undefined ? undefined : decodePosition(value);
    }

    async hasTransaction(transactionId: string): Promise<boolean> {
        await this.open();
        return (await this.#store.db.get(transactionKey(transactionId))) !== undefined;
    }

    /** Up to `limit` events in chain order after `after` (from the first event when undefined). */
    async eventsAfter(after: ChainPosition | undefined, limit: number): Promise<IndexedEvent[]> {
        await this.open();
        const range = after === undefined ? { gte: Buffer.of(ROW.event) } : { gt: eventKey(after) };
        const iterator = this.#store.db.iterator({ ...range, lt: Buffer.of(ROW.event + 1) });
        try {
            const entries = await iterator.nextv(limit);
            return entries.map(([key, bytes]) => ({ position: decodePosition(key, 1), bytes }));
        } finally {
            await iterator.close();
        }
    }

    /** One page of QueryEvents: filtered, sorted by (timestamp, chain position), keyset-paginated. */
    async query(query: EventQuery): Promise<EventPage> {
        await this.open();
        const db = this.#store.db;
        const pageSize = query.pageSize ? query.pageSize : DEFAULT_PAGE_SIZE;
        const descending = query.sort === orchestrator.SortOrder.DESCENDING;
        const cursor = query.pageToken ? await decodeToken(query.pageToken, (id) => this.positionOf(id)) : undefined;
        const prefix = indexFor(query.filter);
        const match = summaryFilter(query.filter);
        const keys: Buffer[] = [];
        let more = false;
        const iterator = db.iterator({ ...scanRange(prefix, query.filter, cursor, descending), reverse: descending });
        try {
            scan: for (;;) {
                const entries = await iterator.nextv(SCAN_BATCH);
                if (entries.length === 0) {
                    break;
                }
                for (const [key, value] of entries) {
                    if (!match(decodeSummary(value))) {
                        continue;
                    }
                    if (keys.length === pageSize) {
                        more = true;
                        break scan;
                    }
                    keys.push(key);
                }
            }
        } finally {
            await iterator.close();
        }
        const positions = keys.map((key) => decodePosition(key, prefix.length + TIMESTAMP_BYTES));
        const bytes = await db.getMany(positions.map(eventKey));
        const events = positions.map((position, i) => {
            const value = bytes[i];
            if (value === undefined) {
                throw new Error('corrupt event index: an index row has no event');
            }
            return { position, bytes: value };
        });
        const last = keys[keys.length - 1];
        return {
            events,
            nextPageToken: more && last !== undefined ? encodeToken({ sortKey: last.subarray(prefix.length) }) : '',
        };
    }

    /** Number of batches saved so far (see {@link waitForChange}). */
    get version(): number {
        return this.#version;
    }

    /**
     * Resolves once the index saved another batch (at once when {@link version} is no longer `since`),
     * or on abort, or when it closes.
     */
    waitForChange(signal?: AbortSignal, since = this.#version): Promise<void> {
        return new Promise((resolve) => {
            if (since !== this.#version) {
                resolve();
                return;
            }
            const done = (): void => {
                this.#waiters.delete(done);
                signal?.removeEventListener('abort', done);
                resolve();
            };
            if (signal?.aborted || this.#closed) {
                resolve();
                return;
            }
            this.#waiters.add(done);
            signal?.addEventListener('abort', done);
        });
    }

    // --- catching up -------------------------------------------------------------------------------

    /**
     * The chain height when the listener started: the index has caught up once it holds every event of
     * the blocks up to height - 1. With `exact`, {@link expectLastEventBlock} follows and tells which
     * block that means; otherwise a quiet stream ({@link setQuiet}) counts as caught up too.
     */
    expectHeight(height: bigint, exact: boolean): void {
        if (this.#target === undefined) {
            this.#target = height - 1n;
            this.#exact = exact;
            this.#updateReadiness();
        }
    }

    /** The last block up to the target holding events of the chaincode (undefined: none after the checkpoint). */
    expectLastEventBlock(block: bigint | undefined): void {
        this.#eventTarget = block ?? -1n;
        this.#updateReadiness();
    }

    /** The chain height cannot be known (the Fabric client cannot tell): rely on a quiet stream alone. */
    heightUnknowable(): void {
        this.#heightUnknowable = true;
        this.#updateReadiness();
    }

    /**
     * Whether the event stream has been quiet for a while: without {@link expectLastEventBlock}, a chain
     * whose last blocks hold no event of the chaincode is only seen caught up this way (the peer sends
     * nothing for such blocks).
     */
    setQuiet(quiet: boolean): void {
        this.#quiet = quiet;
        this.#updateReadiness();
    }

    /** Whether the index holds every event of the chain as it was when the listener started (then stays so). */
    get caughtUp(): boolean {
        return this.#caughtUp;
    }

    progress(): IndexProgress {
        return { block: this.#checkpoint?.blockNumber, target: this.#target, caughtUp: this.#caughtUp };
    }

    /** Calls `listener` when the index has caught up; returns the unsubscribe function. */
    onCaughtUp(listener: () => void): () => void {
        this.#readiness.add(listener);
        return () => this.#readiness.delete(listener);
    }

    /** Resolves true once caught up, false after `timeoutMs` (or when the index closes). */
    whenCaughtUp(timeoutMs: number): Promise<boolean> {
        if (this.#caughtUp) {
            return Promise.resolve(true);
        }
        if (this.#closed) {
            return Promise.resolve(false);
        }
        return new Promise((resolve) => {
            const finish = (value: boolean): void => {
                clearTimeout(timer);
                unsubscribe();
                resolve(value);
            };
            const timer = setTimeout(() => {
                finish(this.#caughtUp);
            }, timeoutMs);
            const unsubscribe = this.onCaughtUp(() => {
                finish(this.#caughtUp);
            });
        });
    }

    /** Save what is queued, wake every waiter and close the database. */
    async close(): Promise<void> {
        if (this.#closed) {
            return;
        }
        this.#closed = true;
        this.#wake();
        for (const listener of [...this.#readiness]) {
            listener();
        }
        await this.#flushing;
        await this.#opening?.catch(() => undefined);
        await this.#store.close();
    }

    #wake(): void {
        for (const wake of [...this.#waiters]) {
            wake();
        }
    }

    #updateReadiness(): void {
        if (this.#caughtUp || !this.#opened || this.#flushing !== undefined) {
            return;
        }
        const last = this.#checkpoint?.blockNumber ?? -1n;
        const reached = this.#exact
            ? this.#eventTarget !== undefined && last >= this.#eventTarget
            : this.#target !== undefined && last >= this.#target;
        const quiet = !this.#exact && this.#quiet && (this.#target !== undefined || this.#heightUnknowable);
        if (reached || quiet) {
            this.#caughtUp = true;
            for (const listener of [...this.#readiness]) {
                listener();
            }
        }
    }

    async #flush(): Promise<void> {
        try {
            await this.open();
            while (this.#queue.length > 0) {
                const batch = this.#takeBatch();
                try {
                    await this.#write(batch);
                } catch (err) {
                    this.#fail(err, batch);
                    return;
                }
            }
        } catch (err) {
            this.#fail(err, []);
        } finally {
            this.#flushing = undefined;
            const waiters = this.#drainWaiters;
            this.#drainWaiters = [];
            for (const waiter of waiters) {
                if (this.#failure === undefined) {
                    waiter.resolve();
                } else {
                    waiter.reject(this.#failure);
                }
            }
            this.#updateReadiness();
        }
    }

    #takeBatch(): Pending[] {
        let bytes = 0;
        let count = 0;
        while (
            count < this.#queue.length &&
            count < MAX_BATCH_TRANSACTIONS &&
            (count === 0 || bytes < MAX_BATCH_BYTES)
        ) {
            bytes += this.#queue[count]?.record.payload.length ?? 0;
            count++;
        }
        const batch = this.#queue.splice(0, count);
        this.#queuedBytes -= bytes;
        return batch;
    }

    #fail(err: unknown, batch: Pending[]): void {
        this.#failure = err instanceof Error ? err : new Error(String(err));
        const dropped = [...batch, ...this.#queue];
        this.#queue = [];
        this.#queuedBytes = 0;
        for (const entry of dropped) {
            entry.reject(err);
        }
    }

    /** Write one batch: the rows of every new transaction and the checkpoint after the last one. */
    async #write(batch: Pending[]): Promise<void> {
        const db = this.#store.db;
        const known = await db.getMany(batch.map((entry) => transactionKey(entry.record.transactionId)));
        const writes = db.batch();
        const seen = new Set<string>();
        const counts: number[] = [];
        let checkpoint = this.#checkpoint;
        batch.forEach((entry, i) => {
            if (
                checkpoint !== undefined &&
                (entry.block < checkpoint.blockNumber ||
                    (entry.block === checkpoint.blockNumber && entry.transaction < checkpoint.transactions))
            ) {
                counts.push(0); // read again after a reconnection: indexed already
                return;
            }
            const txId = entry.record.transactionId;
            let count = 0;
            if (known[i] === undefined && !seen.has(txId) && entry.malformed === undefined) {
                seen.add(txId);
                this.#putTransaction(writes, entry);
                count = entry.events.length;
            }
            checkpoint = {
                blockNumber: entry.block,
                transactions: entry.transaction + 1,
                transactionId: txId,
                events: (checkpoint?.events ?? 0) + count,
            };
            counts.push(count);
        });
        if (checkpoint !== this.#checkpoint && checkpoint !== undefined) {
            const [key, value] = checkpointRow(checkpoint);
            writes.put(key, value);
        }
        if (writes.length > 0) {
            await writes.write();
        } else {
            await writes.close();
        }
        this.#checkpoint = checkpoint;
        this.#version++;
        batch.forEach((entry, i) => {
            if (entry.malformed !== undefined) {
                entry.reject(entry.malformed);
            } else {
                entry.resolve(counts[i] ?? 0);
            }
        });
        this.#wake();
    }

    #putTransaction(writes: ReturnType<EventStore['db']['batch']>, entry: Pending): void {
        const first: ChainPosition = { block: entry.block, transaction: entry.transaction, event: 0 };
        writes.put(transactionKey(entry.record.transactionId), encodePosition(first));
        entry.events.forEach((event, n) => {
            const position: ChainPosition = { ...first, event: n };
            const summary = encodeSummary(event);
            writes.put(
                eventKey(position),
                Buffer.from(event.bytes.buffer, event.bytes.byteOffset, event.bytes.byteLength),
            );
            writes.put(idKey(event.id), encodePosition(position));
            writes.put(indexKey(indexPrefix.time(), event, position), summary);
            if (event.assetKey !== '') {
                writes.put(indexKey(indexPrefix.assetKey(event.assetKey), event, position), summary);
            }
            if (event.assetKind !== ASSET_UNKNOWN) {
                writes.put(indexKey(indexPrefix.assetKind(event.assetKind), event, position), summary);
            }
            if (event.eventKind !== EVENT_UNKNOWN) {
                writes.put(indexKey(indexPrefix.eventKind(event.eventKind), event, position), summary);
            }
            for (const [key, value] of Object.entries(event.metadata)) {
                writes.put(indexKey(indexPrefix.metadata(key, value), event, position), summary);
            }
        });
    }
}
