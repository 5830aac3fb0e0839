/**
 * Compute tasks: registration, status machine, outputs and reads (behavior-tasks §2 to §4). Storage (records,
 * indexes, child links, output assets, QueryTasks paging): repository/computetask.ts.
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
 * Page tokens are opaque (repository/pagination.ts), not the decimal offsets of behavior-tasks §0.4: an offset
 * would make every page re-read all earlier index records. A bad token is still a plain error (gRPC UNKNOWN).
 */
import { orchestrator } from '@substra-fabric/api';
import { taskRepository } from '../repository/computetask';
import { mapEntry } from './codec';
import { ErrorCode, OrchestrationError, badRequest, internalError, permissionDenied, unimplemented } from './errors';
import type { Complete } from './messages';
import { Service } from './service';
import {
    type TaskTransition,
    actionRule,
    assetKindName,
    isFinalStatus,
    nextStatus,
    taskStatusName,
} from './computetask-state';
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

function cannotDisable(detail: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.CannotDisableOutput, detail);
}

export class ComputeTaskService extends Service {
    readonly #tasks = taskRepository(this.ctx.store);

    // ----------------------------------------------------------------------------------------------------
    // Registration (§2)

    /** RegisterTasks (§2.3): all or nothing; tasks returned and announced in topological order. */
    async registerTasks(
        param: Complete<orchestrator.IRegisterTasksParam>,
    ): Promise<orchestrator.RegisterTasksResponse> {
        const registration = new TaskRegistration(this.ctx, this.services, this.#tasks);
        const sorted = await registration.prepare(param.tasks);
        const stored: orchestrator.ComputeTask[] = [];
        for (const newTask of sorted) {
            const task = await registration.build(newTask);
            stored.push(await this.#tasks.add(task, parentKeys(task.inputs)));
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
        return this.#tasks.get(key);
    }

    /** QueryTasks (§4.6), in creation date then key order; a page may be short, its token still continues. */
    async queryTasks(param: Complete<orchestrator.IQueryTasksParam>): Promise<orchestrator.QueryTasksResponse> {
        const page = await this.#tasks.query(param.page_token, param.page_size, param.filter);
        return orchestrator.QueryTasksResponse.create({ tasks: page.tasks, next_page_token: page.nextPageToken });
    }

    /** GetTaskInputAssets (§4.4). */
    async getTaskInputAssets(
        param: Complete<orchestrator.IGetTaskInputAssetsParam>,
    ): Promise<orchestrator.GetTaskInputAssetsResponse> {
        const task = await this.getTask(param.compute_task_key);
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
    async applyTaskAction(
        param: Complete<orchestrator.IApplyTaskActionParam>,
    ): Promise<orchestrator.ApplyTaskActionResponse> {
        const task = await this.getTask(param.compute_task_key);
        const rule = actionRule(param.action);
        const requester = this.ctx.requester;
        const allowed =
            rule !== undefined && (requester === task.worker || (rule.ownerAllowed && requester === task.owner));
        if (rule === undefined || !allowed) {
            throw permissionDenied('only task owner can update it');
        }
        await this.applyTaskTransition(task, rule.transition, param.log === '' ? 'User action' : param.log);
        return orchestrator.ApplyTaskActionResponse.create();
    }

    /**
     * One transition (§3.4): store the new status, emit the UPDATED event with `{reason}`, then DONE releases
     * the children and FAILED fails the plan. Returns the updated task.
     */
    async applyTaskTransition(
        task: orchestrator.ComputeTask,
        transition: TaskTransition,
        reason: string,
    ): Promise<orchestrator.ComputeTask> {
        const stored = await this.#tasks.updateStatus(task, nextStatus(task.status, transition));
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
        for (const childKey of await this.#tasks.childKeys(parentKey)) {
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

    /** Current statuses, this transaction's changes included. */
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
    async propagateFunctionStatus(func: Pick<orchestrator.Function, 'key' | 'status'>, reason: string): Promise<void> {
        const F = orchestrator.FunctionStatus;
        const tasksIn = (status: orchestrator.ComputeTaskStatus): Promise<orchestrator.ComputeTask[]> =>
            this.#tasks.byFunctionAndStatus(func.key, status);
        switch (func.status) {
            case F.FUNCTION_STATUS_BUILDING:
                for (const task of await tasksIn(S.STATUS_WAITING_FOR_BUILDER_SLOT)) {
                    await this.applyTaskTransition(task, 'transitionBuilding', reason);
                }
                return;
            case F.FUNCTION_STATUS_READY:
                for (const task of await tasksIn(S.STATUS_BUILDING)) {
                    const transition = (await this.#allParentsDone(task))
                        ? 'transitionWaitingExecutorSlot'
                        : 'transitionWaitingParentTasks';
                    await this.applyTaskTransition(task, transition, `Function ${func.key} finished building`);
                }
                return;
            case F.FUNCTION_STATUS_CANCELED:
                for (const task of await tasksIn(S.STATUS_BUILDING)) {
                    await this.applyTaskTransition(task, 'transitionCanceled', reason);
                }
                return;
            case F.FUNCTION_STATUS_FAILED:
                for (const task of await tasksIn(S.STATUS_BUILDING)) {
                    await this.applyTaskTransition(task, 'transitionFailed', reason);
                }
                return;
            default:
                return;
        }
    }

    // ----------------------------------------------------------------------------------------------------
    // Outputs (§4.1 to §4.3)

    /** Output-asset records of (task, identifier) in position order, this transaction's included. */
    getOutputAssets(taskKey: string, identifier: string): Promise<orchestrator.ComputeTaskOutputAsset[]> {
        return this.#tasks.outputAssets(taskKey, identifier);
    }

    async countOutputAssets(taskKey: string, identifier: string): Promise<number> {
        return (await this.getOutputAssets(taskKey, identifier)).length;
    }

    /** Records an asset produced for a task output (§4.2) and emits its event (asset_key = task key). */
    async addOutputAsset(
        task: orchestrator.ComputeTask,
        identifier: string,
        kind: orchestrator.AssetKind,
        assetKey: string,
    ): Promise<void> {
        const record = orchestrator.ComputeTaskOutputAsset.create({
            compute_task_key: task.key,
            compute_task_output_identifier: identifier,
            asset_kind: kind,
            asset_key: assetKey,
        });
        await this.#tasks.addOutputAsset(record);
        this.ctx.events.emit({
            event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
            asset_kind: K.ASSET_COMPUTE_TASK_OUTPUT_ASSET,
            asset_key: task.key,
            compute_task_output_asset: orchestrator.ComputeTaskOutputAsset.create(record),
        });
    }

    /** DisableOutput (§4.3), checks in the spec's order; a second disable is refused (Decision). */
    async disableOutput(
        param: Complete<orchestrator.IDisableOutputParam>,
    ): Promise<orchestrator.DisableOutputResponse> {
        const { compute_task_key: key, identifier } = param;
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
        const childKeys = await this.#tasks.childKeys(key);
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
}
