import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import {
    A,
    address,
    DM1,
    DS1,
    DS2,
    FN_AGG,
    FN_PLAIN,
    FN_TRAIN,
    K,
    ORG1,
    ORG2,
    PLAN,
    PLAN2,
    act,
    assetInput,
    compositeKey,
    getTask,
    key,
    newTaskLedger,
    output,
    parentInput,
    plainTask,
    publicPermissions,
    getModel,
    register,
    runToDone,
    overwriteFunction,
    writeRawModel,
    expectRejected,
    trainTask,
    S,
} from './support/fixtures';
import type { TestLedger } from './support/ledger';
import { complete } from './support/messages';

/**
 * Records `models` as outputs of `taskKey`/`identifier` in one transaction, through addOutputAsset alone: the
 * model records (the model service's half of RegisterModels) are written raw, so the test isolates the task side.
 */
async function addModels(ledger: TestLedger, taskKey: string, identifier: string, models: string[]) {
    for (const m of models) {
        writeRawModel(ledger, {
            key: m,
            compute_task_key: taskKey,
            address: address(),
            permissions: publicPermissions(),
            owner: ORG1,
        });
    }
    return ledger.invoke(ORG1, async (s) => {
        const task = await s.computeTasks.getTask(taskKey);
        for (const m of models) {
            await s.computeTasks.addOutputAsset(task, identifier, K.ASSET_MODEL, m);
        }
        return s.computeTasks.countOutputAssets(taskKey, identifier);
    });
}

describe('task output assets (§4.1, §4.2)', () => {
    it('§4.2: records get positions 0, 1, ... per (task, identifier), counting this call, and emit events keyed by the task', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        const first = await addModels(ledger, key(1), 'model', [key(0xb, 2), key(0xb, 1)]);
        expect(first.result).toBe(2);
        expect(first.events.map((e) => [e.event_kind, e.asset_kind, e.asset_key])).toEqual([
            [orchestrator.EventKind.EVENT_ASSET_CREATED, K.ASSET_COMPUTE_TASK_OUTPUT_ASSET, key(1)],
            [orchestrator.EventKind.EVENT_ASSET_CREATED, K.ASSET_COMPUTE_TASK_OUTPUT_ASSET, key(1)],
        ]);
        expect(first.events[0]!.compute_task_output_asset).toEqual(
            orchestrator.ComputeTaskOutputAsset.create({
                compute_task_key: key(1),
                compute_task_output_identifier: 'model',
                asset_kind: K.ASSET_MODEL,
                asset_key: key(0xb, 2),
            }),
        );
        expect(first.events[0]!.metadata).toEqual({});
        const second = await addModels(ledger, key(1), 'model', [key(0xb, 3)]);
        expect(second.result).toBe(3);
        const positions = second.writes.map((w) => ledger.world.keys().indexOf(w.key) >= 0 && w.key.split('\u0000')[4]);
        expect(positions).toEqual(['0000000002']);
        const all = await ledger.evaluate(ORG1, (s) => s.computeTasks.getOutputAssets(key(1), 'model'));
        expect(all.result.map((r) => r.asset_key)).toEqual([key(0xb, 2), key(0xb, 1), key(0xb, 3)]);
        const other = await ledger.evaluate(ORG1, (s) => s.computeTasks.countOutputAssets(key(1), 'mod'));
        expect(other.result).toBe(0);
    });
});

describe('DisableOutput (§4.3)', () => {
    /** Parent key(1) (transient output, two models) DONE, child key(2) in `childStatus`. */
    async function setup(childAction?: orchestrator.ComputeTaskAction): Promise<TestLedger> {
        const ledger = await newTaskLedger();
        await register(ledger, [
            plainTask(key(1), [], { outputs: { model: output({ transient: true }) } }),
            plainTask(key(2), [key(1)]),
        ]);
        await act(ledger, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        await addModels(ledger, key(1), 'model', [key(0xb, 1), key(0xb, 2)]);
        await act(ledger, ORG1, key(1), A.TASK_ACTION_DONE);
        if (childAction !== undefined) {
            await act(ledger, ORG1, key(2), childAction);
        }
        return ledger;
    }

    async function disable(ledger: TestLedger, taskKey: string, identifier: string, mspid = ORG1) {
        return ledger.invoke(mspid, (s) =>
            s.computeTasks.disableOutput(
                complete(orchestrator.DisableOutputParam, { compute_task_key: taskKey, identifier }),
            ),
        );
    }

    async function expectRefused(
        ledger: TestLedger,
        taskKey: string,
        identifier: string,
        message: string,
        mspid = ORG1,
    ): Promise<void> {
        await expectRejected(
            ledger,
            mspid,
            (s) =>
                s.computeTasks.disableOutput(
                    complete(orchestrator.DisableOutputParam, { compute_task_key: taskKey, identifier }),
                ),
            message,
        );
    }

    it('§4.3.10: removes the address of each model in position order and emits MODEL DISABLED', async () => {
        const ledger = await setup(A.TASK_ACTION_CANCELED);
        const res = await disable(ledger, key(1), 'model');
        expect(res.events.map((e) => [e.event_kind, e.asset_kind, e.asset_key])).toEqual([
            [orchestrator.EventKind.EVENT_ASSET_DISABLED, K.ASSET_MODEL, key(0xb, 1)],
            [orchestrator.EventKind.EVENT_ASSET_DISABLED, K.ASSET_MODEL, key(0xb, 2)],
        ]);
        expect(res.events[0]!.model?.address).toBeFalsy();
        expect((await getModel(ledger, key(0xb, 1))).address).toBeFalsy();
        expect((await getModel(ledger, key(0xb, 2))).key).toBe(key(0xb, 2));
        // Decision: a second disable is OE0108.
        await expectRefused(ledger, key(1), 'model', `OE0108: model "${key(0xb, 1)}" is already disabled`);
        // §2.6.5 consequence: no new child of the parent.
        await expect(register(ledger, [plainTask(key(3), [key(1)])])).rejects.toThrow(
            `OE0101: Model "${key(0xb, 1)}" has been disabled`,
        );
    });

    it('§4.3.1-2: NotFound, then only the worker', async () => {
        const ledger = await setup(A.TASK_ACTION_CANCELED);
        await expectRefused(ledger, key(9), 'model', `OE0002: computetask with key "${key(9)}" not found`);
        await expectRefused(ledger, key(1), 'model', 'OE0102: only the worker can disable a task output', ORG2);
    });

    it('§4.3.3: the task must be final', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1), [], { outputs: { model: output({ transient: true }) } })]);
        await expectRefused(ledger, key(1), 'model', 'OE0108: cannot disable asset: task not in final state');
    });

    it('§4.3.4-7: identifier, transient, registered assets, MODEL kind', async () => {
        const ledger = await setup(A.TASK_ACTION_CANCELED);
        await expectRefused(ledger, key(1), 'nope', `OE0108: there is no output identifier nope for task ${key(1)}`);
        await expectRefused(ledger, key(2), 'model', 'OE0108: output is not transient');
        // A transient output with nothing registered, and one holding a performance.
        const ledger2 = await newTaskLedger();
        await register(ledger2, [
            plainTask(key(1), [], { outputs: { model: output({ transient: true }) } }),
            plainTask(key(2), [key(1)]),
        ]);
        await runToDone(ledger2, key(1));
        await expectRefused(
            ledger2,
            key(1),
            'model',
            `OE0108: there is no output asset with identifier model for task ${key(1)}`,
        );
        await ledger2.invoke(ORG1, async (s) =>
            s.computeTasks.addOutputAsset(
                await s.computeTasks.getTask(key(1)),
                'model',
                K.ASSET_PERFORMANCE,
                `${key(1)}|model`,
            ),
        );
        await expectRefused(ledger2, key(1), 'model', 'OE0108: cannot disable output of kind: ASSET_PERFORMANCE');
    });

    it('§4.3.8-9: the task needs children, all in a final status', async () => {
        const ledger = await setup();
        await expectRefused(ledger, key(1), 'model', 'OE0108: cannot disable asset: child not in final state');
        const lonely = await newTaskLedger();
        await register(lonely, [plainTask(key(1), [], { outputs: { model: output({ transient: true }) } })]);
        await act(lonely, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        await addModels(lonely, key(1), 'model', [key(0xb, 1)]);
        await act(lonely, ORG1, key(1), A.TASK_ACTION_DONE);
        await expectRefused(lonely, key(1), 'model', 'OE0108: cannot disable output of a task with no children');
        // A DONE child is final too.
        await runToDone(ledger, key(2));
        const res = await disable(ledger, key(1), 'model');
        expect(res.events).toHaveLength(2);
    });
});

describe('GetTaskInputAssets (§4.4)', () => {
    it('§4.4: assets by key and every output asset of parent outputs, in input then position order', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1)), plainTask(key(2))]);
        for (const [t, models] of [
            [key(1), [key(0xb, 0x12), key(0xb, 0x11)]],
            [key(2), [key(0xb, 0x21)]],
        ] as const) {
            await act(ledger, ORG1, t, A.TASK_ACTION_EXECUTING);
            await addModels(ledger, t, 'model', [...models]);
            await act(ledger, ORG1, t, A.TASK_ACTION_DONE);
        }
        // A model whose task is not in this ledger: unreachable through the API, written raw.
        writeRawModel(ledger, {
            key: key(0xb, 0x31),
            compute_task_key: key(0x50),
            address: address(),
            permissions: publicPermissions(),
        });
        await register(ledger, [
            {
                key: key(3),
                function_key: FN_AGG,
                compute_plan_key: PLAN,
                worker: ORG1,
                inputs: [
                    parentInput('models', key(2), 'model'),
                    assetInput('models', key(0xb, 0x31)),
                    parentInput('models', key(1), 'model'),
                ],
                outputs: { model: output() },
            },
            trainTask(key(4), {
                inputs: [
                    assetInput('opener', DM1),
                    assetInput('datasamples', DS2),
                    assetInput('datasamples', DS1),
                    parentInput('model', key(1), 'model'),
                ],
            }),
        ]);
        const agg = await ledger.evaluate(ORG2, (s) =>
            s.computeTasks.getTaskInputAssets(
                complete(orchestrator.GetTaskInputAssetsParam, { compute_task_key: key(3) }),
            ),
        );
        expect(agg.result.assets.map((a) => [a.identifier, a.model?.key])).toEqual([
            ['models', key(0xb, 0x21)],
            ['models', key(0xb, 0x31)],
            ['models', key(0xb, 0x12)],
            ['models', key(0xb, 0x11)],
        ]);
        const train = await ledger.evaluate(ORG1, (s) =>
            s.computeTasks.getTaskInputAssets(
                complete(orchestrator.GetTaskInputAssetsParam, { compute_task_key: key(4) }),
            ),
        );
        expect(
            train.result.assets.map((a) => [a.identifier, a.data_manager?.key ?? a.data_sample?.key ?? a.model?.key]),
        ).toEqual([
            ['opener', DM1],
            ['datasamples', DS2],
            ['datasamples', DS1],
            ['model', key(0xb, 0x12)],
            ['model', key(0xb, 0x11)],
        ]);
    });

    it('§4.4: NotFound, BadRequest outside WAITING_FOR_EXECUTOR_SLOT/EXECUTING/FAILED, PERFORMANCE record Unimplemented', async () => {
        const ledger = await newTaskLedger();
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.computeTasks.getTaskInputAssets(
                    complete(orchestrator.GetTaskInputAssetsParam, { compute_task_key: key(9) }),
                ),
            ),
        ).rejects.toThrow(/^OE0002: computetask/);
        await register(ledger, [plainTask(key(1)), plainTask(key(2), [key(1)])]);
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.computeTasks.getTaskInputAssets(
                    complete(orchestrator.GetTaskInputAssetsParam, { compute_task_key: key(2) }),
                ),
            ),
        ).rejects.toThrow(
            'OE0003: Task inputs may not be defined in current task status ("STATUS_WAITING_FOR_PARENT_TASKS")',
        );
        for (const action of [A.TASK_ACTION_EXECUTING, A.TASK_ACTION_FAILED]) {
            await act(ledger, ORG1, key(1), action);
            const res = await ledger.evaluate(ORG1, (s) =>
                s.computeTasks.getTaskInputAssets(
                    complete(orchestrator.GetTaskInputAssetsParam, { compute_task_key: key(1) }),
                ),
            );
            expect(res.result.assets).toEqual([]);
        }
        // A PERFORMANCE record behind a parent output cannot be returned.
        const ledger2 = await newTaskLedger();
        await register(ledger2, [plainTask(key(1))]);
        await act(ledger2, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        await ledger2.invoke(ORG1, async (s) =>
            s.computeTasks.addOutputAsset(await s.computeTasks.getTask(key(1)), 'model', K.ASSET_PERFORMANCE, 'perf'),
        );
        await act(ledger2, ORG1, key(1), A.TASK_ACTION_DONE);
        await register(ledger2, [plainTask(key(2), [key(1)])]);
        await expect(
            ledger2.evaluate(ORG1, (s) =>
                s.computeTasks.getTaskInputAssets(
                    complete(orchestrator.GetTaskInputAssetsParam, { compute_task_key: key(2) }),
                ),
            ),
        ).rejects.toThrow('OE0010: unsupported input kind: "ASSET_PERFORMANCE"');
    });

    it('§4.4: an input the function no longer declares is Internal; a missing asset is NotFound', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1)), plainTask(key(5), [key(1)]), trainTask(key(2))]);
        await runToDone(ledger, key(1));
        // Only a corrupted state can drop the declaration: redefine the function without inputs.
        // A function stored without the inputs its tasks use: corrupted state, written raw.
        overwriteFunction(ledger, FN_PLAIN, { inputs: {} });
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.computeTasks.getTaskInputAssets(
                    complete(orchestrator.GetTaskInputAssetsParam, { compute_task_key: key(5) }),
                ),
            ),
        ).rejects.toThrow('OE0007: missing function input');
        // A data sample gone from the state: NotFound.
        ledger.world.seed(compositeKey('datasample', [DS1]), new Uint8Array(0));
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.computeTasks.getTaskInputAssets(
                    complete(orchestrator.GetTaskInputAssetsParam, { compute_task_key: key(2) }),
                ),
            ),
        ).rejects.toThrow(`OE0002: datasample with key "${DS1}" not found`);
    });
});

describe('GetTask and QueryTasks (§4.5, §4.6)', () => {
    it('§4.5: GetTask returns the complete task; a missing or malformed key is NotFound', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [trainTask(key(1))]);
        const task = await getTask(ledger, key(1));
        expect(task.inputs).toHaveLength(2);
        expect(Object.keys(task.outputs)).toEqual(['model']);
        await expect(getTask(ledger, 'garbage')).rejects.toThrow('OE0002: computetask with key "garbage" not found');
    });

    it('§4.6: every filter combination, creation date then key order, pages of page_size (0 = 50)', async () => {
        const ledger = await newTaskLedger();
        // tx 1: ORG1 tasks in PLAN; tx 2: ORG2 worker tasks; tx 3: a task of PLAN2 by ORG2.
        await register(ledger, [plainTask(key(5)), plainTask(key(3)), trainTask(key(4))]);
        await register(ledger, [plainTask(key(2), [], { worker: ORG2 }), plainTask(key(1), [], { worker: ORG2 })]);
        await register(ledger, [plainTask(key(6), [], { compute_plan_key: PLAN2, worker: ORG2 })], ORG2);
        await act(ledger, ORG1, key(3), A.TASK_ACTION_CANCELED);
        const query = async (filter: orchestrator.ITaskQueryFilter, pageSize = 0, token = '') =>
            (
                await ledger.evaluate(ORG1, (s) =>
                    s.computeTasks.queryTasks(
                        complete(orchestrator.QueryTasksParam, { filter, page_size: pageSize, page_token: token }),
                    ),
                )
            ).result;
        const keys = async (filter: orchestrator.ITaskQueryFilter) => (await query(filter)).tasks.map((t) => t.key);

        expect(await keys({})).toEqual([key(3), key(4), key(5), key(1), key(2), key(6)]);
        expect(await keys({ compute_plan_key: PLAN })).toEqual([key(3), key(4), key(5), key(1), key(2)]);
        expect(await keys({ worker: ORG2 })).toEqual([key(1), key(2), key(6)]);
        expect(await keys({ status: S.STATUS_CANCELED })).toEqual([key(3)]);
        expect(await keys({ status: S.STATUS_WAITING_FOR_EXECUTOR_SLOT })).toEqual([
            key(4),
            key(5),
            key(1),
            key(2),
            key(6),
        ]);
        expect(await keys({ function_key: FN_TRAIN })).toEqual([key(4)]);
        expect(await keys({ function_key: FN_PLAIN, worker: ORG1 })).toEqual([key(3), key(5)]);
        expect(
            await keys({
                compute_plan_key: PLAN,
                worker: ORG2,
                status: S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
                function_key: FN_PLAIN,
            }),
        ).toEqual([key(1), key(2)]);
        expect(await keys({ compute_plan_key: PLAN2, status: S.STATUS_DONE })).toEqual([]);
        // Tasks are complete.
        expect((await query({ function_key: FN_TRAIN })).tasks[0]!.inputs).toHaveLength(2);

        const p1 = await query({ compute_plan_key: PLAN }, 2);
        expect(p1.tasks.map((t) => t.key)).toEqual([key(3), key(4)]);
        const p2 = await query({ compute_plan_key: PLAN }, 2, p1.next_page_token);
        expect(p2.tasks.map((t) => t.key)).toEqual([key(5), key(1)]);
        const p3 = await query({ compute_plan_key: PLAN }, 2, p2.next_page_token);
        expect(p3.tasks.map((t) => t.key)).toEqual([key(2)]);
        expect(p3.next_page_token).toBe('');
        await expect(query({}, 2, '5')).rejects.toThrow(/invalid page token/);
        await expect(query({ worker: ORG1 }, 2, p1.next_page_token)).rejects.toThrow(/invalid page token/);
    });

    it('§4.6: a page is read with one paginated range query of page_size + 1 records', async () => {
        const ledger = await newTaskLedger();
        const tasks = Array.from({ length: 120 }, (_, i) => plainTask(key(0x400, i)));
        await register(ledger, tasks);
        const res = await ledger.evaluate(ORG1, (s) =>
            s.computeTasks.queryTasks(complete(orchestrator.QueryTasksParam, { filter: {}, page_size: 0 })),
        );
        expect(res.result.tasks).toHaveLength(50);
        // 51 index records + 50 task point reads.
        expect(res.reads).toBe(101);
        const last = await ledger.evaluate(ORG1, (s) =>
            s.computeTasks.queryTasks(
                complete(orchestrator.QueryTasksParam, { page_size: 100, page_token: res.result.next_page_token }),
            ),
        );
        expect(last.result.tasks.map((t) => t.key)).toEqual(tasks.slice(50).map((t) => t.key));
        expect(last.result.next_page_token).toBe('');
    });
});
