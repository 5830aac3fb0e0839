import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import { INDEX_VALUE, sortableCreation } from './codec';
import type { Store } from './store';
import { taskStatusName } from './computetask-state';

/**
 * Ledger keys of compute tasks (see the key scheme at the top of computetask.ts).
 *
 * Index choice. Every index entry that carries the status must be deleted and rewritten on each status change,
 * and a task changes status four or five times in its life, so only the two status indexes the chaincode itself
 * needs are kept: `plan_status` (IsPlanRunning) and `function_status` (§3.7 propagation). The other indexes are
 * written once, at registration: `all`, `plan`, `function`, `worker` and `plan_function` (QueryFunctions by
 * plan reads it). QueryTasks serves an exact filter combination from its own index; the other combinations
 * (substra-backend never calls QueryTasks) read the narrowest index that fits and check the remaining filters
 * on the task records they load anyway, with a scan budget proportional to the page size (see queryTasks).
 *
 * Writes per registered task: record + 7 index entries (+ one child link per parent). Per status change:
 * record + 2 deletes + 2 puts. Every index key ends with the task key, so no two tasks share an index key.
 */
export const TASK_KIND = 'computetask';
export const CHILDREN_INDEX = 'idx~computetask~children';
export const OUTPUT_ASSET_KIND = 'computetaskoutputasset';

export type TaskFilterField = 'plan' | 'function' | 'worker' | 'status';

/** Indexes written once; the attribute order is the field order given here. */
const STATIC_INDEXES: readonly (readonly TaskFilterField[])[] = [
    [],
    ['plan'],
    ['function'],
    ['worker'],
    ['plan', 'function'],
];

/** Indexes that contain the status: moved on every status change. */
const STATUS_INDEXES: readonly (readonly TaskFilterField[])[] = [
    ['plan', 'status'],
    ['function', 'status'],
];

/**
 * Candidate indexes for a query, most selective first: the first whose fields are all among the query filters
 * is used, the filters it does not cover are checked on the records.
 */
const QUERY_PREFERENCE: readonly (readonly TaskFilterField[])[] = [
    ['plan', 'function'],
    ['plan', 'status'],
    ['function', 'status'],
    ['plan'],
    ['function'],
    ['worker'],
    [],
];

export function taskIndexName(fields: readonly TaskFilterField[]): string {
    return `idx~computetask~${fields.length === 0 ? 'all' : fields.join('_')}`;
}

/** The indexes a new task is written to, with their names computed once (7 keys per task). */
const NEW_TASK_INDEXES: readonly { readonly fields: readonly TaskFilterField[]; readonly name: string }[] = [
    ...STATIC_INDEXES,
    ...STATUS_INDEXES,
].map((fields) => ({ fields, name: taskIndexName(fields) }));

/** The index QueryTasks reads for a set of filters, and the filters that index leaves to check on records. */
export function queryIndexFor(filters: readonly TaskFilterField[]): {
    fields: readonly TaskFilterField[];
    residual: TaskFilterField[];
} {
    const fields = QUERY_PREFERENCE.find((candidate) => candidate.every((f) => filters.includes(f))) ?? [];
    return { fields, residual: filters.filter((f) => !fields.includes(f)) };
}

export function taskFieldValue(
    task: orchestrator.IComputeTask,
    field: TaskFilterField,
    status?: orchestrator.ComputeTaskStatus,
): string {
    switch (field) {
        case 'plan':
            return task.compute_plan_key ?? '';
        case 'function':
            return task.function_key ?? '';
        case 'worker':
            return task.worker ?? '';
        case 'status':
            return taskStatusName(status ?? task.status ?? 0);
    }
}

function indexKey(
    store: Store,
    task: orchestrator.IComputeTask,
    fields: readonly TaskFilterField[],
    status?: orchestrator.ComputeTaskStatus,
    name: string = taskIndexName(fields),
    creation: string = sortableCreation(task),
): string {
    const attrs = fields.map((f) => taskFieldValue(task, f, status));
    attrs.push(creation, task.key ?? '');
    return store.compositeKey(name, attrs);
}

/** Writes the index entries of a new task (static and status indexes). */
export async function putTaskIndexes(store: Store, task: orchestrator.IComputeTask): Promise<void> {
    const creation = sortableCreation(task);
    for (const { fields, name } of NEW_TASK_INDEXES) {
        await store.put(indexKey(store, task, fields, undefined, name, creation), INDEX_VALUE);
    }
}

/** Moves the status index entries of a task from `previous` to its current status. */
export async function moveTaskStatusIndexes(
    store: Store,
    task: orchestrator.IComputeTask,
    previous: orchestrator.ComputeTaskStatus,
): Promise<void> {
    for (const fields of STATUS_INDEXES) {
        await store.delete(indexKey(store, task, fields, previous));
        await store.put(indexKey(store, task, fields), INDEX_VALUE);
    }
}

/** `computetask` [key] → binary ComputeTask. */
export function taskRecords(store: Store): AssetRecords<orchestrator.ComputeTask> {
    return new AssetRecords(store, TASK_KIND, orchestrator.ComputeTask);
}

export function childLinkKey(store: Store, parentKey: string, childKey: string): string {
    return store.compositeKey(CHILDREN_INDEX, [parentKey, childKey]);
}

/** Width of the zero-padded position attribute of output-asset records (lexical order = numeric order). */
const POSITION_WIDTH = 10;

export function outputAssetKey(store: Store, taskKey: string, identifier: string, position: number): string {
    return store.compositeKey(OUTPUT_ASSET_KIND, [taskKey, identifier, String(position).padStart(POSITION_WIDTH, '0')]);
}
