/**
 * Part 1: the chaincode's service layer on the in-memory ledger, and the cost of its contract layer
 * (binary request decoding, response encoding, fabric-shim dispatch).
 */
import { RPCS, orchestrator } from '@substra-fabric/api';
import { decodeRequest, encodeResponse, messageClass } from '../../chaincode/src/contracts/codec';
import { BenchLedger, type TxMeasure } from './lib/runner';
import {
    KeySpace,
    ORG1,
    ORG2,
    type Shape,
    type TaskRefs,
    dataManager,
    complete,
    dataSamples,
    plan,
    tasks,
    trainFunction,
    uuid,
} from './lib/fixtures';
import { type Report, collectGarbage, cpuMs, memory, nowMs, summarize } from './lib/stats';

export interface ChaincodeBenchOptions {
    readonly quick: boolean;
}

const O = orchestrator;
const S = orchestrator.ComputeTaskStatus;

/** Function READY, data manager, one sample: what every task refers to. */
async function setup(bench: BenchLedger, keys: KeySpace): Promise<Omit<TaskRefs, 'plan'>> {
    const g = keys.group();
    const fn = uuid(g, 1);
    const dm = uuid(g, 2);
    const ds = uuid(g, 3);
    await bench.submit(ORG1, (s) =>
        s.organizations.registerOrganization(
            complete(O.RegisterOrganizationParam, { address: 'https://org1.example' }),
        ),
    );
    await bench.submit(ORG2, (s) =>
        s.organizations.registerOrganization(
            complete(O.RegisterOrganizationParam, { address: 'https://org2.example' }),
        ),
    );
    await bench.submit(ORG1, (s) => s.functions.registerFunction(trainFunction(fn)));
    const A = orchestrator.FunctionAction;
    await bench.submit(ORG1, (s) =>
        s.functions.applyFunctionAction(
            complete(O.ApplyFunctionActionParam, { function_key: fn, action: A.FUNCTION_ACTION_BUILDING }),
        ),
    );
    await bench.submit(ORG1, (s) =>
        s.functions.applyFunctionAction(
            complete(O.ApplyFunctionActionParam, { function_key: fn, action: A.FUNCTION_ACTION_READY }),
        ),
    );
    await bench.submit(ORG1, (s) => s.dataManagers.registerDataManager(dataManager(dm)));
    await bench.submit(ORG1, (s) => s.dataSamples.registerDataSamples(dataSamples([ds], dm)));
    return { fn, dm, ds };
}

async function newPlan(bench: BenchLedger, keys: KeySpace, base: Omit<TaskRefs, 'plan'>): Promise<TaskRefs> {
    const key = uuid(keys.group(), 0);
    await bench.submit(ORG1, (s) => s.computePlans.registerPlan(plan(key)));
    return { ...base, plan: key };
}

interface Aggregate {
    readonly ms: number[];
    harnessMs: number;
    cpuMs: number;
    reads: number;
    writes: number;
    eventBytes: number;
    heapPeakMb: number;
}

function aggregate(): Aggregate {
    return { ms: [], harnessMs: 0, cpuMs: 0, reads: 0, writes: 0, eventBytes: 0, heapPeakMb: 0 };
}

function add<T>(agg: Aggregate, m: TxMeasure<T>): void {
    agg.ms.push(m.ms);
    agg.harnessMs += m.harnessMs;
    agg.cpuMs += m.cpuMs;
    agg.reads += m.reads;
    agg.writes += m.writes;
    agg.eventBytes += m.eventBytes;
    agg.heapPeakMb = Math.max(agg.heapPeakMb, m.heapAfterMb);
}

/** Runs a scenario between two full GCs: Δheap is what the scenario left live (mostly world state). */
async function withMemory<T>(fn: () => Promise<T>): Promise<{ value: T; heapDeltaMb: number; rssMb: number }> {
    collectGarbage();
    const before = memory();
    const value = await fn();
    const rssMb = memory().rssMb;
    collectGarbage();
    return { value, heapDeltaMb: memory().heapUsedMb - before.heapUsedMb, rssMb };
}

/** One batch scenario: its row's name, how many repetitions, the units per repetition and what they are. */
interface BatchScenario {
    readonly scenario: string;
    readonly reps: number;
    readonly size: number;
    readonly unit: string;
}

/**
 * Runs `rep` `reps` times under {@link withMemory}, each repetition adding its measured transaction(s) to one
 * aggregate, then reports the row: per-op and per-unit rates, latencies, cpu, reads and writes, memory.
 */
async function runBatchScenario(
    report: Report,
    batch: BatchScenario,
    rep: (agg: Aggregate) => Promise<void>,
    note: (agg: Aggregate) => string,
): Promise<void> {
    const { scenario, reps, size, unit } = batch;
    const agg = aggregate();
    const { heapDeltaMb, rssMb } = await withMemory(async () => {
        for (let r = 0; r < reps; r++) {
            await rep(agg);
        }
    });
    const lat = summarize(agg.ms);
    const total = agg.ms.reduce((a, b) => a + b, 0);
    report.add({
        scenario,
        n: reps,
        opsPerSec: (reps * 1000) / total,
        unitsPerSec: (reps * size * 1000) / total,
        unit,
        p50Ms: lat.p50,
        p95Ms: lat.p95,
        cpuMsPerOp: agg.cpuMs / reps,
        readsPerOp: agg.reads / reps,
        writesPerOp: agg.writes / reps,
        readsPerUnit: agg.reads / reps / size,
        writesPerUnit: agg.writes / reps / size,
        heapMb: agg.heapPeakMb,
        heapDeltaMb,
        rssMb,
        note: note(agg),
    });
}

/**
 * Runs every measured code path a few times first, so that the numbers are those of optimized code rather than
 * of V8's first tiers (the first RegisterTasks of 1 000 tasks is about 5 times slower than the fifth).
 */
async function warmUp(bench: BenchLedger, keys: KeySpace, base: Omit<TaskRefs, 'plan'>): Promise<void> {
    const T = orchestrator.ComputeTaskAction;
    for (let r = 0; r < 4; r++) {
        for (const shape of ['chain', 'fanout'] as const) {
            const refs = await newPlan(bench, keys, base);
            const group = keys.group();
            await bench.submit(ORG1, (s) => s.computeTasks.registerTasks({ tasks: tasks(shape, 300, group, refs) }));
            const root = uuid(group, 0);
            await bench.submit(ORG1, (s) =>
                s.computeTasks.applyTaskAction(
                    complete(O.ApplyTaskActionParam, { compute_task_key: root, action: T.TASK_ACTION_EXECUTING }),
                ),
            );
            await bench.submit(ORG1, (s) =>
                s.computeTasks.applyTaskAction(
                    complete(O.ApplyTaskActionParam, { compute_task_key: root, action: T.TASK_ACTION_DONE }),
                ),
            );
            await bench.evaluate(ORG1, (s) =>
                s.computeTasks.queryTasks(
                    complete(O.QueryTasksParam, { filter: { compute_plan_key: refs.plan }, page_size: 50 }),
                ),
            );
        }
        const g = keys.group();
        const sampleKeys = Array.from({ length: 200 }, (_, i) => uuid(g, i));
        await bench.submit(ORG1, (s) => s.dataSamples.registerDataSamples(dataSamples(sampleKeys, base.dm)));
    }
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(bytes < 10_240 ? 1 : 0)} KiB`;

/** QueryTasks pages of 50: first page vs last page of a large plan (cost must not grow with the position). */
async function queryScenarios(report: Report, keys: KeySpace, quick: boolean): Promise<void> {
    const totalTasks = quick ? 2000 : 10_000;
    const queryLedger = new BenchLedger();
    const queryBase = await setup(queryLedger, keys);
    const queryRefs = await newPlan(queryLedger, keys, queryBase);
    // Other plans' tasks interleaved, so that the plan's index is not the whole `all` index.
    const otherRefs = await newPlan(queryLedger, keys, queryBase);
    for (let done = 0; done < totalTasks; done += 1000) {
        const size = Math.min(1000, totalTasks - done);
        await queryLedger.submit(ORG1, (s) =>
            s.computeTasks.registerTasks(
                complete(O.RegisterTasksParam, { tasks: tasks('chain', size, keys.group(), queryRefs) }),
            ),
        );
        await queryLedger.submit(ORG1, (s) =>
            s.computeTasks.registerTasks(
                complete(O.RegisterTasksParam, { tasks: tasks('independent', 100, keys.group(), otherRefs) }),
            ),
        );
    }
    const filters: readonly (readonly [string, orchestrator.ITaskQueryFilter])[] = [
        ['plan', { compute_plan_key: queryRefs.plan }],
        ['none', {}],
        ['worker+status (residual)', { worker: ORG1, status: S.STATUS_WAITING_FOR_PARENT_TASKS }],
    ];
    const pageReps = quick ? 10 : 30;
    for (const [label, filter] of filters) {
        // Walk all pages once to find the token of the last full page.
        let token = '';
        let lastFullToken = '';
        let pages = 0;
        for (;;) {
            const m = await queryLedger.evaluate(ORG1, (s) =>
                s.computeTasks.queryTasks(complete(O.QueryTasksParam, { filter, page_size: 50, page_token: token })),
            );
            pages++;
            if (m.result.tasks.length === 50) {
                lastFullToken = token;
            }
            token = m.result.next_page_token;
            if (token === '') {
                break;
            }
        }
        for (const [where, start] of [
            ['first', ''],
            ['last', lastFullToken],
        ] as const) {
            const agg = aggregate();
            let returned = 0;
            for (let r = 0; r < pageReps; r++) {
                const m = await queryLedger.evaluate(ORG1, (s) =>
                    s.computeTasks.queryTasks(
                        complete(O.QueryTasksParam, { filter, page_size: 50, page_token: start }),
                    ),
                );
                returned += m.result.tasks.length;
                add(agg, m);
            }
            const lat = summarize(agg.ms);
            report.add({
                scenario: `cc QueryTasks(50) ${where} page, filter ${label}`,
                n: pageReps,
                opsPerSec: (pageReps * 1000) / agg.ms.reduce((a, b) => a + b, 0),
                p50Ms: lat.p50,
                p95Ms: lat.p95,
                cpuMsPerOp: agg.cpuMs / pageReps,
                readsPerOp: agg.reads / pageReps,
                writesPerOp: 0,
                heapMb: agg.heapPeakMb,
                note: `${returned / pageReps} tasks/page of ${pages} pages (${totalTasks} tasks in plan); harness ${(agg.harnessMs / pageReps).toFixed(2)} ms/page`,
            });
        }
    }
}

export async function runChaincodeBench(report: Report, options: ChaincodeBenchOptions): Promise<void> {
    const { quick } = options;
    const bench = new BenchLedger();
    const keys = new KeySpace();
    const base = await setup(bench, keys);
    await warmUp(bench, keys, base);

    // ---------------------------------------------------------------------------------------------------
    // RegisterTasks batches.
    const batches: readonly (readonly [number, number])[] = quick
        ? [
              [100, 5],
              [1000, 2],
          ]
        : [
              [100, 20],
              [1000, 5],
              [5000, 2],
          ];
    for (const shape of ['chain', 'fanout'] as const satisfies readonly Shape[]) {
        for (const [size, reps] of batches) {
            await runBatchScenario(
                report,
                { scenario: `cc RegisterTasks ${shape} ×${size}`, reps, size, unit: 'tasks' },
                async (agg) => {
                    const refs = await newPlan(bench, keys, base);
                    const batch = tasks(shape, size, keys.group(), refs);
                    const m = await bench.submit(ORG1, (s) => s.computeTasks.registerTasks({ tasks: batch }));
                    if (m.result.tasks.length !== size) {
                        throw new Error(`RegisterTasks returned ${m.result.tasks.length} tasks`);
                    }
                    add(agg, m);
                },
                (agg) => `event ${kb(agg.eventBytes / reps)}/tx; harness ${(agg.harnessMs / reps).toFixed(1)} ms/tx`,
            );
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // ApplyTaskAction DONE on a parent whose children all become runnable (the cascade of §3.5.1).
    const cascades: readonly (readonly [number, number])[] = quick
        ? [
              [100, 2],
              [1000, 1],
          ]
        : [
              [10, 10],
              [100, 5],
              [1000, 3],
          ];
    for (const [children, reps] of cascades) {
        let events = 0;
        await runBatchScenario(
            report,
            { scenario: `cc ApplyTaskAction DONE → ${children} children`, reps, size: children, unit: 'children' },
            async (agg) => {
                const refs = await newPlan(bench, keys, base);
                const group = keys.group();
                await bench.submit(ORG1, (s) =>
                    s.computeTasks.registerTasks({ tasks: tasks('fanout', children + 1, group, refs) }),
                );
                const root = uuid(group, 0);
                const T = orchestrator.ComputeTaskAction;
                await bench.submit(ORG1, (s) =>
                    s.computeTasks.applyTaskAction(
                        complete(O.ApplyTaskActionParam, { compute_task_key: root, action: T.TASK_ACTION_EXECUTING }),
                    ),
                );
                const m = await bench.submit(ORG1, (s) =>
                    s.computeTasks.applyTaskAction(
                        complete(O.ApplyTaskActionParam, { compute_task_key: root, action: T.TASK_ACTION_DONE }),
                    ),
                );
                add(agg, m);
                events += m.events;
                const last = await bench.evaluate(ORG1, (s) => s.computeTasks.getTask(uuid(group, children)));
                if (last.result.status !== S.STATUS_WAITING_FOR_EXECUTOR_SLOT) {
                    throw new Error(`cascade did not release the children (status ${last.result.status})`);
                }
            },
            (agg) => `${events / reps} events, ${kb(agg.eventBytes / reps)}/tx`,
        );
    }

    // QueryTasks on a ledger of its own (released afterwards: its world state is large).
    await queryScenarios(report, keys, quick);

    // ---------------------------------------------------------------------------------------------------
    // RegisterDataSamples batches.
    const sampleBatches: readonly (readonly [number, number])[] = quick
        ? [
              [1, 20],
              [100, 5],
              [1000, 1],
          ]
        : [
              [1, 100],
              [100, 20],
              [1000, 5],
          ];
    for (const [size, reps] of sampleBatches) {
        await runBatchScenario(
            report,
            { scenario: `cc RegisterDataSamples ×${size}`, reps, size, unit: 'samples' },
            async (agg) => {
                const g = keys.group();
                const sampleKeys = Array.from({ length: size }, (_, i) => uuid(g, i));
                add(
                    agg,
                    await bench.submit(ORG1, (s) =>
                        s.dataSamples.registerDataSamples(dataSamples(sampleKeys, base.dm)),
                    ),
                );
            },
            (agg) => `event ${kb(agg.eventBytes / reps)}/tx`,
        );
    }

    // ---------------------------------------------------------------------------------------------------
    // Contract layer: binary request decoding + response encoding per RPC (what every transaction pays on
    // top of the service), then the whole fabric-shim dispatch for a cheap read.
    const refs = await newPlan(bench, keys, base);
    const g = keys.group();
    const batch1000 = tasks('chain', 1000, g, refs);
    const registered = await bench.submit(ORG1, (s) => s.computeTasks.registerTasks({ tasks: batch1000 }));
    const page = await bench.evaluate(ORG1, (s) =>
        s.computeTasks.queryTasks(
            complete(O.QueryTasksParam, { filter: { compute_plan_key: refs.plan }, page_size: 50 }),
        ),
    );
    const oneTask = await bench.evaluate(ORG1, (s) => s.computeTasks.getTask(uuid(g, 0)));
    const sg = keys.group();
    const sampleReq = dataSamples(
        Array.from({ length: 100 }, (_, i) => uuid(sg, i)),
        base.dm,
    );
    const samples = await bench.submit(ORG1, (s) => s.dataSamples.registerDataSamples(sampleReq));
    const codecCases: readonly (readonly [string, string, object, object, number])[] = [
        ['RegisterTasks', '×1000', { tasks: batch1000 }, registered.result, quick ? 5 : 20],
        [
            'QueryTasks',
            'page 50',
            { filter: { compute_plan_key: refs.plan }, page_size: 50 },
            page.result,
            quick ? 200 : 1000,
        ],
        ['GetTask', '', { key: uuid(g, 0) }, oneTask.result, quick ? 2000 : 10_000],
        ['RegisterDataSamples', '×100', sampleReq, { data_samples: samples.result }, quick ? 100 : 500],
    ];
    for (const [method, label, request, response, reps] of codecCases) {
        const rpc = RPCS.find((r) => r.method === method);
        if (rpc === undefined) {
            throw new Error(`no RPC ${method}`);
        }
        const reqClass = messageClass(rpc.requestType);
        const arg = reqClass.encode(reqClass.fromObject(request as Record<string, unknown>)).finish();
        const decodeMs: number[] = [];
        const encodeMs: number[] = [];
        let outBytes = 0;
        const cpu0 = cpuMs();
        for (let r = 0; r < reps; r++) {
            const t0 = nowMs();
            decodeRequest(rpc, arg);
            const t1 = nowMs();
            outBytes = encodeResponse(rpc, response).length;
            encodeMs.push(nowMs() - t1);
            decodeMs.push(t1 - t0);
        }
        const cpuPerOp = (cpuMs() - cpu0) / reps;
        const both = decodeMs.map((d, i) => d + encodeMs[i]!);
        const lat = summarize(both);
        report.add({
            scenario: `codec ${method} ${label}`.trimEnd(),
            n: reps,
            opsPerSec: 1000 / lat.mean,
            p50Ms: lat.p50,
            p95Ms: lat.p95,
            cpuMsPerOp: cpuPerOp,
            note: `decode ${summarize(decodeMs).p50.toFixed(3)} ms (${kb(arg.length)} in), encode ${summarize(encodeMs).p50.toFixed(3)} ms (${kb(outBytes)} out)`,
        });
    }

    // fabric-shim dispatch (ChaincodeFromContract: stub wrapping, ClientIdentity from the creator certificate,
    // contract lookup, our serializer) vs the same read at the service layer.
    const getTask = RPCS.find((r) => r.method === 'GetTask');
    if (getTask === undefined) {
        throw new Error('no RPC GetTask');
    }
    const getTaskArg = orchestrator.GetTaskParam.encode({ key: uuid(g, 0) }).finish();
    const dispatchReps = quick ? 300 : 2000;
    const viaContract: number[] = [];
    const viaService: number[] = [];
    for (let r = 0; r < dispatchReps; r++) {
        const t0 = nowMs();
        const res = await bench.ledger.evaluateCall(ORG1, `${getTask.contract}:${getTask.fn}`, getTaskArg);
        viaContract.push(nowMs() - t0);
        if (res.status !== 200) {
            throw new Error(res.message);
        }
        viaService.push((await bench.evaluate(ORG1, (s) => s.computeTasks.getTask(uuid(g, 0)))).ms);
    }
    const c = summarize(viaContract);
    const s = summarize(viaService);
    report.add({
        scenario: 'contract GetTask (shim dispatch, whole tx)',
        n: dispatchReps,
        opsPerSec: 1000 / c.mean,
        p50Ms: c.p50,
        p95Ms: c.p95,
        readsPerOp: 1,
        writesPerOp: 0,
        note: `service layer alone p50 ${s.p50.toFixed(3)} ms: dispatch ≈ ${(c.p50 - s.p50).toFixed(3)} ms/tx`,
    });
}
