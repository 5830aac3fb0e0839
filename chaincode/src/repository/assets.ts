import { internalError, notFound } from '../service/errors';
import { lastAttribute } from './keys';
import type { KeyValue, Store } from './store';

/** A protobufjs static message class, enough of it to store and load assets as binary protobuf. */
export interface MessageCodec<T> {
    /** NoInfer: T is the decoded class (`orchestrator.Model`), not the looser interface `encode` accepts. */
    encode(message: NoInfer<T>): { finish(): Uint8Array };
    decode(bytes: Uint8Array): T;
}

/**
 * The records of one asset kind: binary protobuf of its message under `compositeKey(kind, [key])`
 * (design.md, storage conventions). Point reads see this transaction's writes; every read decodes a fresh
 * copy, so a caller may change what it got without affecting anyone else. The per-asset repositories are
 * built on it; it knows nothing of indexes.
 */
export class AssetRecords<T> {
    constructor(
        readonly store: Store,
        readonly kind: string,
        readonly codec: MessageCodec<T>,
    ) {}

    /** The record key of the asset `key`. */
    storageKey(key: string): string {
        return this.store.compositeKey(this.kind, [key]);
    }

    /** The asset, or undefined when none has this key. */
    async find(key: string): Promise<T | undefined> {
        // Composite keys refuse empty attributes: no asset has an empty key.
        const bytes = key === '' ? undefined : await this.store.get(this.storageKey(key));
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
        return key !== '' && (await this.store.get(this.storageKey(key))) !== undefined;
    }

    /** Stores the asset once encoded and returns the stored bytes (decode them for snapshots). */
    async put(key: string, message: T): Promise<Uint8Array> {
        const bytes = this.codec.encode(message).finish();
        await this.store.put(this.storageKey(key), bytes);
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

    /** The assets the index entries point at (their last attribute), in entry order, read together. */
    async loadIndexed(entries: readonly KeyValue[]): Promise<T[]> {
        const keys = entries.map((entry) => lastAttribute(this.store, entry.key));
        const values = await this.store.getMany(keys.map((key) => this.storageKey(key)));
        return values.map((bytes, i) => {
            if (bytes === undefined) {
                throw internalError(`indexed ${this.kind} "${keys[i]}" is missing`);
            }
            return this.codec.decode(bytes);
        });
    }

    /** Each asset, or undefined when none has that key, in order, read together. */
    async findMany(keys: readonly string[]): Promise<(T | undefined)[]> {
        // no asset has an empty key (composite keys refuse empty attributes): those are not read
        const wanted = keys.filter((key) => key !== '');
        const values = await this.store.getMany(wanted.map((key) => this.storageKey(key)));
        const found = new Map(wanted.map((key, i) => [key, values[i]]));
        return keys.map((key) => {
            const bytes = found.get(key);
            return bytes === undefined ? undefined : this.codec.decode(bytes);
        });
    }
}
