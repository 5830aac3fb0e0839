/**
 * Storage of data managers.
 *
 * Keys:
 * - `datamanager` [key] → DataManager (binary protobuf).
 * - `idx~datamanager~all` [creation date, key] → INDEX_VALUE: every manager in QueryDataManagers order
 *   (creation date, then key). Written once, at registration.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import { INDEX_VALUE, sortableCreation } from './keys';
import { readPage } from './pagination';
import type { Store } from './store';

export const DATA_MANAGER_KIND = 'datamanager';
export const DATA_MANAGER_INDEX = 'idx~datamanager~all';

export interface DataManagerPage {
    readonly dataManagers: orchestrator.DataManager[];
    /** Empty when no manager follows. */
    readonly nextPageToken: string;
}

export class DataManagerRepository {
    readonly #store: Store;
    readonly #records: AssetRecords<orchestrator.DataManager>;

    constructor(store: Store) {
        this.#store = store;
        this.#records = new AssetRecords(store, DATA_MANAGER_KIND, orchestrator.DataManager);
    }

    exists(key: string): Promise<boolean> {
        return this.#records.exists(key);
    }

    /** The manager, or undefined when no manager has this key. */
    find(key: string): Promise<orchestrator.DataManager | undefined> {
        return this.#records.find(key);
    }

    /** The manager, or NotFound `datamanager with key "<key>" not found`. */
    get(key: string): Promise<orchestrator.DataManager> {
        return this.#records.get(key);
    }

    /** Stores a new manager and its index entry; returns the stored bytes. */
    async add(manager: orchestrator.DataManager): Promise<Uint8Array> {
        const bytes = await this.#records.put(manager.key, manager);
        const store = this.#store;
        await store.put(store.compositeKey(DATA_MANAGER_INDEX, [sortableCreation(manager), manager.key]), INDEX_VALUE);
        return bytes;
    }

    /** Stores a changed manager (creation date and key never change); returns the stored bytes. */
    update(manager: orchestrator.DataManager): Promise<Uint8Array> {
        return this.#records.put(manager.key, manager);
    }

    /** One page of every manager, by creation date then key. */
    async page(pageToken: string, pageSize: number): Promise<DataManagerPage> {
        const page = await readPage(this.#store, DATA_MANAGER_INDEX, [], pageToken, pageSize);
        return { dataManagers: await this.#records.loadIndexed(page.records), nextPageToken: page.nextPageToken };
    }
}
