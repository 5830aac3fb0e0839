/**
 * The index entries of compute tasks: `idx~computetask~<fields>` [values of <fields>..., creation date, task key]
 * → INDEX_VALUE, <fields> being `all` (none), `plan`, `function`, `worker`, `plan_function` (written once, at
 * registration) or `plan_status`, `function_status` (moved on each status change; status values are enum
 * names). Every index key ends with the task key, so no two tasks share an index key.
 *
 * Index choice. Every index entry that carries the status must be deleted and rewritten on each status change,
 * and a task changes status four or five times in its life, so only the two status indexes the chaincode itself
 * needs are kept: `plan_status` (IsPlanRunning) and `function_status` (§3.7 propagation). The other indexes are
 * written once: `all`, `plan`, `function`, `worker` and `plan_function` (QueryFunctions by plan reads it).
 * QueryTasks serves an exact filter combination from its own index; the other combinations (substra-backend
 * never calls QueryTasks) read the narrowest index that fits and check the remaining filters on the task
 * records they load anyway (see ComputeTaskRepository.query).
 *
 * Writes per registered task: 7 index entries. Per status change: 2 deletes + 2 puts.
 */
import type { orchestrator } from '@substra-fabric/api';
import { taskStatusName } from '../service/computetask-state';
import { INDEX_VALUE } from './keys';
import type { Store } from './store';

export type TaskFilterField = 'plan' | 'function' | 'worker' | 'status';

/** The fields of a task its index entries are made of (`creation` as sortableCreation gives it). */
export interface IndexedTask {
    readonly key: string;
    readonly compute_plan_key: string;
    readonly function_key: string;
    readonly worker: string;
    readonly status: orchestrator.ComputeTaskStatus;
}

/** Indexes written once; the attribute order is the field order given here. */
const STATIC_INDEXES: readonly (readonly TaskFilterField[])[] = [
    [],
    ['plan'],
    ['function'],
    ['worker'],
    ['plan', 'function'],
];

/** Indexes that contain the status: moved on every status change. */
export const STATUS_INDEXES: readonly (readonly TaskFilterField[])[] = [
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

interface NamedIndex {
    readonly fields: readonly TaskFilterField[];
    readonly name: string;
}

function named(indexes: readonly (readonly TaskFilterField[])[]): readonly NamedIndex[] {
    return indexes.map((fields) => ({ fields, name: taskIndexName(fields) }));
}

/** The indexes a new task is written to, with their names computed once (7 keys per task). */
const NEW_TASK_INDEXES = named([...STATIC_INDEXES, ...STATUS_INDEXES]);
const NAMED_STATUS_INDEXES = named(STATUS_INDEXES);

/** The index QueryTasks reads for a set of filters, and the filters that index leaves to check on records. */
export function queryIndexFor(filters: readonly TaskFilterField[]): {
    fields: readonly TaskFilterField[];
    residual: TaskFilterField[];
} {
    const fields = QUERY_PREFERENCE.find((candidate) => candidate.every((f) => filters.includes(f))) ?? [];
    return { fields, residual: filters.filter((f) => !fields.includes(f)) };
}

/** The attribute value of a field in the index entries of `task` (with `status` instead of the task's own). */
export function taskFieldValue(
    task: IndexedTask,
    field: TaskFilterField,
    status: orchestrator.ComputeTaskStatus = task.status,
): string {
    switch (field) {
        case 'plan':
            return task.compute_plan_key;
        case 'function':
            return task.function_key;
        case 'worker':
            return task.worker;
        case 'status':
            return taskStatusName(status);
    }
}

/** The entry of `task` in the index made of `fields`, for the task in `status` (its own by default). */
export function taskIndexKey(
    store: Store,
    task: IndexedTask,
    creation: string,
    fields: readonly TaskFilterField[],
    status: orchestrator.ComputeTaskStatus = task.status,
    name: string = taskIndexName(fields),
): string {
    const attrs = fields.map((f) => taskFieldValue(task, f, status));
    attrs.push(creation, task.key);
    return store.compositeKey(name, attrs);
}

/** Writes the index entries of a new task (static and status indexes). */
export async function putTaskIndexes(store: Store, task: IndexedTask, creation: string): Promise<void> {
    for (const { fields, name } of NEW_TASK_INDEXES) {
        await store.put(taskIndexKey(store, task, creation, fields, task.status, name), INDEX_VALUE);
    }
}

/** Moves the status index entries of a task from `previous` to its current status. */
export async function moveTaskStatusIndexes(
    store: Store,
    task: IndexedTask,
    creation: string,
    previous: orchestrator.ComputeTaskStatus,
): Promise<void> {
    for (const { fields, name } of NAMED_STATUS_INDEXES) {
        await store.delete(taskIndexKey(store, task, creation, fields, previous, name));
        await store.put(taskIndexKey(store, task, creation, fields, task.status, name), INDEX_VALUE);
    }
}
