/**
 * Storage of functions.
 *
 * Keys:
 * - `function` [key] → Function (binary protobuf).
 * - `idx~function~all` [creation date, key] → INDEX_VALUE: every function in QueryFunctions order (creation
 *   date, then key). Written once, at registration.
 *
 * The functions of a compute plan come from the compute-task index `idx~computetask~plan_function`
 * ([plan, function, creation date, task], written by the task repository): the listing jumps from one function
 * key to the next, so its cost is the number of distinct functions of the plan, not the number of tasks. They are
 * then ordered and paged in memory by their key in `idx~function~all`, so their tokens are those of the
 * unfiltered listing (pagination.ts).
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import { taskIndexName } from './computetask-indexes';
import { INDEX_VALUE, keyAfterPartial, sortableCreation } from './keys';
import { decodePageToken, pageInMemory, readPage } from './pagination';
import type { Store } from './store';

export const FUNCTION_KIND = 'function';
export const FUNCTION_INDEX = 'idx~function~all';
/** The compute-task index of a plan's tasks by function (see computetask-indexes.ts). */
export const PLAN_FUNCTION_TASK_INDEX = taskIndexName(['plan', 'function']);

export interface FunctionPage {
    readonly functions: orchestrator.Function[];
    /** Empty when no function follows. */
    readonly nextPageToken: string;
}

export class FunctionRepository {
    readonly #store: Store;
    readonly #records: AssetRecords<orchestrator.Function>;

    constructor(store: Store) {
        this.#store = store;
        this.#records = new AssetRecords(store, FUNCTION_KIND, orchestrator.Function);
    }

    exists(key: string): Promise<boolean> {
        return this.#records.exists(key);
    }

    /** The function, or undefined when no function has this key. */
    find(key: string): Promise<orchestrator.Function | undefined> {
        return this.#records.find(key);
    }

    /** The function, or NotFound `function with key "<key>" not found`. */
    get(key: string): Promise<orchestrator.Function> {
        return this.#records.get(key);
    }

    /** Stores a new function and its index entry; returns the stored bytes. */
    async add(func: orchestrator.Function): Promise<Uint8Array> {
        const bytes = await this.#records.put(func.key, func);
        const store = this.#store;
        await store.put(this.#indexKey(func), INDEX_VALUE);
        return bytes;
    }

    /** Stores a changed function (its indexed fields, creation date and key, never change); returns the bytes. */
    update(func: orchestrator.Function): Promise<Uint8Array> {
        return this.#records.put(func.key, func);
    }

    /** One page of every function, by creation date then key. */
    async page(pageToken: string, pageSize: number): Promise<FunctionPage> {
        const page = await readPage(this.#store, FUNCTION_INDEX, [], pageToken, pageSize);
        return { functions: await this.#records.loadIndexed(page.records), nextPageToken: page.nextPageToken };
    }

    /** One page of the functions a task of the plan uses, each once, by creation date then key. */
    async pageOfPlan(planKey: string, pageToken: string, pageSize: number): Promise<FunctionPage> {
        // A malformed token is refused even when the plan has no function.
        decodePageToken(this.#store, FUNCTION_INDEX, [], pageToken);
        const store = this.#store;
        const entries: { key: string; value: orchestrator.Function }[] = [];
        let start = '';
        for (;;) {
            const { records } = await store.page(PLAN_FUNCTION_TASK_INDEX, [planKey], 1, start);
            const record = records[0];
            if (record === undefined) {
                break;
            }
            const functionKey = store.splitCompositeKey(record.key).attributes[1] ?? '';
            const func = await this.#records.getIndexed(functionKey);
            entries.push({ key: this.#indexKey(func), value: func });
            // Skip the other tasks of this function: resume after every key under [plan, function].
            start = keyAfterPartial(store, PLAN_FUNCTION_TASK_INDEX, [planKey, functionKey]);
        }
        const page = pageInMemory(store, FUNCTION_INDEX, [], entries, pageToken, pageSize);
        return { functions: page.items, nextPageToken: page.nextPageToken };
    }

    #indexKey(func: orchestrator.Function): string {
        return this.#store.compositeKey(FUNCTION_INDEX, [sortableCreation(func), func.key]);
    }
}
