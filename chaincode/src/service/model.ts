/**
 * Models (behavior-assets §8; the task side of output registration: behavior-tasks §4.1, §4.2).
 * Storage: repository/model.ts.
 *
 * Public API:
 * - RPCs: registerModel (deprecated: a batch of one), registerModels, getModel, getComputeTaskOutputModels.
 * - findModel(key): the model or undefined.
 * - disableModel(model): the mechanics of DisableOutput step 10 (§8.6) — removes the address, stores the
 *   model and emits MODEL DISABLED. The caller (ComputeTaskService.disableOutput) runs every precondition.
 *
 * Output-asset records (position, event) belong to the task service: see ComputeTaskService.addOutputAsset
 * and countOutputAssets, which also count the records added earlier in the same transaction.
 */
import { orchestrator } from '@substra-fabric/api';
import { MODEL_KIND, ModelRepository } from '../repository/model';
import { mapEntry } from './codec';
import { taskStatusName } from './computetask-state';
import { ErrorCode, OrchestrationError, badRequest, conflict, internalError, permissionDenied } from './errors';
import type { Complete } from './messages';
import { Service } from './service';
import { Failures, addressable, required, uuid } from './validation';

export { MODEL_KIND, MODEL_TASK_INDEX } from '../repository/model';

const K = orchestrator.AssetKind;

function kindName(kind: number): string {
    return (orchestrator.AssetKind as unknown as Record<number, string | undefined>)[kind] ?? String(kind);
}

/** §8.3 rule 1. */
function validateNewModel(model: Complete<orchestrator.INewModel>): void {
    new Failures()
        .field('key', model.key, required, uuid)
        .field('compute_task_key', model.compute_task_key, required, uuid)
        .field('compute_task_output_identifier', model.compute_task_output_identifier, required)
        .field('address', model.address, required, addressable)
        .throwIfAny(MODEL_KIND);
}

export class ModelService extends Service {
    readonly #repository = new ModelRepository(this.ctx.store);

    /** RegisterModel (§8.1, deprecated): RegisterModels with a one-element list; returns that model. */
    async registerModel(model: Complete<orchestrator.INewModel>): Promise<orchestrator.Model> {
        const [registered] = await this.#registerBatch([model]);
        if (registered === undefined) {
            throw internalError('no model registered');
        }
        return registered;
    }

    /** RegisterModels (§8.2): the stored models, in request order. */
    async registerModels(
        param: Complete<orchestrator.IRegisterModelsParam>,
    ): Promise<orchestrator.RegisterModelsResponse> {
        return orchestrator.RegisterModelsResponse.create({ models: await this.#registerBatch(param.models) });
    }

    /**
     * §8.2: every model belongs to the task of the first one; per model, in request order, the rules of §8.3.
     * All or nothing (the transaction is discarded on the first failure).
     */
    async #registerBatch(models: readonly Complete<orchestrator.INewModel>[]): Promise<orchestrator.Model[]> {
        const first = models[0];
        if (first === undefined) {
            throw badRequest('no model to register');
        }
        const taskKey = first.compute_task_key;
        const registered: orchestrator.Model[] = [];
        for (const newModel of models) {
            // §8.2 3.1: the task is loaded before the model is validated (a malformed key is NotFound).
            const task = await this.services.computeTasks.getTask(taskKey);
            if (newModel.compute_task_key !== taskKey) {
                throw badRequest('All models should be part of the same task');
            }
            registered.push(await this.#registerOne(newModel, task));
        }
        return registered;
    }

    /** The model rules of §8.3, in order, for one model of task `task`. */
    async #registerOne(
        newModel: Complete<orchestrator.INewModel>,
        task: orchestrator.ComputeTask,
    ): Promise<orchestrator.Model> {
        validateNewModel(newModel);
        const requester = this.ctx.requester;
        if (task.worker !== requester) {
            throw permissionDenied(`only "${task.worker}" worker can register model`);
        }
        if (task.status !== orchestrator.ComputeTaskStatus.STATUS_EXECUTING) {
            throw badRequest(`cannot register model for task with status "${taskStatusName(task.status)}"`);
        }
        const identifier = newModel.compute_task_output_identifier;
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
        const key = newModel.key;
        const model = orchestrator.Model.create({
            key,
            compute_task_key: task.key,
            address: newModel.address,
            permissions: taskOutput.permissions ?? null,
            owner: requester,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
        });
        // Rule 10: the repository sees this transaction's writes, so a key repeated in the batch is a conflict too.
        if (await this.#repository.exists(key)) {
            throw conflict(MODEL_KIND, key);
        }
        const bytes = await this.#repository.add(model);
        this.#emit(bytes, orchestrator.EventKind.EVENT_ASSET_CREATED);
        await this.services.computeTasks.addOutputAsset(task, identifier, K.ASSET_MODEL, key);
        return orchestrator.Model.decode(bytes);
    }

    /** GetModel (§8.5): any key that is not stored is NotFound. */
    getModel(key: string): Promise<orchestrator.Model> {
        return this.#repository.get(key);
    }

    findModel(key: string): Promise<orchestrator.Model | undefined> {
        return this.#repository.find(key);
    }

    /**
     * GetComputeTaskOutputModels (§8.5): every model of the task, disabled ones included, in model-key order
     * (§1.8 recommendation). An unknown task gives an empty list.
     */
    async getComputeTaskOutputModels(
        param: Complete<orchestrator.IGetComputeTaskModelsParam>,
    ): Promise<orchestrator.GetComputeTaskModelsResponse> {
        return orchestrator.GetComputeTaskModelsResponse.create({
            models: await this.#repository.ofTask(param.compute_task_key),
        });
    }

    /**
     * §8.6 step 10 for one model: the address becomes absent, the model is stored and MODEL DISABLED is
     * emitted with it. Preconditions (task and children final, output transient, not already disabled) are
     * the caller's. Returns the stored model.
     */
    async disableModel(model: orchestrator.IModel): Promise<orchestrator.Model> {
        const bytes = await this.#repository.update(orchestrator.Model.create({ ...model, address: null }));
        this.#emit(bytes, orchestrator.EventKind.EVENT_ASSET_DISABLED);
        return orchestrator.Model.decode(bytes);
    }

    /** Emits the event of a model from its stored bytes (the event gets its own copy). */
    #emit(bytes: Uint8Array, eventKind: orchestrator.EventKind): void {
        const model = orchestrator.Model.decode(bytes);
        this.ctx.events.emit({
            event_kind: eventKind,
            asset_kind: K.ASSET_MODEL,
            asset_key: model.key,
            model,
        });
    }
}
