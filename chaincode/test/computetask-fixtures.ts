/**
 * Fixtures shared by the compute plan / compute task tests: organizations, functions, data managers, samples
 * and models are seeded straight into committed state with the storage convention of design.md, so these
 * tests only depend on the task and plan services.
 */
import { orchestrator } from '@substra-fabric/api';
import { FakeStub } from './support/fake-stub';
import { newTestLedger, type TestLedger } from './support/ledger';

export const ORG1 = 'MyOrg1MSP';
export const ORG2 = 'MyOrg2MSP';
export const ORG3 = 'MyOrg3MSP';
export const UNREGISTERED = 'NotRegisteredMSP';

const S = orchestrator.ComputeTaskStatus;
export { S as Status };
export const K = orchestrator.AssetKind;
export const FS = orchestrator.FunctionStatus;

/** A canonical lower-case UUID derived from a number, e.g. key(1, 2) = 00000001-0000-0000-0000-000000000002. */
export function key(group: number, n = 0): string {
    return `${group.toString(16).padStart(8, '0')}-0000-0000-0000-${n.toString(16).padStart(12, '0')}`;
}

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

const compositeStub = new FakeStub(newTestLedger().world, {
    txId: 'x',
    timestamp: { seconds: 0, nanos: 0 },
    mspid: ORG1,
});

export function compositeKey(kind: string, attrs: readonly string[]): string {
    return compositeStub.createCompositeKey(kind, [...attrs]);
}

export function publicPermissions(): orchestrator.IPermissions {
    return { process: { public: true, authorized_ids: [] }, download: { public: true, authorized_ids: [] } };
}

export function privatePermissions(...ids: string[]): orchestrator.IPermissions {
    return { process: { public: false, authorized_ids: ids }, download: { public: false, authorized_ids: ids } };
}

export function seedOrganization(ledger: TestLedger, id: string): void {
    ledger.world.seed(
        compositeKey('organization', [id]),
        orchestrator.Organization.encode({ id, address: '' }).finish(),
    );
}

export function seedFunction(ledger: TestLedger, fn: orchestrator.IFunction): void {
    ledger.world.seed(compositeKey('function', [fn.key ?? '']), orchestrator.Function.encode(fn).finish());
}

export function seedDataManager(ledger: TestLedger, dm: orchestrator.IDataManager): void {
    ledger.world.seed(compositeKey('datamanager', [dm.key ?? '']), orchestrator.DataManager.encode(dm).finish());
}

export function seedDataSample(ledger: TestLedger, ds: orchestrator.IDataSample): void {
    ledger.world.seed(compositeKey('datasample', [ds.key ?? '']), orchestrator.DataSample.encode(ds).finish());
}

export function seedModel(ledger: TestLedger, model: orchestrator.IModel): void {
    ledger.world.seed(compositeKey('model', [model.key ?? '']), orchestrator.Model.encode(model).finish());
}

export function readModel(ledger: TestLedger, modelKey: string): orchestrator.Model {
    const bytes = ledger.get(compositeKey('model', [modelKey]));
    if (bytes === undefined) {
        throw new Error(`no model ${modelKey}`);
    }
    return orchestrator.Model.decode(bytes);
}

export const ADDRESS: orchestrator.IAddressable = {
    checksum: 'a'.repeat(64),
    storage_address: 'https://org.example/model',
};

export function assetInput(identifier: string, assetKey: string): orchestrator.IComputeTaskInput {
    return { identifier, asset_key: assetKey };
}

export function parentInput(identifier: string, parent: string, output: string): orchestrator.IComputeTaskInput {
    return { identifier, parent_task_output: { parent_task_key: parent, output_identifier: output } };
}

export function output(
    options: { public?: boolean; ids?: string[]; transient?: boolean } = {},
): orchestrator.INewComputeTaskOutput {
    return {
        permissions: { public: options.public ?? false, authorized_ids: options.ids ?? [] },
        transient: options.transient ?? false,
    };
}

/** A task of the plain function (one optional multiple MODEL input `models`, one MODEL output `model`). */
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

/**
 * A ledger with ORG1..ORG3 registered, plan PLAN owned by ORG1 (PLAN2 by ORG2), READY functions FN_TRAIN
 * (opener + datasamples + optional model → model), FN_AGG (models multiple → model), FN_TEST (model + opener +
 * datasamples → performance), FN_PLAIN (optional multiple models → model), data managers DM1 (ORG1) and DM2
 * (ORG2) with samples DS1, DS2 (DM1) and DS_OTHER (DM2).
 */
export async function newTaskLedger(): Promise<TestLedger> {
    const ledger = newTestLedger();
    await seedTaskWorld(ledger);
    return ledger;
}

/** Seeds the assets and plans of newTaskLedger into `ledger` (the plans through two committed transactions). */
export async function seedTaskWorld(ledger: TestLedger): Promise<void> {
    for (const org of [ORG1, ORG2, ORG3]) {
        seedOrganization(ledger, org);
    }
    const base = { owner: ORG1, permissions: publicPermissions(), status: FS.FUNCTION_STATUS_READY, name: 'f' };
    seedFunction(ledger, {
        ...base,
        key: FN_TRAIN,
        inputs: {
            opener: { kind: K.ASSET_DATA_MANAGER },
            datasamples: { kind: K.ASSET_DATA_SAMPLE, multiple: true },
            model: { kind: K.ASSET_MODEL, optional: true },
        },
        outputs: { model: { kind: K.ASSET_MODEL } },
    });
    seedFunction(ledger, {
        ...base,
        key: FN_AGG,
        inputs: { models: { kind: K.ASSET_MODEL, multiple: true } },
        outputs: { model: { kind: K.ASSET_MODEL } },
    });
    seedFunction(ledger, {
        ...base,
        key: FN_TEST,
        inputs: {
            model: { kind: K.ASSET_MODEL },
            opener: { kind: K.ASSET_DATA_MANAGER },
            datasamples: { kind: K.ASSET_DATA_SAMPLE, multiple: true },
        },
        outputs: { performance: { kind: K.ASSET_PERFORMANCE } },
    });
    seedFunction(ledger, {
        ...base,
        key: FN_PLAIN,
        inputs: { models: { kind: K.ASSET_MODEL, multiple: true, optional: true } },
        outputs: { model: { kind: K.ASSET_MODEL } },
    });
    seedDataManager(ledger, {
        key: DM1,
        owner: ORG1,
        permissions: publicPermissions(),
        logs_permission: { public: false, authorized_ids: [ORG1, ORG3] },
    });
    seedDataManager(ledger, {
        key: DM2,
        owner: ORG2,
        permissions: privatePermissions(ORG2),
        logs_permission: { public: false, authorized_ids: [ORG2] },
    });
    seedDataSample(ledger, { key: DS1, owner: ORG1, data_manager_keys: [DM1] });
    seedDataSample(ledger, { key: DS2, owner: ORG1, data_manager_keys: [DM1] });
    seedDataSample(ledger, { key: DS_OTHER, owner: ORG2, data_manager_keys: [DM2] });
    await ledger.invoke(ORG1, (s) => s.computePlans.registerPlan({ key: PLAN, name: 'plan one' }));
    await ledger.invoke(ORG2, (s) => s.computePlans.registerPlan({ key: PLAN2, name: 'plan two' }));
}

export async function register(ledger: TestLedger, tasks: orchestrator.INewComputeTask[], mspid = ORG1) {
    return ledger.invoke(mspid, (s) => s.computeTasks.registerTasks({ tasks }));
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
) {
    return ledger.invoke(mspid, (s) => s.computeTasks.applyTaskAction({ compute_task_key: taskKey, action, log }));
}

/** Number of committed keys: a failed call must leave it unchanged. */
export function stateSize(ledger: TestLedger): number {
    return ledger.world.size;
}

/** Moves a task (registered WAITING_FOR_EXECUTOR_SLOT) to DONE through its worker. */
export async function runToDone(ledger: TestLedger, taskKey: string, worker = ORG1): Promise<void> {
    await act(ledger, worker, taskKey, orchestrator.ComputeTaskAction.TASK_ACTION_EXECUTING);
    await act(ledger, worker, taskKey, orchestrator.ComputeTaskAction.TASK_ACTION_DONE);
}
