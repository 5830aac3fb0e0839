/**
 * Compute tasks: registration, status machine, outputs and reads (behavior-tasks §2 to §4).
 *
 * Public API (other services call these; all run inside the current transaction):
 * - RPCs: registerTasks, getTask(key), queryTasks, applyTaskAction, getTaskInputAssets, disableOutput
 * - getTask(key): the stored task, or NotFound `computetask with key "<key>" not found`
 * - applyTaskTransition(task, transition, reason): one transition of §3.2 with its event and side effects
 *   (DONE → children cascade, FAILED → plan failure); refusals throw TransitionError
 * - failTask(task, reason): transitionFailed, e.g. reason `failure report registered` (§3.9)
 * - propagateFunctionStatus(func, reason): task updates after a function transition (§3.7)
 * - getOutputAssets(taskKey, identifier) / countOutputAssets(taskKey, identifier): output-asset records in
 *   position order, including those added earlier in this transaction (§4.1 rule 7)
 * - addOutputAsset(task, identifier, kind, assetKey): records an output asset at the next position and emits
 *   its COMPUTE_TASK_OUTPUT_ASSET CREATED event (§4.2)
 *
 * Key scheme (composite keys; index values are INDEX_VALUE):
 * - `computetask` [key] → ComputeTask (complete: inputs in request order, outputs)
 * - `idx~computetask~<fields>` [values of <fields>..., creation date, key], <fields> being `all`, `plan`,
 *   `function`, `worker`, `plan_function` (written once) or `plan_status`, `function_status` (moved on each
 *   status change; status values are enum names). plan_status also serves IsPlanRunning, function_status the
 *   function-driven selection of §3.7, plan_function QueryFunctions by plan. Why not one index per filter
 *   combination: see computetask-keys.ts.
 * - `idx~computetask~children` [parent key, child key] → children in ascending key order (§0.5)
 * - `computetaskoutputasset` [task key, output identifier, position (10 digits)] → ComputeTaskOutputAsset
 *
 * Parents are not indexed: they are derived from a task's inputs and read with point reads, as are all task
 * statuses (§0.6).
 *
 * Page tokens: opaque base64url keys of the next record (pagination.ts), not the decimal offsets of
 * behavior-tasks §0.4: an offset would make every page re-read all earlier index records, whereas a key token
 * keeps the cost of a page proportional to its size. Clients treat tokens as opaque; a bad token is still a
 * plain error (gRPC UNKNOWN).
 */
import { orchestrator } from '@substra-fabric/api';
import { lastAttribute } from './assets';
import { INDEX_VALUE, encodeMessage, mapEntry } from './codec';
import { ErrorCode, OrchestrationError, badRequest, internalError, permissionDenied, unimplemented } from './errors';
import { DEFAULT_PAGE_SIZE, readPage } from './pagination';
import { Service } from './service';
import {
    type TaskTransition,
    actionRule,
    assetKindName,
    isFinalStatus,
    nextStatus,
    taskStatusName,
} from './computetask-state';
import {
    CHILDREN_INDEX,
    OUTPUT_ASSET_KIND,
    type TaskFilterField,
    childLinkKey,
    moveTaskStatusIndexes,
    outputAssetKey,
    putTaskIndexes,
    queryIndexFor,
    taskFieldValue,
    taskIndexName,
    taskRecords,
} from './computetask-keys';
import { TaskRegistration, inputRef, parentKeys } from './computetask-register';

export type { TaskTransition } from './computetask-state';

const S = orchestrator.ComputeTaskStatus;
const K = orchestrator.AssetKind;

/** Statuses in which GetTaskInputAssets answers (§4.4). */
const INPUTS_DEFINED: readonly orchestrator.ComputeTaskStatus[] = [
    S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
    S.STATUS_EXECUTING,
    S.STATUS_FAILED,
];

/** Index records QueryTasks may examine per call when filters are checked on records, per (page size + 1). */
export const QUERY_SCAN_FACTOR = 20;

/** Page token of the record a page starts at (the format readPage issues and accepts). */
function pageTokenOf(recordKey: string): string {
    return Buffer.from(recordKey).toString('base64url');
}

function cannotDisable(detail: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.CannotDisableOutput, detail);
}

export class ComputeTaskService extends Service {
    /** Output-asset records written by this transaction, per `<task key>\0<identifier>` (range reads miss them). */
    readonly #pendingOutputAssets = new Map<string, orchestrator.ComputeTaskOutputAsset[]>();
    /** Committed output-asset records, per the same key: they cannot change during the transaction, so one scan. */
    readonly #committedOutputAssets = new Map<string, readonly orchestrator.ComputeTaskOutputAsset[]>();
    readonly #records = taskRecords(this.ctx.store);

    // ----------------------------------------------------------------------------------------------------
    // Registration (§2)

    /** RegisterTasks (§2.3): all or nothing; tasks returned and announced in topological order. */
    async registerTasks(param: orchestrator.IRegisterTasksParam): Promise<orchestrator.RegisterTasksResponse> {
        const registration = new TaskRegistration(this.ctx, this.services);
        const sorted = await registration.prepare(param.tasks ?? []);
        const built: orchestrator.ComputeTask[] = [];
        for (const newTask of sorted) {
            built.push(await registration.build(newTask));
        }
        const store = this.ctx.store;
        const stored: orchestrator.ComputeTask[] = [];
        for (const task of built) {
            stored.push(await this.#save(task));
            await putTaskIndexes(store, task);
            for (const parent of parentKeys(task.inputs)) {
                await store.put(childLinkKey(store, parent, task.key), INDEX_VALUE);
            }
        }
        for (const task of stored) {
            this.ctx.events.emit({
                event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
                asset_kind: K.ASSET_COMPUTE_TASK,
                asset_key: task.key,
                compute_task: task,
            });
        }
        return orchestrator.RegisterTasksResponse.create({ tasks: stored });
    }

    // ----------------------------------------------------------------------------------------------------
    // Reads (§4.4 to §4.6)

    /** GetTask (§4.5); the key is not validated. */
    getTask(key: string): Promise<orchestrator.ComputeTask> {
        return this.#records.get(key);
    }

    /**
     * QueryTasks (§4.6), in creation date then key order. A combination with its own index pages it directly.
     * Otherwise the narrowest fitting index is read in chunks and the other filters are checked on the task
     * records; at most QUERY_SCAN_FACTOR × (page size + 1) index records are examined per call, so a page may
     * hold fewer than page_size tasks (possibly none) while its token still points at the rest.
     */
    async queryTasks(param: orchestrator.IQueryTasksParam): Promise<orchestrator.QueryTasksResponse> {
        const filter = param.filter;
        const wanted: Partial<Record<TaskFilterField, string>> = {};
        if ((filter?.compute_plan_key ?? '') !== '') {
            wanted.plan = filter?.compute_plan_key ?? '';
        }
        if ((filter?.function_key ?? '') !== '') {
            wanted.function = filter?.function_key ?? '';
        }
        if ((filter?.worker ?? '') !== '') {
            wanted.worker = filter?.worker ?? '';
        }
        if ((filter?.status ?? 0) !== 0) {
            wanted.status = taskStatusName(filter?.status ?? 0);
        }
        const filters = (['plan', 'function', 'worker', 'status'] as const).filter((f) => wanted[f] !== undefined);
        const { fields, residual } = queryIndexFor(filters);
        const index = taskIndexName(fields);
        const values = fields.map((f) => wanted[f] ?? '');
        const size = (param.page_size ?? 0) > 0 ? (param.page_size ?? 0) : DEFAULT_PAGE_SIZE;
        const store = this.ctx.store;

        if (residual.length === 0) {
            const page = await readPage(store, index, values, param.page_token ?? '', size);
            const tasks: orchestrator.ComputeTask[] = [];
            for (const record of page.records) {
                tasks.push(await this.getTask(lastAttribute(store, record.key)));
            }
            return orchestrator.QueryTasksResponse.create({ tasks, next_page_token: page.nextPageToken });
        }

        const matches = (task: orchestrator.ComputeTask): boolean =>
            residual.every((f) => taskFieldValue(task, f) === wanted[f]);
        const budget = QUERY_SCAN_FACTOR * (size + 1);
        const tasks: orchestrator.ComputeTask[] = [];
        let token = param.page_token ?? '';
        let examined = 0;
        for (;;) {
            const chunk = await readPage(store, index, values, token, Math.min(size + 1, budget - examined));
            for (const record of chunk.records) {
                examined++;
                const task = await this.getTask(lastAttribute(store, record.key));
                if (!matches(task)) {
                    continue;
                }
                if (tasks.length === size) {
                    // A further match exists: the next page starts at it.
                    return orchestrator.QueryTasksResponse.create({ tasks, next_page_token: pageTokenOf(record.key) });
                }
                tasks.push(task);
            }
            token = chunk.nextPageToken;
            if (token === '' || examined >= budget) {
                return orchestrator.QueryTasksResponse.create({ tasks, next_page_token: token });
            }
        }
    }

    /** GetTaskInputAssets (§4.4). */
    async getTaskInputAssets(
        param: orchestrator.IGetTaskInputAssetsParam,
    ): Promise<orchestrator.GetTaskInputAssetsResponse> {
        const task = await this.getTask(param.compute_task_key ?? '');
        if (!INPUTS_DEFINED.includes(task.status)) {
            throw badRequest(
                `Task inputs may not be defined in current task status ("${taskStatusName(task.status)}")`,
            );
        }
        const func = await this.services.functions.getFunction(task.function_key);
        const assets: orchestrator.ComputeTaskInputAsset[] = [];
        for (const input of task.inputs) {
            const identifier = input.identifier ?? '';
            const declared = mapEntry(func.inputs, identifier);
            if (declared === undefined) {
                throw internalError('missing function input');
            }
            const ref = inputRef(input);
            if (ref.kind === 'asset') {
                assets.push(await this.#inputAsset(declared.kind ?? K.ASSET_UNKNOWN, ref.key, identifier));
            } else if (ref.kind === 'parent') {
                for (const record of await this.getOutputAssets(ref.parentKey, ref.output)) {
                    assets.push(await this.#inputAsset(record.asset_kind, record.asset_key, identifier));
                }
            } else {
                throw unimplemented('unsupported input type');
            }
        }
        return orchestrator.GetTaskInputAssetsResponse.create({ assets });
    }

    async #inputAsset(
        kind: orchestrator.AssetKind,
        key: string,
        identifier: string,
    ): Promise<orchestrator.ComputeTaskInputAsset> {
        switch (kind) {
            case K.ASSET_MODEL:
                return orchestrator.ComputeTaskInputAsset.create({
                    identifier,
                    model: await this.services.models.getModel(key),
                });
            case K.ASSET_DATA_MANAGER:
                return orchestrator.ComputeTaskInputAsset.create({
                    identifier,
                    data_manager: await this.services.dataManagers.getDataManager(key),
                });
            case K.ASSET_DATA_SAMPLE:
                return orchestrator.ComputeTaskInputAsset.create({
                    identifier,
                    data_sample: await this.services.dataSamples.getDataSample(key),
                });
            default:
                throw unimplemented(`unsupported input kind: "${assetKindName(kind)}"`);
        }
    }

    // ----------------------------------------------------------------------------------------------------
    // Status machine (§3)

    /** ApplyTaskAction (§3.3): permission by action (status not considered), then the transition. */
    async applyTaskAction(param: orchestrator.IApplyTaskActionParam): Promise<orchestrator.ApplyTaskActionResponse> {
        const task = await this.getTask(param.compute_task_key ?? '');
        const rule = actionRule(param.action ?? orchestrator.ComputeTaskAction.TASK_ACTION_UNKNOWN);
        const requester = this.ctx.requester;
        const allowed =
            rule !== undefined && (requester === task.worker || (rule.ownerAllowed && requester === task.owner));
        if (rule === undefined || !allowed) {
            throw permissionDenied('only task owner can update it');
        }
        const log = param.log ?? '';
        await this.applyTaskTransition(task, rule.transition, log === '' ? 'User action' : log);
        return orchestrator.ApplyTaskActionResponse.create();
    }

    /**
     * One transition (§3.4): store the new status (and move its index entries), emit the UPDATED event with
     * `{reason}`, then DONE releases the children and FAILED fails the plan. Returns the updated task.
     */
    async applyTaskTransition(
        task: orchestrator.ComputeTask,
        transition: TaskTransition,
        reason: string,
    ): Promise<orchestrator.ComputeTask> {
        const previous = task.status;
        task.status = nextStatus(previous, transition);
        const stored = await this.#save(task);
        await moveTaskStatusIndexes(this.ctx.store, task, previous);
        this.ctx.events.emit({
            event_kind: orchestrator.EventKind.EVENT_ASSET_UPDATED,
            asset_kind: K.ASSET_COMPUTE_TASK,
            asset_key: task.key,
            compute_task: stored,
            metadata: { reason },
        });
        if (task.status === S.STATUS_DONE) {
            await this.#releaseChildren(task.key);
        } else if (task.status === S.STATUS_FAILED) {
            await this.services.computePlans.failPlan(task.compute_plan_key);
        }
        return task;
    }

    /** transitionFailed with its plan failure, for task failure reports (§3.9). */
    failTask(task: orchestrator.ComputeTask, reason: string): Promise<orchestrator.ComputeTask> {
        return this.applyTaskTransition(task, 'transitionFailed', reason);
    }

    /** §3.5.1: children (ascending key) waiting for their parents move on once every parent is DONE. */
    async #releaseChildren(parentKey: string): Promise<void> {
        const childKeys: string[] = [];
        for await (const record of this.ctx.store.scan(CHILDREN_INDEX, [parentKey])) {
            childKeys.push(lastAttribute(this.ctx.store, record.key));
        }
        for (const childKey of childKeys) {
            const child = await this.getTask(childKey);
            if (child.status !== S.STATUS_WAITING_FOR_PARENT_TASKS) {
                continue;
            }
            if (await this.#allParentsDone(child)) {
                await this.applyTaskTransition(
                    child,
                    'transitionWaitingExecutorSlot',
                    `Last parent task ${parentKey} done`,
                );
            }
        }
    }

    /** Current statuses, read with point reads (they see this transaction's writes). */
    async #allParentsDone(task: orchestrator.ComputeTask): Promise<boolean> {
        for (const key of parentKeys(task.inputs)) {
            if ((await this.getTask(key)).status !== S.STATUS_DONE) {
                return false;
            }
        }
        return true;
    }

    /**
     * §3.7: after a function transition, update the tasks of that function in the selected status, in
     * (creation date, key) order, across all plans. No task permission check on this path.
     */
    async propagateFunctionStatus(func: orchestrator.IFunction, reason: string): Promise<void> {
        const F = orchestrator.FunctionStatus;
        const functionKey = func.key ?? '';
        switch (func.status) {
            case F.FUNCTION_STATUS_BUILDING:
                for (const task of await this.#tasksByFunction(functionKey, S.STATUS_WAITING_FOR_BUILDER_SLOT)) {
                    await this.applyTaskTransition(task, 'transitionBuilding', reason);
                }
                return;
            case F.FUNCTION_STATUS_READY:
                for (const task of await this.#tasksByFunction(functionKey, S.STATUS_BUILDING)) {
                    const transition = (await this.#allParentsDone(task))
                        ? 'transitionWaitingExecutorSlot'
                        : 'transitionWaitingParentTasks';
                    await this.applyTaskTransition(task, transition, `Function ${functionKey} finished building`);
                }
                return;
            case F.FUNCTION_STATUS_CANCELED:
                for (const task of await this.#tasksByFunction(functionKey, S.STATUS_BUILDING)) {
                    await this.applyTaskTransition(task, 'transitionCanceled', reason);
                }
                return;
            case F.FUNCTION_STATUS_FAILED:
                for (const task of await this.#tasksByFunction(functionKey, S.STATUS_BUILDING)) {
                    await this.applyTaskTransition(task, 'transitionFailed', reason);
                }
                return;
            default:
                return;
        }
    }

    async #tasksByFunction(
        functionKey: string,
        status: orchestrator.ComputeTaskStatus,
    ): Promise<orchestrator.ComputeTask[]> {
        const keys: string[] = [];
        for await (const record of this.ctx.store.scan(taskIndexName(['function', 'status']), [
            functionKey,
            taskStatusName(status),
        ])) {
            keys.push(lastAttribute(this.ctx.store, record.key));
        }
        const tasks: orchestrator.ComputeTask[] = [];
        for (const key of keys) {
            tasks.push(await this.getTask(key));
        }
        return tasks;
    }

    // ----------------------------------------------------------------------------------------------------
    // Outputs (§4.1 to §4.3)

    /** Output-asset records of (task, identifier) in position order, this transaction's included. */
    async getOutputAssets(taskKeyValue: string, identifier: string): Promise<orchestrator.ComputeTaskOutputAsset[]> {
        if (taskKeyValue === '' || identifier === '') {
            return [];
        }
        const id = outputSlotKey(taskKeyValue, identifier);
        let committed = this.#committedOutputAssets.get(id);
        if (committed === undefined) {
            const records: orchestrator.ComputeTaskOutputAsset[] = [];
            for await (const record of this.ctx.store.scan(OUTPUT_ASSET_KIND, [taskKeyValue, identifier])) {
                records.push(orchestrator.ComputeTaskOutputAsset.decode(record.value));
            }
            committed = records;
            this.#committedOutputAssets.set(id, committed);
        }
        return [...committed, ...(this.#pendingOutputAssets.get(id) ?? [])];
    }

    async countOutputAssets(taskKeyValue: string, identifier: string): Promise<number> {
        return (await this.getOutputAssets(taskKeyValue, identifier)).length;
    }

    /** Records an asset produced for a task output (§4.2) and emits its event (asset_key = task key). */
    async addOutputAsset(
        task: orchestrator.IComputeTask,
        identifier: string,
        kind: orchestrator.AssetKind,
        assetKey: string,
    ): Promise<void> {
        const key = task.key ?? '';
        const position = await this.countOutputAssets(key, identifier);
        const record = orchestrator.ComputeTaskOutputAsset.create({
            compute_task_key: key,
            compute_task_output_identifier: identifier,
            asset_kind: kind,
            asset_key: assetKey,
        });
        await this.ctx.store.put(
            outputAssetKey(this.ctx.store, key, identifier, position),
            encodeMessage(orchestrator.ComputeTaskOutputAsset, record),
        );
        const pending = this.#pendingOutputAssets.get(outputSlotKey(key, identifier));
        if (pending === undefined) {
            this.#pendingOutputAssets.set(outputSlotKey(key, identifier), [record]);
        } else {
            pending.push(record);
        }
        this.ctx.events.emit({
            event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
            asset_kind: K.ASSET_COMPUTE_TASK_OUTPUT_ASSET,
            asset_key: key,
            compute_task_output_asset: orchestrator.ComputeTaskOutputAsset.create(record),
        });
    }

    /** DisableOutput (§4.3), checks in the spec's order; a second disable is refused (Decision). */
    async disableOutput(param: orchestrator.IDisableOutputParam): Promise<orchestrator.DisableOutputResponse> {
        const key = param.compute_task_key ?? '';
        const identifier = param.identifier ?? '';
        const task = await this.getTask(key);
        if (task.worker !== this.ctx.requester) {
            throw permissionDenied('only the worker can disable a task output');
        }
        if (!isFinalStatus(task.status)) {
            throw cannotDisable('cannot disable asset: task not in final state');
        }
        const output = mapEntry(task.outputs, identifier);
        if (output === undefined) {
            throw cannotDisable(`there is no output identifier ${identifier} for task ${key}`);
        }
        if (output.transient !== true) {
            throw cannotDisable('output is not transient');
        }
        const records = await this.getOutputAssets(key, identifier);
        const first = records[0];
        if (first === undefined) {
            throw cannotDisable(`there is no output asset with identifier ${identifier} for task ${key}`);
        }
        if (first.asset_kind !== K.ASSET_MODEL) {
            throw cannotDisable(`cannot disable output of kind: ${assetKindName(first.asset_kind)}`);
        }
        const childKeys: string[] = [];
        for await (const record of this.ctx.store.scan(CHILDREN_INDEX, [key])) {
            childKeys.push(lastAttribute(this.ctx.store, record.key));
        }
        if (childKeys.length === 0) {
            throw cannotDisable('cannot disable output of a task with no children');
        }
        for (const childKey of childKeys) {
            if (!isFinalStatus((await this.getTask(childKey)).status)) {
                throw cannotDisable('cannot disable asset: child not in final state');
            }
        }
        const models: orchestrator.Model[] = [];
        for (const record of records) {
            const model = await this.services.models.getModel(record.asset_key);
            if (model.address == null) {
                throw cannotDisable(`model "${model.key}" is already disabled`);
            }
            models.push(model);
        }
        for (const model of models) {
            // Stores the model without address and emits MODEL DISABLED.
            await this.services.models.disableModel(model);
        }
        return orchestrator.DisableOutputResponse.create();
    }

    // ----------------------------------------------------------------------------------------------------

    /** Stores the task; returns a decoded copy (event payloads must not follow later changes of `task`). */
    async #save(task: orchestrator.ComputeTask): Promise<orchestrator.ComputeTask> {
        return orchestrator.ComputeTask.decode(await this.#records.put(task.key, task));
    }
}

function outputSlotKey(taskKeyValue: string, identifier: string): string {
    return `${taskKeyValue}\u0000${identifier}`;
}
