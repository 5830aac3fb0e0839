/** Helpers of the business rules on protobuf messages (deterministic iteration, safe map lookups). */

/** Code-unit order, the order of composite keys (unlike `localeCompare`). */
export function compareStrings(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/** The entries of a map field (or record) in ascending key order, for deterministic iteration. */
export function sortedEntries<T>(map: Readonly<Record<string, T>> | null | undefined): [string, T][] {
    return Object.entries(map ?? {}).sort(([a], [b]) => compareStrings(a, b));
}

/**
 * The entry of a protobuf map field under a key that comes from a request. Plain indexing would also find
 * inherited object properties (`constructor`, `toString`, ...), accepting identifiers that were never declared.
 */
export function mapEntry<T>(map: Readonly<Record<string, T>> | null | undefined, key: string): T | undefined {
    return map != null && Object.hasOwn(map, key) ? map[key] : undefined;
}
