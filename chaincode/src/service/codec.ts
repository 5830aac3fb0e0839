import type { google } from '@substra-fabric/api';
import type { Timestamp } from './context';

/** Value stored under an index key: Fabric treats an empty value as a deletion, so use one byte. */
export const INDEX_VALUE: Uint8Array = Uint8Array.of(0);

/**
 * A timestamp as a fixed-width string whose lexical order is its time order, for use as a composite-key
 * attribute (indexes ordered by creation date, then key).
 */
export function sortableTimestamp(ts: Timestamp): string {
    return `${String(ts.seconds).padStart(12, '0')}.${String(ts.nanos).padStart(9, '0')}`;
}

/** sortableTimestamp of an asset's creation date (an absent date sorts as time 0). */
export function sortableCreation(asset: { readonly creation_date?: google.protobuf.ITimestamp | null }): string {
    const date = asset.creation_date;
    return sortableTimestamp({ seconds: date?.seconds ?? 0, nanos: date?.nanos ?? 0 });
}

/** Code-unit order, the order of composite keys (unlike `localeCompare`). */
export function compareStrings(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/** The entries of a map field (or record) in ascending key order, for deterministic iteration. */
export function sortedEntries<T>(map: Readonly<Record<string, T>> | null | undefined): [string, T][] {
    return Object.entries(map ?? {}).sort(([a], [b]) => compareStrings(a, b));
}

/** A protobufjs static message class, enough of it to store and load assets as binary protobuf. */
export interface MessageCodec<T> {
    /** NoInfer: T is the decoded class (`orchestrator.Model`), not the looser interface `encode` accepts. */
    encode(message: NoInfer<T>): { finish(): Uint8Array };
    decode(bytes: Uint8Array): T;
}

export function encodeMessage<T>(codec: MessageCodec<T>, message: T): Uint8Array {
    return codec.encode(message).finish();
}

/**
 * The entry of a protobuf map field under a key that comes from a request. Plain indexing would also find
 * inherited object properties (`constructor`, `toString`, ...), accepting identifiers that were never declared.
 */
export function mapEntry<T>(map: Readonly<Record<string, T>> | null | undefined, key: string): T | undefined {
    return map != null && Object.hasOwn(map, key) ? map[key] : undefined;
}
