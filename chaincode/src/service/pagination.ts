import type { KeyValue, Store } from './store';

/** `page_size` 0 means this many (behavior-assets.md §1.8). */
export const DEFAULT_PAGE_SIZE = 50;

export interface KeyPage {
    readonly records: readonly KeyValue[];
    /** Empty when no record follows the page. */
    readonly nextPageToken: string;
}

/**
 * One page of an index, read with a single paginated range query of `pageSize + 1` records: the extra
 * record only tells whether another page exists, and its key becomes the next page's start. The cost is
 * therefore proportional to the page size, never to the position of the page or the size of the index.
 *
 * Tokens are opaque to clients (base64url of the composite key the next page starts at). A token that does
 * not belong to this index is refused with a plain error, as the reference does for a malformed token.
 */
export async function readPage(
    store: Store,
    objectType: string,
    attributes: readonly string[],
    pageToken: string,
    pageSize: number,
): Promise<KeyPage> {
    const size = pageSize > 0 ? pageSize : DEFAULT_PAGE_SIZE;
    const startKey = pageToken === '' ? '' : decodePageToken(store, objectType, attributes, pageToken);
    const { records } = await store.page(objectType, attributes, size + 1, startKey);
    const next = records[size];
    if (next === undefined) {
        return { records, nextPageToken: '' };
    }
    return { records: records.slice(0, size), nextPageToken: Buffer.from(next.key).toString('base64url') };
}

function decodePageToken(store: Store, objectType: string, attributes: readonly string[], token: string): string {
    const key = Buffer.from(token, 'base64url').toString();
    const prefix = store.compositeKey(objectType, attributes);
    if (!/^[A-Za-z0-9_-]+$/.test(token) || !key.startsWith(prefix) || key.length === prefix.length) {
        throw new Error(`invalid page token "${token}"`);
    }
    return key;
}
