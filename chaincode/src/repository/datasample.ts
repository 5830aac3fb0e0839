/**
 * Storage of data samples.
 *
 * Keys:
 * - `datasample` [key] → DataSample (binary protobuf).
 * - `idx~datasample~all` [creation date, key] → INDEX_VALUE: every sample in QueryDataSamples order (creation
 *   date, then key). Written once, at registration.
 * - `idx~datasample~manager` [manager key, creation date, key] → INDEX_VALUE: the samples linked to a manager,
 *   in GetDataset order. Written at registration for each manager key, and for each key appended later (links
 *   are never removed).
 *
 * Samples listed by key are loaded by key (cost: the number of keys listed), then ordered and paged in memory
 * by their key in `idx~datasample~all`, so their tokens are those of the unfiltered listing (pagination.ts).
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import { INDEX_VALUE, lastAttribute, sortableCreation } from './keys';
import { decodePageToken, pageInMemory, readPage } from './pagination';
import type { Store } from './store';

export const DATA_SAMPLE_KIND = 'datasample';
export const DATA_SAMPLE_INDEX = 'idx~datasample~all';
export const DATA_SAMPLE_MANAGER_INDEX = 'idx~datasample~manager';

export interface DataSamplePage {
    readonly dataSamples: orchestrator.DataSample[];
    /** Empty when no sample follows. */
    readonly nextPageToken: string;
}

export class DataSampleRepository {
    readonly #store: Store;
    readonly #records: AssetRecords<orchestrator.DataSample>;

    constructor(store: Store) {
        this.#store = store;
        this.#records = new AssetRecords(store, DATA_SAMPLE_KIND, orchestrator.DataSample);
    }

    /** Whether a sample has this key (sees this transaction's writes, a batch's earlier samples included). */
    exists(key: string): Promise<boolean> {
        return this.#records.exists(key);
    }

    /** The sample, or undefined when no sample has this key. */
    find(key: string): Promise<orchestrator.DataSample | undefined> {
        return this.#records.find(key);
    }

    /** The sample, or NotFound `datasample with key "<key>" not found`. */
    get(key: string): Promise<orchestrator.DataSample> {
        return this.#records.get(key);
    }

    /** Stores a new sample, its index entry and a link to each of its managers; returns the stored bytes. */
    async add(sample: orchestrator.DataSample): Promise<Uint8Array> {
        const bytes = await this.#records.put(sample.key, sample);
        await this.#store.put(this.#indexKey(sample), INDEX_VALUE);
        await this.#link(sample, sample.data_manager_keys);
        return bytes;
    }

    /**
     * Stores a sample whose manager list grew by `addedManagers` (appended at its end), and links it to
     * them; returns the stored bytes.
     */
    async addManagers(sample: orchestrator.DataSample, addedManagers: readonly string[]): Promise<Uint8Array> {
        const bytes = await this.#records.put(sample.key, sample);
        await this.#link(sample, addedManagers);
        return bytes;
    }

    /** One page of every sample, by creation date then key. */
    async page(pageToken: string, pageSize: number): Promise<DataSamplePage> {
        const page = await readPage(this.#store, DATA_SAMPLE_INDEX, [], pageToken, pageSize);
        return { dataSamples: await this.#records.loadIndexed(page.records), nextPageToken: page.nextPageToken };
    }

    /** One page of the samples of `keys` that exist (each once), by creation date then key. */
    async pageOfKeys(keys: readonly string[], pageToken: string, pageSize: number): Promise<DataSamplePage> {
        decodePageToken(this.#store, DATA_SAMPLE_INDEX, [], pageToken);
        const entries: { key: string; value: orchestrator.DataSample }[] = [];
        for (const key of new Set(keys)) {
            const sample = await this.find(key);
            if (sample !== undefined) {
                entries.push({ key: this.#indexKey(sample), value: sample });
            }
        }
        const page = pageInMemory(this.#store, DATA_SAMPLE_INDEX, [], entries, pageToken, pageSize);
        return { dataSamples: page.items, nextPageToken: page.nextPageToken };
    }

    /** Keys of the committed samples linked to a manager, by sample creation date then key (a complete scan). */
    async keysOfManager(managerKey: string): Promise<string[]> {
        const store = this.#store;
        const keys: string[] = [];
        for await (const record of store.scan(DATA_SAMPLE_MANAGER_INDEX, [managerKey])) {
            keys.push(lastAttribute(store, record.key));
        }
        return keys;
    }

    #indexKey(sample: orchestrator.DataSample): string {
        return this.#store.compositeKey(DATA_SAMPLE_INDEX, [sortableCreation(sample), sample.key]);
    }

    /** One manager-index entry per distinct manager key. */
    async #link(sample: orchestrator.DataSample, managerKeys: readonly string[]): Promise<void> {
        const store = this.#store;
        const created = sortableCreation(sample);
        for (const managerKey of new Set(managerKeys)) {
            await store.put(
                store.compositeKey(DATA_SAMPLE_MANAGER_INDEX, [managerKey, created, sample.key]),
                INDEX_VALUE,
            );
        }
    }
}
