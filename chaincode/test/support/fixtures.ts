/**
 * The chaincode tests' one fixtures module. Every asset is built through the services' public API
 * (organizations, functions and their build actions, data managers, samples, plans, tasks, task actions,
 * models), so what a test reads is exactly what the services store. A test that needs a state the API
 * cannot reach (a corrupted or impossible record) writes it explicitly, next to its assertions and with a
 * comment saying why, through the raw-write helpers at the end of this file (or its own raw store call).
 *
 *     const ledger = await newTaskLedger();                // ORG1..ORG3, functions, data, PLAN and PLAN2
 *     await register(ledger, [plainTask(key(1)), trainTask(key(2))]);
 *     await runToDone(ledger, key(1));
 *     await expectRejected(ledger, ORG1, (s) => s.computePlans.registerPlan({ key: PLAN }), /^OE0006: /);
 */
import { expect } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import type { TxContext } from '../../src/service/context';
import type { Services } from '../../src/service/provider';
import { FakeStub, FakeWorldState } from './fake-stub';
import { complete } from './messages';
import { newTestLedger, type InvokeResult, type TestLedger, type TxOptions } from './ledger';

// ---------------------------------------------------------------------------------------------------------
// Enums, organizations and keys

export const K = orchestrator.AssetKind;
export const E = orchestrator.EventKind;
export const S = orchestrator.ComputeTaskStatus;
export const A = orchestrator.ComputeTaskAction;
export const FS = orchestrator.FunctionStatus;
export const FA = orchestrator.FunctionAction;
export const ET = orchestrator.ErrorType;
export const FAK = orchestrator.FailedAssetKind;

export const ORG1 = 'MyOrg1MSP';
export const ORG2 = 'MyOrg2MSP';
export const ORG3 = 'MyOrg3MSP';
export const UNREGISTERED = 'NotRegisteredMSP';

/** A canonical lower-case UUID derived from numbers, e.g. key(0xb, 2) = 0000000b-0000-4000-8000-000000000002. */
export function key(group: number, n = 0): string {
    return `${group.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export const KEY1 = '11111111-1111-4111-8111-111111111111';
export const KEY2 = '22222222-2222-4222-8222-222222222222';
export const KEY3 = '33333333-3333-4333-8333-333333333333';
export const KEY4 = '44444444-4444-4444-8444-444444444444';
export const KEY5 = '55555555-5555-4555-8555-555555555555';

const keyStub = new FakeStub(new FakeWorldState(), { txId: 'x', timestamp: { seconds: 0, nanos: 0 }, mspid: ORG1 });

/** The state key of an asset or index record (design.md, storage conventions), to inspect committed state. */
export function compositeKey(kind: string, attrs: readonly string[]): string {
    return keyStub.createCompositeKey(kind, [...attrs]);
}

// ---------------------------------------------------------------------------------------------------------
// Addresses and permissions

export const CHECKSUM = 'f'.repeat(64);
export const STORAGE_ADDRESS = 'http://backend-org-1.com:8000/api/file/';

export function addressable(storage = STORAGE_ADDRESS, checksum = CHECKSUM): orchestrator.IAddressable {
    return { checksum, storage_address: storage };
}

/** The n-th model address. */
export function address(n = 1): orchestrator.IAddressable {
    return addressable(`https://backend-org-2.example/model/${n}`);
}

export function publicPermissions(): orchestrator.IPermissions {
    return { process: { public: true, authorized_ids: [] }, download: { public: true, authorized_ids: [] } };
}

export function privatePermissions(...ids: string[]): orchestrator.IPermissions {
    return { process: { public: false, authorized_ids: ids }, download: { public: false, authorized_ids: ids } };
}

// ---------------------------------------------------------------------------------------------------------
// Organizations

/** A fresh ledger after `build`. */
async function newLedgerWith(build: (ledger: TestLedger) => Promise<void>): Promise<TestLedger> {
    const ledger = newTestLedger();
    await build(ledger);
    return ledger;
}

/** A fresh ledger where `orgs` are registered. */
export async function newOrgsLedger(...orgs: string[]): Promise<TestLedger> {
    return newLedgerWith((ledger) => registerOrganizations(ledger, ...orgs));
}

export async function registerOrganizations(ledger: TestLedger, ...orgs: string[]): Promise<void> {
    for (const org of orgs) {
        await ledger.invoke(org, (s) => s.organizations.registerOrganization({ address: '' }));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Functions

/** A private function (optional multiple MODEL input `model`, MODEL output `model`); `overrides` win. */
export function newFunction(fnKey: string, overrides: orchestrator.INewFunction = {}): orchestrator.INewFunction {
    return {
        key: fnKey,
        name: 'my function',
        description: addressable(),
        archive: addressable(),
        new_permissions: { public: false, authorized_ids: [] },
        metadata: { a: 'b' },
        inputs: { model: { kind: K.ASSET_MODEL, multiple: true, optional: true } },
        outputs: { model: { kind: K.ASSET_MODEL } },
        ...overrides,
    };
}

/** A public function with the given inputs and outputs (none unless given). */
export function publicFunction(
    fnKey: string,
    io: Pick<orchestrator.INewFunction, 'inputs' | 'outputs' | 'name'> = {},
): orchestrator.INewFunction {
    return newFunction(fnKey, {
        new_permissions: { public: true, authorized_ids: [] },
        metadata: undefined,
        inputs: {},
        outputs: {},
        ...io,
        name: io.name ?? 'f',
    });
}

const BUILD_ACTIONS: Partial<Record<orchestrator.FunctionStatus, orchestrator.FunctionAction[]>> = {
    [FS.FUNCTION_STATUS_WAITING]: [],
    [FS.FUNCTION_STATUS_BUILDING]: [FA.FUNCTION_ACTION_BUILDING],
    [FS.FUNCTION_STATUS_READY]: [FA.FUNCTION_ACTION_BUILDING, FA.FUNCTION_ACTION_READY],
    [FS.FUNCTION_STATUS_FAILED]: [FA.FUNCTION_ACTION_BUILDING, FA.FUNCTION_ACTION_FAILED],
    [FS.FUNCTION_STATUS_CANCELED]: [FA.FUNCTION_ACTION_CANCELED],
};

/** Brings the function `fnKey` from WAITING to `status` with the build actions of `owner`. */
export async function applyBuildActions(
    ledger: TestLedger,
    fnKey: string,
    status: orchestrator.FunctionStatus,
    owner = ORG1,
): Promise<void> {
    const actions = BUILD_ACTIONS[status];
    if (actions === undefined) {
        throw new Error(`no build actions lead to function status ${FS[status]}`);
    }
    for (const action of actions) {
        await ledger.invoke(owner, (s) => s.functions.applyFunctionAction({ function_key: fnKey, action }));
    }
}

/** Registers `fn` as `owner` and brings it to `status` with the owner's build actions. */
export async function registerFunction(
    ledger: TestLedger,
    fn: orchestrator.INewFunction,
    status: orchestrator.FunctionStatus = FS.FUNCTION_STATUS_READY,
    owner = ORG1,
): Promise<void> {
    await ledger.invoke(owner, (s) => s.functions.registerFunction(complete(orchestrator.NewFunction, fn)));
    await applyBuildActions(ledger, fn.key ?? '', status, owner);
}

// ---------------------------------------------------------------------------------------------------------
// Data managers and samples

export function newDataManager(
    dmKey: string,
    overrides: orchestrator.INewDataManager = {},
): orchestrator.INewDataManager {
    return {
        key: dmKey,
        name: 'my manager',
        new_permissions: { public: true, authorized_ids: [] },
        description: addressable(),
        opener: addressable(),
        type: 'ignored',
        logs_permission: { public: false, authorized_ids: [] },
        metadata: { m: 'v' },
        ...overrides,
    };
}

export async function registerDataManager(
    ledger: TestLedger,
    owner: string,
    dm: orchestrator.INewDataManager,
): Promise<void> {
    await ledger.invoke(owner, (s) => s.dataManagers.registerDataManager(complete(orchestrator.NewDataManager, dm)));
}

/** Registers samples of `managerKeys` as `owner` (who must own the managers). */
export async function registerDataSamples(
    ledger: TestLedger,
    owner: string,
    managerKeys: readonly string[],
    ...sampleKeys: string[]
): Promise<void> {
    const samples = sampleKeys.map((k) => ({ key: k, data_manager_keys: [...managerKeys], checksum: CHECKSUM }));
    await ledger.invoke(owner, (s) =>
        s.dataSamples.registerDataSamples(complete(orchestrator.RegisterDataSamplesParam, { samples })),
    );
}

// ---------------------------------------------------------------------------------------------------------
// The task world: plans, functions and data of the compute task tests

export const PLAN = key(0xa, 1);
export const PLAN2 = key(0xa, 2);
export const FN_TRAIN = key(0xf, 1);
export const FN_AGG = key(0xf, 2);
export const FN_TEST = key(0xf, 3);
export const FN_PLAIN = key(0xf, 4);
export const DM1 = key(0xd, 1);
export const DM2 = key(0xd, 2);
export const DS1 = key(0xe, 1);
export const DS2 = key(0xe, 2);
export const DS_OTHER = key(0xe, 3);

/** The inputs and outputs of FN_PLAIN: one optional multiple MODEL input `models`, one MODEL output `model`. */
export function plainFunction(fnKey: string, name?: string): orchestrator.INewFunction {
    return publicFunction(fnKey, {
        name,
        inputs: { models: { kind: K.ASSET_MODEL, multiple: true, optional: true } },
        outputs: { model: { kind: K.ASSET_MODEL } },
    });
}

/** The inputs and outputs of FN_AGG: one multiple MODEL input `models`, one MODEL output `model`. */
export function aggregateFunction(fnKey: string): orchestrator.INewFunction {
    return publicFunction(fnKey, {
        inputs: { models: { kind: K.ASSET_MODEL, multiple: true } },
        outputs: { model: { kind: K.ASSET_MODEL } },
    });
}

/**
 * A ledger with ORG1..ORG3 registered, plan PLAN owned by ORG1 (PLAN2 by ORG2), READY functions of ORG1
 * FN_TRAIN (opener + datasamples + optional model → model), FN_AGG (models multiple → model), FN_TEST (model +
 * opener + datasamples → performance), FN_PLAIN (optional multiple models → model), data managers DM1 (ORG1,
 * public, logs for ORG1 and ORG3) and DM2 (ORG2, private) with samples DS1, DS2 (DM1) and DS_OTHER (DM2).
 */
export async function newTaskLedger(): Promise<TestLedger> {
    return newLedgerWith(buildTaskWorld);
}

/** Builds the assets and plans of newTaskLedger in `ledger`. */
export async function buildTaskWorld(ledger: TestLedger): Promise<void> {
    await registerOrganizations(ledger, ORG1, ORG2, ORG3);
    await registerFunction(
        ledger,
        publicFunction(FN_TRAIN, {
            inputs: {
                opener: { kind: K.ASSET_DATA_MANAGER },
                datasamples: { kind: K.ASSET_DATA_SAMPLE, multiple: true },
                model: { kind: K.ASSET_MODEL, optional: true },
            },
            outputs: { model: { kind: K.ASSET_MODEL } },
        }),
    );
    await registerFunction(ledger, aggregateFunction(FN_AGG));
    await registerFunction(
        ledger,
        publicFunction(FN_TEST, {
            inputs: {
                model: { kind: K.ASSET_MODEL },
                opener: { kind: K.ASSET_DATA_MANAGER },
                datasamples: { kind: K.ASSET_DATA_SAMPLE, multiple: true },
            },
            outputs: { performance: { kind: K.ASSET_PERFORMANCE } },
        }),
    );
    await registerFunction(ledger, plainFunction(FN_PLAIN));
    await registerDataManager(
        ledger,
        ORG1,
        newDataManager(DM1, { logs_permission: { public: false, authorized_ids: [ORG1, ORG3] } }),
    );
    await registerDataManager(
        ledger,
        ORG2,
        newDataManager(DM2, { new_permissions: { public: false, authorized_ids: [] } }),
    );
    await registerDataSamples(ledger, ORG1, [DM1], DS1, DS2);
    await registerDataSamples(ledger, ORG2, [DM2], DS_OTHER);
    await ledger.invoke(ORG1, (s) =>
        s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN, name: 'plan one' })),
    );
    await ledger.invoke(ORG2, (s) =>
        s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN2, name: 'plan two' })),
    );
}

// ---------------------------------------------------------------------------------------------------------
// Tasks

export function assetInput(identifier: string, assetKey: string): orchestrator.IComputeTaskInput {
    return { identifier, asset_key: assetKey };
}

export function parentInput(identifier: string, parent: string, outputId: string): orchestrator.IComputeTaskInput {
    return { identifier, parent_task_output: { parent_task_key: parent, output_identifier: outputId } };
}

export function output(
    options: { public?: boolean; ids?: string[]; transient?: boolean } = {},
): orchestrator.INewComputeTaskOutput {
    return {
        permissions: { public: options.public ?? false, authorized_ids: options.ids ?? [] },
        transient: options.transient ?? false,
    };
}

/** A task of FN_PLAIN in PLAN run by ORG1, its parents' `model` outputs as `models` inputs. */
export function plainTask(
    taskKey: string,
    parents: readonly string[] = [],
    extra: Partial<orchestrator.INewComputeTask> = {},
): orchestrator.INewComputeTask {
    return {
        key: taskKey,
        function_key: FN_PLAIN,
        compute_plan_key: PLAN,
        worker: ORG1,
        inputs: parents.map((p) => parentInput('models', p, 'model')),
        outputs: { model: output() },
        ...extra,
    };
}

/** A training task on DM1 with DS1 (worker ORG1 inferred from the data manager). */
export function trainTask(
    taskKey: string,
    extra: Partial<orchestrator.INewComputeTask> = {},
): orchestrator.INewComputeTask {
    return {
        key: taskKey,
        function_key: FN_TRAIN,
        compute_plan_key: PLAN,
        inputs: [assetInput('opener', DM1), assetInput('datasamples', DS1)],
        outputs: { model: output() },
        ...extra,
    };
}

export async function register(
    ledger: TestLedger,
    tasks: orchestrator.INewComputeTask[],
    mspid = ORG1,
): Promise<InvokeResult<orchestrator.RegisterTasksResponse>> {
    return ledger.invoke(mspid, (s) =>
        s.computeTasks.registerTasks(complete(orchestrator.RegisterTasksParam, { tasks })),
    );
}

export async function getTask(ledger: TestLedger, taskKey: string): Promise<orchestrator.ComputeTask> {
    return (await ledger.evaluate(ORG1, (s) => s.computeTasks.getTask(taskKey))).result;
}

export async function act(
    ledger: TestLedger,
    mspid: string,
    taskKey: string,
    action: orchestrator.ComputeTaskAction,
    log = '',
    options?: TxOptions,
): Promise<InvokeResult<orchestrator.ApplyTaskActionResponse>> {
    return ledger.invoke(
        mspid,
        (s) => s.computeTasks.applyTaskAction({ compute_task_key: taskKey, action, log }),
        options,
    );
}

/** Moves a task (registered WAITING_FOR_EXECUTOR_SLOT) to DONE through its worker. */
export async function runToDone(ledger: TestLedger, taskKey: string, worker = ORG1): Promise<void> {
    await act(ledger, worker, taskKey, A.TASK_ACTION_EXECUTING);
    await act(ledger, worker, taskKey, A.TASK_ACTION_DONE);
}

/** The committed model `modelKey`. */
export async function getModel(ledger: TestLedger, modelKey: string): Promise<orchestrator.Model> {
    return (await ledger.evaluate(ORG1, (s) => s.models.getModel(modelKey))).result;
}

// ---------------------------------------------------------------------------------------------------------
// The outputs world: one function with outputs of every kind (models, performance, failure reports)

/** Tasks of the outputs world. */
export const T1 = key(0x7, 1);
export const T2 = key(0x7, 2);
export const T3 = key(0x7, 3);

/** READY function of ORG1: outputs `model` (MODEL), `models` (MODEL, multiple), `perf` (PERFORMANCE), `raw` (ASSET_UNKNOWN). */
export const FN = key(0xf, 1);

/** Output permissions given at task registration: private, for ORG3 and the worker ORG2 (the owner ORG1 is appended). */
const SHARED_OUTPUT: orchestrator.INewComputeTaskOutput = {
    permissions: { public: false, authorized_ids: [ORG3, ORG2] },
    transient: true,
};
const PUBLIC_OUTPUT: orchestrator.INewComputeTaskOutput = { permissions: { public: true, authorized_ids: [] } };

/** The function FN (see above) under `fnKey`. */
export function outputsFunction(fnKey: string): orchestrator.INewFunction {
    return publicFunction(fnKey, {
        name: 'trainer',
        inputs: { models: { kind: K.ASSET_MODEL, multiple: true, optional: true } },
        outputs: {
            model: { kind: K.ASSET_MODEL },
            models: { kind: K.ASSET_MODEL, multiple: true },
            perf: { kind: K.ASSET_PERFORMANCE },
            raw: { kind: K.ASSET_UNKNOWN },
        },
    });
}

/** A task of `functionKey` (FN) in PLAN, registered by ORG1, run by `worker` (ORG2), with every output of FN. */
export function newTask(
    taskKey: string,
    options: { functionKey?: string; worker?: string; parents?: readonly string[] } = {},
): orchestrator.INewComputeTask {
    return {
        key: taskKey,
        function_key: options.functionKey ?? FN,
        compute_plan_key: PLAN,
        worker: options.worker ?? ORG2,
        inputs: (options.parents ?? []).map((parent) => parentInput('models', parent, 'model')),
        outputs: { model: SHARED_OUTPUT, models: SHARED_OUTPUT, perf: PUBLIC_OUTPUT, raw: SHARED_OUTPUT },
    };
}

/** ORG1..ORG3 registered, the READY function FN and the plan PLAN, all owned by ORG1. */
export async function newOutputsLedger(): Promise<TestLedger> {
    return newLedgerWith(buildOutputsWorld);
}

/** Builds the assets and plan of newOutputsLedger in `ledger`. */
export async function buildOutputsWorld(ledger: TestLedger): Promise<void> {
    await registerOrganizations(ledger, ORG1, ORG2, ORG3);
    await registerFunction(ledger, outputsFunction(FN));
    await ledger.invoke(ORG1, (s) =>
        s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN, name: 'plan' })),
    );
}

/** newOutputsLedger with T1 EXECUTING on ORG2. */
export async function newExecutingTaskLedger(): Promise<TestLedger> {
    const ledger = await newOutputsLedger();
    await executingTask(ledger, T1);
    return ledger;
}

/** Registers a task of FN (worker ORG2) and moves it to EXECUTING. */
export async function executingTask(
    ledger: TestLedger,
    taskKey: string,
    options: { worker?: string; parents?: readonly string[] } = {},
): Promise<void> {
    await register(ledger, [newTask(taskKey, options)]);
    await act(ledger, options.worker ?? ORG2, taskKey, A.TASK_ACTION_EXECUTING);
}

/** A new model of output `identifier` of `task` (T1, the EXECUTING task of newExecutingTaskLedger). */
export function newModel(modelKey: string, identifier = 'model', task = T1): orchestrator.INewModel {
    return { key: modelKey, compute_task_key: task, compute_task_output_identifier: identifier, address: address() };
}

/** RegisterModels as `mspid` (the worker ORG2 of the outputs world by default). */
export async function registerModels(
    ledger: TestLedger,
    models: orchestrator.INewModel[],
    mspid = ORG2,
): Promise<InvokeResult<orchestrator.RegisterModelsResponse>> {
    return ledger.invoke(mspid, (s) => s.models.registerModels(complete(orchestrator.RegisterModelsParam, { models })));
}

// ---------------------------------------------------------------------------------------------------------
// Assertions

/**
 * Runs `fn` as a submitted transaction that must fail with a message matching `pattern`, and checks that the
 * committed state (keys and values) did not change and no transaction was recorded (behavior-assets §1.2
 * rule 1: nothing persisted, no event).
 */
export async function expectRejected(
    ledger: TestLedger,
    mspid: string,
    fn: (services: Services, ctx: TxContext) => Promise<unknown>,
    pattern: RegExp | string,
): Promise<void> {
    const before = ledger.world.keys().map((k) => [k, ledger.get(k)]);
    const committed = ledger.world.transactions.length;
    await expect(ledger.invoke(mspid, fn)).rejects.toThrow(pattern);
    expect(ledger.world.keys().map((k) => [k, ledger.get(k)])).toEqual(before);
    expect(ledger.world.transactions.length).toBe(committed);
}

/** A RegisterTasks call that must fail with `pattern` and leave committed state unchanged. */
export async function expectTasksRefused(
    ledger: TestLedger,
    tasks: orchestrator.INewComputeTask[],
    pattern: RegExp | string,
    mspid = ORG1,
): Promise<void> {
    await expectRejected(
        ledger,
        mspid,
        (s) => s.computeTasks.registerTasks(complete(orchestrator.RegisterTasksParam, { tasks })),
        pattern,
    );
}

/** Number of committed keys: a failed call must leave it unchanged. */
export function stateSize(ledger: TestLedger): number {
    return ledger.world.size;
}

/** `(asset_kind, event_kind, asset_key)` of each event, for order assertions. */
export function eventSummary(events: readonly orchestrator.IEvent[]): [string, string, string][] {
    return events.map((event) => [
        K[event.asset_kind ?? 0] ?? '?',
        E[event.event_kind ?? 0] ?? '?',
        event.asset_key ?? '',
    ]);
}

/** The JSON form of a message given through its interface type (event payloads are typed as interfaces). */
export function asJson<T>(
    cls: { create(properties?: T): { toJSON(): Record<string, unknown> } },
    value: T | null | undefined,
): Record<string, unknown> | undefined {
    return value == null ? undefined : cls.create(value).toJSON();
}

// ---------------------------------------------------------------------------------------------------------
// Raw writes: only for states the API cannot reach (corrupted records, models without their task, a
// service's stored half of an RPC when a test isolates the other half). Committed outside any transaction:
// no event, no index record, no transaction count.

/** Overwrites the committed function `fnKey` with `changes` (e.g. a status or inputs no build action gives). */
export function overwriteFunction(ledger: TestLedger, fnKey: string, changes: orchestrator.IFunction): void {
    const stored = ledger.get(compositeKey('function', [fnKey]));
    if (stored === undefined) {
        throw new Error(`no function ${fnKey}`);
    }
    const func = Object.assign(orchestrator.Function.decode(stored), changes);
    ledger.world.seed(compositeKey('function', [fnKey]), orchestrator.Function.encode(func).finish());
}

/** Writes a model record as is, with no check against its task. */
export function writeRawModel(ledger: TestLedger, model: orchestrator.IModel): void {
    ledger.world.seed(compositeKey('model', [model.key ?? '']), orchestrator.Model.encode(model).finish());
}
