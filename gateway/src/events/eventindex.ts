import { status } from '@grpc/grpc-js';
import { orchestrator } from '@substra-fabric/api';
import { StatusError } from '../errors';
import { CatchUp } from './catchup';
import {
    type ChainPosition,
    type Checkpoint,
    type IndexedEvent,
    ROW,
    checkpointRow,
    decodePosition,
    encodePosition,
    encodeSummary,
    eventKey,
    idKey,
    indexKey,
    indexPrefix,
    transactionKey,
} from './layout';
import { type ParsedEvent, PayloadError, type TransactionRecord, parseTransaction } from './payload';
import { type EventPage, type EventQuery, queryPage } from './query';
import type { EventStore } from './store';

const ASSET_UNKNOWN = orchestrator.AssetKind.ASSET_UNKNOWN;
const EVENT_UNKNOWN = orchestrator.EventKind.EVENT_UNKNOWN;

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
    readonly #catchUp = new CatchUp();
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
        return queryPage(this.#store.db, query, (id) => this.positionOf(id));
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
        this.#catchUp.expectHeight(height, exact);
        this.#updateReadiness();
    }

    /** The last block up to the target holding events of the chaincode (undefined: none after the checkpoint). */
    expectLastEventBlock(block: bigint | undefined): void {
        this.#catchUp.expectLastEventBlock(block);
        this.#updateReadiness();
    }

    /** The chain height cannot be known (the Fabric client cannot tell): rely on a quiet stream alone. */
    heightUnknowable(): void {
        this.#catchUp.heightUnknowable();
        this.#updateReadiness();
    }

    /**
     * Whether the event stream has been quiet for a while: without {@link expectLastEventBlock}, a chain
     * whose last blocks hold no event of the chaincode is only seen caught up this way (the peer sends
     * nothing for such blocks).
     */
    setQuiet(quiet: boolean): void {
        this.#catchUp.setQuiet(quiet);
        this.#updateReadiness();
    }

    /** Whether the index holds every event of the chain as it was when the listener started (then stays so). */
    get caughtUp(): boolean {
        return this.#catchUp.caughtUp;
    }

    progress(): IndexProgress {
        return { block: this.#checkpoint?.blockNumber, target: this.#catchUp.target, caughtUp: this.caughtUp };
    }

    /** Calls `listener` when the index has caught up; returns the unsubscribe function. */
    onCaughtUp(listener: () => void): () => void {
        return this.#catchUp.onCaughtUp(listener);
    }

    /** Resolves true once caught up, false after `timeoutMs` (or when the index closes). */
    whenCaughtUp(timeoutMs: number): Promise<boolean> {
        return this.#catchUp.whenCaughtUp(timeoutMs);
    }

    /** Save what is queued, wake every waiter and close the database. */
    async close(): Promise<void> {
        if (this.#closed) {
            return;
        }
        this.#closed = true;
        this.#wake();
        this.#catchUp.close();
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
        if (this.#opened && this.#flushing === undefined) {
            this.#catchUp.update(this.#checkpoint?.blockNumber ?? -1n);
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
