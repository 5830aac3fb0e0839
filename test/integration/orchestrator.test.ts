// End to end through the gateway process and a real Fabric network, as Substra backends use the API (distributed.md §6): two
// organizations on both channels, the full life of a compute plan, events, error codes, and the coverage of the
// 40 RPCs. The tests of this file run in order and build on each other's state.

import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { RPCS, orchestrator } from '@substra-fabric/api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type GatewayProcess, startGatewayProcess } from '@substra-fabric/network';
import { expectContentionGoal, updateOnePlanConcurrently } from './support/contention';
import { type EventSubscription, OrgClient, calledRpcs, closeClients, expectGrpcError, grpc } from './support/client';

const { AssetKind, EventKind, ComputeTaskStatus: S, ComputeTaskAction: TA, FunctionStatus: FS } = orchestrator;
const ORG1 = 'MyOrg1MSP';
const ORG2 = 'MyOrg2MSP';
const MY = 'mychannel';
const YOUR = 'yourchannel';

const network = inject('network');
const o1 = new OrgClient(network.address, ORG1, MY);
const o2 = new OrgClient(network.address, ORG2, MY);

const key = (): string => randomUUID();
const checksum = (s: string): string => createHash('sha256').update(s).digest('hex');
const addressable = (name: string) => ({ checksum: checksum(name), storage_address: `http://backend-org.com/${name}` });
const both = { public: false, authorized_ids: [ORG1, ORG2] };
const everyone = { public: true, authorized_ids: [] };
const out = (transient = false, permissions = both) => ({ permissions, transient });
const input = (identifier: string, asset_key: string) => ({ identifier, asset_key });
const parent = (identifier: string, parent_task_key: string, output_identifier: string) => ({
    identifier,
    parent_task_output: { parent_task_key, output_identifier },
});

type Task = orchestrator.IComputeTask;
type Fn = orchestrator.IFunction;
type Ev = orchestrator.IEvent;

const K = {
    // functions
    train: key(),
    predict: key(),
    metric: key(),
    aggregate: key(),
    composite: key(),
    broken: key(),
    // data
    dm: key(),
    dm2: key(),
    s1: key(),
    s2: key(),
    s3: key(),
    // plans
    plan: key(),
    failPlan: key(),
    buildFailPlan: key(),
    cancelPlan: key(),
    // tasks of the plan
    train1: key(),
    predict1: key(),
    test1: key(),
    composite1: key(),
    aggregate1: key(),
    // other tasks
    failing: key(),
    failingChild: key(),
    brokenTask: key(),
    canceledPlanTask: key(),
    // models
    mTrain: key(),
    mLocal: key(),
    mShared: key(),
    mAgg: key(),
    mPred: key(),
};

const fnInputs = {
    train: {
        datasamples: { kind: AssetKind.ASSET_DATA_SAMPLE, multiple: true, optional: false },
        opener: { kind: AssetKind.ASSET_DATA_MANAGER, multiple: false, optional: false },
        models: { kind: AssetKind.ASSET_MODEL, multiple: true, optional: true },
    },
    predict: {
        datasamples: { kind: AssetKind.ASSET_DATA_SAMPLE, multiple: true, optional: false },
        opener: { kind: AssetKind.ASSET_DATA_MANAGER, multiple: false, optional: false },
        models: { kind: AssetKind.ASSET_MODEL, multiple: false, optional: false },
    },
    metric: {
        datasamples: { kind: AssetKind.ASSET_DATA_SAMPLE, multiple: true, optional: false },
        opener: { kind: AssetKind.ASSET_DATA_MANAGER, multiple: false, optional: false },
        predictions: { kind: AssetKind.ASSET_MODEL, multiple: false, optional: false },
    },
    aggregate: { models: { kind: AssetKind.ASSET_MODEL, multiple: true, optional: false } },
    composite: {
        datasamples: { kind: AssetKind.ASSET_DATA_SAMPLE, multiple: true, optional: false },
        opener: { kind: AssetKind.ASSET_DATA_MANAGER, multiple: false, optional: false },
        local: { kind: AssetKind.ASSET_MODEL, multiple: false, optional: true },
        shared: { kind: AssetKind.ASSET_MODEL, multiple: false, optional: true },
    },
};
const fnOutputs = {
    train: { model: { kind: AssetKind.ASSET_MODEL, multiple: false } },
    predict: { predictions: { kind: AssetKind.ASSET_MODEL, multiple: false } },
    metric: { performance: { kind: AssetKind.ASSET_PERFORMANCE, multiple: false } },
    aggregate: { model: { kind: AssetKind.ASSET_MODEL, multiple: false } },
    composite: {
        local: { kind: AssetKind.ASSET_MODEL, multiple: false },
        shared: { kind: AssetKind.ASSET_MODEL, multiple: false },
    },
};

function newFunction(k: string, name: keyof typeof fnInputs) {
    return {
        key: k,
        name: `${name} function`,
        description: addressable(`${name}/description.md`),
        archive: addressable(`${name}/archive.tar.gz`),
        new_permissions: everyone,
        metadata: { framework: 'torch' },
        inputs: fnInputs[name],
        outputs: fnOutputs[name],
    };
}

const getTask = (c: OrgClient, k: string) => c.call<Task>('ComputeTaskService/GetTask', { key: k });
const act = (c: OrgClient, k: string, action: orchestrator.ComputeTaskAction, log = '') =>
    c.call('ComputeTaskService/ApplyTaskAction', { compute_task_key: k, action, log });

/** All events of the caller's channel, ascending, through every page. */
async function allEvents(c: OrgClient, filter: object = {}, pageSize = 0): Promise<Ev[]> {
    const events: Ev[] = [];
    let token = '';
    for (;;) {
        const page = await c.call<orchestrator.IQueryEventsResponse>('EventService/QueryEvents', {
            page_token: token,
            page_size: pageSize,
            filter,
        });
        events.push(...(page.events ?? []));
        token = page.next_page_token ?? '';
        if (!token || (page.events ?? []).length === 0) return events;
    }
}

/** Polls `read` until `done` holds on its result (QueryEvents answers from the gateway's index, which follows the chain). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await read();
        if (done(value) || Date.now() > deadline) return value;
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** Writes a marker event on the caller's channel and waits until the gateway has indexed it (and all before it). */
async function settled(c: OrgClient): Promise<Ev> {
    const marker = key();
    await c.call('ProfilingService/RegisterProfilingStep', { asset_key: marker, step: 'marker', duration: 1 });
    const found = await eventually(
        () => allEvents(c, { asset_key: marker }),
        (events) => events.length > 0,
    );
    if (!found[0]) throw new Error('marker event not indexed');
    return found[0];
}

/** Four sibling parents finish at the same time (o2 is their worker): their child is released exactly once. */
async function parentsFinishTogether(o1: OrgClient, o2: OrgClient): Promise<void> {
    const plan = key();
    await o1.call('ComputePlanService/RegisterPlan', { key: plan, name: 'concurrent plan' });
    const parents = [key(), key(), key(), key()];
    const child = key();
    await o1.call('ComputeTaskService/RegisterTasks', {
        tasks: [
            ...parents.map((k) => ({
                key: k,
                function_key: K.train,
                compute_plan_key: plan,
                inputs: [input('datasamples', K.s1), input('opener', K.dm)],
                outputs: { model: out() },
            })),
            {
                key: child,
                function_key: K.aggregate,
                compute_plan_key: plan,
                worker: ORG1,
                inputs: parents.map((p) => parent('models', p, 'model')),
                outputs: { model: out() },
            },
        ],
    });
    await Promise.all(parents.map((k) => act(o2, k, TA.TASK_ACTION_EXECUTING)));
    await Promise.all(
        parents.map((k) =>
            o2.call('ModelService/RegisterModels', {
                models: [
                    {
                        key: key(),
                        compute_task_key: k,
                        compute_task_output_identifier: 'model',
                        address: addressable(`models/${k}`),
                    },
                ],
            }),
        ),
    );
    await Promise.all(parents.map((k) => act(o2, k, TA.TASK_ACTION_DONE)));
    expect((await getTask(o1, child)).status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
    const released = await eventually(
        () => allEvents(o1, { asset_key: child, event_kind: EventKind.EVENT_ASSET_UPDATED }),
        (events) => events.length > 0,
    );
    expect(released.map((e) => e.compute_task?.status)).toEqual([S.STATUS_WAITING_FOR_EXECUTOR_SLOT]);
    const assets = await o1.call<orchestrator.IGetTaskInputAssetsResponse>('ComputeTaskService/GetTaskInputAssets', {
        compute_task_key: child,
    });
    expect(assets.assets).toHaveLength(4);
}

let stream: EventSubscription;

beforeAll(() => {
    // The other organization follows the channel from the first event on, as a backend's event reactor does.
    stream = o2.subscribe('');
});

afterAll(() => {
    stream.cancel();
    closeClients();
});

describe('organizations and info', () => {
    it('QueryVersion answers the gateway and chaincode versions', async () => {
        const v = await o1.call<orchestrator.IQueryVersionResponse>('InfoService/QueryVersion');
        expect(v.orchestrator).not.toBe('');
        expect(v.chaincode).not.toBe('');
    });

    it('RegisterOrganization registers each org once, then ALREADY_EXISTS', async () => {
        const org = await o1.call<orchestrator.IOrganization>('OrganizationService/RegisterOrganization', {
            address: 'http://backend-org-1.com',
        });
        expect(org).toMatchObject({ id: ORG1, address: 'http://backend-org-1.com' });
        await o2.call('OrganizationService/RegisterOrganization', { address: 'http://backend-org-2.com' });
        await expectGrpcError(
            o1.call('OrganizationService/RegisterOrganization', { address: 'http://backend-org-1.com' }),
            grpc.status.ALREADY_EXISTS,
            'OE0006',
        );
        for (const c of [o1, o2]) {
            const all = await c.call<orchestrator.IGetAllOrganizationsResponse>(
                'OrganizationService/GetAllOrganizations',
            );
            expect((all.organizations ?? []).map((o) => o.id).sort()).toEqual([ORG1, ORG2]);
        }
    });
});

describe('functions, data and plan', () => {
    it('RegisterFunction stores WAITING functions with an empty image', async () => {
        for (const name of ['train', 'predict', 'metric', 'aggregate', 'composite'] as const) {
            const fn = await o1.call<Fn>('FunctionService/RegisterFunction', newFunction(K[name], name));
            expect(fn).toMatchObject({ key: K[name], owner: ORG1, status: FS.FUNCTION_STATUS_WAITING });
            expect(fn.image).toEqual({ checksum: '', storage_address: '' });
        }
        const seen = await o2.call<Fn>('FunctionService/GetFunction', { key: K.train });
        expect(seen).toMatchObject({ key: K.train, owner: ORG1, status: FS.FUNCTION_STATUS_WAITING });
        expect(Object.keys(seen.inputs ?? {}).sort()).toEqual(['datasamples', 'models', 'opener']);
    });

    it('RegisterDataManager, RegisterDataSamples and GetDataset', async () => {
        const dm = await o2.call<orchestrator.IDataManager>('DataManagerService/RegisterDataManager', {
            key: K.dm,
            name: 'dm of org2',
            new_permissions: everyone,
            description: addressable('dm/description.md'),
            opener: addressable('dm/opener.py'),
            type: 'ignored',
            logs_permission: { public: false, authorized_ids: [ORG1] },
            metadata: { size: 'big' },
        });
        expect(dm).toMatchObject({ key: K.dm, owner: ORG2, type: '' });
        expect(dm.logs_permission?.authorized_ids).toEqual([ORG1, ORG2]);
        const got = await o1.call<orchestrator.IDataManager>('DataManagerService/GetDataManager', { key: K.dm });
        expect(got).toEqual(dm);
        const samples = await o2.call<orchestrator.IRegisterDataSamplesResponse>(
            'DataSampleService/RegisterDataSamples',
            {
                samples: [K.s1, K.s2, K.s3].map((k, i) => ({
                    key: k,
                    data_manager_keys: [K.dm],
                    test_only: i === 2,
                    checksum: checksum(`sample${i}`),
                })),
            },
        );
        expect((samples.data_samples ?? []).map((s) => [s.key, s.owner, s.test_only])).toEqual([
            [K.s1, ORG2, false],
            [K.s2, ORG2, false],
            [K.s3, ORG2, false],
        ]);
        const sample = await o1.call<orchestrator.IDataSample>('DataSampleService/GetDataSample', { key: K.s1 });
        expect(sample.data_manager_keys).toEqual([K.dm]);
        const dataset = await o1.call<orchestrator.IDataset>('DatasetService/GetDataset', { key: K.dm });
        expect(dataset.data_manager?.key).toBe(K.dm);
        expect([...(dataset.data_sample_keys ?? [])].sort()).toEqual([K.s1, K.s2, K.s3].sort());
    });

    it('RegisterPlan and GetPlan', async () => {
        const plan = await o1.call<orchestrator.IComputePlan>('ComputePlanService/RegisterPlan', {
            key: K.plan,
            tag: 'it',
            name: 'integration plan',
            metadata: { round: '1' },
        });
        expect(plan).toMatchObject({ key: K.plan, owner: ORG1, name: 'integration plan', tag: 'it' });
        const seen = await o2.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: K.plan });
        expect(seen).toEqual(plan);
        for (const k of [K.failPlan, K.buildFailPlan, K.cancelPlan]) {
            await o1.call('ComputePlanService/RegisterPlan', { key: k, name: `plan ${k.slice(0, 4)}` });
        }
    });
});

describe('compute plan life', () => {
    const data = [input('datasamples', K.s1), input('datasamples', K.s2), input('opener', K.dm)];

    it('RegisterTasks: train, predict, test, composite and aggregate in topological order', async () => {
        const tasks = [
            {
                key: K.predict1,
                function_key: K.predict,
                compute_plan_key: K.plan,
                inputs: [parent('models', K.train1, 'model'), input('datasamples', K.s3), input('opener', K.dm)],
                outputs: { predictions: out() },
            },
            {
                key: K.train1,
                function_key: K.train,
                compute_plan_key: K.plan,
                metadata: { epoch: '1' },
                inputs: data,
                outputs: { model: out(true) },
            },
            {
                key: K.test1,
                function_key: K.metric,
                compute_plan_key: K.plan,
                inputs: [
                    parent('predictions', K.predict1, 'predictions'),
                    input('datasamples', K.s3),
                    input('opener', K.dm),
                ],
                outputs: { performance: out(false, everyone) },
            },
            {
                key: K.composite1,
                function_key: K.composite,
                compute_plan_key: K.plan,
                inputs: [input('datasamples', K.s1), input('opener', K.dm)],
                outputs: { local: out(), shared: out() },
            },
            {
                key: K.aggregate1,
                function_key: K.aggregate,
                compute_plan_key: K.plan,
                worker: ORG1,
                inputs: [parent('models', K.train1, 'model'), parent('models', K.composite1, 'shared')],
                outputs: { model: out() },
            },
        ];
        const res = await o1.call<orchestrator.IRegisterTasksResponse>('ComputeTaskService/RegisterTasks', { tasks });
        const got = res.tasks ?? [];
        expect(got.map((t) => [t.key, t.rank, t.status, t.worker, t.owner])).toEqual([
            [K.train1, 0, S.STATUS_WAITING_FOR_BUILDER_SLOT, ORG2, ORG1],
            [K.composite1, 0, S.STATUS_WAITING_FOR_BUILDER_SLOT, ORG2, ORG1],
            [K.predict1, 1, S.STATUS_WAITING_FOR_BUILDER_SLOT, ORG2, ORG1],
            [K.aggregate1, 1, S.STATUS_WAITING_FOR_BUILDER_SLOT, ORG1, ORG1],
            [K.test1, 2, S.STATUS_WAITING_FOR_BUILDER_SLOT, ORG2, ORG1],
        ]);
        expect(got[0]?.outputs?.model).toEqual({
            permissions: { process: both, download: both },
            transient: true,
        });
        expect(got[4]?.outputs?.performance?.permissions?.process).toEqual({ public: true, authorized_ids: [ORG1] });
        // the worker sees the same task
        expect(await getTask(o2, K.train1)).toEqual(got[0]);
    });

    it('ApplyFunctionAction BUILDING → UpdateFunction(image) → READY moves the tasks along', async () => {
        for (const name of ['train', 'predict', 'metric', 'aggregate', 'composite'] as const) {
            await o1.call('FunctionService/ApplyFunctionAction', {
                function_key: K[name],
                action: orchestrator.FunctionAction.FUNCTION_ACTION_BUILDING,
            });
        }
        expect((await getTask(o2, K.train1)).status).toBe(S.STATUS_BUILDING);
        // READY without an image is allowed by the state machine; UpdateFunction refuses to clear it afterwards
        for (const name of ['train', 'predict', 'metric', 'aggregate', 'composite'] as const) {
            await o1.call('FunctionService/UpdateFunction', {
                key: K[name],
                name: `${name} function v2`,
                image: addressable(`${name}/image.tar`),
            });
            await o1.call('FunctionService/ApplyFunctionAction', {
                function_key: K[name],
                action: orchestrator.FunctionAction.FUNCTION_ACTION_READY,
            });
        }
        const fn = await o2.call<Fn>('FunctionService/GetFunction', { key: K.train });
        expect(fn).toMatchObject({ name: 'train function v2', status: FS.FUNCTION_STATUS_READY });
        expect(fn.image).toEqual(addressable('train/image.tar'));
        const statuses = await Promise.all(
            [K.train1, K.composite1, K.predict1, K.aggregate1, K.test1].map(async (k) => (await getTask(o1, k)).status),
        );
        expect(statuses).toEqual([
            S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
            S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
            S.STATUS_WAITING_FOR_PARENT_TASKS,
            S.STATUS_WAITING_FOR_PARENT_TASKS,
            S.STATUS_WAITING_FOR_PARENT_TASKS,
        ]);
        await expectGrpcError(
            o1.call('FunctionService/ApplyFunctionAction', {
                function_key: K.train,
                action: orchestrator.FunctionAction.FUNCTION_ACTION_READY,
            }),
            grpc.status.UNKNOWN,
            'event transitionReady inappropriate in current state FUNCTION_STATUS_READY',
        );
    });

    it('IsPlanRunning is true while tasks are active', async () => {
        const r = await o2.call<orchestrator.IIsPlanRunningResponse>('ComputePlanService/IsPlanRunning', {
            key: K.plan,
        });
        expect(r.is_running).toBe(true);
    });

    it('train: EXECUTING, GetTaskInputAssets, RegisterModels, GetComputeTaskOutputModels, DONE twice', async () => {
        await act(o2, K.train1, TA.TASK_ACTION_EXECUTING);
        const assets = await o2.call<orchestrator.IGetTaskInputAssetsResponse>(
            'ComputeTaskService/GetTaskInputAssets',
            {
                compute_task_key: K.train1,
            },
        );
        expect(
            (assets.assets ?? []).map((a) => [a.identifier, a.data_sample?.key ?? a.data_manager?.key ?? a.model?.key]),
        ).toEqual([
            ['datasamples', K.s1],
            ['datasamples', K.s2],
            ['opener', K.dm],
        ]);
        const models = await o2.call<orchestrator.IRegisterModelsResponse>('ModelService/RegisterModels', {
            models: [
                {
                    key: K.mTrain,
                    compute_task_key: K.train1,
                    compute_task_output_identifier: 'model',
                    address: addressable('models/train1'),
                },
            ],
        });
        expect(models.models?.[0]).toMatchObject({ key: K.mTrain, owner: ORG2, compute_task_key: K.train1 });
        const outModels = await o1.call<orchestrator.IGetComputeTaskModelsResponse>(
            'ModelService/GetComputeTaskOutputModels',
            { compute_task_key: K.train1 },
        );
        expect((outModels.models ?? []).map((m) => m.key)).toEqual([K.mTrain]);
        const model = await o1.call<orchestrator.IModel>('ModelService/GetModel', { key: K.mTrain });
        expect(model.address).toEqual(addressable('models/train1'));

        await act(o2, K.train1, TA.TASK_ACTION_DONE, 'trained');
        expect((await getTask(o1, K.train1)).status).toBe(S.STATUS_DONE);
        // the predict task's only parent is done; the aggregate still waits for the composite
        expect((await getTask(o1, K.predict1)).status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
        expect((await getTask(o1, K.aggregate1)).status).toBe(S.STATUS_WAITING_FOR_PARENT_TASKS);
        // the backend ignores exactly this error on a second DONE
        await expectGrpcError(
            act(o2, K.train1, TA.TASK_ACTION_DONE),
            grpc.status.UNKNOWN,
            'transitionDone inappropriate in current state STATUS_DONE',
        );
    });

    it('composite: RegisterModel (deprecated) and RegisterModels, then the aggregate runs on org1', async () => {
        await act(o2, K.composite1, TA.TASK_ACTION_EXECUTING);
        const local = await o2.call<orchestrator.IModel>('ModelService/RegisterModel', {
            key: K.mLocal,
            compute_task_key: K.composite1,
            compute_task_output_identifier: 'local',
            address: addressable('models/local'),
        });
        expect(local).toMatchObject({ key: K.mLocal, compute_task_key: K.composite1 });
        await o2.call('ModelService/RegisterModels', {
            models: [
                {
                    key: K.mShared,
                    compute_task_key: K.composite1,
                    compute_task_output_identifier: 'shared',
                    address: addressable('models/shared'),
                },
            ],
        });
        await act(o2, K.composite1, TA.TASK_ACTION_DONE);
        expect((await getTask(o1, K.aggregate1)).status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);

        await act(o1, K.aggregate1, TA.TASK_ACTION_EXECUTING);
        const assets = await o1.call<orchestrator.IGetTaskInputAssetsResponse>(
            'ComputeTaskService/GetTaskInputAssets',
            {
                compute_task_key: K.aggregate1,
            },
        );
        expect((assets.assets ?? []).map((a) => [a.identifier, a.model?.key])).toEqual([
            ['models', K.mTrain],
            ['models', K.mShared],
        ]);
        await o1.call('ModelService/RegisterModels', {
            models: [
                {
                    key: K.mAgg,
                    compute_task_key: K.aggregate1,
                    compute_task_output_identifier: 'model',
                    address: addressable('models/agg'),
                },
            ],
        });
        await act(o1, K.aggregate1, TA.TASK_ACTION_DONE);
    });

    it('predict and test: RegisterPerformance, QueryPerformances, then the plan is no longer running', async () => {
        await act(o2, K.predict1, TA.TASK_ACTION_EXECUTING);
        await o2.call('ModelService/RegisterModels', {
            models: [
                {
                    key: K.mPred,
                    compute_task_key: K.predict1,
                    compute_task_output_identifier: 'predictions',
                    address: addressable('models/pred'),
                },
            ],
        });
        await act(o2, K.predict1, TA.TASK_ACTION_DONE);
        await act(o2, K.test1, TA.TASK_ACTION_EXECUTING);
        const perf = await o2.call<orchestrator.IPerformance>('PerformanceService/RegisterPerformance', {
            compute_task_key: K.test1,
            compute_task_output_identifier: 'performance',
            performance_value: 0.75,
        });
        expect(perf).toMatchObject({ compute_task_key: K.test1, compute_task_output_identifier: 'performance' });
        expect(perf.performance_value).toBeCloseTo(0.75);
        await act(o2, K.test1, TA.TASK_ACTION_DONE);
        const perfs = await o1.call<orchestrator.IQueryPerformancesResponse>('PerformanceService/QueryPerformances', {
            filter: { compute_task_key: K.test1 },
        });
        expect((perfs.Performances ?? []).map((p) => p.performance_value)).toEqual([0.75]);
        const running = await o1.call<orchestrator.IIsPlanRunningResponse>('ComputePlanService/IsPlanRunning', {
            key: K.plan,
        });
        expect(running.is_running).toBe(false);
    });

    it('DisableOutput: the transient train model loses its address; non-transient outputs are refused', async () => {
        await o2.call('ComputeTaskService/DisableOutput', { compute_task_key: K.train1, identifier: 'model' });
        const model = await o1.call<orchestrator.IModel>('ModelService/GetModel', { key: K.mTrain });
        expect(model.address ?? null).toBeNull();
        await expectGrpcError(
            o2.call('ComputeTaskService/DisableOutput', { compute_task_key: K.test1, identifier: 'performance' }),
            grpc.status.UNKNOWN,
            'OE0108',
        );
        await expectGrpcError(
            o1.call('ComputeTaskService/DisableOutput', { compute_task_key: K.train1, identifier: 'model' }),
            grpc.status.PERMISSION_DENIED,
            'OE0102',
        );
    });

    it('task failure report fails the task and the plan; children stay waiting', async () => {
        await o1.call('ComputeTaskService/RegisterTasks', {
            tasks: [
                {
                    key: K.failing,
                    function_key: K.train,
                    compute_plan_key: K.failPlan,
                    inputs: data,
                    outputs: { model: out() },
                },
                {
                    key: K.failingChild,
                    function_key: K.aggregate,
                    compute_plan_key: K.failPlan,
                    worker: ORG1,
                    inputs: [parent('models', K.failing, 'model')],
                    outputs: { model: out() },
                },
            ],
        });
        expect((await getTask(o2, K.failing)).status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
        await act(o2, K.failing, TA.TASK_ACTION_EXECUTING);
        const report = await o2.call<orchestrator.IFailureReport>('FailureReportService/RegisterFailureReport', {
            asset_key: K.failing,
            error_type: orchestrator.ErrorType.ERROR_TYPE_EXECUTION,
            logs_address: addressable('logs/failing'),
            asset_type: orchestrator.FailedAssetKind.FAILED_ASSET_COMPUTE_TASK,
        });
        expect(report).toMatchObject({ asset_key: K.failing, owner: ORG2 });
        const got = await o1.call<orchestrator.IFailureReport>('FailureReportService/GetFailureReport', {
            asset_key: K.failing,
        });
        expect(got).toEqual(report);
        expect((await getTask(o1, K.failing)).status).toBe(S.STATUS_FAILED);
        expect((await getTask(o1, K.failingChild)).status).toBe(S.STATUS_WAITING_FOR_PARENT_TASKS);
        const plan = await o1.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: K.failPlan });
        expect(plan.failure_date).not.toBeNull();
        const running = await o1.call<orchestrator.IIsPlanRunningResponse>('ComputePlanService/IsPlanRunning', {
            key: K.failPlan,
        });
        expect(running.is_running).toBe(false);
    });

    it('function failure report fails the function and its BUILDING tasks', async () => {
        await o1.call('FunctionService/RegisterFunction', newFunction(K.broken, 'aggregate'));
        await o1.call('FunctionService/ApplyFunctionAction', {
            function_key: K.broken,
            action: orchestrator.FunctionAction.FUNCTION_ACTION_BUILDING,
        });
        const res = await o1.call<orchestrator.IRegisterTasksResponse>('ComputeTaskService/RegisterTasks', {
            tasks: [
                {
                    key: K.brokenTask,
                    function_key: K.broken,
                    compute_plan_key: K.buildFailPlan,
                    worker: ORG1,
                    inputs: [parent('models', K.aggregate1, 'model')],
                    outputs: { model: out() },
                },
            ],
        });
        expect(res.tasks?.[0]?.status).toBe(S.STATUS_BUILDING);
        await o1.call('FailureReportService/RegisterFailureReport', {
            asset_key: K.broken,
            error_type: orchestrator.ErrorType.ERROR_TYPE_BUILD,
            logs_address: addressable('logs/build'),
            asset_type: orchestrator.FailedAssetKind.FAILED_ASSET_FUNCTION,
        });
        expect((await o2.call<Fn>('FunctionService/GetFunction', { key: K.broken })).status).toBe(
            FS.FUNCTION_STATUS_FAILED,
        );
        expect((await getTask(o2, K.brokenTask)).status).toBe(S.STATUS_FAILED);
        const plan = await o2.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: K.buildFailPlan });
        expect(plan.failure_date).not.toBeNull();
    });

    it('ApplyPlanAction cancels a plan once (owner only); its tasks are untouched', async () => {
        await o1.call('ComputeTaskService/RegisterTasks', {
            tasks: [
                {
                    key: K.canceledPlanTask,
                    function_key: K.train,
                    compute_plan_key: K.cancelPlan,
                    inputs: data,
                    outputs: { model: out() },
                },
            ],
        });
        await expectGrpcError(
            o2.call('ComputePlanService/ApplyPlanAction', {
                key: K.cancelPlan,
                action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
            }),
            grpc.status.PERMISSION_DENIED,
        );
        await o1.call('ComputePlanService/ApplyPlanAction', {
            key: K.cancelPlan,
            action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
        });
        const plan = await o2.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: K.cancelPlan });
        expect(plan.cancelation_date).not.toBeNull();
        expect((await getTask(o2, K.canceledPlanTask)).status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
        const running = await o1.call<orchestrator.IIsPlanRunningResponse>('ComputePlanService/IsPlanRunning', {
            key: K.cancelPlan,
        });
        expect(running.is_running).toBe(false);
        await expectGrpcError(
            o1.call('ComputePlanService/ApplyPlanAction', {
                key: K.cancelPlan,
                action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
            }),
            grpc.status.UNKNOWN,
            'OE0109',
        );
        // the backend cancels the task when it finds the plan terminated
        await act(o2, K.canceledPlanTask, TA.TASK_ACTION_CANCELED, 'Compute plan is not runnable');
        expect((await getTask(o1, K.canceledPlanTask)).status).toBe(S.STATUS_CANCELED);
    });

    it('RegisterProfilingStep is accepted (it only emits an event)', async () => {
        const res = await o2.call('ProfilingService/RegisterProfilingStep', {
            asset_key: K.train,
            step: 'build_image',
            duration: 1234,
        });
        expect(res).toEqual({});
    });
});

describe('updates', () => {
    it('UpdatePlan, UpdateDataManager, UpdateDataSamples, UpdateFunction', async () => {
        await o1.call('ComputePlanService/UpdatePlan', { key: K.plan, name: 'renamed plan' });
        expect((await o2.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: K.plan })).name).toBe(
            'renamed plan',
        );
        await expectGrpcError(
            o2.call('ComputePlanService/UpdatePlan', { key: K.plan, name: 'stolen' }),
            grpc.status.PERMISSION_DENIED,
        );
        await o2.call('DataManagerService/UpdateDataManager', { key: K.dm, name: 'renamed dm' });
        expect(
            (await o1.call<orchestrator.IDataManager>('DataManagerService/GetDataManager', { key: K.dm })).name,
        ).toBe('renamed dm');
        await o2.call('DataManagerService/RegisterDataManager', {
            key: K.dm2,
            name: 'second dm',
            new_permissions: everyone,
            description: addressable('dm2/description.md'),
            opener: addressable('dm2/opener.py'),
            logs_permission: everyone,
        });
        await o2.call('DataSampleService/UpdateDataSamples', { keys: [K.s1, K.s2], data_manager_keys: [K.dm2] });
        const s1 = await o1.call<orchestrator.IDataSample>('DataSampleService/GetDataSample', { key: K.s1 });
        expect(s1.data_manager_keys).toEqual([K.dm, K.dm2]);
        const ds = await o1.call<orchestrator.IDataset>('DatasetService/GetDataset', { key: K.dm2 });
        expect([...(ds.data_sample_keys ?? [])].sort()).toEqual([K.s1, K.s2].sort());
        await o1.call('FunctionService/UpdateFunction', { key: K.metric, name: 'metric renamed' });
        const fn = await o2.call<Fn>('FunctionService/GetFunction', { key: K.metric });
        expect(fn.name).toBe('metric renamed');
        expect(fn.image).toEqual(addressable('metric/image.tar'));
    });
});

describe('queries and paging', () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the item type
    async function pages<T extends object>(
        c: OrgClient,
        rpc: `${string}Service/${string}`,
        field: string,
        request: object,
        pageSize: number,
    ): Promise<{ items: T[]; pages: number }> {
        const items: T[] = [];
        let token = '';
        let n = 0;
        for (;;) {
            const page = await c.call<Record<string, unknown>>(rpc, {
                ...request,
                page_size: pageSize,
                page_token: token,
            });
            const got = (page[field] ?? []) as T[];
            n++;
            expect(got.length).toBeLessThanOrEqual(pageSize);
            items.push(...got);
            token = page.next_page_token as string;
            if (!token || got.length === 0) return { items, pages: n };
        }
    }

    it('QueryTasks pages through a plan (creation date, then key) and filters', async () => {
        const { items, pages: n } = await pages<Task>(
            o2,
            'ComputeTaskService/QueryTasks',
            'tasks',
            { filter: { compute_plan_key: K.plan } },
            2,
        );
        expect(n).toBeGreaterThanOrEqual(3);
        expect(items.map((t) => t.key)).toEqual([K.train1, K.predict1, K.test1, K.composite1, K.aggregate1].sort());
        expect(items.every((t) => t.status === S.STATUS_DONE)).toBe(true);
        const byWorker = await o1.call<orchestrator.IQueryTasksResponse>('ComputeTaskService/QueryTasks', {
            filter: { worker: ORG1, compute_plan_key: K.plan },
        });
        expect((byWorker.tasks ?? []).map((t) => t.key)).toEqual([K.aggregate1]);
        const failed = await o1.call<orchestrator.IQueryTasksResponse>('ComputeTaskService/QueryTasks', {
            filter: { status: S.STATUS_FAILED },
        });
        expect((failed.tasks ?? []).map((t) => t.key).sort()).toEqual([K.failing, K.brokenTask].sort());
        const byFunction = await o1.call<orchestrator.IQueryTasksResponse>('ComputeTaskService/QueryTasks', {
            filter: { function_key: K.metric },
        });
        expect((byFunction.tasks ?? []).map((t) => t.key)).toEqual([K.test1]);
    });

    it('QueryPlans pages and filters by owner', async () => {
        const { items } = await pages<orchestrator.IComputePlan>(o2, 'ComputePlanService/QueryPlans', 'plans', {}, 1);
        expect(items.map((p) => p.key).sort()).toEqual([K.plan, K.failPlan, K.buildFailPlan, K.cancelPlan].sort());
        const none = await o1.call<orchestrator.IQueryPlansResponse>('ComputePlanService/QueryPlans', {
            filter: { owner: ORG2 },
        });
        expect(none.plans).toEqual([]);
    });

    it('QueryFunctions pages and filters by compute plan', async () => {
        const { items } = await pages<Fn>(o2, 'FunctionService/QueryFunctions', 'Functions', {}, 2);
        expect(items).toHaveLength(6);
        const { items: inPlan } = await pages<Fn>(
            o2,
            'FunctionService/QueryFunctions',
            'Functions',
            { filter: { compute_plan_key: K.plan } },
            2,
        );
        expect(inPlan.map((f) => f.key).sort()).toEqual(
            [K.train, K.predict, K.metric, K.aggregate, K.composite].sort(),
        );
    });

    it('QueryDataManagers and QueryDataSamples page', async () => {
        const { items: dms } = await pages<orchestrator.IDataManager>(
            o1,
            'DataManagerService/QueryDataManagers',
            'data_managers',
            {},
            1,
        );
        expect(dms.map((d) => d.key).sort()).toEqual([K.dm, K.dm2].sort());
        const { items: samples } = await pages<orchestrator.IDataSample>(
            o1,
            'DataSampleService/QueryDataSamples',
            'data_samples',
            {},
            2,
        );
        expect(samples.map((s) => s.key).sort()).toEqual([K.s1, K.s2, K.s3].sort());
        const filtered = await o1.call<orchestrator.IQueryDataSamplesResponse>('DataSampleService/QueryDataSamples', {
            filter: { keys: [K.s3] },
        });
        expect((filtered.data_samples ?? []).map((s) => s.key)).toEqual([K.s3]);
    });

    it('both organizations see the same state', async () => {
        for (const [rpc, req] of [
            ['ComputeTaskService/QueryTasks', { filter: { compute_plan_key: K.plan } }],
            ['ComputePlanService/QueryPlans', {}],
            ['FunctionService/QueryFunctions', {}],
            ['DataSampleService/QueryDataSamples', {}],
            ['ModelService/GetComputeTaskOutputModels', { compute_task_key: K.composite1 }],
            ['ComputeTaskService/GetTask', { key: K.aggregate1 }],
        ] as const) {
            expect(await o2.call(rpc, req)).toEqual(await o1.call(rpc, req));
        }
    });
});

describe('channels', () => {
    const y1 = o1.on(YOUR);
    const y2 = o2.on(YOUR);

    it('yourchannel is isolated from mychannel', async () => {
        const orgs = await y1.call<orchestrator.IGetAllOrganizationsResponse>(
            'OrganizationService/GetAllOrganizations',
        );
        expect(orgs.organizations).toEqual([]);
        await expectGrpcError(y2.call('ComputePlanService/GetPlan', { key: K.plan }), grpc.status.NOT_FOUND, 'OE0002');
        await expectGrpcError(y1.call('DataManagerService/GetDataManager', { key: K.dm }), grpc.status.NOT_FOUND);
        // the same keys can be registered on the other channel
        await y1.call('OrganizationService/RegisterOrganization', { address: 'http://backend-org-1.com' });
        await y2.call('OrganizationService/RegisterOrganization', { address: 'http://backend-org-2.com' });
        await y1.call('ComputePlanService/RegisterPlan', { key: K.plan, name: 'same key, other channel' });
        expect((await y2.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: K.plan })).name).toBe(
            'same key, other channel',
        );
        expect((await o2.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: K.plan })).name).toBe(
            'renamed plan',
        );
        const yourEvents = await eventually(
            () => allEvents(y2),
            (events) => events.length >= 3,
        );
        expect(yourEvents.map((e) => [e.asset_kind, e.channel])).toEqual([
            [AssetKind.ASSET_ORGANIZATION, YOUR],
            [AssetKind.ASSET_ORGANIZATION, YOUR],
            [AssetKind.ASSET_COMPUTE_PLAN, YOUR],
        ]);
    });
});

describe('gRPC codes of bad requests', () => {
    it('missing mspid → FAILED_PRECONDITION, missing channel → UNKNOWN, foreign org → UNKNOWN', async () => {
        await expectGrpcError(
            o1.call('ComputePlanService/GetPlan', { key: K.plan }, { mspid: undefined }),
            grpc.status.FAILED_PRECONDITION,
            "OE0003: missing or invalid header 'mspid'",
        );
        await expectGrpcError(
            o1.call('ComputePlanService/GetPlan', { key: K.plan }, { channel: undefined }),
            grpc.status.UNKNOWN,
            "missing or invalid header 'channel'",
        );
        await expectGrpcError(
            o1.call('ComputePlanService/GetPlan', { key: K.plan }, { mspid: 'OtherMSP' }),
            grpc.status.UNKNOWN,
            'organization "OtherMSP" is unknown',
        );
        await expectGrpcError(
            o1.call('ComputePlanService/GetPlan', { key: K.plan }, { channel: 'nochannel' }),
            grpc.status.UNKNOWN,
            'has not access to channel "nochannel"',
        );
        const sub = o1.subscribe('', { mspid: undefined });
        const err = await sub.failure();
        expect(err.code).toBe(grpc.status.UNKNOWN);
        expect(err.details).toContain("missing or invalid header 'mspid'");
    });

    it('unknown key → NOT_FOUND, invalid asset → INVALID_ARGUMENT', async () => {
        await expectGrpcError(o2.call('ComputeTaskService/GetTask', { key: key() }), grpc.status.NOT_FOUND, 'OE0002');
        await expectGrpcError(o2.call('ModelService/GetModel', { key: key() }), grpc.status.NOT_FOUND);
        await expectGrpcError(
            o2.call('FailureReportService/GetFailureReport', { asset_key: key() }),
            grpc.status.NOT_FOUND,
        );
        await expectGrpcError(
            o1.call('FunctionService/RegisterFunction', { ...newFunction(key(), 'train'), key: 'NOT-A-UUID' }),
            grpc.status.INVALID_ARGUMENT,
            'OE0101',
        );
        await expectGrpcError(
            o1.call('ComputePlanService/RegisterPlan', { key: key(), name: '' }),
            grpc.status.INVALID_ARGUMENT,
            'OE0101',
        );
    });

    it('wrong caller → PERMISSION_DENIED, duplicate → ALREADY_EXISTS', async () => {
        await expectGrpcError(
            o1.call('DataManagerService/UpdateDataManager', { key: K.dm, name: 'not mine' }),
            grpc.status.PERMISSION_DENIED,
            'OE0102',
        );
        await expectGrpcError(
            o1.call('FunctionService/ApplyFunctionAction', {
                function_key: K.train,
                action: orchestrator.FunctionAction.FUNCTION_ACTION_CANCELED,
            }),
            grpc.status.UNKNOWN,
            'inappropriate in current state',
        );
        await expectGrpcError(
            o2.call('FunctionService/UpdateFunction', { key: K.train, name: 'not mine' }),
            grpc.status.PERMISSION_DENIED,
        );
        await expectGrpcError(
            o1.call('ComputeTaskService/ApplyTaskAction', {
                compute_task_key: K.train1,
                action: TA.TASK_ACTION_EXECUTING,
            }),
            grpc.status.PERMISSION_DENIED,
        );
        await expectGrpcError(
            o1.call('ComputePlanService/RegisterPlan', { key: K.plan, name: 'again' }),
            grpc.status.ALREADY_EXISTS,
            'OE0006',
        );
        await expectGrpcError(
            o2.call('DataSampleService/RegisterDataSamples', {
                samples: [{ key: K.s1, data_manager_keys: [K.dm], checksum: checksum('x') }],
            }),
            grpc.status.ALREADY_EXISTS,
        );
    });
});

describe('concurrency and volume', () => {
    it('parents finishing at the same time (MVCC conflicts, retried by the gateway) release their child once', async () => {
        await parentsFinishTogether(o1, o2);
    });

    it('parents finishing together still succeed when the retry budget (10 ms) is shorter than one block', async () => {
        // the Substra chart's 500 ms budget against hlf-k8s's 500 ms blocks, scaled to this network's blocks
        const root = path.join(network.root, 'short-budget');
        const env = {
            ...network.gatewayEnv,
            ORCHESTRATOR_STATE_DIR: path.join(root, 'events'),
            ORCHESTRATOR_TX_RETRY_BUDGET: '10ms',
        };
        const gateway = await startGatewayProcess({ env, logFile: path.join(root, 'gateway.log') });
        try {
            const address = `127.0.0.1:${gateway.port}`;
            for (let round = 0; round < 3; round++) {
                await parentsFinishTogether(new OrgClient(address, ORG1, MY), new OrgClient(address, ORG2, MY));
            }
        } finally {
            await gateway.stop();
        }
    });

    it('16 writers on one key, 200 calls: at least 99 % succeed, the others fail retryable with a clear message', async () => {
        const r = await updateOnePlanConcurrently(o1, { writers: 16, calls: 200 });
        expectContentionGoal(r, 'OR policy, 16 writers, one plan', 200);
        const final = await o1.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: r.plan });
        expect(final.name).toMatch(/^writer \d+ call \d+$/);
    });

    it('both organizations writing at the same time', async () => {
        const plans = [key(), key(), key(), key(), key()];
        const samples = [key(), key(), key(), key(), key()];
        await Promise.all([
            ...plans.map((k) => o1.call('ComputePlanService/RegisterPlan', { key: k, name: 'parallel' })),
            ...samples.map((k) =>
                o2.call('DataSampleService/RegisterDataSamples', {
                    samples: [{ key: k, data_manager_keys: [K.dm], checksum: checksum(k) }],
                }),
            ),
        ]);
        const ds = await o1.call<orchestrator.IDataset>('DatasetService/GetDataset', { key: K.dm });
        expect(ds.data_sample_keys).toEqual(expect.arrayContaining(samples));
        for (const k of plans) await o2.call('ComputePlanService/GetPlan', { key: k });
    });

    it('a batch of 120 tasks registers in one transaction and pages by 50', async () => {
        const plan = key();
        await o1.call('ComputePlanService/RegisterPlan', { key: plan, name: 'big plan' });
        const chain = key();
        await o1.call('FunctionService/RegisterFunction', {
            ...newFunction(chain, 'aggregate'),
            inputs: { models: { kind: AssetKind.ASSET_MODEL, multiple: true, optional: true } },
        });
        const keys = Array.from({ length: 120 }, () => key());
        const tasks = keys.map((k, i) => ({
            key: k,
            function_key: chain,
            compute_plan_key: plan,
            worker: ORG1,
            // a chain of 4 under each root: ranks 0..3
            inputs: i % 4 === 0 ? [] : [parent('models', keys[i - 1] ?? '', 'model')],
            outputs: { model: out() },
        }));
        const res = await o1.call<orchestrator.IRegisterTasksResponse>('ComputeTaskService/RegisterTasks', { tasks });
        expect(res.tasks).toHaveLength(120);
        const ranks = new Map((res.tasks ?? []).map((t) => [t.key, t.rank]));
        expect(keys.map((k) => ranks.get(k))).toEqual(keys.map((_, i) => i % 4));
        const seen: string[] = [];
        let token = '';
        let pagesSeen = 0;
        do {
            const page = await o2.call<orchestrator.IQueryTasksResponse>('ComputeTaskService/QueryTasks', {
                page_token: token,
                filter: { compute_plan_key: plan },
            });
            pagesSeen++;
            seen.push(...(page.tasks ?? []).map((t) => t.key ?? ''));
            token = page.next_page_token ?? '';
        } while (token);
        expect(pagesSeen).toBe(3);
        expect(seen).toEqual([...keys].sort());
        // the 120 creation events of that one transaction come in the order the chaincode emitted them: by their
        // rank in the transaction (`<tx>:<n>`), `:10` after `:9`, in QueryEvents and in a replayed stream alike
        const inBatch = (e: Ev) => keys.includes(e.compute_task?.key ?? '');
        const created = await eventually(
            () =>
                allEvents(o1, { event_kind: EventKind.EVENT_ASSET_CREATED, asset_kind: AssetKind.ASSET_COMPUTE_TASK }),
            (events) => events.filter(inBatch).length === 120,
        );
        const ofBatch = created.filter(inBatch);
        expect(ofBatch).toHaveLength(120);
        const ranksInTx = ofBatch.map((e) => Number((e.id ?? '').split(':')[1]));
        expect(new Set(ofBatch.map((e) => (e.id ?? '').split(':')[0])).size).toBe(1);
        expect(ranksInTx).toEqual([...ranksInTx].sort((a, b) => a - b));
        expect(ranksInTx.length).toBeGreaterThan(10);
        const replay = o2.subscribe();
        const replayed = await replay.waitFor((events) =>
            keys.every((k) => events.some((e) => e.compute_task?.key === k)),
        );
        replay.cancel();
        const replayedRanks = replayed
            .filter((e) => inBatch(e) && e.event_kind === EventKind.EVENT_ASSET_CREATED)
            .map((e) => Number((e.id ?? '').split(':')[1]));
        expect(replayedRanks).toEqual(ranksInTx);
        const running = await o1.call<orchestrator.IIsPlanRunningResponse>('ComputePlanService/IsPlanRunning', {
            key: plan,
        });
        expect(running.is_running).toBe(true);
        // the plan's cancellation leaves its 120 tasks as they are
        await o1.call('ComputePlanService/ApplyPlanAction', {
            key: plan,
            action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
        });
    });
});

describe('edge cases a backend can hit', () => {
    it('empty batches, cycles, unknown actions', async () => {
        await expectGrpcError(
            o1.call('ComputeTaskService/RegisterTasks', { tasks: [] }),
            grpc.status.FAILED_PRECONDITION,
            'OE0003',
        );
        await expectGrpcError(o2.call('ModelService/RegisterModels', { models: [] }), grpc.status.FAILED_PRECONDITION);
        const none = await o2.call<orchestrator.IRegisterDataSamplesResponse>('DataSampleService/RegisterDataSamples', {
            samples: [],
        });
        expect(none.data_samples).toEqual([]);
        const [a, b] = [key(), key()];
        await expectGrpcError(
            o1.call('ComputeTaskService/RegisterTasks', {
                tasks: [
                    {
                        key: a,
                        function_key: K.aggregate,
                        compute_plan_key: K.plan,
                        worker: ORG1,
                        inputs: [parent('models', b, 'model')],
                        outputs: { model: out() },
                    },
                    {
                        key: b,
                        function_key: K.aggregate,
                        compute_plan_key: K.plan,
                        worker: ORG1,
                        inputs: [parent('models', a, 'model')],
                        outputs: { model: out() },
                    },
                ],
            }),
            grpc.status.INVALID_ARGUMENT,
            'cyclic dependency',
        );
        await expectGrpcError(
            o2.call('ComputeTaskService/ApplyTaskAction', {
                compute_task_key: K.canceledPlanTask,
                action: TA.TASK_ACTION_UNKNOWN,
            }),
            grpc.status.PERMISSION_DENIED,
        );
        await expectGrpcError(
            o1.call('FunctionService/ApplyFunctionAction', {
                function_key: K.train,
                action: orchestrator.FunctionAction.FUNCTION_ACTION_UNKNOWN,
            }),
            grpc.status.FAILED_PRECONDITION,
            'unsupported action',
        );
        await expectGrpcError(
            o1.call('ComputePlanService/ApplyPlanAction', {
                key: K.plan,
                action: orchestrator.ComputePlanAction.PLAN_ACTION_UNKNOWN,
            }),
            grpc.status.UNIMPLEMENTED,
        );
        await expectGrpcError(o1.call('ComputePlanService/IsPlanRunning', { key: key() }), grpc.status.NOT_FOUND);
        await expectGrpcError(
            o2.call('ProfilingService/RegisterProfilingStep', { asset_key: K.train, step: 'x', duration: 0 }),
            grpc.status.INVALID_ARGUMENT,
            'OE0101',
        );
        await expectGrpcError(
            o2.call('FailureReportService/RegisterFailureReport', {
                asset_key: K.train1,
                error_type: orchestrator.ErrorType.ERROR_TYPE_INTERNAL,
                asset_type: orchestrator.FailedAssetKind.FAILED_ASSET_UNKNOWN,
            }),
            grpc.status.FAILED_PRECONDITION,
        );
    });

    it('outputs and inputs of finished tasks', async () => {
        // the train model was disabled: no new child may consume that task
        await expectGrpcError(
            o1.call('ComputeTaskService/RegisterTasks', {
                tasks: [
                    {
                        key: key(),
                        function_key: K.aggregate,
                        compute_plan_key: K.plan,
                        worker: ORG1,
                        inputs: [parent('models', K.train1, 'model')],
                        outputs: { model: out() },
                    },
                ],
            }),
            grpc.status.INVALID_ARGUMENT,
            'has been disabled',
        );
        await expectGrpcError(
            o2.call('ComputeTaskService/DisableOutput', { compute_task_key: K.train1, identifier: 'model' }),
            grpc.status.UNKNOWN,
            'OE0108',
        );
        await expectGrpcError(
            o2.call('ComputeTaskService/GetTaskInputAssets', { compute_task_key: K.train1 }),
            grpc.status.FAILED_PRECONDITION,
            'Task inputs may not be defined',
        );
        await expectGrpcError(
            o2.call('ModelService/RegisterModels', {
                models: [
                    {
                        key: key(),
                        compute_task_key: K.predict1,
                        compute_task_output_identifier: 'predictions',
                        address: addressable('late'),
                    },
                ],
            }),
            grpc.status.FAILED_PRECONDITION,
        );
        await expectGrpcError(
            o2.call('PerformanceService/RegisterPerformance', {
                compute_task_key: K.test1,
                compute_task_output_identifier: 'performance',
                performance_value: 1,
            }),
            grpc.status.FAILED_PRECONDITION,
        );
        // a disabled model is still listed, without address
        const models = await o2.call<orchestrator.IGetComputeTaskModelsResponse>(
            'ModelService/GetComputeTaskOutputModels',
            { compute_task_key: K.train1 },
        );
        expect(models.models?.map((m) => [m.key, m.address ?? null])).toEqual([[K.mTrain, null]]);
    });

    it('cancelling a WAITING function leaves its waiting tasks alone', async () => {
        const fn = key();
        const plan = key();
        const task = key();
        await o1.call('FunctionService/RegisterFunction', newFunction(fn, 'aggregate'));
        await o1.call('ComputePlanService/RegisterPlan', { key: plan, name: 'waiting' });
        await o1.call('ComputeTaskService/RegisterTasks', {
            tasks: [
                {
                    key: task,
                    function_key: fn,
                    compute_plan_key: plan,
                    worker: ORG1,
                    inputs: [parent('models', K.aggregate1, 'model')],
                    outputs: { model: out() },
                },
            ],
        });
        await o1.call('FunctionService/ApplyFunctionAction', {
            function_key: fn,
            action: orchestrator.FunctionAction.FUNCTION_ACTION_CANCELED,
        });
        expect((await o2.call<Fn>('FunctionService/GetFunction', { key: fn })).status).toBe(
            FS.FUNCTION_STATUS_CANCELED,
        );
        expect((await getTask(o2, task)).status).toBe(S.STATUS_WAITING_FOR_BUILDER_SLOT);
    });
});

describe('events', () => {
    it('the other organization receives every event of the channel, in order, with `channel` set', async () => {
        await settled(o1);
        const expected = await allEvents(o1);
        const events = await stream.waitFor((got) => got.length >= expected.length);
        expect(events.length).toBe(expected.length);
        expect(events.every((e) => e.channel === MY)).toBe(true);
        expect(new Set(events.map((e) => e.id))).toEqual(new Set(expected.map((e) => e.id)));
        // chain order (not timestamp order: concurrent and retried transactions are ordered by the orderer): the live
        // stream and a full replay for the other organization agree
        const replay = o1.subscribe('');
        const replayed = await replay.waitFor((got) => got.length >= events.length);
        replay.cancel();
        expect(replayed.slice(0, events.length).map((e) => e.id)).toEqual(events.map((e) => e.id));
        // each transaction's events are contiguous and in emission order (ids <txid>:0, :1, ...)
        const position = new Map<string, number>();
        const finished = new Set<string>();
        let current = '';
        for (const e of events) {
            const [tx = '', n = ''] = (e.id ?? '').split(':');
            if (tx !== current) {
                expect(finished.has(tx), `events of ${tx} are not contiguous`).toBe(false);
                finished.add(current);
                current = tx;
            }
            expect(Number(n)).toBe(position.get(tx) ?? 0);
            position.set(tx, Number(n) + 1);
        }
        expect(Math.max(...position.values())).toBeGreaterThanOrEqual(120);
        // the train task's life, in emission order
        const life = events
            .filter(
                (e) =>
                    e.asset_key === K.train1 ||
                    e.asset_key === K.mTrain ||
                    (e.asset_key === K.predict1 && e.event_kind === EventKind.EVENT_ASSET_UPDATED),
            )
            .map((e) => [
                e.asset_kind,
                e.event_kind,
                e.asset_key,
                e.compute_task?.status ?? null,
                e.metadata?.reason ?? null,
            ]);
        expect(life.slice(0, 12)).toEqual([
            [
                AssetKind.ASSET_COMPUTE_TASK,
                EventKind.EVENT_ASSET_CREATED,
                K.train1,
                S.STATUS_WAITING_FOR_BUILDER_SLOT,
                null,
            ],
            [AssetKind.ASSET_COMPUTE_TASK, EventKind.EVENT_ASSET_UPDATED, K.train1, S.STATUS_BUILDING, 'User action'],
            [AssetKind.ASSET_COMPUTE_TASK, EventKind.EVENT_ASSET_UPDATED, K.predict1, S.STATUS_BUILDING, 'User action'],
            [
                AssetKind.ASSET_COMPUTE_TASK,
                EventKind.EVENT_ASSET_UPDATED,
                K.train1,
                S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
                `Function ${K.train} finished building`,
            ],
            [
                AssetKind.ASSET_COMPUTE_TASK,
                EventKind.EVENT_ASSET_UPDATED,
                K.predict1,
                S.STATUS_WAITING_FOR_PARENT_TASKS,
                `Function ${K.predict} finished building`,
            ],
            [AssetKind.ASSET_COMPUTE_TASK, EventKind.EVENT_ASSET_UPDATED, K.train1, S.STATUS_EXECUTING, 'User action'],
            [AssetKind.ASSET_MODEL, EventKind.EVENT_ASSET_CREATED, K.mTrain, null, null],
            [AssetKind.ASSET_COMPUTE_TASK_OUTPUT_ASSET, EventKind.EVENT_ASSET_CREATED, K.train1, null, null],
            [AssetKind.ASSET_COMPUTE_TASK, EventKind.EVENT_ASSET_UPDATED, K.train1, S.STATUS_DONE, 'trained'],
            [
                AssetKind.ASSET_COMPUTE_TASK,
                EventKind.EVENT_ASSET_UPDATED,
                K.predict1,
                S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
                `Last parent task ${K.train1} done`,
            ],
            [
                AssetKind.ASSET_COMPUTE_TASK,
                EventKind.EVENT_ASSET_UPDATED,
                K.predict1,
                S.STATUS_EXECUTING,
                'User action',
            ],
            [AssetKind.ASSET_COMPUTE_TASK, EventKind.EVENT_ASSET_UPDATED, K.predict1, S.STATUS_DONE, 'User action'],
        ]);
        // task payloads are complete whatever caused the change (cascade, function propagation)
        for (const e of events.filter((x) => x.asset_key === K.predict1 && x.compute_task)) {
            expect(e.compute_task?.inputs).toHaveLength(3);
            expect(Object.keys(e.compute_task?.outputs ?? {})).toEqual(['predictions']);
        }
        expect(life.at(-1)).toEqual([AssetKind.ASSET_MODEL, EventKind.EVENT_ASSET_DISABLED, K.mTrain, null, null]);
        // what each operation emits, transaction by transaction (behavior-assets §13.3)
        const txOf = (match: (e: Ev) => boolean) => {
            const tx = events.find(match)?.id?.split(':')[0];
            return events
                .filter((e) => e.id?.split(':')[0] === tx)
                .map((e) => [e.asset_kind, e.event_kind, e.asset_key, e.metadata?.reason ?? null]);
        };
        const {
            EVENT_ASSET_CREATED: CREATED,
            EVENT_ASSET_UPDATED: UPDATED,
            EVENT_ASSET_DISABLED: DISABLED,
        } = EventKind;
        const A = AssetKind;
        expect(txOf((e) => e.asset_kind === A.ASSET_PERFORMANCE)).toEqual([
            [A.ASSET_PERFORMANCE, CREATED, `${K.test1}|performance`, null],
            [A.ASSET_COMPUTE_TASK_OUTPUT_ASSET, CREATED, K.test1, null],
        ]);
        const reason = 'failure report registered';
        expect(txOf((e) => e.asset_kind === A.ASSET_FAILURE_REPORT && e.asset_key === K.broken)).toEqual([
            [A.ASSET_FUNCTION, UPDATED, K.broken, reason],
            [A.ASSET_COMPUTE_TASK, UPDATED, K.brokenTask, reason],
            [A.ASSET_FAILURE_REPORT, CREATED, K.broken, null],
        ]);
        expect(txOf((e) => e.asset_kind === A.ASSET_FAILURE_REPORT && e.asset_key === K.failing)).toEqual([
            [A.ASSET_COMPUTE_TASK, UPDATED, K.failing, reason],
            [A.ASSET_FAILURE_REPORT, CREATED, K.failing, null],
        ]);
        expect(txOf((e) => e.asset_kind === A.ASSET_DATA_SAMPLE && e.event_kind === UPDATED)).toEqual([
            [A.ASSET_DATA_SAMPLE, UPDATED, K.s1, null],
            [A.ASSET_DATA_SAMPLE, UPDATED, K.s2, null],
        ]);
        expect(txOf((e) => e.event_kind === DISABLED)).toEqual([[A.ASSET_MODEL, DISABLED, K.mTrain, null]]);
        expect(events.find((e) => e.event_kind === DISABLED)?.model?.address ?? null).toBeNull();
        expect(txOf((e) => e.asset_key === K.mLocal)).toEqual([
            [A.ASSET_MODEL, CREATED, K.mLocal, null],
            [A.ASSET_COMPUTE_TASK_OUTPUT_ASSET, CREATED, K.composite1, null],
        ]);
        const metricUpdates = events.filter((e) => e.asset_key === K.metric && e.event_kind === UPDATED);
        expect(metricUpdates.map((e) => [e.function?.status, e.metadata?.reason ?? null])).toEqual([
            [FS.FUNCTION_STATUS_BUILDING, 'User action'],
            [FS.FUNCTION_STATUS_BUILDING, null], // UpdateFunction (image)
            [FS.FUNCTION_STATUS_READY, 'User action'],
            [FS.FUNCTION_STATUS_READY, null], // UpdateFunction (name)
        ]);
        expect(metricUpdates.every((e) => e.function?.image !== null)).toBe(true);
        expect(txOf((e) => e.asset_kind === A.ASSET_ORGANIZATION)).toEqual([
            [A.ASSET_ORGANIZATION, CREATED, ORG1, null],
        ]);
        const profiling = events.find((e) => e.asset_kind === AssetKind.ASSET_PROFILING_STEP);
        expect(profiling?.profiling_step).toMatchObject({ asset_key: K.train, step: 'build_image', duration: 1234 });
    });

    it('QueryEvents filters by kind, key, metadata and time, sorts and pages', async () => {
        const ours = new Set([K.plan, K.failPlan, K.buildFailPlan, K.cancelPlan]);
        const plans = (await allEvents(o2, { asset_kind: AssetKind.ASSET_COMPUTE_PLAN })).filter((e) =>
            ours.has(e.asset_key ?? ''),
        );
        expect(plans.map((e) => [e.event_kind, e.asset_key])).toEqual([
            [EventKind.EVENT_ASSET_CREATED, K.plan],
            ...[K.failPlan, K.buildFailPlan, K.cancelPlan].map((k) => [EventKind.EVENT_ASSET_CREATED, k]),
            [EventKind.EVENT_ASSET_UPDATED, K.cancelPlan],
            [EventKind.EVENT_ASSET_UPDATED, K.plan],
        ]);
        const updated = await allEvents(o2, {
            asset_kind: AssetKind.ASSET_COMPUTE_PLAN,
            event_kind: EventKind.EVENT_ASSET_UPDATED,
        });
        expect(updated.map((e) => e.asset_key).filter((k) => ours.has(k ?? ''))).toEqual([K.cancelPlan, K.plan]);
        const train = await allEvents(o2, { asset_key: K.train1 }, 3);
        expect(train.length).toBeGreaterThan(3);
        expect(train.every((e) => e.asset_key === K.train1)).toBe(true);
        const reasons = await allEvents(o2, { metadata: { reason: 'failure report registered' } });
        expect(reasons.map((e) => e.asset_key).sort()).toEqual([K.failing, K.broken, K.brokenTask].sort());
        const desc = await o2.call<orchestrator.IQueryEventsResponse>('EventService/QueryEvents', {
            page_size: 1,
            sort: orchestrator.SortOrder.DESCENDING,
            filter: { asset_kind: AssetKind.ASSET_COMPUTE_PLAN },
        });
        const allPlans = await allEvents(o2, { asset_kind: AssetKind.ASSET_COMPUTE_PLAN });
        expect(desc.events?.map((e) => e.id)).toEqual([allPlans.at(-1)?.id]);
        expect(desc.next_page_token).not.toBe('');
        // inclusive time range: exactly the events of the plan creation transaction
        const created = plans[0]!;
        const at = await allEvents(o2, { start: created.timestamp, end: created.timestamp });
        expect(at.map((e) => e.id)).toEqual([created.id]);
    });

    it('a client resumes with start_event_id after the gateway restarts', async () => {
        // A gateway process of its own (same Fabric network, own event index), stopped and started on the same state dir.
        const root = path.join(network.root, 'restart');
        const env = { ...network.gatewayEnv, ORCHESTRATOR_STATE_DIR: path.join(root, 'events') };
        const logFile = path.join(root, 'gateway.log');
        let gateway: GatewayProcess = await startGatewayProcess({ env, logFile });
        try {
            const first = new OrgClient(`127.0.0.1:${gateway.port}`, ORG2, MY);
            // the last event of the chain so far (its index starts empty and catches up with the chain)
            const marker = await settled(o1);
            const sub = first.subscribe('');
            const seen = await sub.waitFor((got) => got.some((e) => e.id === marker.id));
            const last = seen.at(-1)!;
            expect(last.id).toBe(marker.id);
            // SIGTERM: the open stream ends with UNAVAILABLE and the process exits
            await gateway.stop();
            expect((await sub.failure()).code).toBe(grpc.status.UNAVAILABLE);
            // new events while that gateway is down
            const extra = key();
            await o1.call('ComputePlanService/RegisterPlan', { key: extra, name: 'while the gateway was down' });
            await o1.call('ComputePlanService/UpdatePlan', { key: extra, name: 'renamed while down' });
            gateway = await startGatewayProcess({ env, logFile });
            const again = new OrgClient(`127.0.0.1:${gateway.port}`, ORG2, MY);
            const resumed = again.subscribe(last.id ?? '');
            const next = await resumed.waitFor((got) => got.length >= 2);
            resumed.cancel();
            expect(next.map((e) => [e.asset_key, e.event_kind, e.channel])).toEqual([
                [extra, EventKind.EVENT_ASSET_CREATED, MY],
                [extra, EventKind.EVENT_ASSET_UPDATED, MY],
            ]);
            // resuming in the middle of a multi-event transaction is exact
            const batch = seen.findIndex((e, i) => i > 0 && e.id?.split(':')[0] === seen[i - 1]?.id?.split(':')[0]);
            expect(batch).toBeGreaterThan(0);
            const mid = again.subscribe(seen[batch - 1]?.id ?? '');
            const fromMid = await mid.waitFor((got) => got.length >= seen.length - batch);
            mid.cancel();
            expect(fromMid.slice(0, seen.length - batch).map((e) => e.id)).toEqual(seen.slice(batch).map((e) => e.id));
            const bad = again.subscribe('no-such-transaction:0');
            expect((await bad.failure()).code).toBe(grpc.status.UNKNOWN);
            await gateway.stop();
            // a gateway whose event index was lost (new state dir) rebuilds it from the chain and resumes as well
            gateway = await startGatewayProcess({
                env: { ...env, ORCHESTRATOR_STATE_DIR: path.join(root, 'fresh-events') },
                logFile,
            });
            const fresh = new OrgClient(`127.0.0.1:${gateway.port}`, ORG2, MY).subscribe(last.id ?? '');
            const fromFresh = await fresh.waitFor((got) => got.length >= 2);
            fresh.cancel();
            expect(fromFresh.slice(0, 2).map((e) => e.id)).toEqual(next.slice(0, 2).map((e) => e.id));
        } finally {
            await gateway.stop();
        }
    });
});

describe('latency (informational)', () => {
    it('one write (RegisterDataManager) and one read (GetDataManager) through the gateway', async () => {
        const timings: { write: number[]; read: number[] } = { write: [], read: [] };
        for (let i = 0; i < 5; i++) {
            const k = key();
            let t = performance.now();
            await o2.call('DataManagerService/RegisterDataManager', {
                key: k,
                name: `latency ${i}`,
                new_permissions: everyone,
                description: addressable('lat/description.md'),
                opener: addressable('lat/opener.py'),
                logs_permission: everyone,
            });
            timings.write.push(performance.now() - t);
            t = performance.now();
            await o2.call('DataManagerService/GetDataManager', { key: k });
            timings.read.push(performance.now() - t);
        }
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
        console.log(
            `[latency] RegisterDataManager (submit + commit): median ${median(timings.write).toFixed(1)} ms ` +
                `[${timings.write.map((x) => x.toFixed(0)).join(', ')}]; ` +
                `GetDataManager (evaluate): median ${median(timings.read).toFixed(1)} ms ` +
                `[${timings.read.map((x) => x.toFixed(0)).join(', ')}]`,
        );
    });
});

describe('coverage', () => {
    it('every one of the 40 RPCs was called', () => {
        const all = RPCS.map((r) => `${r.service}/${r.method}`);
        expect(all).toHaveLength(40);
        expect(all.filter((r) => !calledRpcs.has(r))).toEqual([]);
        console.log(
            ['[coverage] RPC → first test calling it', ...all.map((r) => `  ${r} → ${calledRpcs.get(r) ?? '-'}`)].join(
                '\n',
            ),
        );
    });
});
