/**
 * Layout of an event index's LevelDB database: the keys of its rows and the values they hold. Integers are
 * big-endian and fixed-width so that byte order is numeric order, hence key order is chain order.
 */
import { orchestrator } from '@substra-fabric/api';

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

/** One event read from the index: where it is on the chain, and its bytes as the chaincode encoded them. */
export interface IndexedEvent {
    readonly position: ChainPosition;
    /** The event without `channel`, exactly as in the chaincode event payload. */
    readonly bytes: Uint8Array;
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

export const CHECKPOINT_KEY = Buffer.from('!checkpoint', 'utf8');
export const FORMAT_KEY = Buffer.from('!format', 'utf8');

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

interface CheckpointJson {
    readonly blockNumber: string;
    readonly transactions: number;
    readonly transactionId: string;
    readonly events: number;
}

/** The checkpoint of its row's value (undefined: no row, an empty index). */
export function parseCheckpoint(value: Buffer | undefined): Checkpoint | undefined {
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

/** The checkpoint row: key and value. */
export function checkpointRow(checkpoint: Checkpoint): [Buffer, Buffer] {
    const json: CheckpointJson = { ...checkpoint, blockNumber: checkpoint.blockNumber.toString() };
    return [CHECKPOINT_KEY, Buffer.from(JSON.stringify(json), 'utf8')];
}

/** What QueryEvents filters on, besides the timestamp (which is in the index keys). */
export interface EventSummary {
    readonly assetKey: string;
    readonly assetKind: orchestrator.AssetKind;
    readonly eventKind: orchestrator.EventKind;
    readonly metadata: Readonly<Record<string, string>>;
}

/** The fields of an event that QueryEvents filters on. */
export function summaryOf(event: orchestrator.Event): EventSummary {
    return {
        assetKey: event.asset_key,
        assetKind: event.asset_kind,
        eventKind: event.event_kind,
        metadata: event.metadata,
    };
}

/** The value of a secondary index row: an `orchestrator.Event` holding only the summary. */
export function encodeSummary(event: EventSummary): Buffer {
    const bytes = orchestrator.Event.encode({
        asset_key: event.assetKey,
        asset_kind: event.assetKind,
        event_kind: event.eventKind,
        metadata: event.metadata,
    }).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function decodeSummary(bytes: Uint8Array): EventSummary {
    return summaryOf(orchestrator.Event.decode(bytes));
}
