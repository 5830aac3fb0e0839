/**
 * Building blocks of record and index keys (design.md, storage conventions).
 *
 * Keys are fabric-shim composite keys, `\u0000 objectType \u0000 attribute \u0000 ...`, compared by their UTF-8
 * bytes (the ledger's order). An index entry is `compositeKey('idx~<kind>~<by>', [attributes..., key])` with
 * the value INDEX_VALUE: its last attribute is the key of the asset it lists.
 */
import type { google } from '@substra-fabric/api';
import type { Store } from './store';

/** Value stored under an index key: Fabric treats an empty value as a deletion, so use one byte. */
export const INDEX_VALUE: Uint8Array = Uint8Array.of(0);

/**
 * A timestamp as a fixed-width string whose lexical order is its time order, for use as a composite-key
 * attribute (indexes ordered by creation date, then key).
 */
export function sortableTimestamp(ts: { readonly seconds: number; readonly nanos: number }): string {
    return `${String(ts.seconds).padStart(12, '0')}.${String(ts.nanos).padStart(9, '0')}`;
}

/** sortableTimestamp of an asset's creation date (an absent date sorts as time 0). */
export function sortableCreation(asset: { readonly creation_date?: google.protobuf.ITimestamp | null }): string {
    const date = asset.creation_date;
    return sortableTimestamp({ seconds: date?.seconds ?? 0, nanos: date?.nanos ?? 0 });
}

/** The ledger's key order: UTF-8 bytes (LevelDB), which differs from JavaScript's UTF-16 order. */
export function compareKeys(a: string, b: string): number {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The asset key an index entry points at: every index key ends with it. */
export function lastAttribute(store: Store, key: string): string {
    const { attributes } = store.splitCompositeKey(key);
    return attributes[attributes.length - 1] ?? '';
}

/** The smallest key that sorts after `key`: where a range that has read `key` continues. */
export function keyAfter(key: string): string {
    return `${key}\u0000`;
}

/**
 * The smallest key that sorts after every key under the partial composite key (objectType, ...attributes),
 * used to skip them: their common prefix ends with the separator U+0000, which becomes U+0001.
 */
export function keyAfterPartial(store: Store, objectType: string, attributes: readonly string[]): string {
    return `${store.compositeKey(objectType, attributes).slice(0, -1)}\u0001`;
}
