import { status } from '@grpc/grpc-js';
import { orchestrator } from '@substra-fabric/api';
import { StatusError } from '../errors';
import {
    type ChainPosition,
    type EventSummary,
    type IndexedEvent,
    POSITION_BYTES,
    TIMESTAMP_BYTES,
    decodePosition,
    decodeSummary,
    encodePosition,
    encodeTimestamp,
    eventKey,
    indexPrefix,
    prefixEnd,
} from './layout';
import type { EventDatabase } from './store';

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

/** Rows read per iterator call. */
const SCAN_BATCH = 256;

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

/**
 * One page of QueryEvents from `db`: filtered, sorted by (timestamp, chain position), keyset-paginated.
 * `positionOf` finds the event of a page token of the previous gateway.
 */
export async function queryPage(
    db: EventDatabase,
    query: EventQuery,
    positionOf: (id: string) => Promise<ChainPosition | undefined>,
): Promise<EventPage> {
    const pageSize = query.pageSize ? query.pageSize : DEFAULT_PAGE_SIZE;
    const descending = query.sort === orchestrator.SortOrder.DESCENDING;
    const cursor = query.pageToken ? await decodeToken(query.pageToken, positionOf) : undefined;
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
