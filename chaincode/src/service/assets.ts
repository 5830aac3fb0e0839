import type { MessageCodec } from './codec';
import { internalError, notFound } from './errors';
import type { KeyValue, Store } from './store';

/** The asset key an index entry points at: every index key ends with it. */
export function lastAttribute(store: Store, key: string): string {
    const { attributes } = store.splitCompositeKey(key);
    return attributes[attributes.length - 1] ?? '';
}

/**
 * The records of one asset kind: binary protobuf of its message under `compositeKey(kind, [key])`
 * (design.md, storage conventions). Point reads see this transaction's writes; every read decodes a fresh
 * copy, so a caller may change what it got without affecting anyone else.
 */
export class AssetRecords<T> {
    constructor(
        readonly store: Store,
        readonly kind: string,
        readonly codec: MessageCodec<T>,
    ) {}

    #storageKey(key: string): string {
        return this.store.compositeKey(this.kind, [key]);
    }

    /** The asset, or undefined when none has this key. */
    async find(key: string): Promise<T | undefined> {
        // Composite keys refuse empty attributes: no asset has an empty key.
        const bytes = key === '' ? undefined : await this.store.get(this.#storageKey(key));
        return bytes === undefined ? undefined : this.codec.decode(bytes);
    }

    /** The asset, or NotFound `<resource> with key "<key>" not found`. */
    async get(key: string, resource: string = this.kind): Promise<T> {
        const found = await this.find(key);
        if (found === undefined) {
            throw notFound(resource, key);
        }
        return found;
    }

    /** Whether a record is stored under the key, without decoding it. */
    async exists(key: string): Promise<boolean> {
        return key !== '' && (await this.store.get(this.#storageKey(key))) !== undefined;
    }

    /** Stores the asset once encoded and returns the stored bytes (decode them for snapshots). */
    async put(key: string, message: T): Promise<Uint8Array> {
        const bytes = this.codec.encode(message).finish();
        await this.store.put(this.#storageKey(key), bytes);
        return bytes;
    }

    /** The asset an index lists: its absence is an Internal error (the index and the records disagree). */
    async getIndexed(key: string): Promise<T> {
        const found = await this.find(key);
        if (found === undefined) {
            throw internalError(`indexed ${this.kind} "${key}" is missing`);
        }
        return found;
    }

    /** The assets the index entries point at (their last attribute), in entry order. */
    async loadIndexed(entries: readonly KeyValue[]): Promise<T[]> {
        const assets: T[] = [];
        for (const entry of entries) {
            assets.push(await this.getIndexed(lastAttribute(this.store, entry.key)));
        }
        return assets;
    }
}
