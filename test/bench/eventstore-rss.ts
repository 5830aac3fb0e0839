/**
 * Memory and speed of the gateway's event index (`gateway/src/events/eventindex.ts`, LevelDB), measured on the
 * gateway's own code path: an {@link EventHub} whose listener reads synthetic `chaincode-updates`
 * chaincode events from a fake Fabric client, exactly as it reads them from a peer, then QueryEvents
 * pages through `queryEvents` (request bytes in, response bytes out) and a SubscribeToEvents-style replay.
 *
 *   npm run -s build && npx tsc -p test/bench && node --expose-gc test/bench/dist/test/bench/eventstore-rss.js
 *   options: --events N (1000000) --per-tx N (10) --tx-per-block N (10) --marks 100000,500000 --keep
 *
 * Prints numbers only; fails only when the index returns something wrong.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeEventBatch, orchestrator } from '@substra-fabric/api';
import pino from 'pino';
import type { EventIndex } from '../../gateway/src/events/eventindex';
import { EventHub } from '../../gateway/src/events/hub';
import { queryEvents } from '../../gateway/src/events/service';
import type {
    ChaincodeEventRecord,
    CloseableAsyncIterable,
    FabricClient,
    InvokeRequest,
    TransactionLocation,
} from '../../gateway/src/fabric/client';
import { collectGarbage, gcAvailable, nowMs, summarize } from './lib/stats';

interface Options {
    readonly events: number;
    readonly perTx: number;
    readonly txPerBlock: number;
    readonly marks: readonly number[];
    readonly keep: boolean;
}

function parseArgs(argv: readonly string[]): Options {
    const value = (name: string, fallback: number): number => {
        const i = argv.indexOf(`--${name}`);
        const raw = i >= 0 ? argv[i + 1] : undefined;
        return raw === undefined ? fallback : Number(raw);
    };
    const events = value('events', 1_000_000);
    const i = argv.indexOf('--marks');
    const marks =
        i >= 0 && argv[i + 1] !== undefined
            ? argv[i + 1]!.split(',').map(Number)
            : [100_000, 500_000].filter((m) => m < events);
    return {
        events,
        perTx: value('per-tx', 10),
        txPerBlock: value('tx-per-block', 10),
        marks: [...marks, events],
        keep: argv.includes('--keep'),
    };
}

const CHANNEL = 'benchchannel';
const BASE_SECONDS = 1_700_000_000;
const { AssetKind, EventKind, SortOrder } = orchestrator;

const uuid = (n: number, salt: number): string => {
    const hex = (n * 7919 + salt).toString(16).padStart(12, '0');
    return `${salt.toString(16).padStart(8, '0')}-0000-4000-8000-${hex.slice(-12)}`;
};
const txId = (t: number): string => t.toString(16).padStart(64, '0');

/** A compute task as RegisterTasks emits it (~0.6 KB encoded). */
function task(n: number): orchestrator.IComputeTask {
    return {
        key: uuid(n, 1),
        function_key: '11111111-1111-4111-8111-111111111111',
        owner: 'MyOrg1MSP',
        compute_plan_key: uuid(n >> 10, 2),
        worker: n % 2 === 0 ? 'MyOrg1MSP' : 'MyOrg2MSP',
        rank: n % 100,
        status: orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_EXECUTOR_SLOT,
        metadata: { epoch: String(n % 10) },
        inputs: [
            { identifier: 'data', asset_key: uuid(n, 3) },
            { identifier: 'opener', asset_key: uuid(n, 4) },
            {
                identifier: 'model',
                parent_task_output: { parent_task_key: uuid(n - 1, 1), output_identifier: 'model' },
            },
        ],
        outputs: {
            model: {
                permissions: {
                    process: { public: false, authorized_ids: ['MyOrg1MSP', 'MyOrg2MSP'] },
                    download: { public: false, authorized_ids: ['MyOrg1MSP', 'MyOrg2MSP'] },
                },
            },
        },
        creation_date: { seconds: BASE_SECONDS, nanos: 0 },
    };
}

/**
 * Event `n` of the stream: 80 % compute-task creations, 10 % task status updates (metadata reason),
 * 5 % model creations, 5 % output-asset events, so every secondary index gets rows.
 */
function syntheticEvent(n: number, id: string, seconds: number): orchestrator.IEvent {
    const common = { id, timestamp: { seconds, nanos: 0 } };
    const kind = n % 20;
    if (kind < 16) {
        return {
            ...common,
            asset_key: uuid(n, 1),
            asset_kind: AssetKind.ASSET_COMPUTE_TASK,
            event_kind: EventKind.EVENT_ASSET_CREATED,
            compute_task: task(n),
        };
    }
    if (kind < 18) {
        return {
            ...common,
            asset_key: uuid(n - 100, 1),
            asset_kind: AssetKind.ASSET_COMPUTE_TASK,
            event_kind: EventKind.EVENT_ASSET_UPDATED,
            compute_task: task(n - 100),
            metadata: { reason: kind === 16 ? 'done' : 'failed' },
        };
    }
    if (kind === 18) {
        return {
            ...common,
            asset_key: uuid(n, 5),
            asset_kind: AssetKind.ASSET_MODEL,
            event_kind: EventKind.EVENT_ASSET_CREATED,
            model: { key: uuid(n, 5), compute_task_key: uuid(n, 1), owner: 'MyOrg1MSP' },
        };
    }
    return {
        ...common,
        asset_key: uuid(n, 1),
        asset_kind: AssetKind.ASSET_COMPUTE_TASK_OUTPUT_ASSET,
        event_kind: EventKind.EVENT_ASSET_CREATED,
        compute_task_output_asset: { compute_task_key: uuid(n, 1), compute_task_output_identifier: 'model' },
    };
}

interface Feed {
    /** Called after event count `marks[i]` was produced; the stream waits for it. */
    readonly atMark: (produced: number) => Promise<void>;
    generateMs: number;
}

/** A Fabric client whose only chain is the synthetic one: `options.events` events, generated lazily. */
function syntheticFabric(options: Options, feed: Feed): FabricClient {
    const transactions = Math.ceil(options.events / options.perTx);
    const blocks = Math.ceil(transactions / options.txPerBlock);
    const unsupported = (): Promise<never> => Promise.reject(new Error('not used by the bench'));
    return {
        evaluate: (_request: InvokeRequest) => unsupported(),
        submit: (_request: InvokeRequest) => unsupported(),
        transactionBlock: (): Promise<TransactionLocation | undefined> => Promise.resolve(undefined),
        chainHeight: () => Promise.resolve(BigInt(blocks)),
        lastEventBlock: () => Promise.resolve(BigInt(blocks - 1)),
        chaincodeEvents: (request) => {
            let open = true;
            const iterable: CloseableAsyncIterable<ChaincodeEventRecord> = {
                async *[Symbol.asyncIterator]() {
                    let produced = 0;
                    let mark = 0;
                    for (let t = 0; t < transactions && open; t++) {
                        const blockNumber = BigInt(Math.floor(t / options.txPerBlock));
                        if (blockNumber < request.startBlock) {
                            continue;
                        }
                        const started = nowMs();
                        const id = txId(t);
                        const count = Math.min(options.perTx, options.events - produced);
                        const events = Array.from({ length: count }, (_, n) =>
                            syntheticEvent(produced + n, `${id}:${n}`, BASE_SECONDS + t),
                        );
                        const payload = encodeEventBatch(events);
                        feed.generateMs += nowMs() - started;
                        produced += count;
                        yield { blockNumber, transactionId: id, eventName: 'chaincode-updates', payload };
                        if (produced >= (options.marks[mark] ?? Infinity)) {
                            mark++;
                            await feed.atMark(produced);
                        }
                    }
                    // then live: nothing more
                    while (open) {
                        await new Promise((resolve) => setTimeout(resolve, 50));
                    }
                },
                close: () => {
                    open = false;
                },
            };
            return Promise.resolve(iterable);
        },
        close: () => undefined,
    };
}

interface Sample {
    readonly events: number;
    readonly heapMb: number;
    readonly rssMb: number;
    readonly externalMb: number;
    readonly diskMb: number;
    readonly elapsedS: number;
    readonly rate: number;
}

const mb = (bytes: number): number => bytes / 2 ** 20;

function diskMb(dir: string): number {
    try {
        return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;
    } catch {
        return NaN;
    }
}

function snapshot(events: number, dir: string, elapsedMs: number, generateMs: number): Sample {
    collectGarbage();
    collectGarbage();
    const m = process.memoryUsage();
    const indexMs = elapsedMs - generateMs;
    return {
        events,
        heapMb: mb(m.heapUsed),
        rssMb: mb(m.rss),
        externalMb: mb(m.external + m.arrayBuffers),
        diskMb: diskMb(dir),
        elapsedS: elapsedMs / 1000,
        rate: indexMs > 0 ? events / (indexMs / 1000) : NaN,
    };
}

function request(param: orchestrator.IQueryEventsParam): Uint8Array {
    return orchestrator.QueryEventsParam.encode(param).finish();
}

async function timeQuery(
    index: EventIndex,
    name: string,
    param: orchestrator.IQueryEventsParam,
    repeat: number,
    expectEvents: (n: number) => boolean,
): Promise<string> {
    const samples: number[] = [];
    let events = 0;
    for (let i = 0; i < repeat; i++) {
        const started = nowMs();
        const reply = await queryEvents(index, CHANNEL, request(param));
        samples.push(nowMs() - started);
        events = orchestrator.QueryEventsResponse.decode(reply).events.length;
    }
    if (!expectEvents(events)) {
        throw new Error(`${name}: unexpected page of ${events} events`);
    }
    const s = summarize(samples);
    return `${name.padEnd(58)} ${String(events).padStart(4)} events  p50 ${s.p50.toFixed(2).padStart(7)} ms  p95 ${s.p95.toFixed(2).padStart(7)} ms`;
}

async function main(): Promise<void> {
    const options = parseArgs(process.argv.slice(2));
    if (!gcAvailable()) {
        console.error('run with node --expose-gc for heap numbers after a full GC');
    }
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'substra-eventstore-bench-'));
    const dbDir = path.join(stateDir, 'events', CHANNEL, 'benchcc');
    const samples: Sample[] = [];
    let started = 0;
    let pausedMs = 0; // spent measuring at the marks, not counted as ingest time
    let markDone: (() => void) | undefined;
    let index: EventIndex | undefined = undefined;
    const feed: Feed = {
        generateMs: 0,
        atMark: async (produced) => {
            await index?.drain();
            const pause = nowMs();
            samples.push(snapshot(produced, dbDir, pause - started - pausedMs, feed.generateMs));
            pausedMs += nowMs() - pause;
            console.error(`[bench] ${produced} events indexed`);
            if (produced >= options.events) {
                markDone?.();
            }
        },
    };
    const fabric = syntheticFabric(options, feed);
    const hub = new EventHub({ fabric, logger: pino({ level: 'silent' }), stateDir });
    const allIndexed = new Promise<void>((resolve) => {
        markDone = resolve;
    });
    samples.push(snapshot(0, stateDir, 0, 0));
    started = nowMs();
    index = hub.index({ mspid: 'MyOrg1MSP', channel: CHANNEL, chaincode: 'benchcc' });
    await allIndexed;
    const caughtUp = await index.whenCaughtUp(10_000);
    const totalMs = nowMs() - started - pausedMs;
    if (!caughtUp || index.length !== options.events) {
        throw new Error(`index holds ${index.length} events, caught up: ${String(caughtUp)}`);
    }

    const lines: string[] = [];
    const mid = BASE_SECONDS + Math.floor(options.events / options.perTx / 2);
    const someTask = uuid(Math.floor(options.events / 3) - (Math.floor(options.events / 3) % 20), 1);
    const pages = 50;
    lines.push(await timeQuery(index, 'first page, no filter, ascending (50)', {}, pages, (n) => n === 50));
    lines.push(
        await timeQuery(
            index,
            'first page, no filter, DESCENDING (50)',
            { sort: SortOrder.DESCENDING },
            pages,
            (n) => n === 50,
        ),
    );
    lines.push(
        await timeQuery(
            index,
            'page at mid-chain (filter start = middle timestamp)',
            { filter: { start: { seconds: mid } } },
            pages,
            (n) => n === 50,
        ),
    );
    lines.push(
        await timeQuery(
            index,
            'asset_key of one task (creation + output asset)',
            { filter: { asset_key: someTask } },
            pages,
            (n) => n >= 1,
        ),
    );
    lines.push(
        await timeQuery(
            index,
            'asset_kind MODEL (5 % of events)',
            { filter: { asset_kind: AssetKind.ASSET_MODEL } },
            pages,
            (n) => n === 50,
        ),
    );
    lines.push(
        await timeQuery(
            index,
            'asset_kind TASK + event_kind UPDATED (10 %)',
            { filter: { asset_kind: AssetKind.ASSET_COMPUTE_TASK, event_kind: EventKind.EVENT_ASSET_UPDATED } },
            pages,
            (n) => n === 50,
        ),
    );
    lines.push(
        await timeQuery(
            index,
            'metadata reason=done (5 %), descending',
            { filter: { metadata: { reason: 'done' } }, sort: SortOrder.DESCENDING },
            pages,
            (n) => n === 50,
        ),
    );
    lines.push(
        await timeQuery(
            index,
            'no match (unknown asset key)',
            { filter: { asset_key: 'nowhere' } },
            pages,
            (n) => n === 0,
        ),
    );
    // 200 pages in a row with their tokens (a backend paging through the history)
    const pageSamples: number[] = [];
    let token = '';
    let seen = 0;
    for (let i = 0; i < 200; i++) {
        const t0 = nowMs();
        const reply = orchestrator.QueryEventsResponse.decode(
            await queryEvents(index, CHANNEL, request({ page_token: token })),
        );
        pageSamples.push(nowMs() - t0);
        seen += reply.events.length;
        token = reply.next_page_token;
    }
    if (seen !== 200 * 50) {
        throw new Error(`paging returned ${seen} events`);
    }
    const paging = summarize(pageSamples);
    lines.push(
        `${'200 consecutive pages with page tokens'.padEnd(58)} ${'50'.padStart(4)} events  p50 ${paging.p50.toFixed(2).padStart(7)} ms  p95 ${paging.p95.toFixed(2).padStart(7)} ms`,
    );
    // SubscribeToEvents replay from the middle of the chain
    const replayStart = await index.positionOf(`${txId(Math.floor(options.events / options.perTx / 2))}:0`);
    const replayCount = Math.min(100_000, Math.floor(options.events / 2));
    const t0 = nowMs();
    let replayed = 0;
    let after = replayStart;
    while (replayed < replayCount) {
        const batch = await index.eventsAfter(after, 64);
        if (batch.length === 0) {
            break;
        }
        replayed += batch.length;
        after = batch[batch.length - 1]!.position;
    }
    const replayMs = nowMs() - t0;
    const afterQueries = snapshot(options.events, dbDir, totalMs, feed.generateMs);
    await hub.shutdown();

    console.log(
        `event index bench: ${options.events} events (${options.perTx} per transaction, ${options.txPerBlock} transactions per block), ` +
            `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, load ${os
                .loadavg()
                .map((l) => l.toFixed(1))
                .join(' ')}`,
    );
    console.log('');
    console.log(
        '| events | heap used MB | RSS MB | external+buffers MB | LevelDB on disk MB | elapsed s | events/s (index) |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of [...samples, { ...afterQueries, elapsedS: NaN, rate: NaN }]) {
        console.log(
            `| ${s.events}${Number.isNaN(s.elapsedS) ? ' (after queries)' : ''} | ${s.heapMb.toFixed(1)} | ${s.rssMb.toFixed(1)} | ${s.externalMb.toFixed(1)} | ${s.diskMb.toFixed(0)} | ${Number.isNaN(s.elapsedS) ? '' : s.elapsedS.toFixed(1)} | ${Number.isNaN(s.rate) ? '' : Math.round(s.rate)} |`,
        );
    }
    console.log('');
    console.log(
        `ingest: ${options.events} events in ${(totalMs / 1000).toFixed(1)} s wall = ${Math.round(options.events / (totalMs / 1000))} events/s ` +
            `(${(feed.generateMs / 1000).toFixed(1)} s of it generating the synthetic payloads; ` +
            `${Math.round(options.events / ((totalMs - feed.generateMs) / 1000))} events/s for listener + index)`,
    );
    console.log(
        `replay (SubscribeToEvents path, 64 per read): ${replayed} events in ${replayMs.toFixed(0)} ms = ${Math.round(replayed / (replayMs / 1000))} events/s`,
    );
    console.log('QueryEvents through queryEvents() (decode request, query, encode response), 50 runs each:');
    for (const line of lines) {
        console.log(`  ${line}`);
    }
    if (options.keep) {
        console.log(`kept ${stateDir}`);
    } else {
        rmSync(stateDir, { recursive: true, force: true });
    }
}

main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
});
