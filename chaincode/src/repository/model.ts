/**
 * Storage of models.
 *
 * Keys:
 * - `model` [key] → Model (binary protobuf).
 * - `idx~model~task` [compute task key, model key] → INDEX_VALUE: the models of a task in model-key order.
 *   Written once, at registration. Range reads see committed state only, so a model registered by the current
 *   transaction is not listed by `ofTask`.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import { INDEX_VALUE, lastAttribute } from './keys';
import type { Store } from './store';

export const MODEL_KIND = 'model';
export const MODEL_TASK_INDEX = 'idx~model~task';

export class ModelRepository {
    readonly #store: Store;
    readonly #records: AssetRecords<orchestrator.Model>;

    constructor(store: Store) {
        this.#store = store;
        this.#records = new AssetRecords(store, MODEL_KIND, orchestrator.Model);
    }

    /** Whether a model has this key (sees this transaction's writes, a batch's earlier models included). */
    exists(key: string): Promise<boolean> {
        return this.#records.exists(key);
    }

    /** The model, or undefined when no model has this key. */
    find(key: string): Promise<orchestrator.Model | undefined> {
        return this.#records.find(key);
    }

    /** The model, or NotFound `model with key "<key>" not found`. */
    get(key: string): Promise<orchestrator.Model> {
        return this.#records.get(key);
    }

    /** Stores a new model and its entry in the index of its task; returns the stored bytes. */
    async add(model: orchestrator.Model): Promise<Uint8Array> {
        const bytes = await this.#records.put(model.key, model);
        const store = this.#store;
        await store.put(store.compositeKey(MODEL_TASK_INDEX, [model.compute_task_key, model.key]), INDEX_VALUE);
        return bytes;
    }

    /** Stores a changed model (its task never changes); returns the stored bytes. */
    update(model: orchestrator.Model): Promise<Uint8Array> {
        return this.#records.put(model.key, model);
    }

    /** Every committed model of the task, in model-key order (a complete scan); none for an empty task key. */
    async ofTask(taskKey: string): Promise<orchestrator.Model[]> {
        if (taskKey === '') {
            return [];
        }
        const store = this.#store;
        const keys: string[] = [];
        for await (const record of store.scan(MODEL_TASK_INDEX, [taskKey])) {
            keys.push(lastAttribute(store, record.key));
        }
        const models: orchestrator.Model[] = [];
        for (const key of keys) {
            models.push(await this.#records.getIndexed(key));
        }
        return models;
    }
}
