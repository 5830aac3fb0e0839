/**
 * Models (behavior-assets §8; the task side of output registration: behavior-tasks §4.1, §4.2).
 *
 * Public API:
 * - RPCs: registerModel (deprecated: a batch of one), registerModels, getModel, getComputeTaskOutputModels.
 * - findModel(key): the model or undefined.
 * - disableModel(model): the mechanics of DisableOutput step 10 (§8.6) — removes the address, stores the
 *   model and emits MODEL DISABLED. The caller (ComputeTaskService.disableOutput) runs every precondition.
 *
 * Ledger keys:
 * - `model` [key] → binary `orchestrator.Model`.
 * - `idx~model~task` [compute_task_key, model key] → INDEX_VALUE: the models of a task in model-key order
 *   (GetComputeTaskOutputModels). Written once, at registration. Range reads see committed state only, so
 *   a model registered by the current transaction is not listed by getComputeTaskOutputModels.
 *
 * Output-asset records (position, event) belong to the task service: see ComputeTaskService.addOutputAsset
 * and countOutputAssets, which also count the records added earlier in the same transaction.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords, lastAttribute } from './assets';
import { INDEX_VALUE, mapEntry } from './codec';
import { taskStatusName } from './computetask-state';
import { ErrorCode, OrchestrationError, badRequest, conflict, internalError, permissionDenied } from './errors';
import { Service } from './service';
import { Failures, addressable, required, uuid } from './validation';

export const MODEL_KIND = 'model';
export const MODEL_TASK_INDEX = 'idx~model~task';

const K = orchestrator.AssetKind;

function kindName(kind: number): string {
    return (orchestrator.AssetKind as unknown as Record<number, string | undefined>)[kind] ?? String(kind);
}

/** §8.3 rule 1. */
function validateNewModel(model: orchestrator.INewModel): void {
    new Failures()
        .field('key', model.key ?? '', required, uuid)
        .field('compute_task_key', model.compute_task_key ?? '', required, uuid)
        .field('compute_task_output_identifier', model.compute_task_output_identifier ?? '', required)
        .field('address', model.address, required, addressable)
        .throwIfAny(MODEL_KIND);
}

export class ModelService extends Service {
    readonly #records = new AssetRecords(this.ctx.store, MODEL_KIND, orchestrator.Model);

    /** RegisterModel (§8.1, deprecated): RegisterModels with a one-element list; returns that model. */
    async registerModel(model: orchestrator.INewModel): Promise<orchestrator.Model> {
        const [registered] = await this.#registerBatch([model]);
        if (registered === undefined) {
            throw internalError('no model registered');
        }
        return registered;
    }

    /** RegisterModels (§8.2): the stored models, in request order. */
    async registerModels(param: orchestrator.IRegisterModelsParam): Promise<orchestrator.RegisterModelsResponse> {
        return orchestrator.RegisterModelsResponse.create({ models: await this.#registerBatch(param.models ?? []) });
    }

    /**
     * §8.2: every model belongs to the task of the first one; per model, in request order, the rules of §8.3.
     * All or nothing (the transaction is discarded on the first failure).
     */
    async #registerBatch(models: readonly orchestrator.INewModel[]): Promise<orchestrator.Model[]> {
        const first = models[0];
        if (first === undefined) {
            throw badRequest('no model to register');
        }
        const taskKey = first.compute_task_key ?? '';
        const registered: orchestrator.Model[] = [];
        for (const newModel of models) {
            // §8.2 3.1: the task is loaded before the model is validated (a malformed key is NotFound).
            const task = await this.services.computeTasks.getTask(taskKey);
            if ((newModel.compute_task_key ?? '') !== taskKey) {
                throw badRequest('All models should be part of the same task');
            }
            registered.push(await this.#registerOne(newModel, task));
        }
        return registered;
    }

    /** The model rules of §8.3, in order, for one model of task `task`. */
    async #registerOne(newModel: orchestrator.INewModel, task: orchestrator.ComputeTask): Promise<orchestrator.Model> {
        validateNewModel(newModel);
        const requester = this.ctx.requester;
        if (task.worker !== requester) {
            throw permissionDenied(`only "${task.worker}" worker can register model`);
        }
        if (task.status !== orchestrator.ComputeTaskStatus.STATUS_EXECUTING) {
            throw badRequest(`cannot register model for task with status "${taskStatusName(task.status)}"`);
        }
        const identifier = newModel.compute_task_output_identifier ?? '';
        const taskOutput = mapEntry(task.outputs, identifier);
        if (taskOutput === undefined) {
            throw new OrchestrationError(
                ErrorCode.MissingTaskOutput,
                `Task "${task.key}" has no output named "${identifier}"`,
            );
        }
        const func = await this.services.functions.getFunction(task.function_key);
        const functionOutput = mapEntry(func.outputs, identifier);
        if (functionOutput === undefined) {
            throw internalError(`missing function output "${identifier}" for task "${task.key}"`);
        }
        const expected = functionOutput.kind ?? K.ASSET_UNKNOWN;
        if (expected !== K.ASSET_MODEL) {
            throw new OrchestrationError(
                ErrorCode.IncompatibleKind,
                `Incompatible kind for task "${task.key}": output "${identifier}" expects "${kindName(expected)}", received "ASSET_MODEL"`,
            );
        }
        // Rule 8: records of any kind count, those added earlier in this batch included.
        const existing = await this.services.computeTasks.countOutputAssets(task.key, identifier);
        if (existing >= 1 && functionOutput.multiple !== true) {
            throw new OrchestrationError(
                ErrorCode.Conflict,
                `compute task "${task.key}" already has its unique output "${identifier}" registered`,
            );
        }
        const key = newModel.key ?? '';
        const model = orchestrator.Model.create({
            key,
            compute_task_key: task.key,
            address: newModel.address ?? null,
            permissions: taskOutput.permissions ?? null,
            owner: requester,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
        });
        // Rule 10: the store sees this transaction's writes, so a key repeated in the batch is a conflict too.
        if (await this.#records.exists(key)) {
            throw conflict(MODEL_KIND, key);
        }
        const stored = await this.#save(model, orchestrator.EventKind.EVENT_ASSET_CREATED);
        const { store } = this.ctx;
        await store.put(store.compositeKey(MODEL_TASK_INDEX, [task.key, key]), INDEX_VALUE);
        await this.services.computeTasks.addOutputAsset(task, identifier, K.ASSET_MODEL, key);
        return stored;
    }

    /** GetModel (§8.5): any key that is not stored is NotFound. */
    getModel(key: string): Promise<orchestrator.Model> {
        return this.#records.get(key);
    }

    findModel(key: string): Promise<orchestrator.Model | undefined> {
        return this.#records.find(key);
    }

    /**
     * GetComputeTaskOutputModels (§8.5): every model of the task, disabled ones included, in model-key order
     * (§1.8 recommendation). An unknown task gives an empty list.
     */
    async getComputeTaskOutputModels(
        param: orchestrator.IGetComputeTaskModelsParam,
    ): Promise<orchestrator.GetComputeTaskModelsResponse> {
        const taskKey = param.compute_task_key ?? '';
        if (taskKey === '') {
            return orchestrator.GetComputeTaskModelsResponse.create({ models: [] });
        }
        const { store } = this.ctx;
        const keys: string[] = [];
        for await (const record of store.scan(MODEL_TASK_INDEX, [taskKey])) {
            keys.push(lastAttribute(store, record.key));
        }
        const models: orchestrator.Model[] = [];
        for (const key of keys) {
            models.push(await this.#records.getIndexed(key));
        }
        return orchestrator.GetComputeTaskModelsResponse.create({ models });
    }

    /**
     * §8.6 step 10 for one model: the address becomes absent, the model is stored and MODEL DISABLED is
     * emitted with it. Preconditions (task and children final, output transient, not already disabled) are
     * the caller's. Returns the stored model.
     */
    async disableModel(model: orchestrator.IModel): Promise<orchestrator.Model> {
        const disabled = orchestrator.Model.create({ ...model, address: null });
        return this.#save(disabled, orchestrator.EventKind.EVENT_ASSET_DISABLED);
    }

    /** Stores the model and emits its event; returns the stored copy (the event has its own). */
    async #save(model: orchestrator.Model, eventKind: orchestrator.EventKind): Promise<orchestrator.Model> {
        const bytes = await this.#records.put(model.key, model);
        this.ctx.events.emit({
            event_kind: eventKind,
            asset_kind: K.ASSET_MODEL,
            asset_key: model.key,
            model: orchestrator.Model.decode(bytes),
        });
        return orchestrator.Model.decode(bytes);
    }
}
