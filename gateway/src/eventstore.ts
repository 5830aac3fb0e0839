import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';

/** One `chaincode-updates` chaincode event: the transaction it came from and its raw payload. */
export interface TransactionRecord {
    readonly blockNumber: bigint;
    readonly transactionId: string;
    readonly payload: Uint8Array;
}

/**
 * Where an event is on the chain: its block, the rank of its transaction among the block's
 * `chaincode-updates` transactions (block order), and its rank in the transaction's payload. Events are
 * ordered by these three numbers, never by id.
 */
export interface ChainPosition {
    readonly block: bigint;
    readonly transaction: number;
    readonly event: number;
}

/**
 * How far the index is, saved in the same LevelDB batch as the events it covers: every
 * `chaincode-updates` transaction of the blocks before `blockNumber` is indexed, and so are the first
 * `transactions` ones of block `blockNumber` (so blocks up to `blockNumber - 1` are complete).
 */
export interface Checkpoint {
    /** Block of the last transaction indexed. */
    readonly blockNumber: bigint;
    /** Transactions of that block indexed (its first ones, in block order). */
    readonly transactions: number;
    /** Last transaction indexed. */
    readonly transactionId: string;
    /** Events in the index. */
    readonly events: number;
}

/**
 * Key layout (all keys binary, one leading byte per kind of row; integers big-endian and fixed-width so
 * that byte order is numeric order):
 *
 * - `P` = position: u64 block | u32 transaction rank in block | u32 event rank in transaction (16 bytes);
 * - `T` = timestamp: u64 (seconds + 2^63) | u32 (nanos + 2^31) (12 bytes);
 * - `S` = string: u32 length | UTF-8 bytes.
 *
 * | row | key | value |
 * |---|---|---|
 * | event, chain order | `e` P | the event as the chaincode encoded it |
 * | event id | `i` id | P |
 * | transaction | `x` txid | P of its first event (event rank 0) |
 * | time order (all events) | `s` T P | summary |
 * | by asset key | `k` S(asset key) T P | summary |
 * | by asset kind | `a` u32 kind T P | summary |
 * | by event kind | `v` u32 kind T P | summary |
 * | by metadata pair | `m` S(key) S(value) T P | summary |
 * | checkpoint | `!checkpoint` | JSON {@link Checkpoint} |
 * | format | `!format` | {@link FORMAT} |
 *
 * The summary is an `orchestrator.Event` holding only what QueryEvents filters on (asset key, asset
 * kind, event kind, metadata), so a filtered scan never reads the event itself.
 */
export const ROW = {
    event: 0x65, // e
    id: 0x69, // i
    transaction: 0x78, // x
    time: 0x73, // s
    assetKey: 0x6b, // k
    assetKind: 0x61, // a
    eventKind: 0x76, // v
    metadata: 0x6d, // m
} as const;

/** Version of the key layout; a database of another version is cleared and rebuilt from the chain. */
export const FORMAT = 'substra-gateway-events/1';

const CHECKPOINT_KEY = Buffer.from('!checkpoint', 'utf8');
const FORMAT_KEY = Buffer.from('!format', 'utf8');

export const POSITION_BYTES = 16;
export const TIMESTAMP_BYTES = 12;
const U32_MAX = 0xffff_ffff;
const I64_OFFSET = 2n ** 63n;
const I64_MAX = 2n ** 63n - 1n;

export function encodePosition(position: ChainPosition, into = Buffer.allocUnsafe(POSITION_BYTES), at = 0): Buffer {
    into.writeBigUInt64BE(position.block, at);
    into.writeUInt32BE(position.transaction, at + 8);
    into.writeUInt32BE(position.event, at + 12);
    return into;
}

export function decodePosition(bytes: Uint8Array, at = 0): ChainPosition {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return {
        block: view.readBigUInt64BE(at),
        transaction: view.readUInt32BE(at + 8),
        event: view.readUInt32BE(at + 12),
    };
}

export function comparePositions(a: ChainPosition, b: ChainPosition): number {
    if (a.block !== b.block) {
        return a.block < b.block ? -1 : 1;
    }
    if (a.transaction !== b.transaction) {
        return a.transaction - b.transaction;
    }
    return a.event - b.event;
}

/** Seconds and nanoseconds of a timestamp (protobuf int64 and int32, as numbers). */
export interface Instant {
    readonly seconds: number;
    readonly nanos: number;
}

export function encodeTimestamp(instant: Instant, into = Buffer.allocUnsafe(TIMESTAMP_BYTES), at = 0): Buffer {
    let seconds = BigInt(Math.trunc(Number.isFinite(instant.seconds) ? instant.seconds : 0));
    seconds = seconds > I64_MAX ? I64_MAX : seconds < -I64_OFFSET ? -I64_OFFSET : seconds;
    const nanos = Math.min(Math.max(Math.trunc(instant.nanos || 0), -(2 ** 31)), 2 ** 31 - 1);
    into.writeBigUInt64BE(seconds + I64_OFFSET, at);
    into.writeUInt32BE(nanos + 2 ** 31, at + 8);
    return into;
}

export function decodeTimestamp(bytes: Uint8Array, at = 0): Instant {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return {
        seconds: Number(view.readBigUInt64BE(at) - I64_OFFSET),
        nanos: view.readUInt32BE(at + 8) - 2 ** 31,
    };
}

function lengthPrefixed(value: string): Buffer {
    const bytes = Buffer.from(value, 'utf8');
    const out = Buffer.allocUnsafe(4 + bytes.length);
    out.writeUInt32BE(bytes.length, 0);
    bytes.copy(out, 4);
    return out;
}

function u32(value: number): Buffer {
    const out = Buffer.allocUnsafe(4);
    out.writeUInt32BE(Math.min(Math.max(Math.trunc(value), 0), U32_MAX), 0);
    return out;
}

function prefixed(row: number, ...parts: Buffer[]): Buffer {
    return Buffer.concat([Buffer.of(row), ...parts]);
}

/** Key prefixes of the secondary indexes; each row appends `T P`. */
export const indexPrefix = {
    time: (): Buffer => Buffer.of(ROW.time),
    assetKey: (assetKey: string): Buffer => prefixed(ROW.assetKey, lengthPrefixed(assetKey)),
    assetKind: (kind: number): Buffer => prefixed(ROW.assetKind, u32(kind)),
    eventKind: (kind: number): Buffer => prefixed(ROW.eventKind, u32(kind)),
    metadata: (key: string, value: string): Buffer =>
        prefixed(ROW.metadata, lengthPrefixed(key), lengthPrefixed(value)),
};

export function eventKey(position: ChainPosition): Buffer {
    const key = Buffer.allocUnsafe(1 + POSITION_BYTES);
    key[0] = ROW.event;
    return encodePosition(position, key, 1);
}

export function idKey(id: string): Buffer {
    return prefixed(ROW.id, Buffer.from(id, 'utf8'));
}

export function transactionKey(transactionId: string): Buffer {
    return prefixed(ROW.transaction, Buffer.from(transactionId, 'utf8'));
}

/** `prefix T P`: a row of a secondary index. */
export function indexKey(prefix: Buffer, instant: Instant, position: ChainPosition): Buffer {
    const key = Buffer.allocUnsafe(prefix.length + TIMESTAMP_BYTES + POSITION_BYTES);
    prefix.copy(key, 0);
    encodeTimestamp(instant, key, prefix.length);
    encodePosition(position, key, prefix.length + TIMESTAMP_BYTES);
    return key;
}

/** The smallest key after every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
    const end = Buffer.from(prefix);
    for (let i = end.length - 1; i >= 0; i--) {
        const byte = end[i] ?? 0;
        if (byte < 0xff) {
            end[i] = byte + 1;
            return end.subarray(0, i + 1);
        }
    }
    return Buffer.alloc(0); // never reached: every prefix starts with a row byte below 0xff
}

export type EventDatabase = ClassicLevel<Buffer, Buffer>;

/** Databases being closed, by directory: opening one waits for its close (LevelDB's lock). */
const closing = new Map<string, Promise<void>>();

interface CheckpointJson {
    readonly blockNumber: string;
    readonly transactions: number;
    readonly transactionId: string;
    readonly events: number;
}

function parseCheckpoint(value: Buffer | undefined): Checkpoint | undefined {
    if (value === undefined) {
        return undefined;
    }
    const parsed = JSON.parse(value.toString('utf8')) as Partial<CheckpointJson>;
    if (
        typeof parsed.blockNumber !== 'string' ||
        typeof parsed.transactions !== 'number' ||
        typeof parsed.transactionId !== 'string' ||
        typeof parsed.events !== 'number'
    ) {
        throw new Error('corrupt event index checkpoint');
    }
    return {
        blockNumber: BigInt(parsed.blockNumber),
        transactions: parsed.transactions,
        transactionId: parsed.transactionId,
        events: parsed.events,
    };
}

export function checkpointRow(checkpoint: Checkpoint): [Buffer, Buffer] {
    const json: CheckpointJson = { ...checkpoint, blockNumber: checkpoint.blockNumber.toString() };
    return [CHECKPOINT_KEY, Buffer.from(JSON.stringify(json), 'utf8')];
}

/** Files of the hand-written format that came before LevelDB (removed at open: the index is rebuilt). */
const LEGACY_FILES = ['index.bin', 'checkpoint.json', 'checkpoint.json.tmp'];

/**
 * The LevelDB database of one event index (`classic-level`: every call is asynchronous, run on libuv's
 * thread pool). Nothing of the events is kept in memory: LevelDB's own write buffer and block cache
 * are bounded ({@link LEVEL_OPTIONS}).
 */
export class EventStore {
    readonly #location: (() => Promise<string>) | string;
    readonly #temporary: boolean;
    #dir: string | undefined;
    #db: EventDatabase | undefined;

    protected constructor(location: (() => Promise<string>) | string, temporary: boolean) {
        this.#location = location;
        this.#temporary = temporary;
    }

    /** The open database (after {@link open}). */
    get db(): EventDatabase {
        if (this.#db === undefined) {
            throw new Error('event store is not open');
        }
        return this.#db;
    }

    get directory(): string | undefined {
        return this.#dir;
    }

    /** Open (creating it if needed) and return the saved checkpoint, undefined for an empty index. */
    async open(): Promise<Checkpoint | undefined> {
        const dir = typeof this.#location === 'string' ? this.#location : await this.#location();
        this.#dir = dir;
        await closing.get(dir);
        await fs.mkdir(dir, { recursive: true });
        await Promise.all(LEGACY_FILES.map((file) => fs.rm(path.join(dir, file), { force: true })));
        const db: EventDatabase = new ClassicLevel<Buffer, Buffer>(dir, LEVEL_OPTIONS);
        await db.open();
        try {
            const format = await db.get(FORMAT_KEY);
            if (format?.toString('utf8') !== FORMAT) {
                // Empty, or another layout: the chain is the record, so start over.
                await db.clear();
                await db.put(FORMAT_KEY, Buffer.from(FORMAT, 'utf8'));
            }
            const checkpoint = parseCheckpoint(await db.get(CHECKPOINT_KEY));
            this.#db = db;
            return checkpoint;
        } catch (err) {
            await db.close();
            throw err;
        }
    }

    /** Close the database (and remove it when temporary); opening the same directory again waits for this. */
    async close(): Promise<void> {
        const db = this.#db;
        const dir = this.#dir;
        this.#db = undefined;
        if (db === undefined || dir === undefined) {
            return;
        }
        const done = (async () => {
            await db.close();
            if (this.#temporary) {
                await fs.rm(dir, { recursive: true, force: true });
            }
        })();
        const entry = done.catch(() => undefined);
        closing.set(dir, entry);
        try {
            await done;
        } finally {
            if (closing.get(dir) === entry) {
                closing.delete(dir);
            }
        }
    }
}

/**
 * LevelDB settings: 4 MiB write buffer and 8 MiB block cache (LevelDB's defaults, stated), 8 MiB table
 * files so that a big index stays a few hundred files, and at most 256 of them open at once.
 */
export const LEVEL_OPTIONS = {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    writeBufferSize: 4 * 1024 * 1024,
    cacheSize: 8 * 1024 * 1024,
    maxFileSize: 8 * 1024 * 1024,
    maxOpenFiles: 256,
    compression: true,
} as const;

/** A LevelDB index in `dir` (the gateway's `ORCHESTRATOR_STATE_DIR/events/<channel>/<chaincode>/`). */
export class FileEventStore extends EventStore {
    constructor(dir: string) {
        super(path.resolve(dir), false);
    }
}

/**
 * A LevelDB index in a new temporary directory, removed on close: nothing survives a restart (the
 * index is rebuilt from the chain), and nothing of the events is held in the heap either. Used when the
 * gateway has no state directory (unit tests).
 */
export class MemoryEventStore extends EventStore {
    constructor() {
        super(() => fs.mkdtemp(path.join(os.tmpdir(), 'substra-gateway-events-')), true);
    }
}
