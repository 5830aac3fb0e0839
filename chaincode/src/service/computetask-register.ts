/**
 * RegisterTasks (behavior-tasks §2): validation, topological sort and the construction of each task, with the
 * checks in the order of §2.6. Nothing is written here; ComputeTaskService stores each task once built, and
 * the repository gives it back as a parent of the next ones.
 *
 * The other assets loaded during one batch are cached (plans, functions, data managers, samples,
 * organizations), so that a batch of N tasks sharing a plan and a function costs about N existence reads.
 */
import { orchestrator } from '@substra-fabric/api';
import { type ComputeTaskRepository, TASK_KIND } from '../repository/computetask';
import type { TxContext } from './context';
import {
    ErrorCode,
    OrchestrationError,
    badRequest,
    conflict,
    notFound,
    permissionDenied,
    unimplemented,
} from './errors';
import type { Services } from './provider';
import { compareStrings, mapEntry, sortedEntries } from './codec';
import type { Complete } from './messages';
import { Failures, metadata, required, uuid } from './validation';
import { assetKindName } from './computetask-state';
import { canProcess, createPermissions, unionPermission } from './permissions';

type NewTask = Complete<orchestrator.INewComputeTask>;

const S = orchestrator.ComputeTaskStatus;
const K = orchestrator.AssetKind;

type InputRef =
    { kind: 'asset'; key: string } | { kind: 'parent'; parentKey: string; output: string } | { kind: 'none' };

/**
 * Which branch of the `ref` oneof an input uses (asset_key wins if a plain object sets both). Typed loosely on
 * purpose: the branch a decoded message does not use is null, which `Complete` does not say for a oneof string.
 */
export function inputRef(input: orchestrator.IComputeTaskInput): InputRef {
    if (input.asset_key != null) {
        return { kind: 'asset', key: input.asset_key };
    }
    if (input.parent_task_output != null) {
        return {
            kind: 'parent',
            parentKey: input.parent_task_output.parent_task_key ?? '',
            output: input.parent_task_output.output_identifier ?? '',
        };
    }
    return { kind: 'none' };
}

/** Distinct parent keys in order of first appearance (§2.6.2). */
export function parentKeys(inputs: readonly orchestrator.IComputeTaskInput[]): string[] {
    const keys = new Set<string>();
    for (const input of inputs) {
        const ref = inputRef(input);
        if (ref.kind === 'parent') {
            keys.add(ref.parentKey);
        }
    }
    // A Set iterates in insertion order: first appearance.
    return [...keys];
}

function invalid(detail: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.InvalidAsset, detail);
}

/** The function's declaration of a task input; an undeclared identifier is InvalidAsset. */
function declaredInput(func: orchestrator.IFunction, identifier: string): orchestrator.IFunctionInput {
    const declared = mapEntry(func.inputs, identifier);
    if (declared === undefined) {
        throw invalid(`unknown task input: this identifier was not declared in the Function: "${identifier}"`);
    }
    return declared;
}

/** Field validation of one NewComputeTask (§2.4). */
export function validateNewTask(task: NewTask): void {
    const failures = new Failures()
        .field('key', task.key, required, uuid)
        .field('function_key', task.function_key, required, uuid)
        .field('compute_plan_key', task.compute_plan_key, required, uuid)
        .field('metadata', task.metadata, metadata);

    const inputFailures = new Failures();
    task.inputs.forEach((input, index) => {
        const f = new Failures().field('identifier', input.identifier, required);
        const ref = inputRef(input);
        if (ref.kind === 'none') {
            f.add('ref', 'cannot be blank');
        } else if (ref.kind === 'asset') {
            f.field('asset_key', ref.key, required, uuid);
        } else {
            const p = new Failures()
                .field('parent_task_key', ref.parentKey, required, uuid)
                .field('output_identifier', ref.output, required);
            if (!p.isEmpty) {
                f.add('parent_task_output', p.nested());
            }
        }
        if (!f.isEmpty) {
            inputFailures.add(String(index), f.nested());
        }
    });
    if (!inputFailures.isEmpty) {
        failures.add('inputs', inputFailures.nested());
    }

    const outputFailures = new Failures();
    for (const [identifier, output] of Object.entries(task.outputs)) {
        if (identifier === '') {
            outputFailures.add(identifier, 'identifier: cannot be blank');
        } else if (output.permissions == null) {
            outputFailures.add(identifier, '(permissions: cannot be blank.)');
        }
    }
    if (!outputFailures.isEmpty) {
        failures.add('outputs', outputFailures.nested());
    }
    failures.throwIfAny(TASK_KIND);
}

/**
 * Topological order of §2.5. Equivalent to the reference's repeated walk of the unsorted list, in O(n + e):
 * the tasks released by the head of the ready queue are appended in request order, which is the order the
 * unsorted list keeps.
 */
export function sortTasks(tasks: readonly NewTask[], stored: ReadonlySet<string>): NewTask[] {
    interface Node {
        readonly task: NewTask;
        /** Parents not sorted yet. */
        pending: number;
    }
    const childrenOf = new Map<string, Node[]>();
    const ready: Node[] = [];
    for (const task of tasks) {
        const node: Node = { task, pending: 0 };
        for (const parent of parentKeys(task.inputs)) {
            if (stored.has(parent)) {
                continue;
            }
            node.pending++;
            const children = childrenOf.get(parent);
            if (children === undefined) {
                childrenOf.set(parent, [node]);
            } else {
                children.push(node);
            }
        }
        if (node.pending === 0) {
            ready.push(node);
        }
    }

    const sorted: NewTask[] = [];
    // `ready` grows while it is walked: it is the FIFO queue, `sorted` follows its head. Child lists were built
    // walking the request, so released tasks come in request order.
    for (const { task } of ready) {
        sorted.push(task);
        for (const child of childrenOf.get(task.key) ?? []) {
            child.pending--;
            if (child.pending === 0) {
                ready.push(child);
            }
        }
    }
    if (sorted.length < tasks.length) {
        throw invalid(
            `cyclic dependency in compute plan graph or unknown task parent, unsorted_tasks_count: ${tasks.length - sorted.length}`,
        );
    }
    return sorted;
}

/** The value cached under `key`, loaded (and cached) on first use; a failed load caches nothing. */
async function cached<T>(cache: Map<string, T>, key: string, load: (key: string) => Promise<T>): Promise<T> {
    let value = cache.get(key);
    if (value === undefined) {
        value = await load(key);
        cache.set(key, value);
    }
    return value;
}

/** One RegisterTasks call: caches, then `build` per task in sorted order. */
export class TaskRegistration {
    readonly #ctx: TxContext;
    readonly #services: Services;
    readonly #tasks: ComputeTaskRepository;
    readonly #requester: string;
    readonly #plans = new Map<string, orchestrator.ComputePlan>();
    readonly #functions = new Map<string, orchestrator.Function>();
    readonly #dataManagers = new Map<string, orchestrator.DataManager>();
    readonly #dataSamples = new Map<string, orchestrator.DataSample>();
    readonly #organizations = new Map<string, boolean>();
    /** DONE parents whose models were found available. */
    readonly #modelsAvailable = new Set<string>();

    constructor(ctx: TxContext, services: Services, tasks: ComputeTaskRepository) {
        this.#ctx = ctx;
        this.#services = services;
        this.#tasks = tasks;
        this.#requester = ctx.requester;
    }

    /** Steps 1 to 5 of §2.3; returns the tasks in creation order. */
    async prepare(newTasks: readonly NewTask[]): Promise<NewTask[]> {
        if (newTasks.length === 0) {
            throw badRequest('no task to register');
        }
        for (const task of newTasks) {
            validateNewTask(task);
        }
        await this.#tasks.prefetch(newTasks.map((task) => task.key));
        const batchKeys = new Set<string>();
        for (const task of newTasks) {
            if (batchKeys.has(task.key) || (await this.#tasks.exists(task.key))) {
                throw conflict(TASK_KIND, task.key);
            }
            batchKeys.add(task.key);
        }
        const stored = new Set<string>();
        for (const task of newTasks) {
            for (const parent of parentKeys(task.inputs)) {
                if (batchKeys.has(parent) || stored.has(parent)) {
                    continue;
                }
                if ((await this.#tasks.findShared(parent)) !== undefined) {
                    stored.add(parent);
                }
            }
        }
        return sortTasks(newTasks, stored);
    }

    /**
     * §2.6: builds one task. Its parents must be stored already (the caller stores each built task before
     * building the next one).
     */
    async build(input: NewTask): Promise<orchestrator.ComputeTask> {
        const requester = this.#requester;
        const inputs = input.inputs.map((i) => copyInput(i));

        // §2.6.1 plan membership
        const plan = await this.#plan(input.compute_plan_key);
        if (plan.owner !== requester) {
            throw permissionDenied("Cannot register tasks to a compute plan you don't own");
        }
        // §2.6.2 parents
        const parents: Readonly<orchestrator.ComputeTask>[] = [];
        for (const key of parentKeys(inputs)) {
            const parent = await this.#tasks.findShared(key);
            if (parent !== undefined) {
                parents.push(parent);
            }
        }
        // §2.6.3 function
        const func = await this.#function(input.function_key);
        if (!canProcess(func.permissions, requester)) {
            throw permissionDenied(`not authorized to process function "${func.key}"`);
        }
        // §2.6.4 initial status
        const status = initialStatus(parents, func);
        // §2.6.5 models of DONE parents still available
        for (const parent of parents) {
            if (parent.status === S.STATUS_DONE) {
                await this.#checkModelsAvailable(parent.key);
            }
        }
        // §2.6.6 output permissions, ascending identifier
        const outputs: Record<string, orchestrator.IComputeTaskOutput> = {};
        for (const [identifier, output] of sortedEntries(input.outputs)) {
            outputs[identifier] = {
                permissions: await createPermissions(this.#services, requester, output.permissions),
                transient: output.transient,
            };
        }
        // §2.6.7 worker
        const { worker, dataManager } = await this.#worker(input, inputs, func);
        if (!(await this.#organizationExists(worker))) {
            throw notFound('organization', worker);
        }
        // §2.6.8 logs permission
        const logsPermission = dataManager?.logs_permission ?? unionLogsPermission(requester, parents);

        // §2.6.9 / §2.6.10
        const task = orchestrator.ComputeTask.create({
            key: input.key,
            function_key: func.key,
            owner: requester,
            compute_plan_key: input.compute_plan_key,
            rank: parents.length === 0 ? 0 : 1 + Math.max(...parents.map((p) => p.rank)),
            status,
            worker,
            creation_date: { seconds: this.#ctx.timestamp.seconds, nanos: this.#ctx.timestamp.nanos },
            logs_permission: logsPermission,
            metadata: { ...input.metadata },
            inputs,
            outputs,
        });

        await this.#validateInputs(inputs, task.worker, func);
        validateOutputs(task, func);
        return task;
    }

    #plan(key: string): Promise<orchestrator.ComputePlan> {
        return cached(this.#plans, key, (k) => this.#services.computePlans.getPlan(k));
    }

    #function(key: string): Promise<orchestrator.Function> {
        return cached(this.#functions, key, (k) => this.#services.functions.getFunction(k));
    }

    #dataManager(key: string): Promise<orchestrator.DataManager> {
        return cached(this.#dataManagers, key, (k) => this.#services.dataManagers.getDataManager(k));
    }

    #dataSample(key: string): Promise<orchestrator.DataSample> {
        return cached(this.#dataSamples, key, (k) => this.#services.dataSamples.getDataSample(k));
    }

    #organizationExists(id: string): Promise<boolean> {
        return cached(this.#organizations, id, (k) => this.#services.organizations.exists(k));
    }

    /** §2.6.5: every model recorded for a DONE parent must still have an address. */
    async #checkModelsAvailable(parentKey: string): Promise<void> {
        if (this.#modelsAvailable.has(parentKey)) {
            return;
        }
        for (const asset of await this.#tasks.allOutputAssets(parentKey)) {
            if (asset.asset_kind !== K.ASSET_MODEL) {
                continue;
            }
            const model = await this.#services.models.getModel(asset.asset_key);
            if (model.address == null) {
                throw invalid(`Model "${model.key}" has been disabled`);
            }
        }
        this.#modelsAvailable.add(parentKey);
    }

    /** §2.6.7: the first DATA_MANAGER input decides; otherwise the request must name the worker. */
    async #worker(
        input: NewTask,
        inputs: readonly orchestrator.ComputeTaskInput[],
        func: orchestrator.Function,
    ): Promise<{ worker: string; dataManager?: orchestrator.DataManager }> {
        const requested = input.worker;
        for (const taskInput of inputs) {
            if (declaredInput(func, taskInput.identifier).kind !== K.ASSET_DATA_MANAGER) {
                continue;
            }
            const ref = inputRef(taskInput);
            // A data manager given as a parent output has no key: looked up as "" (Decision, §2.6.7).
            const dataManager = await this.#dataManager(ref.kind === 'asset' ? ref.key : '');
            if (requested !== '' && requested !== dataManager.owner) {
                throw badRequest(
                    `Specified worker "${requested}" does not match data manager owner: "${dataManager.owner}"`,
                );
            }
            return { worker: dataManager.owner, dataManager };
        }
        if (requested === '') {
            throw badRequest('Worker cannot be inferred and must be explicitly set');
        }
        return { worker: requested };
    }

    /** §2.6.11, inputs in list order, then the required function inputs in ascending identifier order. */
    async #validateInputs(
        inputs: readonly orchestrator.ComputeTaskInput[],
        worker: string,
        func: orchestrator.Function,
    ): Promise<void> {
        const seen = new Set<string>();
        for (const taskInput of inputs) {
            const identifier = taskInput.identifier;
            const declared = declaredInput(func, identifier);
            if (seen.has(identifier) && declared.multiple !== true) {
                throw invalid(
                    `duplicate task input: this identifier is present multiple times in the task inputs, but it was not declared as "Multiple" in the Function: "${identifier}"`,
                );
            }
            seen.add(identifier);
            const kind = declared.kind ?? K.ASSET_UNKNOWN;
            if (kind === K.ASSET_DATA_SAMPLE) {
                continue;
            }
            if (kind === K.ASSET_DATA_MANAGER) {
                await this.#validateDataManagerInput(taskInput, inputs, func);
                continue;
            }
            await this.#validateInputRef(identifier, declared, taskInput, worker);
        }
        for (const identifier of Object.keys(func.inputs).sort(compareStrings)) {
            if (mapEntry(func.inputs, identifier)?.optional !== true && !seen.has(identifier)) {
                throw invalid(`missing task input: this identifier is required by the Function: "${identifier}"`);
            }
        }
    }

    async #validateDataManagerInput(
        dmInput: orchestrator.ComputeTaskInput,
        inputs: readonly orchestrator.ComputeTaskInput[],
        func: orchestrator.Function,
    ): Promise<void> {
        const dmRef = inputRef(dmInput);
        if (dmRef.kind !== 'asset' || dmRef.key === '') {
            throw invalid(`invalid task input "${dmInput.identifier}": openers must be referenced using an asset key`);
        }
        const sampleKeys: string[] = [];
        for (const other of inputs) {
            if (declaredInput(func, other.identifier).kind !== K.ASSET_DATA_SAMPLE) {
                continue;
            }
            const ref = inputRef(other);
            if (ref.kind !== 'asset' || ref.key === '') {
                throw invalid(
                    `invalid task input "${other.identifier}": data samples must be referenced using an asset key`,
                );
            }
            sampleKeys.push(ref.key);
        }
        const dataManager = await this.#dataManager(dmRef.key);
        if (!canProcess(dataManager.permissions, this.#requester)) {
            throw permissionDenied(`not authorized to process datamanager "${dataManager.key}"`);
        }
        for (const key of sampleKeys) {
            const sample = await this.#dataSample(key);
            if (!sample.data_manager_keys.includes(dataManager.key)) {
                throw invalid('datasamples do not share a common manager');
            }
        }
    }

    async #validateInputRef(
        identifier: string,
        declared: orchestrator.IFunctionInput,
        taskInput: orchestrator.ComputeTaskInput,
        worker: string,
    ): Promise<void> {
        const kind = declared.kind ?? K.ASSET_UNKNOWN;
        const ref = inputRef(taskInput);
        if (ref.kind === 'asset') {
            if (kind !== K.ASSET_MODEL) {
                throw unimplemented(`invalid task input "${identifier}": invalid asset kind`);
            }
            const model = await this.#services.models.getModel(ref.key);
            if (!canProcess(model.permissions, worker)) {
                throw permissionDenied(`not authorized to process model "${model.key}"`);
            }
            return;
        }
        if (ref.kind === 'none') {
            throw invalid(`invalid task input "${identifier}": an asset or task output reference must be specified`);
        }
        const parent = await this.#tasks.findShared(ref.parentKey);
        if (parent === undefined) {
            throw invalid(`invalid task input "${identifier}": parent task key ${ref.parentKey} not found`);
        }
        const parentFunction = await this.#function(parent.function_key);
        const functionOutput = mapEntry(parentFunction.outputs, ref.output);
        if (functionOutput === undefined) {
            throw invalid(
                `invalid task input "${identifier}": parent task ${ref.parentKey}: function output not found: "${ref.output}"`,
            );
        }
        const outputKind = functionOutput.kind ?? K.ASSET_UNKNOWN;
        if (outputKind !== kind) {
            throw invalid(
                `invalid task input "${ref.output}": mismatching task input asset kinds: expecting ${assetKindName(kind)} but parent task output has kind ${assetKindName(outputKind)}`,
            );
        }
        if (functionOutput.multiple === true && declared.multiple !== true) {
            throw invalid(`invalid task input "${identifier}": multiple task output used as single task input`);
        }
        const parentOutput = mapEntry(parent.outputs, ref.output);
        if (parentOutput === undefined) {
            throw invalid(
                `invalid task input "${identifier}": parent task ${ref.parentKey}: output not found: "${ref.output}"`,
            );
        }
        if (!canProcess(parentOutput.permissions, worker)) {
            throw permissionDenied(
                `invalid task input "${identifier}": worker "${worker}" doesn't have permission to process output "${ref.output}" of task ${ref.parentKey}`,
            );
        }
    }
}

/** Stored copy of a request input, keeping exactly one branch of the oneof. */
function copyInput(input: Complete<orchestrator.IComputeTaskInput>): orchestrator.ComputeTaskInput {
    const ref = inputRef(input);
    const identifier = input.identifier;
    if (ref.kind === 'asset') {
        return orchestrator.ComputeTaskInput.create({ identifier, asset_key: ref.key });
    }
    if (ref.kind === 'parent') {
        return orchestrator.ComputeTaskInput.create({
            identifier,
            parent_task_output: { parent_task_key: ref.parentKey, output_identifier: ref.output },
        });
    }
    return orchestrator.ComputeTaskInput.create({ identifier });
}

/** §2.6.4 */
export function initialStatus(
    parents: readonly orchestrator.IComputeTask[],
    func: orchestrator.IFunction,
): orchestrator.ComputeTaskStatus {
    if (parents.some((p) => p.status === S.STATUS_FAILED || p.status === S.STATUS_CANCELED)) {
        return S.STATUS_CANCELED;
    }
    const F = orchestrator.FunctionStatus;
    switch (func.status) {
        case F.FUNCTION_STATUS_READY:
            return parents.every((p) => p.status === S.STATUS_DONE)
                ? S.STATUS_WAITING_FOR_EXECUTOR_SLOT
                : S.STATUS_WAITING_FOR_PARENT_TASKS;
        case F.FUNCTION_STATUS_WAITING:
            return S.STATUS_WAITING_FOR_BUILDER_SLOT;
        case F.FUNCTION_STATUS_BUILDING:
            return S.STATUS_BUILDING;
        case F.FUNCTION_STATUS_FAILED:
            return S.STATUS_FAILED;
        case F.FUNCTION_STATUS_CANCELED:
            return S.STATUS_CANCELED;
        default:
            return S.STATUS_UNKNOWN;
    }
}

/**
 * §2.6.8 without a data manager: `{private, [owner]}` folded with each parent's logs permission by the union
 * rule; a public union has no IDs, a private one has the distinct IDs in ascending order (§0.5).
 */
export function unionLogsPermission(
    owner: string,
    parents: readonly orchestrator.IComputeTask[],
): orchestrator.Permission {
    let permission = orchestrator.Permission.create({ public: false, authorized_ids: [owner] });
    for (const parent of parents) {
        permission = unionPermission(parent.logs_permission, permission);
    }
    return permission;
}

/** §2.6.12, output identifiers in ascending order. */
function validateOutputs(task: orchestrator.ComputeTask, func: orchestrator.Function): void {
    for (const [identifier, output] of sortedEntries(task.outputs)) {
        const declared = mapEntry(func.outputs, identifier);
        if (declared === undefined) {
            throw invalid(
                `invalid task ${task.key}, unknown task output: this identifier was not declared in the Function: "${identifier}"`,
            );
        }
        if (declared.kind === K.ASSET_PERFORMANCE && output.permissions?.process?.public !== true) {
            throw invalid(
                `invalid task ${task.key}, invalid task output "${identifier}": a PERFORMANCE output should be public`,
            );
        }
        if (declared.kind === K.ASSET_PERFORMANCE && output.transient === true) {
            throw invalid(
                `invalid task ${task.key}, invalid task output "${identifier}": a PERFORMANCE output cannot be transient`,
            );
        }
    }
    for (const identifier of Object.keys(func.outputs).sort(compareStrings)) {
        if (mapEntry(task.outputs, identifier) === undefined) {
            throw invalid(
                `invalid task ${task.key}, missing task output: this identifier is required by the Function: "${identifier}"`,
            );
        }
    }
}
