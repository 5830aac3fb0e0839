/**
 * The task repository (src/repository/computetask.ts) answers inside a transaction as if range reads saw the
 * transaction's own writes: tasks registered or moved, child links and output assets written earlier in the same
 * transaction are listed where committed ones would be. And its paging stays whole under the peer's
 * totalQueryLimit.
 */
import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import { taskRepository } from '../src/repository/computetask';
import { openTransaction } from '../src/ledger/transaction';
import type { Complete } from '../src/service/messages';
import { FakeStub, FakeWorldState, fakeTxId } from './support/fake-stub';
import { A, FN_PLAIN, K, ORG1, PLAN, S, key, newTaskLedger, plainTask } from './support/fixtures';
import type { TestLedger } from './support/ledger';
import { complete } from './support/messages';

function registerParam(tasks: orchestrator.INewComputeTask[]): Complete<orchestrator.IRegisterTasksParam> {
    return complete(orchestrator.RegisterTasksParam, { tasks });
}

function actionParam(
    taskKey: string,
    action: orchestrator.ComputeTaskAction,
): Complete<orchestrator.IApplyTaskActionParam> {
    return complete(orchestrator.ApplyTaskActionParam, { compute_task_key: taskKey, action });
}

async function registered(ledger: TestLedger, tasks: orchestrator.INewComputeTask[]): Promise<void> {
    await ledger.invoke(ORG1, (s) => s.computeTasks.registerTasks(registerParam(tasks)));
}

const keysOf = (tasks: readonly orchestrator.IComputeTask[]): string[] => tasks.map((t) => t.key ?? '');

describe('task repository: a transaction lists what it wrote', () => {
    it('tasks registered in the transaction: child links, function and plan status lists', async () => {
        const ledger = await newTaskLedger();
        await registered(ledger, [plainTask(key(1))]);
        const res = await ledger.invoke(ORG1, async (s, ctx) => {
            const tasks = taskRepository(ctx.store);
            const before = await tasks.planHasTaskIn(PLAN, S.STATUS_WAITING_FOR_PARENT_TASKS);
            // key(3) is the child of key(2), both new; key(2) the child of the committed key(1).
            await s.computeTasks.registerTasks(
                registerParam([plainTask(key(3), [key(2)]), plainTask(key(2), [key(1)])]),
            );
            return {
                before,
                after: await tasks.planHasTaskIn(PLAN, S.STATUS_WAITING_FOR_PARENT_TASKS),
                children1: await tasks.childKeys(key(1)),
                children2: await tasks.childKeys(key(2)),
                waiting: keysOf(await tasks.byFunctionAndStatus(FN_PLAIN, S.STATUS_WAITING_FOR_PARENT_TASKS)),
                ready: keysOf(await tasks.byFunctionAndStatus(FN_PLAIN, S.STATUS_WAITING_FOR_EXECUTOR_SLOT)),
            };
        });
        expect(res.result).toEqual({
            before: false,
            after: true,
            children1: [key(2)],
            children2: [key(3)],
            // Same creation date: key order.
            waiting: [key(2), key(3)],
            ready: [key(1)],
        });
    });

    it('committed tasks moved by the transaction leave their old status list and join the new one in (creation, key) order', async () => {
        const ledger = await newTaskLedger();
        await registered(ledger, [plainTask(key(9))]);
        await registered(ledger, [plainTask(key(8))]);
        await registered(ledger, [plainTask(key(7))]);
        const res = await ledger.invoke(ORG1, async (s, ctx) => {
            const tasks = taskRepository(ctx.store);
            // Moved in reverse creation order: the list still follows creation dates.
            await s.computeTasks.applyTaskAction(actionParam(key(7), A.TASK_ACTION_EXECUTING));
            await s.computeTasks.applyTaskAction(actionParam(key(9), A.TASK_ACTION_EXECUTING));
            const executing = keysOf(await tasks.byFunctionAndStatus(FN_PLAIN, S.STATUS_EXECUTING));
            const waiting = keysOf(await tasks.byFunctionAndStatus(FN_PLAIN, S.STATUS_WAITING_FOR_EXECUTOR_SLOT));
            await s.computeTasks.applyTaskAction(actionParam(key(8), A.TASK_ACTION_CANCELED));
            return {
                executing,
                waiting,
                stillWaiting: await tasks.planHasTaskIn(PLAN, S.STATUS_WAITING_FOR_EXECUTOR_SLOT),
                canceled: await tasks.planHasTaskIn(PLAN, S.STATUS_CANCELED),
            };
        });
        expect(res.result).toEqual({
            executing: [key(9), key(7)],
            waiting: [key(8)],
            stillWaiting: false,
            canceled: true,
        });
    });

    it('output assets added by the transaction follow the committed ones, per output and for the whole task', async () => {
        const ledger = await newTaskLedger();
        await registered(ledger, [plainTask(key(1))]);
        await ledger.invoke(ORG1, async (s) => {
            const task = await s.computeTasks.getTask(key(1));
            await s.computeTasks.addOutputAsset(task, 'b', K.ASSET_MODEL, key(0xb, 1));
        });
        const res = await ledger.invoke(ORG1, async (s, ctx) => {
            const tasks = taskRepository(ctx.store);
            const task = await s.computeTasks.getTask(key(1));
            await s.computeTasks.addOutputAsset(task, 'b', K.ASSET_MODEL, key(0xb, 2));
            await s.computeTasks.addOutputAsset(task, 'a', K.ASSET_MODEL, key(0xb, 3));
            return {
                b: (await tasks.outputAssets(key(1), 'b')).map((o) => o.asset_key),
                all: (await tasks.allOutputAssets(key(1))).map((o) => [o.compute_task_output_identifier, o.asset_key]),
            };
        });
        expect(res.result).toEqual({
            b: [key(0xb, 1), key(0xb, 2)],
            all: [
                ['a', key(0xb, 3)],
                ['b', key(0xb, 1)],
                ['b', key(0xb, 2)],
            ],
        });
        // Positions continue after the committed record.
        expect(res.writes.map((w) => w.key.split('\u0000').slice(1, -1))).toEqual([
            ['computetaskoutputasset', key(1), 'a', '0000000000'],
            ['computetaskoutputasset', key(1), 'b', '0000000001'],
        ]);
    });

    it('findShared gives one object per task, as last written; get gives fresh copies', async () => {
        const ledger = await newTaskLedger();
        await registered(ledger, [plainTask(key(1))]);
        await ledger.invoke(ORG1, async (s, ctx) => {
            const tasks = taskRepository(ctx.store);
            const shared = await tasks.findShared(key(1));
            expect(await tasks.findShared(key(1))).toBe(shared);
            expect(await tasks.findShared(key(2))).toBeUndefined();
            const copy = await tasks.get(key(1));
            expect(copy).not.toBe(await tasks.get(key(1)));
            await s.computeTasks.applyTaskAction(actionParam(key(1), A.TASK_ACTION_EXECUTING));
            expect((await tasks.findShared(key(1)))?.status).toBe(S.STATUS_EXECUTING);
            expect(shared?.status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
        });
    });
});

describe('task repository under the peer totalQueryLimit', () => {
    /** A transaction on a copy of the ledger's committed state whose peer returns at most `limit` records per query. */
    function limitedTx(ledger: TestLedger, limit: number, n: number): ReturnType<typeof openTransaction> {
        const world = new FakeWorldState({ totalQueryLimit: limit });
        for (const k of ledger.world.keys()) {
            world.seed(k, ledger.get(k)!);
        }
        const stub = new FakeStub(world, {
            txId: fakeTxId(`limited-${n}`),
            timestamp: { seconds: 2_000_000_000 + n, nanos: 0 },
            mspid: ORG1,
        });
        return openTransaction(stub, ORG1, { totalQueryLimit: limit });
    }

    async function queryAll(
        ledger: TestLedger,
        limit: number,
        filter: orchestrator.ITaskQueryFilter,
        pageSize: number,
    ): Promise<string[]> {
        const keys: string[] = [];
        let token = '';
        let n = 0;
        do {
            const tx = limitedTx(ledger, limit, n++);
            const param = complete(orchestrator.QueryTasksParam, { filter, page_size: pageSize, page_token: token });
            const res = await tx.services.computeTasks.queryTasks(param);
            keys.push(...keysOf(res.tasks));
            token = res.next_page_token;
        } while (token !== '' && n < 100);
        return keys;
    }

    it('QueryTasks with pages larger than the limit reaches every task, with its own index or a filter on records', async () => {
        const ledger = await newTaskLedger();
        const all = Array.from({ length: 12 }, (_, i) => key(0x400, i));
        await registered(
            ledger,
            all.map((k) => plainTask(k)),
        );
        await ledger.invoke(ORG1, (s) => s.computeTasks.applyTaskAction(actionParam(all[3]!, A.TASK_ACTION_CANCELED)));
        const waiting = all.filter((_, i) => i !== 3);
        for (const pageSize of [0, 2, 5, 50]) {
            expect(await queryAll(ledger, 4, { compute_plan_key: PLAN }, pageSize)).toEqual(all);
            expect(await queryAll(ledger, 4, { status: S.STATUS_WAITING_FOR_EXECUTOR_SLOT }, pageSize)).toEqual(
                waiting,
            );
            expect(await queryAll(ledger, 4, { worker: ORG1, status: S.STATUS_CANCELED }, pageSize)).toEqual([all[3]]);
        }
    });

    it('children, function lists and plan status see past the limit', async () => {
        const ledger = await newTaskLedger();
        const children = Array.from({ length: 9 }, (_, i) => key(0x501, i));
        await registered(ledger, [plainTask(key(0x500))]);
        await registered(
            ledger,
            children.map((k) => plainTask(k, [key(0x500)])),
        );
        const tx = limitedTx(ledger, 3, 0);
        const tasks = taskRepository(tx.ctx.store);
        expect(await tasks.childKeys(key(0x500))).toEqual(children);
        expect(keysOf(await tasks.byFunctionAndStatus(FN_PLAIN, S.STATUS_WAITING_FOR_PARENT_TASKS))).toEqual(children);
        expect(await tx.services.computePlans.isPlanRunning(PLAN)).toBe(true);
    });
});
