import { orchestrator } from '@substra-fabric/api';
import { INDEX_VALUE, sortableTimestamp } from './codec';
import type { Timestamp } from './context';
import type { Store } from './store';
import { taskStatusName } from './computetask-state';

/**
 * Ledger keys of compute tasks (see the key scheme at the top of computetask.ts).
 *
 * QueryTasks accepts any combination of four filters and must page in (creation_date, key) order with a cost
 * proportional to the page size, so every combination has its own index whose attributes are the filter
 * values (always in the order plan, function, worker, status) followed by the sortable creation date and the
 * task key. That is 16 index entries per task; the 8 that contain the status are moved on every status change.
 */
export const TASK_KIND = 'computetask';
export const CHILDREN_INDEX = 'idx~computetask~children';
export const OUTPUT_ASSET_KIND = 'computetaskoutputasset';

export type TaskFilterField = 'plan' | 'function' | 'worker' | 'status';
const FILTER_FIELDS: readonly TaskFilterField[] = ['plan', 'function', 'worker', 'status'];

/** Every subset of the filter fields, in the fixed field order; the empty subset is the `all` index. */
const COMBINATIONS: readonly (readonly TaskFilterField[])[] = Array.from(
    { length: 1 << FILTER_FIELDS.length },
    (_, mask) => FILTER_FIELDS.filter((_f, bit) => (mask & (1 << bit)) !== 0),
);

export function taskIndexName(fields: readonly TaskFilterField[]): string {
    return `idx~computetask~${fields.length === 0 ? 'all' : fields.join('_')}`;
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

function creationAttribute(task: orchestrator.IComputeTask): string {
    const date = task.creation_date;
    const ts: Timestamp = { seconds: date?.seconds ?? 0, nanos: date?.nanos ?? 0 };
    return sortableTimestamp(ts);
}

function indexKey(
    store: Store,
    task: orchestrator.IComputeTask,
    fields: readonly TaskFilterField[],
    status?: orchestrator.ComputeTaskStatus,
): string {
    const attrs = fields.map((f) => taskFieldValue(task, f, status));
    attrs.push(creationAttribute(task), task.key ?? '');
    return store.compositeKey(taskIndexName(fields), attrs);
}

/** Writes all 16 query index entries of a new task. */
export async function putTaskIndexes(store: Store, task: orchestrator.IComputeTask): Promise<void> {
    for (const fields of COMBINATIONS) {
        await store.put(indexKey(store, task, fields), INDEX_VALUE);
    }
}

/** Moves the status-bearing index entries of a task from `previous` to its current status. */
export async function moveTaskStatusIndexes(
    store: Store,
    task: orchestrator.IComputeTask,
    previous: orchestrator.ComputeTaskStatus,
): Promise<void> {
    for (const fields of COMBINATIONS) {
        if (!fields.includes('status')) {
            continue;
        }
        await store.delete(indexKey(store, task, fields, previous));
        await store.put(indexKey(store, task, fields), INDEX_VALUE);
    }
}

export function taskKey(store: Store, key: string): string {
    return store.compositeKey(TASK_KIND, [key]);
}

export function childLinkKey(store: Store, parentKey: string, childKey: string): string {
    return store.compositeKey(CHILDREN_INDEX, [parentKey, childKey]);
}

/** Width of the zero-padded position attribute of output-asset records (lexical order = numeric order). */
const POSITION_WIDTH = 10;

export function outputAssetKey(store: Store, taskKey: string, identifier: string, position: number): string {
    return store.compositeKey(OUTPUT_ASSET_KIND, [taskKey, identifier, String(position).padStart(POSITION_WIDTH, '0')]);
}

/** The task key is the last attribute of every task index entry. */
export function lastAttribute(store: Store, key: string): string {
    const { attributes } = store.splitCompositeKey(key);
    return attributes[attributes.length - 1] ?? '';
}
