/**
 * Part 2: end to end, as a Substra backend sees it: grpc-js client → gateway (this process) → peer of org1
 * (a real Fabric peer, its own process) → chaincode process (CCaaS, mutual TLS) for the endorsement, then the
 * orderer (etcdraft) and both peers validating and committing the block; submits awaited until commit.
 */
import { orchestrator } from '@substra-fabric/api';
import { KeySpace, ORG1, ORG2, dataManager, dataSamples, plan, tasks, trainFunction, uuid } from './lib/fixtures';
import {
    CHAINCODE,
    CHANNEL,
    NOOP_CHAINCODE,
    startBenchNetwork,
    type BenchNetwork,
    type Endorsers,
} from './lib/launcher';
import { runScaleBench } from './scale';
import {
    type Goals,
    type LatencySummary,
    type Report,
    ratio,
    collectGarbage,
    cpuMs,
    memory,
    nowMs,
    processCpuMs,
    processPeakRssMb,
    processRssMb,
    summarize,
} from './lib/stats';

export interface EndToEndOptions {
    readonly quick: boolean;
}

export interface EndToEndResult {
    /** The network the numbers were measured on (Fabric version, block cutting, policy), for the header. */
    readonly description: string;
}

/** A process of the network whose CPU and memory the notes report, by its label in the notes. */
export interface Watched {
    readonly label: string;
    /** supervised process name */
    readonly process: string;
}

/**
 * The org1 chaincode process (the OR policy makes the gateway's own org endorse: org1's chaincode does all the
 * chaincode work), the two peers (org1's endorses, both validate and commit every block) and the orderer.
 */
export function watched(net: BenchNetwork, chaincode = CHAINCODE): Watched[] {
    const cc = net.network.chaincodes.find(
        (c) => c.mspId === ORG1 && c.channel === CHANNEL && c.chaincode === chaincode,
    );
    if (cc === undefined) {
        throw new Error(`no chaincode process ${chaincode} of ${ORG1} on ${CHANNEL}`);
    }
    return [
        { label: 'chaincode', process: cc.process },
        ...net.network.orgs.map((o) => ({ label: o.peerProcess, process: o.peerProcess })),
        { label: 'orderer', process: 'orderer' },
    ];
}

interface CpuMark {
    readonly self: number;
    /** CPU ms so far of each watched process, same order as `watched` */
    readonly others: readonly (number | undefined)[];
}

function cpuMark(net: BenchNetwork, procs: readonly Watched[]): CpuMark {
    return { self: cpuMs(), others: procs.map((p) => processCpuMs(net.pid(p.process))) };
}

const mb = (v: number | undefined): string => (v === undefined ? '?' : v.toFixed(0));

/** CPU ms of each watched process from `start` to `end`; undefined when a pid is unknown (process gone). */
function cpuSpent(start: CpuMark, end: CpuMark): (number | undefined)[] {
    return start.others.map((a, i) => {
        const b = end.others[i];
        return a === undefined || b === undefined ? undefined : b - a;
    });
}

/** `cpu ms/op: chaincode …, peer0.org1 …, peer0.org2 …, orderer …` from CPU ms totals over `ops` operations. */
function cpuPerOp(procs: readonly Watched[], spent: readonly (number | undefined)[], ops: number): string {
    const parts = procs.map((p, i) => {
        const ms = spent[i];
        if (ms === undefined) {
            return `${p.label} ?`;
        }
        const perOp = ms / ops;
        return `${p.label} ${perOp.toFixed(perOp >= 100 ? 0 : perOp >= 10 ? 1 : 2)}`;
    });
    return `cpu ms/op: ${parts.join(', ')}`;
}

/** RSS of the watched processes (the chaincode's with its peak). */
function rssNote(net: BenchNetwork, procs: readonly Watched[]): string {
    const parts = procs.map((p) => {
        const pid = net.pid(p.process);
        const peak = p.label === 'chaincode' ? ` (peak ${mb(processPeakRssMb(pid))})` : '';
        return `${p.label} ${mb(processRssMb(pid))}${peak}`;
    });
    return `RSS MB: ${parts.join(', ')}`;
}

/** `block 4.1 KiB/op`: growth of the chain (org1's block files) per operation; '' when none or unknown. */
function blockNote(start: number | undefined, end: number | undefined, ops: number): string {
    if (start === undefined || end === undefined || end === start) {
        return '';
    }
    return `block ${((end - start) / 1024 / ops).toFixed(1)} KiB/op; `;
}

/** `sum` plus the growth from `start` to `end`; undefined once any size is unknown. */
function addGrowth(sum: number | undefined, start: number | undefined, end: number | undefined): number | undefined {
    return sum === undefined || start === undefined || end === undefined ? undefined : sum + end - start;
}

/** Sum of the CPU ms of the watched processes (chaincode, peers, orderer); undefined when one is unknown. */
function fabricCpu(spent: readonly (number | undefined)[]): number | undefined {
    return spent.some((ms) => ms === undefined) ? undefined : spent.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/** A write of the no-op chaincode, the floor the writes of ours are compared with. */
interface Floor {
    readonly p50: number;
    readonly p95: number;
    readonly opsPerSec: number;
    /** CPU ms per transaction of the Fabric processes (no-op chaincode, peers, orderer) */
    readonly fabricCpuMs: number | undefined;
}

const times = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined || !(b > 0) ? '?' : `×${(a / b).toFixed(a / b >= 10 ? 0 : 1)}`;

/** `vs no-op …: p50 ×3.1, p95 ×2.7, ops/s ×0.45, Fabric cpu ×2.2; ` */
function floorNote(
    floor: Floor | undefined,
    label: string,
    row: { p50: number; p95: number; opsPerSec?: number; fabricCpuMs?: number | undefined },
): string {
    if (floor === undefined) {
        return '';
    }
    const parts = [`p50 ${times(row.p50, floor.p50)}`, `p95 ${times(row.p95, floor.p95)}`];
    if (row.opsPerSec !== undefined) {
        parts.push(`ops/s ${times(row.opsPerSec, floor.opsPerSec)}`);
    }
    parts.push(`Fabric cpu ${times(row.fabricCpuMs, floor.fabricCpuMs)}`);
    return `vs no-op ${label}: ${parts.join(', ')}; `;
}

/** CPU per operation of the chaincode, peer and orderer processes, and their memory. */
function processNote(net: BenchNetwork, procs: readonly Watched[], start: CpuMark, ops: number): string {
    return `${cpuPerOp(procs, cpuSpent(start, cpuMark(net, procs)), ops)}; ${rssNote(net, procs)}`;
}

export interface Timed {
    readonly latencies: number[];
    readonly wallMs: number;
    readonly errors: string[];
}

/** `workers` loops of `perWorker` sequential calls; wall time from the first start to the last end. */
export async function concurrently(
    workers: number,
    perWorker: number,
    call: (worker: number, i: number) => Promise<unknown>,
): Promise<Timed> {
    const latencies: number[] = [];
    const errors: string[] = [];
    const t0 = nowMs();
    await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
            for (let i = 0; i < perWorker; i++) {
                const start = nowMs();
                try {
                    await call(w, i);
                    latencies.push(nowMs() - start);
                } catch (err) {
                    errors.push(err instanceof Error ? err.message : String(err));
                }
            }
        }),
    );
    return { latencies, wallMs: nowMs() - t0, errors };
}

/** Both organizations, a READY train function, a data manager and one sample: what every task needs. */
export async function registerBaseAssets(
    net: BenchNetwork,
    keys: KeySpace,
): Promise<{ fn: string; dm: string; ds: string }> {
    const { client } = net;
    const g = keys.group();
    const fn = uuid(g, 1);
    const dm = uuid(g, 2);
    const ds = uuid(g, 3);
    await client.call(ORG1, 'RegisterOrganization', { address: 'https://org1.example' });
    await client.call(ORG2, 'RegisterOrganization', { address: 'https://org2.example' });
    await client.call(ORG1, 'RegisterFunction', trainFunction(fn));
    const A = orchestrator.FunctionAction;
    await client.call(ORG1, 'ApplyFunctionAction', { function_key: fn, action: A.FUNCTION_ACTION_BUILDING });
    await client.call(ORG1, 'ApplyFunctionAction', { function_key: fn, action: A.FUNCTION_ACTION_READY });
    await client.call(ORG1, 'RegisterDataManager', dataManager(dm));
    await client.call(ORG1, 'RegisterDataSamples', dataSamples([ds], dm));
    return { fn, dm, ds };
}

export async function runEndToEndBench(
    report: Report,
    goals: Goals,
    options: EndToEndOptions,
): Promise<EndToEndResult> {
    const { quick } = options;
    const t0 = Date.now();
    const net = await startBenchNetwork();
    process.stderr.write(
        `  Fabric network + gateway up in ${Date.now() - t0} ms (state in ${net.stateDir})\n  ${net.description}\n`,
    );
    let failed = true;
    try {
        const procs = watched(net);
        const client = net.client;
        const keys = new KeySpace(0x9000);
        const { fn, dm, ds } = await registerBaseAssets(net, keys);

        const dmGroup = keys.group();
        let dmCount = 0;
        const registerDataManager = (): Promise<unknown> =>
            client.call(ORG1, 'RegisterDataManager', dataManager(uuid(dmGroup, dmCount++)));
        const getDataManager = (): Promise<unknown> => client.call(ORG1, 'GetDataManager', { key: dm });
        // Warm-up (connections, JIT on every side).
        for (let i = 0; i < 5; i++) {
            await registerDataManager();
            await getDataManager();
        }

        // The floor: the no-op chaincode (one PutState), called through fabric-gateway without our gateway.
        const noopProcs = watched(net, NOOP_CHAINCODE);
        let noopCount = 0;
        const noopPut = (): Promise<unknown> => net.noop.put(`k${noopCount++}`);
        for (let i = 0; i < 5; i++) {
            await noopPut();
        }
        const floors = new Map<number, Floor>();

        const scenario = async (
            name: string,
            workers: number,
            perWorker: number,
            call: () => Promise<unknown>,
            extra = '',
            kind: 'read' | 'write' | 'floor' = 'read',
        ): Promise<void> => {
            const ps = kind === 'floor' ? noopProcs : procs;
            collectGarbage();
            const before = memory();
            const cpu0 = cpuMark(net, ps);
            const blocks0 = net.blockBytes();
            const timed = await concurrently(workers, perWorker, call);
            const blocks1 = net.blockBytes();
            const cpu1 = cpuMark(net, ps);
            const after = memory();
            const ops = Math.max(1, timed.latencies.length);
            const lat = summarize(timed.latencies);
            const opsPerSec = (timed.latencies.length * 1000) / timed.wallMs;
            const fabric = fabricCpu(cpuSpent(cpu0, cpu1));
            const fabricCpuMs = fabric === undefined ? undefined : fabric / ops;
            if (kind === 'floor') {
                floors.set(workers, { p50: lat.p50, p95: lat.p95, opsPerSec, fabricCpuMs });
            }
            const vs =
                kind === 'write'
                    ? floorNote(floors.get(workers), `${workers} writer${workers === 1 ? '' : 's'}`, {
                          p50: lat.p50,
                          p95: lat.p95,
                          opsPerSec,
                          fabricCpuMs,
                      })
                    : '';
            const errors = timed.errors.length === 0 ? '' : `; ${timed.errors.length} errors: ${timed.errors[0] ?? ''}`;
            report.add({
                scenario: name,
                n: timed.latencies.length,
                opsPerSec,
                p50Ms: lat.p50,
                p95Ms: lat.p95,
                cpuMsPerOp: (cpuMs() - cpu0.self) / ops,
                heapMb: after.heapUsedMb,
                heapDeltaMb: after.heapUsedMb - before.heapUsedMb,
                rssMb: after.rssMb,
                note: `${vs}${extra}${blockNote(blocks0, blocks1, ops)}${processNote(net, ps, cpu0, ops)}${errors}`,
            });
        };

        await scenario('e2e no-op PutState, 1 writer (floor)', 1, quick ? 20 : 100, noopPut, '', 'floor');
        await scenario('e2e no-op PutState, 8 writers (floor)', 8, quick ? 5 : 25, noopPut, '', 'floor');
        await scenario('e2e no-op PutState, 32 writers (floor)', 32, quick ? 3 : 10, noopPut, '', 'floor');
        await scenario('e2e RegisterDataManager, 1 writer', 1, quick ? 20 : 100, registerDataManager, '', 'write');
        {
            const ours = report.rows.at(-1)?.p50Ms;
            const floor = floors.get(1)?.p50;
            goals.add({
                goal: 'sequential write vs the no-op transaction (RegisterDataManager, p50)',
                target: '≤ ×1.15',
                measured: `${ours?.toFixed(1) ?? '?'} ms vs ${floor?.toFixed(1) ?? '?'} ms: ${ratio(ours, floor)}`,
                met: ours === undefined || floor === undefined ? undefined : ours <= 1.15 * floor,
            });
        }
        await scenario('e2e GetDataManager, 1 reader', 1, quick ? 100 : 500, getDataManager);
        await scenario('e2e RegisterDataManager, 8 writers', 8, quick ? 5 : 25, registerDataManager, '', 'write');
        await scenario('e2e RegisterDataManager, 32 writers', 32, quick ? 3 : 10, registerDataManager, '', 'write');
        await scenario('e2e GetDataManager, 32 readers', 32, quick ? 10 : 50, getDataManager);

        // RegisterTasks of 1 000 tasks (a chain) in one call.
        const reps = quick ? 1 : 3;
        const latencies: number[] = [];
        collectGarbage();
        const before = memory();
        const cpu0 = cpuMark(net, procs);
        let requestBytes = 0;
        // growth of the chain over the measured calls only (RegisterPlan between them excluded)
        let taskBlockBytes: number | undefined = 0;
        for (let r = 0; r < reps; r++) {
            const planKey = uuid(keys.group(), 0);
            await client.call(ORG1, 'RegisterPlan', plan(planKey));
            const batch = tasks('chain', 1000, keys.group(), { plan: planKey, fn, dm, ds });
            requestBytes = orchestrator.RegisterTasksParam.encode({ tasks: batch }).finish().length;
            const blocks0 = net.blockBytes();
            const start = nowMs();
            const res = await client.call<orchestrator.RegisterTasksResponse>(ORG1, 'RegisterTasks', { tasks: batch });
            latencies.push(nowMs() - start);
            taskBlockBytes = addGrowth(taskBlockBytes, blocks0, net.blockBytes());
            if (res.tasks.length !== 1000) {
                throw new Error(`RegisterTasks returned ${res.tasks.length} tasks`);
            }
        }
        const after = memory();
        const lat = summarize(latencies);
        const total = latencies.reduce((a, b) => a + b, 0);
        const tasksSpent = cpuSpent(cpu0, cpuMark(net, procs));
        const tasksFabric = fabricCpu(tasksSpent);
        report.add({
            scenario: 'e2e RegisterTasks chain ×1000',
            n: reps,
            opsPerSec: (reps * 1000) / total,
            unitsPerSec: (reps * 1000 * 1000) / total,
            unit: 'tasks',
            p50Ms: lat.p50,
            p95Ms: lat.p95,
            cpuMsPerOp: (cpuMs() - cpu0.self) / reps,
            heapMb: after.heapUsedMb,
            heapDeltaMb: after.heapUsedMb - before.heapUsedMb,
            rssMb: after.rssMb,
            note: `${floorNote(floors.get(1), '1 writer', { p50: lat.p50, p95: lat.p95, fabricCpuMs: tasksFabric === undefined ? undefined : tasksFabric / reps })}request ${(requestBytes / 1024).toFixed(0)} KiB; ${blockNote(0, taskBlockBytes, reps)}${processNote(net, procs, cpu0, reps)}`,
        });
        registerTasksGoals(goals, 'OR', lat.p50, floors.get(1)?.p50, 500);
        const perTask = taskBlockBytes === undefined ? undefined : taskBlockBytes / reps / 1000;
        goals.add({
            goal: 'bytes on chain per registered task (RegisterTasks ×1000, block files)',
            target: '≤ 1 KiB',
            measured: `${perTask === undefined ? '?' : (perTask / 1024).toFixed(2)} KiB (request ${(requestBytes / 1000 / 1024).toFixed(2)} KiB/task)`,
            met: perTask === undefined ? undefined : perTask <= 1024,
        });

        // ApplyTaskAction DONE releasing the children of a fan-out (the cascade), end to end.
        const children = quick ? 100 : 1000;
        const cascadeReps = quick ? 1 : 2;
        const cascadeMs: number[] = [];
        let cascadeCpuMs = 0;
        // CPU ms of the watched processes over the measured calls only (not the setup between them)
        const cascadeOthers: (number | undefined)[] = procs.map(() => 0);
        let cascadeBlockBytes: number | undefined = 0;
        for (let r = 0; r < cascadeReps; r++) {
            const planKey = uuid(keys.group(), 0);
            await client.call(ORG1, 'RegisterPlan', plan(planKey));
            const group = keys.group();
            const fanout = tasks('fanout', children + 1, group, { plan: planKey, fn, dm, ds });
            await client.call(ORG1, 'RegisterTasks', { tasks: fanout });
            const root = uuid(group, 0);
            const T = orchestrator.ComputeTaskAction;
            await client.call(ORG1, 'ApplyTaskAction', { compute_task_key: root, action: T.TASK_ACTION_EXECUTING });
            const mark = cpuMark(net, procs);
            const blocks0 = net.blockBytes();
            const start = nowMs();
            await client.call(ORG1, 'ApplyTaskAction', { compute_task_key: root, action: T.TASK_ACTION_DONE });
            cascadeMs.push(nowMs() - start);
            const end = cpuMark(net, procs);
            cascadeBlockBytes = addGrowth(cascadeBlockBytes, blocks0, net.blockBytes());
            cascadeCpuMs += end.self - mark.self;
            cpuSpent(mark, end).forEach((ms, i) => {
                const sum = cascadeOthers[i];
                cascadeOthers[i] = ms === undefined || sum === undefined ? undefined : sum + ms;
            });
            const last = await client.call<orchestrator.ComputeTask>(ORG1, 'GetTask', { key: uuid(group, children) });
            if (last.status !== orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_EXECUTOR_SLOT) {
                throw new Error(`the cascade did not release the children (status ${last.status})`);
            }
        }
        const cascadeLat = summarize(cascadeMs);
        const cascadeTotal = cascadeMs.reduce((a, b) => a + b, 0);
        report.add({
            scenario: `e2e ApplyTaskAction DONE → ${children} children`,
            n: cascadeReps,
            opsPerSec: (cascadeReps * 1000) / cascadeTotal,
            unitsPerSec: (cascadeReps * children * 1000) / cascadeTotal,
            unit: 'children',
            p50Ms: cascadeLat.p50,
            p95Ms: cascadeLat.p95,
            cpuMsPerOp: cascadeCpuMs / cascadeReps,
            rssMb: memory().rssMb,
            note: `${floorNote(floors.get(1), '1 writer', { p50: cascadeLat.p50, p95: cascadeLat.p95, fabricCpuMs: ((f) => (f === undefined ? undefined : f / cascadeReps))(fabricCpu(cascadeOthers)) })}${blockNote(0, cascadeBlockBytes, cascadeReps)}${cpuPerOp(procs, cascadeOthers, cascadeReps)}; ${rssNote(net, procs)}`,
        });

        await runScaleBench({
            net,
            report,
            goals,
            quick,
            keys,
            refs: { fn, dm, ds },
            chaincodeProcess: procs[0]!.process,
            batchTimeoutMs: net.network.blockCutting.batchTimeoutMs,
        });

        const died = net.network.processes().filter((p) => p.pid === undefined || p.restarts > 0);
        if (died.length > 0) {
            throw new Error(
                `network processes died during the bench: ${died.map((p) => `${p.name} (see ${p.logFile})`).join(', ')}`,
            );
        }
        failed = false;
        return { description: net.description };
    } finally {
        // On failure the state directory (network, chaincode and gateway logs) is kept for a look.
        await net.stop(failed);
        if (failed) {
            process.stderr.write(`  state of the failed run kept in ${net.stateDir}\n`);
        }
    }
}

/** RegisterTasks(1 000) end to end: the goal in ms, and its ratio to one no-op transaction. */
function registerTasksGoals(
    goals: Goals,
    policy: string,
    p50: number,
    floorP50: number | undefined,
    targetMs: number,
): void {
    goals.add({
        goal: `RegisterTasks(1 000) end to end, ${policy}`,
        target: `≤ ${targetMs} ms`,
        measured: `p50 ${p50.toFixed(0)} ms (${ratio(p50, floorP50)} the no-op transaction)`,
        met: p50 <= targetMs,
    });
}

/**
 * RegisterTasks(1 000) on a network whose chaincodes need AND(org1, org2): both peers endorse every
 * transaction. A network of its own, started after the OR one is stopped; its own no-op floor.
 */
export async function runAndPolicyBench(report: Report, goals: Goals, options: EndToEndOptions): Promise<void> {
    const net = await startBenchNetwork({ policy: 'and' });
    process.stderr.write(`  ${net.description}\n`);
    let failed = true;
    try {
        const keys = new KeySpace(0xa000);
        const refs = await registerBaseAssets(net, keys);
        for (let i = 0; i < 5; i++) await net.noop.put(`warm${i}`);
        const floorMs: number[] = [];
        for (let i = 0; i < (options.quick ? 10 : 30); i++) {
            const start = nowMs();
            await net.noop.put(`and${i}`);
            floorMs.push(nowMs() - start);
        }
        const floor = summarize(floorMs);
        report.add({
            scenario: 'e2e AND no-op PutState, 1 writer (floor)',
            n: floor.n,
            p50Ms: floor.p50,
            p95Ms: floor.p95,
        });
        const reps = options.quick ? 1 : 3;
        const registerTasks = async (endorsers: Endorsers, warmUp: boolean): Promise<LatencySummary> => {
            net.setEndorsers(endorsers);
            const latencies: number[] = [];
            for (let r = warmUp ? -1 : 0; r < reps; r++) {
                const planKey = uuid(keys.group(), 0);
                await net.client.call(ORG1, 'RegisterPlan', plan(planKey));
                const batch = tasks('chain', 1000, keys.group(), { plan: planKey, ...refs });
                const start = nowMs();
                await net.client.call(ORG1, 'RegisterTasks', { tasks: batch });
                // the first call warms both chaincode processes up; it is not counted
                if (r >= 0) latencies.push(nowMs() - start);
            }
            const lat = summarize(latencies);
            report.add({
                scenario: `e2e AND RegisterTasks chain ×1000, endorsers: ${endorsers === 'gateway' ? "Gateway service's choice (one after the other)" : 'every org at once'}`,
                n: lat.n,
                unitsPerSec: (lat.n * 1000 * 1000) / latencies.reduce((a, b) => a + b, 0),
                unit: 'tasks',
                p50Ms: lat.p50,
                p95Ms: lat.p95,
                note: `vs no-op AND 1 writer: p50 ${ratio(lat.p50, floor.p50)}`,
            });
            return lat;
        };
        const sequential = await registerTasks('gateway', true);
        const parallel = await registerTasks('channel', false);
        registerTasksGoals(goals, 'AND, ORCHESTRATOR_ENDORSING_ORGANIZATIONS=channel', parallel.p50, floor.p50, 1000);
        process.stderr.write(
            `  AND: every org at once p50 ${parallel.p50.toFixed(0)} ms vs one after the other ${sequential.p50.toFixed(0)} ms\n`,
        );
        failed = false;
    } finally {
        await net.stop(failed);
        if (failed) process.stderr.write(`  state of the failed run kept in ${net.stateDir}\n`);
    }
}
