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

/** A protobufjs static message class, enough of it to store and load assets as binary protobuf. */
export interface MessageCodec<T> {
    encode(message: T): { finish(): Uint8Array };
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
