/**
 * Paging of listings, and the one page-token format of the chaincode.
 *
 * Token format: the base64url encoding (RFC 4648 §5, no padding) of the UTF-8 composite key the next page
 * starts at, inclusive: the key of the first record of the next page in the index the listing follows. A
 * listing read from an index (`readPage`) uses the key of the index entry; a listing ordered in memory
 * (`pageInMemory`: a plan's functions, samples listed by key) uses the key each item has, or would have, in the
 * index that defines its order, so both kinds of listing speak the same format and a token is a position in
 * that order. An empty token means the first page, and an empty next-page token that no page follows.
 *
 * A token that is not base64url, or whose key does not lie strictly inside the listing's partial composite key,
 * is refused with the plain error `invalid page token "<token>"`, as the reference does for a malformed token.
 * Clients treat tokens as opaque (this replaces the decimal offsets of behavior-tasks §0.4, whose cost grows
 * with the offset).
 */
import { compareKeys } from './keys';
import type { KeyValue, Store } from './store';

/** `page_size` 0 means this many (behavior-assets.md §1.8). */
export const DEFAULT_PAGE_SIZE = 50;

export interface KeyPage {
    readonly records: readonly KeyValue[];
    /** Empty when no record follows the page. */
    readonly nextPageToken: string;
}

export interface ItemPage<T> {
    readonly items: T[];
    /** Empty when no item follows the page. */
    readonly nextPageToken: string;
}

/** The number of records a requested `page_size` means (0: the default). */
export function effectivePageSize(pageSize: number): number {
    return pageSize > 0 ? pageSize : DEFAULT_PAGE_SIZE;
}

/** The token of a page that starts at `key`. */
export function encodePageToken(key: string): string {
    return Buffer.from(key, 'utf8').toString('base64url');
}

/** The plain error every listing answers a malformed token with. */
export function invalidPageToken(token: string): Error {
    return new Error(`invalid page token "${token}"`);
}

/**
 * The key a page of the listing under (objectType, ...attributes) starts at: '' (the first record) for an
 * empty token, otherwise the key the token encodes, which must lie inside that partial key.
 */
export function decodePageToken(
    store: Store,
    objectType: string,
    attributes: readonly string[],
    token: string,
): string {
    if (token === '') {
        return '';
    }
    const key = Buffer.from(token, 'base64url').toString('utf8');
    const prefix = store.compositeKey(objectType, attributes);
    if (!/^[A-Za-z0-9_-]+$/.test(token) || !key.startsWith(prefix) || key.length === prefix.length) {
        throw invalidPageToken(token);
    }
    return key;
}

/**
 * One page of an index, read with a single paginated range query of `pageSize + 1` records: the extra record
 * only tells whether another page exists, and its key becomes the next page's token. The cost is therefore
 * proportional to the page size, never to the position of the page or the size of the index.
 *
 * The query never asks for more than the store's `queryLimit`. With `pageSize` at or above it, the page is
 * shorter (limit - 1 records) and its token continues at the next record, so the listing still reaches every
 * record instead of ending at the peer's cap.
 */
export async function readPage(
    store: Store,
    objectType: string,
    attributes: readonly string[],
    pageToken: string,
    pageSize: number,
): Promise<KeyPage> {
    const startKey = decodePageToken(store, objectType, attributes, pageToken);
    const requested = Math.min(effectivePageSize(pageSize) + 1, store.queryLimit);
    const { records } = await store.page(objectType, attributes, requested, startKey);
    const next = records.length >= requested ? records[requested - 1] : undefined;
    if (next === undefined) {
        return { records, nextPageToken: '' };
    }
    return { records: records.slice(0, requested - 1), nextPageToken: encodePageToken(next.key) };
}

/**
 * One page of a listing assembled in memory, with the same tokens as `readPage`. Each entry's `key` is the
 * composite key of the item under (objectType, ...attributes), normally its key in the index that defines the
 * listing's order: items are ordered by it (byte order, like the ledger), the page starts at the token's key.
 */
export function pageInMemory<T>(
    store: Store,
    objectType: string,
    attributes: readonly string[],
    entries: readonly { readonly key: string; readonly value: T }[],
    pageToken: string,
    pageSize: number,
): ItemPage<T> {
    const startKey = decodePageToken(store, objectType, attributes, pageToken);
    const size = effectivePageSize(pageSize);
    const sorted = [...entries].sort((a, b) => compareKeys(a.key, b.key));
    const first = sorted.findIndex((entry) => compareKeys(entry.key, startKey) >= 0);
    const start = first < 0 ? sorted.length : first;
    const next = sorted[start + size];
    return {
        items: sorted.slice(start, start + size).map((entry) => entry.value),
        nextPageToken: next === undefined ? '' : encodePageToken(next.key),
    };
}
