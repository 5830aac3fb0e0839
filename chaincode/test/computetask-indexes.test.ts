/**
 * Task indexes and their costs: QueryTasks results for every filter combination (§4.6), the number of writes per
 * registration and per status change, the scan budget of filtered queries, large cascades, and the absence of
 * keys shared by the transitions of different tasks (no hot keys, design.md).
 */
import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import { QUERY_SCAN_FACTOR } from '../src/repository/computetask';
import { queryIndexFor, type TaskFilterField } from '../src/repository/computetask-indexes';
import {
    A,
    FN_PLAIN,
    FN_TRAIN,
    ORG1,
    ORG2,
    PLAN,
    PLAN2,
    act,
    getTask,
    key,
    newTaskLedger,
    plainTask,
    register,
    runToDone,
    trainTask,
    S,
} from './support/fixtures';
import type { TestLedger } from './support/ledger';
import { complete } from './support/messages';

async function queryAll(
    ledger: TestLedger,
    filter: orchestrator.ITaskQueryFilter,
    pageSize: number,
): Promise<{ keys: string[]; pages: number }> {
    const keys: string[] = [];
    let token = '';
    let pages = 0;
    do {
        const res = await ledger.evaluate(ORG1, (s) =>
            s.computeTasks.queryTasks(
                complete(orchestrator.QueryTasksParam, { filter, page_size: pageSize, page_token: token }),
            ),
        );
        expect(res.result.tasks.length).toBeLessThanOrEqual(pageSize);
        keys.push(...res.result.tasks.map((t) => t.key ?? ''));
        token = res.result.next_page_token;
        pages++;
    } while (token !== '');
    return { keys, pages };
}

function byCreationThenKey(a: orchestrator.ComputeTask, b: orchestrator.ComputeTask): number {
    const da = a.creation_date?.seconds ?? 0;
    const db = b.creation_date?.seconds ?? 0;
    return da !== db ? da - db : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

describe('task indexes (§4.6, §1.8, §3.7) and write costs', () => {
    it('§4.6: each combination reads its own index or the narrowest one that fits', () => {
        expect(queryIndexFor([])).toEqual({ fields: [], residual: [] });
        expect(queryIndexFor(['plan', 'status'])).toEqual({ fields: ['plan', 'status'], residual: [] });
        expect(queryIndexFor(['function', 'status'])).toEqual({ fields: ['function', 'status'], residual: [] });
        expect(queryIndexFor(['plan', 'function'])).toEqual({ fields: ['plan', 'function'], residual: [] });
        expect(queryIndexFor(['worker'])).toEqual({ fields: ['worker'], residual: [] });
        expect(queryIndexFor(['worker', 'status'])).toEqual({ fields: ['worker'], residual: ['status'] });
        expect(queryIndexFor(['status'])).toEqual({ fields: [], residual: ['status'] });
        expect(queryIndexFor(['plan', 'function', 'worker', 'status'])).toEqual({
            fields: ['plan', 'function'],
            residual: ['worker', 'status'],
        });
    });

    it('§4.6: all 16 filter combinations return exactly the matching tasks in (creation date, key) order, any page size', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(5)), plainTask(key(3)), trainTask(key(4))]);
        await register(ledger, [plainTask(key(2), [], { worker: ORG2 }), plainTask(key(1), [], { worker: ORG2 })]);
        await register(ledger, [plainTask(key(6), [], { compute_plan_key: PLAN2, worker: ORG2 })], ORG2);
        await register(ledger, [plainTask(key(7), [key(5)]), plainTask(key(8), [key(2)])]);
        await act(ledger, ORG1, key(3), A.TASK_ACTION_CANCELED);
        await runToDone(ledger, key(5));
        await act(ledger, ORG2, key(1), A.TASK_ACTION_EXECUTING);
        const all: orchestrator.ComputeTask[] = [];
        for (let i = 1; i <= 8; i++) {
            all.push(await getTask(ledger, key(i)));
        }
        all.sort(byCreationThenKey);

        const values = {
            plan: [PLAN, PLAN2],
            function: [FN_PLAIN, FN_TRAIN],
            worker: [ORG1, ORG2],
            status: [S.STATUS_WAITING_FOR_EXECUTOR_SLOT, S.STATUS_DONE, S.STATUS_EXECUTING],
        };
        const fields: TaskFilterField[] = ['plan', 'function', 'worker', 'status'];
        let checked = 0;
        for (let mask = 0; mask < 16; mask++) {
            const used = fields.filter((_f, bit) => (mask & (1 << bit)) !== 0);
            // Every combination of values of the used fields (first two values only, to keep this short).
            let filters: orchestrator.ITaskQueryFilter[] = [{}];
            for (const field of used) {
                filters = filters.flatMap((f) =>
                    values[field].slice(0, 2).map((v) => {
                        const next = { ...f };
                        if (field === 'plan') next.compute_plan_key = v as string;
                        if (field === 'function') next.function_key = v as string;
                        if (field === 'worker') next.worker = v as string;
                        if (field === 'status') next.status = v as orchestrator.ComputeTaskStatus;
                        return next;
                    }),
                );
            }
            for (const filter of filters) {
                const expected = all
                    .filter(
                        (t) =>
                            (filter.compute_plan_key === undefined || t.compute_plan_key === filter.compute_plan_key) &&
                            (filter.function_key === undefined || t.function_key === filter.function_key) &&
                            (filter.worker === undefined || t.worker === filter.worker) &&
                            (filter.status === undefined || t.status === filter.status),
                    )
                    .map((t) => t.key);
                for (const pageSize of [1, 2, 50]) {
                    expect((await queryAll(ledger, filter, pageSize)).keys, JSON.stringify(filter)).toEqual(expected);
                }
                checked++;
            }
        }
        expect(checked).toBe(81);
    });

    it('§4.6: a filter checked on records examines at most QUERY_SCAN_FACTOR × (page_size + 1) index records per call; short pages keep a token', async () => {
        const ledger = await newTaskLedger();
        // 60 CANCELED tasks, then 3 waiting ones: status only is checked on records of the `all` index.
        await register(
            ledger,
            Array.from({ length: 60 }, (_, i) => plainTask(key(0x300, i))),
        );
        for (let i = 0; i < 60; i++) {
            await act(ledger, ORG1, key(0x300, i), A.TASK_ACTION_CANCELED);
        }
        await register(ledger, [plainTask(key(0x301, 1)), plainTask(key(0x301, 2)), plainTask(key(0x301, 3))]);
        const filter = { status: S.STATUS_WAITING_FOR_EXECUTOR_SLOT };
        const first = await ledger.evaluate(ORG1, (s) =>
            s.computeTasks.queryTasks(complete(orchestrator.QueryTasksParam, { filter, page_size: 1 })),
        );
        const budget = QUERY_SCAN_FACTOR * 2;
        // The budget is spent on canceled tasks: an empty page that still points at the rest.
        expect(first.result.tasks).toEqual([]);
        expect(first.result.next_page_token).not.toBe('');
        // Index records (one extra per chunk) plus one task read per examined record.
        expect(first.reads).toBeLessThanOrEqual(2 * budget + budget / 2 + 1);
        const { keys } = await queryAll(ledger, filter, 1);
        expect(keys).toEqual([key(0x301, 1), key(0x301, 2), key(0x301, 3)]);
        // Exact-index combinations stay one range read of page_size + 1 records.
        const direct = await ledger.evaluate(ORG1, (s) =>
            s.computeTasks.queryTasks(
                complete(orchestrator.QueryTasksParam, {
                    filter: { compute_plan_key: PLAN, status: filter.status },
                    page_size: 2,
                }),
            ),
        );
        expect(direct.result.tasks.map((t) => t.key)).toEqual([key(0x301, 1), key(0x301, 2)]);
        expect(direct.reads).toBe(3 + 2);
    });

    it('§2.3.7: a registered task writes its record and 7 index entries (plus one child link per parent)', async () => {
        const ledger = await newTaskLedger();
        const res = await register(ledger, [plainTask(key(1))]);
        expect(res.writes.map((w) => w.key.split('\u0000')[1])).toEqual(
            [
                'computetask',
                'idx~computetask~all',
                'idx~computetask~function',
                'idx~computetask~function_status',
                'idx~computetask~plan',
                'idx~computetask~plan_function',
                'idx~computetask~plan_status',
                'idx~computetask~worker',
            ].sort(),
        );
        const child = await register(ledger, [plainTask(key(2), [key(1)])]);
        expect(child.writes).toHaveLength(9);
    });

    it('§3.4: a status change writes the record and moves the 2 status index entries (5 writes)', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        const res = await act(ledger, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        expect(res.writes).toHaveLength(5);
        expect(res.writes.filter((w) => w.value === null)).toHaveLength(2);
        // The plan_status index still answers IsPlanRunning and QueryTasks by plan and status.
        const running = await ledger.evaluate(ORG1, (s) => s.computePlans.isPlanRunning(PLAN));
        expect(running.result).toBe(true);
    });

    it('§3.5.1: a DONE cascade over 1 000 children stays linear: 5 writes per released child', async () => {
        const ledger = await newTaskLedger();
        const n = 1000;
        await register(ledger, [plainTask(key(0x500, 0))]);
        await register(
            ledger,
            Array.from({ length: n }, (_, i) => plainTask(key(0x501, i), [key(0x500, 0)])),
        );
        await act(ledger, ORG1, key(0x500, 0), A.TASK_ACTION_EXECUTING);
        const started = performance.now();
        const res = await act(ledger, ORG1, key(0x500, 0), A.TASK_ACTION_DONE);
        expect(performance.now() - started).toBeLessThan(5000);
        expect(res.events).toHaveLength(n + 1);
        expect(res.writes).toHaveLength(5 * (n + 1));
        // Children link scan + parent + for each child: the child and its single parent (cached overlay reads).
        expect(res.reads).toBeLessThanOrEqual(3 * n + 10);
        expect(res.events.slice(1).map((e) => e.compute_task?.status)).toEqual(
            Array.from({ length: n }, () => S.STATUS_WAITING_FOR_EXECUTOR_SLOT),
        );
    });

    it('no hot key: transitions of different tasks of one plan never write a common key', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1)), plainTask(key(2)), plainTask(key(3), [key(1), key(2)])]);
        const writes: string[][] = [];
        for (const task of [key(1), key(2)]) {
            writes.push((await act(ledger, ORG1, task, A.TASK_ACTION_EXECUTING)).writes.map((w) => w.key));
        }
        writes.push((await act(ledger, ORG1, key(1), A.TASK_ACTION_DONE)).writes.map((w) => w.key));
        writes.push((await act(ledger, ORG1, key(2), A.TASK_ACTION_DONE)).writes.map((w) => w.key));
        writes.push((await act(ledger, ORG1, key(3), A.TASK_ACTION_EXECUTING)).writes.map((w) => w.key));
        const taskKeys = new Set([key(1), key(2), key(3)]);
        for (const k of writes.flat()) {
            // Every key written by a transition is specific to one task: its last attribute is a task key.
            const attributes = k.split('\u0000');
            expect(taskKeys.has(attributes[attributes.length - 2] ?? ''), k).toBe(true);
        }
        expect(writes.flat().filter((k) => k.includes('computeplan'))).toEqual([]);
    });
});
