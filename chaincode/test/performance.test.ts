import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import {
    A,
    K,
    ORG1,
    ORG2,
    ORG3,
    S,
    address,
    asJson,
    eventSummary,
    expectRejected,
    getTask,
    newOutputsLedger,
    newTask,
    key,
    T1,
    T2,
    newExecutingTaskLedger,
    T3,
    act,
    register,
} from './support/fixtures';
import type { TestLedger, TxOptions } from './support/ledger';
import { descendingTaskKey, performanceKey } from '../src/repository/performance';
import { complete } from './support/messages';

function newPerformance(task = T1, identifier = 'perf', value = 0.5): orchestrator.INewPerformance {
    return { compute_task_key: task, compute_task_output_identifier: identifier, performance_value: value };
}

async function registerPerformance(ledger: TestLedger, perf: orchestrator.INewPerformance, options?: TxOptions) {
    return ledger.invoke(
        ORG2,
        (s) => s.performances.registerPerformance(complete(orchestrator.NewPerformance, perf)),
        options,
    );
}

async function query(ledger: TestLedger, param: orchestrator.IQueryPerformancesParam) {
    return (
        await ledger.evaluate(ORG3, (s) =>
            s.performances.queryPerformances(complete(orchestrator.QueryPerformancesParam, param)),
        )
    ).result;
}

function keysOf(response: orchestrator.QueryPerformancesResponse): string[] {
    return response.Performances.map((p) =>
        performanceKey(p.compute_task_key ?? '', p.compute_task_output_identifier ?? ''),
    );
}

describe('RegisterPerformance (behavior-assets §9.1)', () => {
    it('§9.1 rule 1: missing fields give InvalidAsset OE0101 "performance is not valid", nothing written', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.performances.registerPerformance(complete(orchestrator.NewPerformance, {})),
            'OE0101: performance is not valid: compute_task_key: cannot be blank; compute_task_output_identifier: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.performances.registerPerformance(
                    complete(orchestrator.NewPerformance, newPerformance('ABCDEF01-0000-4000-8000-000000000001')),
                ),
            'OE0101: performance is not valid: compute_task_key: must be a valid UUID.',
        );
    });

    it('§9.1 rule 1: performance_value is not validated (0 is accepted)', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await registerPerformance(ledger, newPerformance(T1, 'perf', 0));
        expect(res.result.performance_value).toBe(0);
    });

    it('§9.1 rule 2: an unknown task is NotFound OE0002', async () => {
        const ledger = await newExecutingTaskLedger();
        const unknown = key(0x7, 99);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.performances.registerPerformance(complete(orchestrator.NewPerformance, newPerformance(unknown))),
            `OE0002: computetask with key "${unknown}" not found`,
        );
    });

    it('§9.1 rule 3: a requester other than the worker gets PermissionDenied OE0102', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.performances.registerPerformance(complete(orchestrator.NewPerformance, newPerformance())),
            `OE0102: only "${ORG2}" worker can register performance`,
        );
    });

    it('§9.1 rule 4: a task that is not EXECUTING gives BadRequest OE0003 naming its status', async () => {
        const ledger = await newOutputsLedger();
        await register(ledger, [newTask(T1)]);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.performances.registerPerformance(complete(orchestrator.NewPerformance, newPerformance())),
            'OE0003: cannot register performance for task with status "STATUS_WAITING_FOR_EXECUTOR_SLOT"',
        );
        await act(ledger, ORG1, T1, A.TASK_ACTION_CANCELED);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.performances.registerPerformance(complete(orchestrator.NewPerformance, newPerformance())),
            'OE0003: cannot register performance for task with status "STATUS_CANCELED"',
        );
    });

    it('§9.1 rule 5: an identifier the task does not declare gives MissingTaskOutput OE0106', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.performances.registerPerformance(
                    complete(orchestrator.NewPerformance, newPerformance(T1, 'accuracy')),
                ),
            `OE0106: Task "${T1}" has no output named "accuracy"`,
        );
    });

    it('§9.1 rule 6 (quirk): the function output kind is not checked, a performance may go on a MODEL output', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await registerPerformance(ledger, newPerformance(T1, 'model', 3));
        expect(res.result.compute_task_output_identifier).toBe('model');
        const records = await ledger.evaluate(ORG1, (s) => s.computeTasks.getOutputAssets(T1, 'model'));
        expect(records.result.map((r) => [r.asset_kind, r.asset_key])).toEqual([[K.ASSET_PERFORMANCE, `${T1}|model`]]);
    });

    it('§9.1 rule 8: a second performance for (task, identifier) is Conflict OE0006 with the derived key', async () => {
        const ledger = await newExecutingTaskLedger();
        await registerPerformance(ledger, newPerformance());
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.performances.registerPerformance(
                    complete(orchestrator.NewPerformance, newPerformance(T1, 'perf', 0.9)),
                ),
            `OE0006: performance with key "${T1}|perf" already exists`,
        );
    });

    it('§9.1 rule 8: the output-asset counter of §8.3 is not applied (a model already on the output does not block)', async () => {
        const ledger = await newExecutingTaskLedger();
        await ledger.invoke(ORG2, (s) =>
            s.models.registerModel(
                complete(orchestrator.NewModel, {
                    key: key(0xb, 1),
                    compute_task_key: T1,
                    compute_task_output_identifier: 'model',
                    address: address(),
                }),
            ),
        );
        await registerPerformance(ledger, newPerformance(T1, 'model'));
        const records = await ledger.evaluate(ORG1, (s) => s.computeTasks.getOutputAssets(T1, 'model'));
        expect(records.result.map((r) => r.asset_kind)).toEqual([K.ASSET_MODEL, K.ASSET_PERFORMANCE]);
    });

    it('§9.1 rule 9: the stored performance has the tx time as creation date and the value as a 32-bit float', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await registerPerformance(ledger, newPerformance(T1, 'perf', 0.1), {
            timestamp: { seconds: 1_800_000_000, nanos: 7 },
        });
        expect(res.result.compute_task_key).toBe(T1);
        expect(res.result.compute_task_output_identifier).toBe('perf');
        expect(res.result.performance_value).toBe(Math.fround(0.1));
        expect(res.result.creation_date).toEqual({ seconds: 1_800_000_000, nanos: 7 });
        const listed = await query(ledger, {
            filter: { compute_task_key: T1, compute_task_output_identifier: 'perf' },
        });
        expect(listed.Performances.map((p) => asJson(orchestrator.Performance, p))).toEqual([res.result.toJSON()]);
    });

    it('§9.1 rules 10-11: PERFORMANCE CREATED keyed "<task>|<identifier>", then the output-asset event keyed by the task', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await registerPerformance(ledger, newPerformance());
        expect(eventSummary(res.events)).toEqual([
            ['ASSET_PERFORMANCE', 'EVENT_ASSET_CREATED', `${T1}|perf`],
            ['ASSET_COMPUTE_TASK_OUTPUT_ASSET', 'EVENT_ASSET_CREATED', T1],
        ]);
        expect(res.events[0]!.performance?.performance_value).toBe(0.5);
        expect(res.events[0]!.metadata).toEqual({});
        expect(asJson(orchestrator.ComputeTaskOutputAsset, res.events[1]!.compute_task_output_asset)).toEqual({
            compute_task_key: T1,
            compute_task_output_identifier: 'perf',
            asset_kind: 'ASSET_PERFORMANCE',
            asset_key: `${T1}|perf`,
        });
    });

    it('§9.1: registering a performance does not change the task status', async () => {
        const ledger = await newExecutingTaskLedger();
        await registerPerformance(ledger, newPerformance());
        expect((await getTask(ledger, T1)).status).toBe(S.STATUS_EXECUTING);
    });
});

describe('QueryPerformances (behavior-assets §9.2, §1.8)', () => {
    /**
     * Performances: T2|perf and T3|perf and T1|perf share one timestamp; T1|model and T3|model come later
     * (T3|model last). Expected order: date ascending, then task key descending, then identifier.
     */
    async function populated(): Promise<TestLedger> {
        const ledger = await newOutputsLedger();
        await register(ledger, [newTask(T1), newTask(T2), newTask(T3)]);
        for (const task of [T1, T2, T3]) {
            await act(ledger, ORG2, task, A.TASK_ACTION_EXECUTING);
        }
        const first = { seconds: 1_900_000_000, nanos: 5 };
        await registerPerformance(ledger, newPerformance(T2), { timestamp: first });
        await registerPerformance(ledger, newPerformance(T3), { timestamp: first });
        await registerPerformance(ledger, newPerformance(T1), { timestamp: first });
        await registerPerformance(ledger, newPerformance(T3, 'model'), {
            timestamp: { seconds: 1_900_000_001, nanos: 0 },
        });
        await registerPerformance(ledger, newPerformance(T1, 'model'), {
            timestamp: { seconds: 1_900_000_000, nanos: 6 },
        });
        return ledger;
    }

    it('§9.2 / §1.8: without filter, creation date ascending then compute_task_key descending', async () => {
        const ledger = await populated();
        const all = await query(ledger, {});
        expect(keysOf(all)).toEqual([`${T3}|perf`, `${T2}|perf`, `${T1}|perf`, `${T1}|model`, `${T3}|model`]);
        expect(all.next_page_token).toBe('');
    });

    it('§9.2: the compute_task_key filter keeps that task only, in creation date order', async () => {
        const ledger = await populated();
        expect(keysOf(await query(ledger, { filter: { compute_task_key: T3 } }))).toEqual([
            `${T3}|perf`,
            `${T3}|model`,
        ]);
        expect(keysOf(await query(ledger, { filter: { compute_task_key: key(0x7, 99) } }))).toEqual([]);
    });

    it('§9.2: the compute_task_output_identifier filter keeps that output, date ascending then task descending', async () => {
        const ledger = await populated();
        expect(keysOf(await query(ledger, { filter: { compute_task_output_identifier: 'perf' } }))).toEqual([
            `${T3}|perf`,
            `${T2}|perf`,
            `${T1}|perf`,
        ]);
        expect(keysOf(await query(ledger, { filter: { compute_task_output_identifier: 'model' } }))).toEqual([
            `${T1}|model`,
            `${T3}|model`,
        ]);
    });

    it('§9.2: both filters combine with AND (at most one performance)', async () => {
        const ledger = await populated();
        const one = await query(ledger, { filter: { compute_task_key: T1, compute_task_output_identifier: 'model' } });
        expect(keysOf(one)).toEqual([`${T1}|model`]);
        expect(one.next_page_token).toBe('');
        const none = await query(ledger, { filter: { compute_task_key: T2, compute_task_output_identifier: 'model' } });
        expect(keysOf(none)).toEqual([]);
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.performances.queryPerformances(
                    complete(orchestrator.QueryPerformancesParam, {
                        page_token: 'abc',
                        filter: { compute_task_key: T1, compute_task_output_identifier: 'model' },
                    }),
                ),
            ),
        ).rejects.toThrow(/^invalid page token "abc"$/);
    });

    it('§1.8: pages follow the order with opaque tokens, the last page returns an empty token', async () => {
        const ledger = await populated();
        const seen: string[] = [];
        let token = '';
        let pages = 0;
        do {
            const page = await query(ledger, { page_size: 2, page_token: token });
            seen.push(...keysOf(page));
            token = page.next_page_token;
            pages++;
        } while (token !== '');
        expect(pages).toBe(3);
        expect(seen).toEqual(keysOf(await query(ledger, { page_size: 0 })));
        const filtered = await query(ledger, { page_size: 1, filter: { compute_task_output_identifier: 'perf' } });
        expect(keysOf(filtered)).toEqual([`${T3}|perf`]);
        const next = await query(ledger, {
            page_size: 5,
            page_token: filtered.next_page_token,
            filter: { compute_task_output_identifier: 'perf' },
        });
        expect(keysOf(next)).toEqual([`${T2}|perf`, `${T1}|perf`]);
    });

    it('§1.8: a token that belongs to no page of this query is refused with a plain error (no OE code)', async () => {
        const ledger = await populated();
        const page = await query(ledger, { page_size: 1 });
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.performances.queryPerformances(
                    complete(orchestrator.QueryPerformancesParam, {
                        page_token: page.next_page_token,
                        filter: { compute_task_key: T1 },
                    }),
                ),
            ),
        ).rejects.toThrow(/^invalid page token/);
    });

    it('§9.2 order helper: descendingTaskKey reverses the byte order of lower-case UUIDs', () => {
        const keys = [key(1, 2), key(1, 10), key(0xfff, 0), key(0, 0xabc), 'ffffffff-ffff-ffff-ffff-ffffffffffff'];
        const ascending = [...keys].sort();
        const byDescendingKey = [...keys].sort((a, b) => {
            const da = descendingTaskKey(a);
            const db = descendingTaskKey(b);
            return da < db ? -1 : da > db ? 1 : 0;
        });
        expect(byDescendingKey).toEqual([...ascending].reverse());
        expect(descendingTaskKey('-09af')).toBe('fe54-');
    });
});

describe('PerformanceService contract (api.md §2.9)', () => {
    it('§9.1-§9.2 through the contract: RegisterPerformance then QueryPerformances', async () => {
        const ledger = await newExecutingTaskLedger();
        const perf = await ledger.rpc<orchestrator.Performance>(
            ORG2,
            'RegisterPerformance',
            newPerformance(T1, 'perf', 2),
        );
        expect(perf.performance_value).toBe(2);
        const page = await ledger.rpc<orchestrator.QueryPerformancesResponse>(ORG3, 'QueryPerformances', {
            filter: { compute_task_key: T1 },
        });
        expect(keysOf(page)).toEqual([`${T1}|perf`]);
        await expect(ledger.rpc(ORG1, 'RegisterPerformance', newPerformance(T1, 'model'))).rejects.toThrow(/^OE0102: /);
    });
});
