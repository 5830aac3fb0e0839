/**
 * Part 2: end to end, as a Substra backend sees it: grpc-js client → gateway (this process) → devnet peer
 * (child process) → chaincode process (CCaaS, mutual TLS), submits awaited until commit.
 */
import path from 'node:path';
import { orchestrator } from '@substra-fabric/api';
import { KeySpace, ORG1, ORG2, dataManager, dataSamples, plan, tasks, trainFunction, uuid } from './lib/fixtures';
import { startBenchNetwork, type BenchNetwork } from './lib/launcher';
import {
    type Report,
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

function repoRoot(): string {
    // dist/test/bench/e2e.js → repository root
    return path.resolve(__dirname, '../../../../..');
}

/** The org1 chaincode process (the OR policy makes the gateway's own org endorse: org1 does all the work). */
function chaincodePid(net: BenchNetwork): number | undefined {
    return net.chaincodes.find((c) => c.mspId === ORG1)?.pid;
}

interface CpuMark {
    readonly self: number;
    readonly chaincode: number | undefined;
    readonly devnet: number | undefined;
}

function cpuMark(net: BenchNetwork): CpuMark {
    return { self: cpuMs(), chaincode: processCpuMs(chaincodePid(net)), devnet: processCpuMs(net.devnetPid) };
}

/** CPU per operation of the chaincode and devnet processes, and their memory. */
function processNote(net: BenchNetwork, start: CpuMark, ops: number): string {
    const end = cpuMark(net);
    const per = (a: number | undefined, b: number | undefined): string =>
        a === undefined || b === undefined ? '?' : ((b - a) / ops).toFixed(2);
    const mb = (v: number | undefined): string => (v === undefined ? '?' : v.toFixed(0));
    const cc = chaincodePid(net);
    return (
        `cpu ms/op: chaincode ${per(start.chaincode, end.chaincode)}, devnet ${per(start.devnet, end.devnet)}; ` +
        `RSS chaincode ${mb(processRssMb(cc))} MB (peak ${mb(processPeakRssMb(cc))}), devnet ${mb(processRssMb(net.devnetPid))} MB`
    );
}

interface Timed {
    readonly latencies: number[];
    readonly wallMs: number;
    readonly errors: string[];
}

/** `workers` loops of `perWorker` sequential calls; wall time from the first start to the last end. */
async function concurrently(
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

export async function runEndToEndBench(report: Report, options: EndToEndOptions): Promise<void> {
    const { quick } = options;
    const t0 = Date.now();
    const net = await startBenchNetwork(path.join(repoRoot(), '.state', 'bench'));
    process.stderr.write(`  devnet + gateway up in ${Date.now() - t0} ms (state in ${net.stateDir})\n`);
    try {
        const client = net.client;
        const keys = new KeySpace(0x9000);
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

        const scenario = async (
            name: string,
            workers: number,
            perWorker: number,
            call: () => Promise<unknown>,
            extra = '',
        ): Promise<void> => {
            collectGarbage();
            const before = memory();
            const cpu0 = cpuMark(net);
            const timed = await concurrently(workers, perWorker, call);
            const after = memory();
            const ops = Math.max(1, timed.latencies.length);
            const lat = summarize(timed.latencies);
            const errors = timed.errors.length === 0 ? '' : `; ${timed.errors.length} errors: ${timed.errors[0] ?? ''}`;
            report.add({
                scenario: name,
                n: timed.latencies.length,
                opsPerSec: (timed.latencies.length * 1000) / timed.wallMs,
                p50Ms: lat.p50,
                p95Ms: lat.p95,
                cpuMsPerOp: (cpuMs() - cpu0.self) / ops,
                heapMb: after.heapUsedMb,
                heapDeltaMb: after.heapUsedMb - before.heapUsedMb,
                rssMb: after.rssMb,
                note: `${extra}${processNote(net, cpu0, ops)}${errors}`,
            });
        };

        await scenario('e2e RegisterDataManager, 1 writer', 1, quick ? 20 : 100, registerDataManager);
        await scenario('e2e GetDataManager, 1 reader', 1, quick ? 100 : 500, getDataManager);
        await scenario('e2e RegisterDataManager, 8 writers', 8, quick ? 5 : 25, registerDataManager);
        await scenario('e2e RegisterDataManager, 32 writers', 32, quick ? 3 : 10, registerDataManager);
        await scenario('e2e GetDataManager, 32 readers', 32, quick ? 10 : 50, getDataManager);

        // RegisterTasks of 1 000 tasks (a chain) in one call.
        const reps = quick ? 1 : 3;
        const latencies: number[] = [];
        collectGarbage();
        const before = memory();
        const cpu0 = cpuMark(net);
        let requestBytes = 0;
        for (let r = 0; r < reps; r++) {
            const planKey = uuid(keys.group(), 0);
            await client.call(ORG1, 'RegisterPlan', plan(planKey));
            const batch = tasks('chain', 1000, keys.group(), { plan: planKey, fn, dm, ds });
            requestBytes = orchestrator.RegisterTasksParam.encode({ tasks: batch }).finish().length;
            const start = nowMs();
            const res = await client.call<orchestrator.RegisterTasksResponse>(ORG1, 'RegisterTasks', { tasks: batch });
            latencies.push(nowMs() - start);
            if (res.tasks.length !== 1000) {
                throw new Error(`RegisterTasks returned ${res.tasks.length} tasks`);
            }
        }
        const after = memory();
        const lat = summarize(latencies);
        const total = latencies.reduce((a, b) => a + b, 0);
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
            note: `request ${(requestBytes / 1024).toFixed(0)} KiB; ${processNote(net, cpu0, reps)}`,
        });

        // ApplyTaskAction DONE releasing the children of a fan-out (the cascade), end to end.
        const children = quick ? 100 : 1000;
        const cascadeReps = quick ? 1 : 2;
        const cascadeMs: number[] = [];
        let cascadeCpuMs = 0;
        let cascadeCc = 0;
        let cascadeDevnet = 0;
        for (let r = 0; r < cascadeReps; r++) {
            const planKey = uuid(keys.group(), 0);
            await client.call(ORG1, 'RegisterPlan', plan(planKey));
            const group = keys.group();
            const fanout = tasks('fanout', children + 1, group, { plan: planKey, fn, dm, ds });
            await client.call(ORG1, 'RegisterTasks', { tasks: fanout });
            const root = uuid(group, 0);
            const T = orchestrator.ComputeTaskAction;
            await client.call(ORG1, 'ApplyTaskAction', { compute_task_key: root, action: T.TASK_ACTION_EXECUTING });
            const mark = cpuMark(net);
            const start = nowMs();
            await client.call(ORG1, 'ApplyTaskAction', { compute_task_key: root, action: T.TASK_ACTION_DONE });
            cascadeMs.push(nowMs() - start);
            const end = cpuMark(net);
            cascadeCpuMs += end.self - mark.self;
            cascadeCc += (end.chaincode ?? 0) - (mark.chaincode ?? 0);
            cascadeDevnet += (end.devnet ?? 0) - (mark.devnet ?? 0);
            const last = await client.call<orchestrator.ComputeTask>(ORG1, 'GetTask', { key: uuid(group, children) });
            if (last.status !== orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_EXECUTOR_SLOT) {
                throw new Error(`the cascade did not release the children (status ${last.status})`);
            }
        }
        const cascadeLat = summarize(cascadeMs);
        const cascadeTotal = cascadeMs.reduce((a, b) => a + b, 0);
        const cc = chaincodePid(net);
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
            note:
                `cpu ms/op: chaincode ${(cascadeCc / cascadeReps).toFixed(0)}, devnet ${(cascadeDevnet / cascadeReps).toFixed(0)}; ` +
                `RSS chaincode ${processRssMb(cc)?.toFixed(0) ?? '?'} MB`,
        });
    } finally {
        await net.stop();
    }
}
