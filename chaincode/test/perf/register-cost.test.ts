/**
 * Where RegisterTasks' and QueryTasks' cost goes inside the chaincode: shim calls by kind, bytes per task of
 * the write set, read set, request, response and event, and the chaincode time, through the contract layer
 * (fabric-shim's dispatcher, binary arguments) on the in-memory stub.
 *
 *     CC_PERF=1 npx vitest run --project unit chaincode/test/perf   # prints the numbers (N = 1 000, 5 000)
 *
 * Without CC_PERF it runs at N = 50 and only checks the per-task shim-call counts (a regression guard).
 */
import { orchestrator } from '@substra-fabric/api';
import type { ChaincodeStub } from 'fabric-shim';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { describe, expect, it } from 'vitest';
import { createChaincode } from '../../src/chaincode';
import { messageClass } from '../../src/contracts/codec';
import { withCheapJson } from '../../src/contracts/contract';
import { ProtobufSerializer } from '../../src/contracts/serializer';
import { CHAINCODE_EVENT_NAME } from '../../src/service/events';
import { BASE_NANOS, BASE_SECONDS, FakeStub, type TestLedger, findRpc } from '../support/ledger';
import { fakeTxId } from '../support/fake-stub';
import { DM1, DS1, FN_TRAIN, ORG1, PLAN, key, newTaskLedger, output } from '../support/fixtures';

const PERF = process.env.CC_PERF === '1';

interface Measure {
    ms: number;
    /** CPU of the process (user + system) during the call: steadier than `ms` on a shared machine. */
    cpuMs: number;
    calls: Record<string, number>;
    readKeys: number;
    readKeyBytes: number;
    writes: number;
    writeKeyBytes: number;
    writeValueBytes: number;
    requestBytes: number;
    responseBytes: number;
    eventBytes: number;
    status: number;
    message: string;
    payload: Uint8Array;
}

let txCount = 1000;

/** One contract call with a counting stub; commits on success when `commit`. */
async function call(ledger: TestLedger, method: string, request: object, commit: boolean): Promise<Measure> {
    const rpc = findRpc(method);
    const requestClass = messageClass(rpc.requestType);
    const arg = requestClass.encode(requestClass.fromObject(request as Record<string, unknown>)).finish();
    txCount++;
    const stub = new FakeStub(ledger.world, {
        txId: fakeTxId(`perf-${txCount}`),
        timestamp: { seconds: BASE_SECONDS + txCount, nanos: BASE_NANOS },
        mspid: ORG1,
        args: [`${rpc.contract}:${rpc.fn}`, arg],
        channelId: ledger.channelId,
    });
    const calls: Record<string, number> = {};
    const readKeys = new Set<string>();
    const counted = new Set([
        'getState',
        'putState',
        'deleteState',
        'getStateByPartialCompositeKey',
        'getStateByPartialCompositeKeyWithPagination',
        'getStateByRange',
        'getStateByRangeWithPagination',
    ]);
    const proxy = new Proxy(stub, {
        get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver) as unknown;
            if (typeof value !== 'function') {
                return value;
            }
            const name = String(prop);
            return (...args: unknown[]) => {
                if (counted.has(name)) {
                    calls[name] = (calls[name] ?? 0) + 1;
                    if (name === 'getState') {
                        readKeys.add(args[0] as string);
                    }
                }
                return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
        },
    });
    const chaincode = createChaincode();
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const response = await chaincode.Invoke(proxy as unknown as ChaincodeStub);
    const cpu = process.cpuUsage(cpuStart);
    const ms = performance.now() - start;
    const writes = stub.writeSet();
    const event = stub.chaincodeEvent;
    if (commit && response.status === 200) {
        ledger.world.commit(stub);
    }
    return {
        ms,
        cpuMs: (cpu.user + cpu.system) / 1000,
        calls,
        readKeys: readKeys.size,
        readKeyBytes: [...readKeys].reduce((a, k) => a + Buffer.byteLength(k), 0),
        writes: writes.length,
        writeKeyBytes: writes.reduce((a, w) => a + Buffer.byteLength(w.key), 0),
        writeValueBytes: writes.reduce((a, w) => a + (w.value?.length ?? 0), 0),
        requestBytes: arg.length,
        responseBytes: response.payload?.length ?? 0,
        eventBytes: event?.name === CHAINCODE_EVENT_NAME ? event.payload.length : 0,
        status: response.status,
        message: response.message ?? '',
        payload: response.payload ?? new Uint8Array(0),
    };
}

/** A chain of n train tasks (opener + samples + the previous task's model), like the bench's. */
function chain(n: number, group: number): orchestrator.INewComputeTask[] {
    const tasks: orchestrator.INewComputeTask[] = [];
    for (let i = 0; i < n; i++) {
        const inputs: orchestrator.IComputeTaskInput[] = [
            { identifier: 'opener', asset_key: DM1 },
            { identifier: 'datasamples', asset_key: DS1 },
        ];
        if (i > 0) {
            inputs.push({
                identifier: 'model',
                parent_task_output: { parent_task_key: key(group, i - 1), output_identifier: 'model' },
            });
        }
        tasks.push({
            key: key(group, i),
            function_key: FN_TRAIN,
            compute_plan_key: PLAN,
            inputs,
            outputs: { model: output({ ids: [ORG1] }) },
            metadata: { round: String(i) },
        });
    }
    return tasks;
}

function perTask(m: Measure, n: number): Record<string, string> {
    const f = (x: number): string => (x / n).toFixed(2);
    return {
        ms: m.ms.toFixed(1),
        'cpu ms': m.cpuMs.toFixed(1),
        ...Object.fromEntries(Object.entries(m.calls).map(([k, v]) => [`${k}/task`, f(v)])),
        'readKeys/task': f(m.readKeys),
        'readKey B/task': f(m.readKeyBytes),
        'writes/task': f(m.writes),
        'writeKey B/task': f(m.writeKeyBytes),
        'writeValue B/task': f(m.writeValueBytes),
        'request B/task': f(m.requestBytes),
        'response B/task': f(m.responseBytes),
        'event B/task': f(m.eventBytes),
    };
}

/** CPU profile of what runs between start and stop, when CC_PROFILE names a file prefix. */
async function startProfile(session: Session | undefined): Promise<void> {
    if (session !== undefined) {
        await new Promise((r) => {
            session.post('Profiler.enable', () => {
                session.post('Profiler.start', r);
            });
        });
    }
}

async function stopProfile(session: Session | undefined, file: string): Promise<void> {
    if (session !== undefined) {
        const result = await new Promise<unknown>((r) => {
            session.post('Profiler.stop', (_e, res) => {
                r((res as { profile: unknown }).profile);
            });
        });
        writeFileSync(file, JSON.stringify(result));
    }
}

describe('chaincode cost of RegisterTasks and QueryTasks', () => {
    it(
        'counts shim calls and bytes per task',
        async () => {
            const n = PERF ? 1000 : 50;
            const ledger = await newTaskLedger();
            // warm-up (JIT), then the measured registrations
            for (let g = 0; g < (PERF ? 3 : 0); g++) {
                expect((await call(ledger, 'RegisterTasks', { tasks: chain(n, 0x100 + g) }, true)).status).toBe(200);
            }
            const runs: Measure[] = [];
            const profile = process.env.CC_PROFILE;
            const session = profile === undefined ? undefined : new Session();
            session?.connect();
            await startProfile(session);
            for (let g = 0; g < (PERF ? 3 : 1); g++) {
                const m = await call(ledger, 'RegisterTasks', { tasks: chain(n, 0x200 + g) }, true);
                expect(m.status, m.message).toBe(200);
                runs.push(m);
            }
            await stopProfile(session, `${profile}.register.cpuprofile`);
            const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
            const calls = best.calls;
            if (PERF) {
                console.log(
                    `RegisterTasks x${n}`,
                    perTask(best, n),
                    'all ms',
                    runs.map((r) => r.ms.toFixed(0)),
                );
            }
            // Guard: one existence read per task (+ plan, function, data manager, sample, organization), and
            // record + 7 index entries per task + one child link per parent (chain: n - 1 parents).
            expect(calls.getState).toBeLessThanOrEqual(n + 5);
            expect(best.writes).toBe(9 * n - 1);
            expect(calls.putState).toBe(best.writes);
            expect(orchestrator.RegisterTasksResponse.decode(best.payload).tasks).toHaveLength(n);

            if (PERF) {
                const sizes = [50, 5000];
                for (const size of sizes) {
                    await startProfile(session);
                    const q: Measure[] = [];
                    for (let i = 0; i < 5; i++) {
                        q.push(
                            await call(
                                ledger,
                                'QueryTasks',
                                { filter: { compute_plan_key: PLAN }, page_size: size },
                                false,
                            ),
                        );
                    }
                    await stopProfile(session, `${profile}.query${size}.cpuprofile`);
                    const b = q.reduce((a, c) => (c.ms < a.ms ? c : a));
                    expect(b.status, b.message).toBe(200);
                    console.log(
                        `QueryTasks plan page ${size}`,
                        perTask(b, size),
                        'all ms',
                        q.map((r) => r.ms.toFixed(1)),
                    );
                }
            }
        },
        PERF ? 600_000 : 60_000,
    );
});

describe('withCheapJson', () => {
    it('keeps the bytes the serializer sends, and makes JSON.stringify of them (fabric-shim debug log) cheap', () => {
        const bytes = withCheapJson(Buffer.from([1, 2, 3]));
        expect(JSON.stringify(bytes)).toBe('"<3 bytes>"');
        expect([...(new ProtobufSerializer().toBuffer(bytes) ?? [])]).toEqual([1, 2, 3]);
        expect(Object.keys(bytes)).toEqual(['0', '1', '2']);
    });
});
