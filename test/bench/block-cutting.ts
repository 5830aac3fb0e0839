/**
 * `npm run bench -- --block-cutting [--quick]`: the orderer's block cutting (BatchTimeout × MaxMessageCount), each
 * combination on a fresh network (test/network, ~5 s to start). For each: sequential write latency of ours
 * (RegisterPlan through our gateway, as a backend calls it) and of the floor (the no-op chaincode's one PutState,
 * through fabric-gateway directly), throughput with 32 concurrent writers of each, and the CPU per transaction
 * of the Fabric side (both peers, the orderer and the chaincode's processes, from /proc).
 */
import os from 'node:os';
import { orchestrator } from '@substra-fabric/api';
import { concurrently, type Timed } from './e2e';
import { KeySpace, ORG1, plan, uuid } from './lib/fixtures';
import { CHAINCODE, NOOP_CHAINCODE, startBenchNetwork, type BenchNetwork } from './lib/launcher';
import { cpuMs, processCpuMs, summarize } from './lib/stats';

export interface BlockCuttingOptions {
    readonly quick: boolean;
    readonly markdown: boolean;
}

export const BATCH_TIMEOUTS_MS: readonly number[] = [500, 100, 20, 5];
export const MAX_MESSAGE_COUNTS: readonly number[] = [10, 1];

interface Measure {
    readonly p50: number;
    readonly p95: number;
    readonly opsPerSec: number;
    /** CPU ms per transaction of peers + orderer + the chaincode's processes; undefined when a pid is unknown */
    readonly fabricCpuMs: number | undefined;
    /** CPU ms per transaction of the bench process (our gateway + client, or the fabric-gateway client) */
    readonly selfCpuMs: number;
    readonly errors: number;
}

interface Combination {
    readonly batchTimeoutMs: number;
    readonly maxMessageCount: number;
    readonly load: number;
    readonly ours: { readonly seq: Measure; readonly conc: Measure };
    readonly noop: { readonly seq: Measure; readonly conc: Measure };
}

/** Sum of the CPU ms so far of both peers, the orderer and every process of `chaincode`. */
function fabricCpuMs(net: BenchNetwork, chaincode: string): number | undefined {
    const names = [
        ...net.network.orgs.map((o) => o.peerProcess),
        'orderer',
        ...net.network.chaincodes.filter((c) => c.chaincode === chaincode).map((c) => c.process),
    ];
    let sum = 0;
    for (const name of names) {
        const ms = processCpuMs(net.pid(name));
        if (ms === undefined) {
            return undefined;
        }
        sum += ms;
    }
    return sum;
}

async function measure(
    net: BenchNetwork,
    chaincode: string,
    workers: number,
    perWorker: number,
    call: () => Promise<unknown>,
): Promise<Measure> {
    const fabric0 = fabricCpuMs(net, chaincode);
    const self0 = cpuMs();
    const timed: Timed = await concurrently(workers, perWorker, call);
    const self1 = cpuMs();
    const fabric1 = fabricCpuMs(net, chaincode);
    const ops = Math.max(1, timed.latencies.length);
    const lat = summarize(timed.latencies);
    if (timed.errors.length > 0) {
        process.stderr.write(`    ${timed.errors.length} errors, first: ${timed.errors[0] ?? ''}\n`);
    }
    return {
        p50: lat.p50,
        p95: lat.p95,
        opsPerSec: (timed.latencies.length * 1000) / timed.wallMs,
        fabricCpuMs: fabric0 === undefined || fabric1 === undefined ? undefined : (fabric1 - fabric0) / ops,
        selfCpuMs: (self1 - self0) / ops,
        errors: timed.errors.length,
    };
}

async function runCombination(batchTimeoutMs: number, maxMessageCount: number, quick: boolean): Promise<Combination> {
    const load = os.loadavg()[0] ?? 0;
    const t0 = Date.now();
    const net = await startBenchNetwork({ batchTimeoutMs, maxMessageCount });
    process.stderr.write(
        `  BatchTimeout ${batchTimeoutMs} ms, MaxMessageCount ${maxMessageCount}: network up in ${Date.now() - t0} ms (load ${load.toFixed(2)})\n`,
    );
    let failed = true;
    try {
        const keys = new KeySpace(0xb000);
        await net.client.call(ORG1, 'RegisterOrganization', { address: 'https://org1.example' });
        const group = keys.group();
        let plans = 0;
        const registerPlan = (): Promise<unknown> =>
            net.client.call<orchestrator.ComputePlan>(ORG1, 'RegisterPlan', plan(uuid(group, plans++)));
        let puts = 0;
        const noopPut = (): Promise<unknown> => net.noop.put(`k${puts++}`);
        for (let i = 0; i < 5; i++) {
            await registerPlan();
            await noopPut();
        }
        const seq = quick ? 10 : 30;
        const perWorker = quick ? 2 : 6;
        const ours = {
            seq: await measure(net, CHAINCODE, 1, seq, registerPlan),
            conc: await measure(net, CHAINCODE, 32, perWorker, registerPlan),
        };
        const noop = {
            seq: await measure(net, NOOP_CHAINCODE, 1, seq, noopPut),
            conc: await measure(net, NOOP_CHAINCODE, 32, perWorker, noopPut),
        };
        const errors = ours.seq.errors + ours.conc.errors + noop.seq.errors + noop.conc.errors;
        process.stderr.write(
            `    ours p50 ${ours.seq.p50.toFixed(1)} ms, ${ours.conc.opsPerSec.toFixed(1)} tx/s; ` +
                `no-op p50 ${noop.seq.p50.toFixed(1)} ms, ${noop.conc.opsPerSec.toFixed(1)} tx/s\n`,
        );
        if (errors > 0) {
            throw new Error(`${errors} failed calls at BatchTimeout ${batchTimeoutMs} ms × ${maxMessageCount}`);
        }
        failed = false;
        return { batchTimeoutMs, maxMessageCount, load, ours, noop };
    } finally {
        await net.stop(failed);
        if (failed) {
            process.stderr.write(`  state of the failed run kept in ${net.stateDir}\n`);
        }
    }
}

const ms = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '?' : v.toFixed(v >= 100 ? 0 : 1));

function table(rows: readonly Combination[], markdown: boolean): string {
    const head = [
        'BatchTimeout',
        'MaxMsgCount',
        'ours p50/p95 ms',
        'no-op p50/p95 ms',
        'ours/no-op p50',
        'ours tx/s 32w',
        'no-op tx/s 32w',
        'ours/no-op tx/s',
        'ours Fabric cpu ms/tx seq/32w',
        'no-op Fabric cpu ms/tx seq/32w',
        'ours gw+client cpu ms/tx seq/32w',
        'load',
    ];
    const lines = rows.map((r) => [
        `${r.batchTimeoutMs} ms`,
        String(r.maxMessageCount),
        `${ms(r.ours.seq.p50)} / ${ms(r.ours.seq.p95)}`,
        `${ms(r.noop.seq.p50)} / ${ms(r.noop.seq.p95)}`,
        `×${(r.ours.seq.p50 / r.noop.seq.p50).toFixed(2)}`,
        ms(r.ours.conc.opsPerSec),
        ms(r.noop.conc.opsPerSec),
        `×${(r.ours.conc.opsPerSec / r.noop.conc.opsPerSec).toFixed(2)}`,
        `${ms(r.ours.seq.fabricCpuMs)} / ${ms(r.ours.conc.fabricCpuMs)}`,
        `${ms(r.noop.seq.fabricCpuMs)} / ${ms(r.noop.conc.fabricCpuMs)}`,
        `${ms(r.ours.seq.selfCpuMs)} / ${ms(r.ours.conc.selfCpuMs)}`,
        r.load.toFixed(1),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const sep = markdown ? ' | ' : '  ';
    const fmt = (cells: readonly string[]): string => {
        const line = cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(sep);
        return markdown ? `| ${line} |` : line.trimEnd();
    };
    const rule = markdown
        ? `| ${widths.map((w, i) => (i < 2 ? ':' + '-'.repeat(w - 1) : '-'.repeat(w - 1) + ':')).join(sep)} |`
        : widths.map((w) => '-'.repeat(w)).join(sep);
    return [fmt(head), rule, ...lines.map(fmt)].join('\n');
}

/** Runs every combination; returns the table (plain text, or Markdown). */
export async function runBlockCuttingBench(options: BlockCuttingOptions): Promise<string> {
    const rows: Combination[] = [];
    for (const maxMessageCount of MAX_MESSAGE_COUNTS) {
        for (const batchTimeoutMs of BATCH_TIMEOUTS_MS) {
            rows.push(await runCombination(batchTimeoutMs, maxMessageCount, options.quick));
        }
    }
    return table(rows, options.markdown);
}
