/**
 * Part 2, continued: the scale goals on the same real network as e2e.ts.
 * - a plan grown to 100 000 tasks (10 000 in quick mode): a page of 50 at each size and deep in the plan, and
 *   the whole plan read in pages of 5 000;
 * - the memory of the chaincode process during one RegisterTasks of 5 000 tasks;
 * - events: RegisterDataSamples driven at 1 000 events/s, each event timed from the commit (the client's answer)
 *   to its arrival on a SubscribeToEvents stream, counting drops and duplicates.
 */
import { writeFileSync } from 'node:fs';
import { orchestrator } from '@substra-fabric/api';
import { ORG1, type KeySpace, dataSamples, plan, tasks, uuid } from './lib/fixtures';
import type { BenchNetwork } from './lib/launcher';
import { type Goals, type Report, nowMs, processPeakRssMb, processRssMb, ratio, summarize } from './lib/stats';

export interface ScaleContext {
    readonly net: BenchNetwork;
    readonly report: Report;
    readonly goals: Goals;
    readonly quick: boolean;
    readonly keys: KeySpace;
    readonly refs: { readonly fn: string; readonly dm: string; readonly ds: string };
    /** the supervised name of org1's chaincode process (the one that endorses under OR) */
    readonly chaincodeProcess: string;
    /** orderer BatchTimeout, ms: an event may wait this long for its block */
    readonly batchTimeoutMs: number;
}

const BATCH = 1000;

async function timeCalls(times: number, call: () => Promise<unknown>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < times; i++) {
        const start = nowMs();
        await call();
        out.push(nowMs() - start);
    }
    return out;
}

/** Registers `count` independent tasks into `planKey`, `inFlight` RegisterTasks calls of {@link BATCH} at a time. */
async function growPlan(ctx: ScaleContext, planKey: string, count: number, inFlight: number): Promise<void> {
    const batches = Math.ceil(count / BATCH);
    let next = 0;
    const worker = async (): Promise<void> => {
        while (next < batches) {
            next++;
            const batch = tasks('independent', BATCH, ctx.keys.group(), { plan: planKey, ...ctx.refs });
            await ctx.net.client.call(ORG1, 'RegisterTasks', { tasks: batch });
        }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
}

interface PageCall {
    readonly ms: number;
    readonly tasks: number;
    readonly nextPageToken: string;
}

async function queryPlanPage(ctx: ScaleContext, planKey: string, pageSize: number, token: string): Promise<PageCall> {
    const start = nowMs();
    const res = await ctx.net.client.call<orchestrator.QueryTasksResponse>(ORG1, 'QueryTasks', {
        page_size: pageSize,
        page_token: token,
        filter: { compute_plan_key: planKey },
    });
    return { ms: nowMs() - start, tasks: res.tasks.length, nextPageToken: res.next_page_token };
}

/** A page of 50 at 1 000 → 100 000 tasks in a plan, and the plan read in pages of 5 000. */
async function pagesScenario(ctx: ScaleContext): Promise<void> {
    const sizes = ctx.quick ? [1000, 5000] : [1000, 10_000, 100_000];
    const planKey = uuid(ctx.keys.group(), 0);
    await ctx.net.client.call(ORG1, 'RegisterPlan', plan(planKey));
    const first50 = new Map<number, number>();
    let registered = 0;
    let growMs = 0;
    for (const size of sizes) {
        const start = nowMs();
        await growPlan(ctx, planKey, size - registered, 2);
        growMs += nowMs() - start;
        registered = size;
        const lat = summarize(await timeCalls(20, () => queryPlanPage(ctx, planKey, 50, '')));
        first50.set(size, lat.p50);
        ctx.report.add({
            scenario: `e2e QueryTasks(50) first page, plan of ${size} tasks`,
            n: lat.n,
            p50Ms: lat.p50,
            p95Ms: lat.p95,
            note: `vs ${sizes[0]} tasks: p50 ${ratio(lat.p50, first50.get(sizes[0]!))}`,
        });
    }
    const largest = sizes.at(-1)!;
    process.stderr.write(
        `  plan grown to ${largest} tasks in ${(growMs / 1000).toFixed(1)} s (${Math.round((largest * 1000) / growMs)} tasks/s, 2 RegisterTasks(${BATCH}) in flight)\n`,
    );

    // The whole plan in pages of 5 000; the token of the last page is kept to read a page of 50 deep in the plan.
    const pages: PageCall[] = [];
    let token = '';
    let lastToken = '';
    do {
        lastToken = token;
        const page = await queryPlanPage(ctx, planKey, 5000, token);
        pages.push(page);
        token = page.nextPageToken;
    } while (token !== '');
    const read = pages.reduce((sum, p) => sum + p.tasks, 0);
    if (read !== largest) {
        throw new Error(`pages of 5000 read ${read} tasks of a plan of ${largest}`);
    }
    const full = pages.filter((p) => p.tasks === 5000).map((p) => p.ms);
    const page5000 = summarize(full);
    ctx.report.add({
        scenario: `e2e QueryTasks(5000), plan of ${largest} tasks`,
        n: page5000.n,
        unitsPerSec: (read * 1000) / pages.reduce((sum, p) => sum + p.ms, 0),
        unit: 'tasks',
        p50Ms: page5000.p50,
        p95Ms: page5000.p95,
        note: `${pages.length} pages to read the plan`,
    });
    ctx.goals.add({
        goal: 'QueryTasks page of 5 000 tasks',
        target: '≤ 500 ms',
        measured: `p50 ${page5000.p50.toFixed(0)} ms, p95 ${page5000.p95.toFixed(0)} ms (plan of ${largest})`,
        met: page5000.p95 <= 500,
    });
    const deep = summarize(await timeCalls(20, () => queryPlanPage(ctx, planKey, 50, lastToken)));
    ctx.report.add({
        scenario: `e2e QueryTasks(50) deep page (past task ${largest - pages.at(-1)!.tasks}), plan of ${largest}`,
        n: deep.n,
        p50Ms: deep.p50,
        p95Ms: deep.p95,
        note: `vs first page at ${sizes[0]} tasks: p50 ${ratio(deep.p50, first50.get(sizes[0]!))}`,
    });
    const base = first50.get(sizes[0]!)!;
    const worst = Math.max(first50.get(largest)!, deep.p50);
    ctx.goals.add({
        goal: `QueryTasks page of 50 flat from ${sizes[0]} to ${largest} tasks in a plan`,
        target: '≤ ×1.2',
        measured: `p50 ${base.toFixed(1)} ms at ${sizes[0]}, first page ${first50.get(largest)!.toFixed(1)} ms and deep page ${deep.p50.toFixed(1)} ms at ${largest}: ${ratio(worst, base)}`,
        met: worst <= 1.2 * base,
    });
}

/** The chaincode process's resident memory during one RegisterTasks of 5 000 tasks. */
async function registerTasks5000Scenario(ctx: ScaleContext): Promise<void> {
    const pid = ctx.net.pid(ctx.chaincodeProcess);
    const before = processRssMb(pid);
    // Writing 5 to clear_refs resets the process's VmHWM, so the peak read afterwards is this call's.
    let peakReset = false;
    try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
        peakReset = true;
    } catch {
        // not allowed here: the peak below then covers the whole life of the process
    }
    const planKey = uuid(ctx.keys.group(), 0);
    await ctx.net.client.call(ORG1, 'RegisterPlan', plan(planKey));
    const batch = tasks('chain', 5000, ctx.keys.group(), { plan: planKey, ...ctx.refs });
    const requestBytes = orchestrator.RegisterTasksParam.encode({ tasks: batch }).finish().length;
    const start = nowMs();
    let outcome = 'committed';
    try {
        await ctx.net.client.call(ORG1, 'RegisterTasks', { tasks: batch });
    } catch (err) {
        outcome = `refused: ${err instanceof Error ? err.message.slice(0, 160) : String(err)}`;
    }
    const ms = nowMs() - start;
    const peak = processPeakRssMb(pid);
    const after = processRssMb(pid);
    ctx.report.add({
        scenario: 'e2e RegisterTasks chain ×5000 (chaincode memory)',
        n: 1,
        p50Ms: ms,
        note: `chaincode RSS before ${before?.toFixed(0) ?? '?'} MB, peak ${peakReset ? 'during the call' : 'since start'} ${peak?.toFixed(0) ?? '?'} MB, after ${after?.toFixed(0) ?? '?'} MB; request ${(requestBytes / 1024).toFixed(0)} KiB; ${outcome}`,
    });
    ctx.goals.add({
        goal: 'chaincode memory during RegisterTasks(5 000)',
        target: 'reported',
        measured: `RSS ${before?.toFixed(0) ?? '?'} MB before, peak ${peak?.toFixed(0) ?? '?'} MB${peakReset ? '' : ' (since start)'}; ${outcome.startsWith('committed') ? 'committed' : outcome}`,
        met: peak !== undefined,
    });
}

/** RegisterDataSamples of 100 samples, 10 calls a second: 1 000 events/s, each timed to its arrival. */
async function eventsScenario(ctx: ScaleContext): Promise<void> {
    const { client } = ctx.net;
    const seconds = ctx.quick ? 4 : 10;
    const perCall = 100;
    const callsPerSecond = 10;
    const latest = await client.call<orchestrator.QueryEventsResponse>(ORG1, 'QueryEvents', {
        page_size: 1,
        sort: orchestrator.SortOrder.DESCENDING,
    });
    const startId = latest.events[0]?.id ?? '';
    const arrivals = new Map<string, number>();
    let duplicates = 0;
    let streamError: Error | undefined;
    const cancel = client.subscribe(
        ORG1,
        startId,
        (event) => {
            const at = nowMs();
            if (event.asset_kind !== orchestrator.AssetKind.ASSET_DATA_SAMPLE) return;
            if (arrivals.has(event.asset_key)) duplicates++;
            else arrivals.set(event.asset_key, at);
        },
        (err) => {
            streamError = err;
        },
    );
    try {
        // wait until the stream is live: one sample registered before the load must arrive
        const probe = uuid(ctx.keys.group(), 0);
        await client.call(ORG1, 'RegisterDataSamples', dataSamples([probe], ctx.refs.dm));
        const probeDeadline = nowMs() + 10_000;
        while (!arrivals.has(probe) && nowMs() < probeDeadline) {
            await new Promise((resolve) => setTimeout(resolve, 5));
        }
        if (!arrivals.has(probe)) {
            throw new Error(
                `the event stream delivered nothing in 10 s${streamError ? `: ${streamError.message}` : ''}`,
            );
        }
        const calls: { keys: string[]; start: number; ack?: number; error?: string }[] = [];
        const pending: Promise<void>[] = [];
        const t0 = nowMs();
        for (let i = 0; i < seconds * callsPerSecond; i++) {
            // open loop: each call starts on its own schedule, whether or not earlier calls are back
            const due = t0 + (i * 1000) / callsPerSecond;
            const wait = due - nowMs();
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
            const group = ctx.keys.group();
            const keys = Array.from({ length: perCall }, (_, n) => uuid(group, n));
            const call: (typeof calls)[number] = { keys, start: nowMs() };
            calls.push(call);
            pending.push(
                client.call(ORG1, 'RegisterDataSamples', dataSamples(keys, ctx.refs.dm)).then(
                    () => {
                        call.ack = nowMs();
                    },
                    (err: unknown) => {
                        call.error = err instanceof Error ? err.message : String(err);
                    },
                ),
            );
        }
        await Promise.all(pending);
        const loadMs = nowMs() - t0;
        const expected = calls.filter((c) => c.error === undefined).flatMap((c) => c.keys);
        const deadline = nowMs() + 10_000;
        while (expected.some((k) => !arrivals.has(k)) && nowMs() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const missing = expected.filter((k) => !arrivals.has(k)).length;
        const failed = calls.filter((c) => c.error !== undefined);
        // per event: arrival minus the commit as the client learnt it (negative: the event came first)
        const afterCommit: number[] = [];
        const afterSubmit: number[] = [];
        for (const c of calls) {
            if (c.ack === undefined) continue;
            for (const k of c.keys) {
                const at = arrivals.get(k);
                if (at === undefined) continue;
                afterCommit.push(at - c.ack);
                afterSubmit.push(at - c.start);
            }
        }
        const lag = summarize(afterCommit);
        const total = summarize(afterSubmit);
        const firstArrival = Math.min(...expected.map((k) => arrivals.get(k) ?? Infinity));
        const lastArrival = Math.max(...expected.map((k) => arrivals.get(k) ?? -Infinity));
        const rate = (expected.length - missing) / ((lastArrival - firstArrival) / 1000);
        const sent = (calls.length * perCall * 1000) / loadMs;
        ctx.report.add({
            scenario: `e2e events at ${callsPerSecond * perCall}/s (RegisterDataSamples ×${perCall}, ${callsPerSecond}/s)`,
            n: afterCommit.length,
            unitsPerSec: rate,
            unit: 'events',
            p50Ms: total.p50,
            p95Ms: total.p95,
            note: `submit → event p50/p95 (columns); commit → event p50 ${lag.p50.toFixed(1)} ms, p95 ${lag.p95.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms; sent ${sent.toFixed(0)} events/s; ${missing} missing, ${duplicates} duplicates, ${failed.length} failed calls${failed[0] ? ` (${failed[0].error})` : ''}`,
        });
        const bound = ctx.batchTimeoutMs + 20;
        ctx.goals.add({
            goal: 'commit → event on the stream, 1 000 events/s sustained, no drop',
            target: `≤ one block + 20 ms (${bound} ms), 0 missing`,
            measured: `p95 ${lag.p95.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms after the commit answer; ${rate.toFixed(0)} events/s delivered (${sent.toFixed(0)} sent); ${missing} missing, ${duplicates} duplicates, ${failed.length} failed calls`,
            met: lag.max <= bound && missing === 0 && duplicates === 0 && failed.length === 0 && rate >= 950,
        });
    } finally {
        cancel();
    }
}

export async function runScaleBench(ctx: ScaleContext): Promise<void> {
    await eventsScenario(ctx);
    await registerTasks5000Scenario(ctx);
    await pagesScenario(ctx);
}
