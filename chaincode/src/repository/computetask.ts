/**
 * Storage of compute tasks and of their output assets: records, indexes, child links, QueryTasks paging, and
 * what this transaction wrote (range reads see committed state only; this repository answers as if they
 * saw the transaction's writes too, so the rules never have to know).
 *
 * Keys (composite keys; index values are INDEX_VALUE):
 * - `computetask` [key] → ComputeTask (complete: inputs in request order, outputs)
 * - `idx~computetask~<fields>` [values of <fields>..., creation date, key]: see computetask-indexes.ts
 * - `idx~computetask~children` [parent key, child key] → children in ascending key order (§0.5)
 * - `computetaskoutputasset` [task key, output identifier, position (10 digits)] → ComputeTaskOutputAsset
 *
 * Parents are not indexed: they are derived from a task's inputs and read with point reads, as are all task
 * statuses (§0.6).
 *
 * Writes per registered task: record + 7 index entries + one child link per parent. Per status change:
 * record + 2 deletes + 2 puts.
 *
 * One repository per transaction (`taskRepository(store)`): it remembers the tasks, child links and output
 * assets the transaction wrote, and merges them into the range reads that would miss them.
 */
import { orchestrator } from '@substra-fabric/api';
import { taskStatusName } from '../service/computetask-state';
import type { Complete } from '../service/messages';
import { notFound } from '../service/errors';
import { AssetRecords } from './assets';
import { INDEX_VALUE, compareKeys, lastAttribute, sortableCreation } from './keys';
import { effectivePageSize, encodePageToken, readPage } from './pagination';
import type { KeyValue, Store } from './store';
import {
    type IndexedTask,
    type TaskFilterField,
    moveTaskStatusIndexes,
    putTaskIndexes,
    queryIndexFor,
    taskFieldValue,
    taskIndexKey,
    taskIndexName,
} from './computetask-indexes';

export const TASK_KIND = 'computetask';
const CHILDREN_INDEX = 'idx~computetask~children';
const OUTPUT_ASSET_KIND = 'computetaskoutputasset';

/** Index records QueryTasks may examine per call when filters are checked on records, per (page size + 1). */
export const QUERY_SCAN_FACTOR = 20;

/** Width of the zero-padded position attribute of output-asset records (lexical order = numeric order). */
const POSITION_WIDTH = 10;

const FILTER_FIELDS: readonly TaskFilterField[] = ['plan', 'function', 'worker', 'status'];

export interface TaskPage {
    readonly tasks: orchestrator.ComputeTask[];
    /** Empty when no task follows. */
    readonly nextPageToken: string;
}

/** A task this transaction wrote, as it stored it (shared: never changed), and its creation attribute. */
interface WrittenTask {
    readonly task: orchestrator.ComputeTask;
    readonly creation: string;
}

/** The value a query filter asks for a field, '' when it does not filter on it. */
function filterValue(filter: Complete<orchestrator.ITaskQueryFilter>, field: TaskFilterField): string {
    switch (field) {
        case 'plan':
            return filter.compute_plan_key;
        case 'function':
            return filter.function_key;
        case 'worker':
            return filter.worker;
        case 'status':
            return filter.status === orchestrator.ComputeTaskStatus.STATUS_UNKNOWN ? '' : taskStatusName(filter.status);
    }
}

const NO_FILTER: Complete<orchestrator.ITaskQueryFilter> = {
    worker: '',
    status: orchestrator.ComputeTaskStatus.STATUS_UNKNOWN,
    compute_plan_key: '',
    function_key: '',
};

const repositories = new WeakMap<Store, ComputeTaskRepository>();

/** The task repository of the transaction `store` belongs to (one per store, so one per transaction). */
export function taskRepository(store: Store): ComputeTaskRepository {
    let repository = repositories.get(store);
    if (repository === undefined) {
        repository = new ComputeTaskRepository(store);
        repositories.set(store, repository);
    }
    return repository;
}

export class ComputeTaskRepository {
    readonly #store: Store;
    readonly #records: AssetRecords<orchestrator.ComputeTask>;
    /** Tasks this transaction wrote, by key, in write order. */
    readonly #written = new Map<string, WrittenTask>();
    /** Committed tasks read by `findShared`. */
    readonly #loaded = new Map<string, orchestrator.ComputeTask>();
    /** Child links this transaction wrote: parent key → child keys. */
    readonly #links = new Map<string, string[]>();
    /** Committed output-asset records per `<task key>\0<identifier>`: they cannot change during the transaction. */
    readonly #committedOutputs = new Map<string, readonly orchestrator.ComputeTaskOutputAsset[]>();
    /** Output-asset records this transaction added, per the same key. */
    readonly #addedOutputs = new Map<string, orchestrator.ComputeTaskOutputAsset[]>();

    constructor(store: Store) {
        this.#store = store;
        this.#records = new AssetRecords(store, TASK_KIND, orchestrator.ComputeTask);
    }

    // ----------------------------------------------------------------------------------------------------
    // Records

    exists(key: string): Promise<boolean> {
        return this.#records.exists(key);
    }

    /** A fresh copy of the task (the caller may change it), or NotFound `computetask with key "<key>" not found`. */
    get(key: string): Promise<orchestrator.ComputeTask> {
        return this.#records.get(key);
    }

    /**
     * The task to read, never to change: the object is shared by every caller of this transaction. Tasks this
     * transaction wrote come from memory, committed ones are read once.
     */
    async findShared(key: string): Promise<Readonly<orchestrator.ComputeTask> | undefined> {
        const known = this.#written.get(key)?.task ?? this.#loaded.get(key);
        if (known !== undefined) {
            return known;
        }
        const task = await this.#records.find(key);
        if (task !== undefined) {
            this.#loaded.set(key, task);
        }
        return task;
    }

    /**
     * Stores a new task: its record, its index entries and a link from each of `parents` (distinct keys).
     * Returns the stored copy (decoded from the stored bytes: later changes of `task` do not reach it).
     */
    async add(task: orchestrator.ComputeTask, parents: readonly string[]): Promise<orchestrator.ComputeTask> {
        const store = this.#store;
        const stored = orchestrator.ComputeTask.decode(await this.#records.put(task.key, task));
        const creation = sortableCreation(stored);
        await putTaskIndexes(store, stored, creation);
        for (const parent of parents) {
            await store.put(store.compositeKey(CHILDREN_INDEX, [parent, stored.key]), INDEX_VALUE);
            const linked = this.#links.get(parent);
            if (linked === undefined) {
                this.#links.set(parent, [stored.key]);
            } else {
                linked.push(stored.key);
            }
        }
        this.#written.set(stored.key, { task: stored, creation });
        return stored;
    }

    /**
     * Sets the status of a stored task (`task` is changed), stores it and moves its status index entries.
     * Returns the stored copy.
     */
    async updateStatus(
        task: orchestrator.ComputeTask,
        status: orchestrator.ComputeTaskStatus,
    ): Promise<orchestrator.ComputeTask> {
        const previous = task.status;
        task.status = status;
        const stored = orchestrator.ComputeTask.decode(await this.#records.put(task.key, task));
        const creation = this.#written.get(task.key)?.creation ?? sortableCreation(stored);
        await moveTaskStatusIndexes(this.#store, stored, creation, previous);
        this.#written.set(stored.key, { task: stored, creation });
        return stored;
    }

    // ----------------------------------------------------------------------------------------------------
    // Lists

    /** Keys of the children of a task, in ascending key order. */
    async childKeys(parentKey: string): Promise<string[]> {
        const keys: string[] = [];
        for await (const record of this.#store.scan(CHILDREN_INDEX, [parentKey])) {
            keys.push(lastAttribute(this.#store, record.key));
        }
        const linked = this.#links.get(parentKey);
        return linked === undefined ? keys : [...keys, ...linked].sort(compareKeys);
    }

    /** The tasks of a function in a status, in (creation date, key) order across all plans (fresh copies). */
    async byFunctionAndStatus(
        functionKey: string,
        status: orchestrator.ComputeTaskStatus,
    ): Promise<orchestrator.ComputeTask[]> {
        return this.#getMany(await this.#indexed(['function', 'status'], [functionKey, taskStatusName(status)]));
    }

    /** Whether a plan has at least one task in a status (reads at most one index record). */
    async planHasTaskIn(planKey: string, status: orchestrator.ComputeTaskStatus): Promise<boolean> {
        for (const { task } of this.#written.values()) {
            if (task.compute_plan_key === planKey && task.status === status) {
                return true;
            }
        }
        const index = taskIndexName(['plan', 'status']);
        for await (const record of this.#store.scan(index, [planKey, taskStatusName(status)])) {
            if (!this.#written.has(lastAttribute(this.#store, record.key))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Keys of the tasks an index lists under `values`, in index order: the committed entries of the tasks
     * this transaction did not write, merged with the entries the tasks it wrote have now.
     */
    async #indexed(fields: readonly TaskFilterField[], values: readonly string[]): Promise<string[]> {
        const store = this.#store;
        const name = taskIndexName(fields);
        const entries: { indexKey: string; taskKey: string }[] = [];
        for await (const record of store.scan(name, values)) {
            const taskKey = lastAttribute(store, record.key);
            if (!this.#written.has(taskKey)) {
                entries.push({ indexKey: record.key, taskKey });
            }
        }
        let merged = false;
        for (const { task, creation } of this.#written.values()) {
            if (fields.every((field, i) => taskFieldValue(task, field) === values[i])) {
                entries.push({
                    indexKey: taskIndexKey(store, task, creation, fields, task.status, name),
                    taskKey: task.key,
                });
                merged = true;
            }
        }
        if (merged) {
            entries.sort((a, b) => compareKeys(a.indexKey, b.indexKey));
        }
        return entries.map((entry) => entry.taskKey);
    }

    /**
     * QueryTasks (§4.6), in creation date then key order; read-only transactions only (they wrote nothing).
     * A filter combination with its own index pages it directly. Otherwise the narrowest fitting index is read
     * in chunks and the other filters are checked on the task records; at most QUERY_SCAN_FACTOR × (page size
     * + 1) index records are examined per call, so a page may hold fewer than page_size tasks (possibly none)
     * while its token still points at the rest.
     */
    async query(
        pageToken: string,
        pageSize: number,
        filter: Complete<orchestrator.ITaskQueryFilter> | null,
    ): Promise<TaskPage> {
        const wanted = filter ?? NO_FILTER;
        const { fields, residual } = queryIndexFor(FILTER_FIELDS.filter((f) => filterValue(wanted, f) !== ''));
        const index = taskIndexName(fields);
        const values = fields.map((f) => filterValue(wanted, f));
        const size = effectivePageSize(pageSize);
        const store = this.#store;

        if (residual.length === 0) {
            const page = await readPage(store, index, values, pageToken, size);
            return { tasks: await this.#load(page.records), nextPageToken: page.nextPageToken };
        }

        const matches = (task: IndexedTask): boolean =>
            residual.every((f) => taskFieldValue(task, f) === filterValue(wanted, f));
        const budget = QUERY_SCAN_FACTOR * (size + 1);
        const tasks: orchestrator.ComputeTask[] = [];
        let token = pageToken;
        let examined = 0;
        for (;;) {
            const chunk = await readPage(store, index, values, token, Math.min(size + 1, budget - examined));
            for (const record of chunk.records) {
                examined++;
                const task = await this.get(lastAttribute(store, record.key));
                if (!matches(task)) {
                    continue;
                }
                if (tasks.length === size) {
                    // A further match exists: the next page starts at it.
                    return { tasks, nextPageToken: encodePageToken(record.key) };
                }
                tasks.push(task);
            }
            token = chunk.nextPageToken;
            if (token === '' || examined >= budget) {
                return { tasks, nextPageToken: token };
            }
        }
    }

    /** The tasks index entries point at, in entry order (a dangling entry is NotFound, as GetTask says). */
    #load(entries: readonly KeyValue[]): Promise<orchestrator.ComputeTask[]> {
        return this.#getMany(entries.map((entry) => lastAttribute(this.#store, entry.key)));
    }

    /** Fresh copies of the tasks, read together, in order; NotFound for the first one missing. */
    async #getMany(keys: readonly string[]): Promise<orchestrator.ComputeTask[]> {
        const found = await this.#records.findMany(keys);
        return found.map((task, i) => {
            if (task === undefined) {
                throw notFound(TASK_KIND, keys[i] ?? '');
            }
            return task;
        });
    }

    /**
     * Reads the records of `keys` ahead, together, so that the `exists`/`findShared` calls that follow are
     * answered from this transaction's overlay (one round trip per batch on peers that read many keys at once).
     */
    async prefetch(keys: readonly string[]): Promise<void> {
        await this.#store.getMany(keys.filter((key) => key !== '').map((key) => this.#records.storageKey(key)));
    }

    // ----------------------------------------------------------------------------------------------------
    // Output assets

    /** Output-asset records of (task, identifier) in position order, this transaction's included. */
    async outputAssets(taskKey: string, identifier: string): Promise<orchestrator.ComputeTaskOutputAsset[]> {
        if (taskKey === '' || identifier === '') {
            return [];
        }
        const slot = outputSlot(taskKey, identifier);
        let committed = this.#committedOutputs.get(slot);
        if (committed === undefined) {
            const records: orchestrator.ComputeTaskOutputAsset[] = [];
            for await (const record of this.#store.scan(OUTPUT_ASSET_KIND, [taskKey, identifier])) {
                records.push(orchestrator.ComputeTaskOutputAsset.decode(record.value));
            }
            committed = records;
            this.#committedOutputs.set(slot, committed);
        }
        const added = this.#addedOutputs.get(slot);
        return added === undefined ? [...committed] : [...committed, ...added];
    }

    /** Output-asset records of every output of a task, in (identifier, position) order, this transaction's included. */
    async allOutputAssets(taskKey: string): Promise<orchestrator.ComputeTaskOutputAsset[]> {
        const records: orchestrator.ComputeTaskOutputAsset[] = [];
        for await (const record of this.#store.scan(OUTPUT_ASSET_KIND, [taskKey])) {
            records.push(orchestrator.ComputeTaskOutputAsset.decode(record.value));
        }
        const prefix = outputSlot(taskKey, '');
        const added = [...this.#addedOutputs].filter(([slot]) => slot.startsWith(prefix));
        if (added.length === 0) {
            return records;
        }
        // Stable sort: committed records before added ones of the same output, each in position order.
        return [...records, ...added.flatMap(([, list]) => list)].sort((a, b) =>
            compareKeys(a.compute_task_output_identifier, b.compute_task_output_identifier),
        );
    }

    /** Stores an output-asset record at the next position of its (task, identifier). */
    async addOutputAsset(record: orchestrator.ComputeTaskOutputAsset): Promise<void> {
        const taskKey = record.compute_task_key;
        const identifier = record.compute_task_output_identifier;
        const position = (await this.outputAssets(taskKey, identifier)).length;
        const store = this.#store;
        const key = store.compositeKey(OUTPUT_ASSET_KIND, [
            taskKey,
            identifier,
            String(position).padStart(POSITION_WIDTH, '0'),
        ]);
        await store.put(key, orchestrator.ComputeTaskOutputAsset.encode(record).finish());
        const slot = outputSlot(taskKey, identifier);
        const added = this.#addedOutputs.get(slot);
        if (added === undefined) {
            this.#addedOutputs.set(slot, [record]);
        } else {
            added.push(record);
        }
    }
}

function outputSlot(taskKey: string, identifier: string): string {
    return `${taskKey}\u0000${identifier}`;
}
