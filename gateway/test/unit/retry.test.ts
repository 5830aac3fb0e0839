import { status } from '@grpc/grpc-js';
import { RPCS, orchestrator, type RpcInfo } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { StatusError } from '../../src/errors';
import { InvocationError, type FailureKind, type InvokeRequest } from '../../src/fabric';
import { IDEMPOTENT_REGISTRATIONS, Invoker } from '../../src/invoker';
import { backoffDelay, nextDelay, type RetryPolicy } from '../../src/retry';
import { FakeFabric } from './helpers';

const policy: RetryPolicy = { maxAttempts: 4, budgetMs: 10_000, baseDelayMs: 100, maxDelayMs: 1000 };
const target = { mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' };

function rpc(method: string): RpcInfo {
    const found = RPCS.find((r) => r.method === method);
    if (!found) {
        throw new Error(method);
    }
    return found;
}

/** A fake Fabric whose every call fails with an InvocationError of `kind`. */
function throwingFabric(kind: FailureKind, message: string): FakeFabric {
    const fabric = new FakeFabric();
    fabric.handler = () => {
        throw new InvocationError(kind, message);
    };
    return fabric;
}

/**
 * A fake Fabric handler whose first submit times out (`timeoutMessage`) and every later one fails as a chaincode
 * error (`existsMessage`, the registration being already there); evaluates are answered by `read`.
 */
function timeoutThenExists(
    timeoutMessage: string,
    existsMessage: string,
    read: (request: InvokeRequest) => Uint8Array,
): FakeFabric['handler'] {
    let submits = 0;
    return (mode, req) => {
        if (mode === 'submit') {
            submits++;
            throw new InvocationError(
                submits === 1 ? 'timeout' : 'chaincode',
                submits === 1 ? timeoutMessage : existsMessage,
            );
        }
        return read(req);
    };
}

function newInvoker(
    fabric: FakeFabric,
    options: { clock?: { now: number } } = {},
): { invoker: Invoker; delays: number[] } {
    const delays: number[] = [];
    const clock = options.clock ?? { now: 0 };
    const invoker = new Invoker({
        fabric,
        version: 'v',
        retryPolicy: policy,
        random: () => 0.5,
        now: () => clock.now,
        sleep: (ms) => {
            delays.push(ms);
            clock.now += ms;
            return Promise.resolve();
        },
    });
    return { invoker, delays };
}

function failing(kinds: FailureKind[], success: Uint8Array = Uint8Array.from([7])) {
    let attempt = 0;
    return (): Uint8Array => {
        const kind = kinds[attempt++];
        if (kind !== undefined) {
            throw new InvocationError(kind, `${kind} failure`);
        }
        return success;
    };
}

async function rejection(promise: Promise<unknown>): Promise<StatusError> {
    try {
        await promise;
    } catch (err) {
        if (err instanceof StatusError) {
            return err;
        }
        throw err;
    }
    throw new Error('resolved');
}

describe('backoff', () => {
    it('grows exponentially with jitter in [bound/2, bound], capped', () => {
        expect(backoffDelay(policy, 1, () => 0)).toBe(50);
        expect(backoffDelay(policy, 1, () => 1)).toBe(100);
        expect(backoffDelay(policy, 3, () => 1)).toBe(400);
        expect(backoffDelay(policy, 10, () => 1)).toBe(1000);
        expect(backoffDelay(policy, 10, () => 0)).toBe(500);
    });

    it('retries only conflicts, timeouts and unavailable peers, within attempts and budget', () => {
        expect(nextDelay(policy, 'conflict', 1, 0, () => 1)).toBe(100);
        expect(nextDelay(policy, 'unavailable', 1, 0, () => 1)).toBe(100);
        expect(nextDelay(policy, 'timeout', 1, 0, () => 1)).toBe(100);
        expect(nextDelay(policy, 'chaincode', 1, 0)).toBeUndefined();
        expect(nextDelay(policy, 'other', 1, 0)).toBeUndefined();
        expect(nextDelay(policy, 'conflict', 4, 0)).toBeUndefined();
        expect(nextDelay(policy, 'conflict', 1, 9_950, () => 1)).toBeUndefined();
    });
});

describe('invoker retries', () => {
    it('retries an MVCC conflict with a new transaction and returns the later success', async () => {
        const fabric = new FakeFabric();
        fabric.handler = failing(['conflict', 'conflict']);
        const { invoker, delays } = newInvoker(fabric);
        const reply = await invoker.invoke(rpc('ApplyTaskAction'), target, Uint8Array.from([1]));
        expect([...reply]).toEqual([7]);
        expect(fabric.calls.map((c) => c.mode)).toEqual(['submit', 'submit', 'submit']);
        expect(delays).toEqual([75, 150]);
    });

    it('gives up after the maximum number of attempts with UNKNOWN', async () => {
        const fabric = new FakeFabric();
        fabric.handler = failing(['conflict', 'conflict', 'conflict', 'conflict', 'conflict']);
        const { invoker } = newInvoker(fabric);
        const err = await rejection(invoker.invoke(rpc('RegisterPlan'), target, Uint8Array.from([1])));
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.message).toBe('conflict failure');
        expect(fabric.calls).toHaveLength(4);
    });

    it('stops when the retry budget is spent', async () => {
        const fabric = new FakeFabric();
        const clock = { now: 0 };
        fabric.handler = () => {
            clock.now += 6_000;
            throw new InvocationError('unavailable', 'peer down');
        };
        const { invoker } = newInvoker(fabric, { clock });
        const err = await rejection(invoker.invoke(rpc('GetTask'), target, Uint8Array.from([1])));
        expect(err.code).toBe(status.UNAVAILABLE);
        expect(fabric.calls).toHaveLength(2);
    });

    it('never retries chaincode errors', async () => {
        const fabric = throwingFabric('chaincode', 'OE0104: incompatible status');
        const { invoker, delays } = newInvoker(fabric);
        const err = await rejection(invoker.invoke(rpc('ApplyTaskAction'), target, Uint8Array.from([1])));
        expect(err.code).toBe(status.INVALID_ARGUMENT);
        expect(fabric.calls).toHaveLength(1);
        expect(delays).toEqual([]);
    });

    it('counts a RegisterTasks conflict after a timed-out attempt as success', async () => {
        const fabric = new FakeFabric();
        const request = orchestrator.RegisterTasksParam.encode({ tasks: [{ key: 't1' }, { key: 't2' }] }).finish();
        fabric.handler = timeoutThenExists(
            'commit status deadline exceeded',
            'OE0006: task t1 already exists',
            (req) => {
                expect(req.fn).toBe('GetTask');
                expect(req.contract).toBe('orchestrator.computetask');
                const { key } = orchestrator.GetTaskParam.decode(req.argument);
                return orchestrator.ComputeTask.encode({ key, owner: 'Org1MSP' }).finish();
            },
        );
        const { invoker } = newInvoker(fabric);
        const reply = await invoker.invoke(rpc('RegisterTasks'), target, request);
        const response = orchestrator.RegisterTasksResponse.decode(reply);
        expect(response.tasks.map((t) => t.key)).toEqual(['t1', 't2']);
        expect(fabric.calls.map((c) => `${c.mode}:${c.request.fn}`)).toEqual([
            'submit:RegisterTasks',
            'submit:RegisterTasks',
            'evaluate:GetTask',
            'evaluate:GetTask',
        ]);
    });

    it('recovers RegisterPlan, RegisterFailureReport and RegisterPerformance after a timed-out attempt (distributed §4.5, §7.4)', async () => {
        const cases = [
            {
                method: 'RegisterPlan',
                request: orchestrator.NewComputePlan.encode({ key: 'p1' }).finish(),
                getter: 'GetPlan',
                answer: (req: Uint8Array) =>
                    orchestrator.ComputePlan.encode({ key: orchestrator.GetComputePlanParam.decode(req).key }).finish(),
                check: (reply: Uint8Array) => {
                    expect(orchestrator.ComputePlan.decode(reply).key).toBe('p1');
                },
            },
            {
                method: 'RegisterFailureReport',
                request: orchestrator.NewFailureReport.encode({ asset_key: 't1' }).finish(),
                getter: 'GetFailureReport',
                answer: (req: Uint8Array) =>
                    orchestrator.FailureReport.encode({
                        asset_key: orchestrator.GetFailureReportParam.decode(req).asset_key,
                    }).finish(),
                check: (reply: Uint8Array) => {
                    expect(orchestrator.FailureReport.decode(reply).asset_key).toBe('t1');
                },
            },
            {
                method: 'RegisterPerformance',
                request: orchestrator.NewPerformance.encode({
                    compute_task_key: 't1',
                    compute_task_output_identifier: 'perf',
                    performance_value: 0.5,
                }).finish(),
                getter: 'QueryPerformances',
                answer: (req: Uint8Array) => {
                    const { filter, page_size } = orchestrator.QueryPerformancesParam.decode(req);
                    expect(page_size).toBe(1);
                    return orchestrator.QueryPerformancesResponse.encode({
                        Performances: [
                            {
                                compute_task_key: filter?.compute_task_key ?? '',
                                compute_task_output_identifier: filter?.compute_task_output_identifier ?? '',
                                performance_value: 0.5,
                            },
                        ],
                    }).finish();
                },
                check: (reply: Uint8Array) => {
                    const performance = orchestrator.Performance.decode(reply);
                    expect(performance.compute_task_key).toBe('t1');
                    expect(performance.compute_task_output_identifier).toBe('perf');
                },
            },
        ];
        for (const c of cases) {
            const fabric = new FakeFabric();
            fabric.handler = timeoutThenExists('deadline exceeded', 'OE0006: already exists', (req) => {
                expect(req.fn).toBe(c.getter);
                return c.answer(req.argument);
            });
            const { invoker } = newInvoker(fabric);
            c.check(await invoker.invoke(rpc(c.method), target, c.request));
            expect(IDEMPOTENT_REGISTRATIONS).toContain(c.method);
        }
    });

    it('reports a conflict without a previous timeout as ALREADY_EXISTS', async () => {
        const fabric = throwingFabric('chaincode', 'OE0006: task t1 already exists');
        const { invoker } = newInvoker(fabric);
        const request = orchestrator.RegisterTasksParam.encode({ tasks: [{ key: 't1' }] }).finish();
        const err = await rejection(invoker.invoke(rpc('RegisterTasks'), target, request));
        expect(err.code).toBe(status.ALREADY_EXISTS);
    });

    it('keeps ALREADY_EXISTS after a timeout for registrations without recovery', async () => {
        const fabric = new FakeFabric();
        let n = 0;
        fabric.handler = () => {
            n++;
            throw new InvocationError(n === 1 ? 'timeout' : 'chaincode', n === 1 ? 'timeout' : 'OE0006: exists');
        };
        const { invoker } = newInvoker(fabric);
        const err = await rejection(invoker.invoke(rpc('RegisterOrganization'), target, Uint8Array.from([])));
        expect(err.code).toBe(status.ALREADY_EXISTS);
        expect(IDEMPOTENT_REGISTRATIONS).toContain('RegisterTasks');
        expect(IDEMPOTENT_REGISTRATIONS).not.toContain('RegisterOrganization');
    });
});

describe('submit concurrency bound (distributed §7.1: concurrent submits with bounded parallelism)', () => {
    it('runs at most maxConcurrentSubmits submits at once, FIFO, while evaluates are never queued', async () => {
        const fabric = new FakeFabric();
        const gates: (() => void)[] = [];
        let inFlight = 0;
        let peak = 0;
        const order: number[] = [];
        fabric.handler = async (mode, req) => {
            if (mode === 'evaluate') {
                return req.argument;
            }
            inFlight++;
            peak = Math.max(peak, inFlight);
            order.push(req.argument[0] ?? -1);
            await new Promise<void>((resolve) => gates.push(resolve));
            inFlight--;
            return req.argument;
        };
        const invoker = new Invoker({ fabric, version: 'v', retryPolicy: policy, maxConcurrentSubmits: 2 });
        const submits = [1, 2, 3, 4, 5].map((n) => invoker.invoke(rpc('RegisterTasks'), target, Uint8Array.from([n])));
        await new Promise((resolve) => setTimeout(resolve, 10));
        expect(invoker.submitLoad).toEqual({ active: 2, waiting: 3 });
        // an evaluate does not wait behind the queued submits
        await expect(invoker.invoke(rpc('GetTask'), target, Uint8Array.from([9]))).resolves.toEqual(
            Uint8Array.from([9]),
        );
        while (gates.length > 0 || order.length < 5) {
            gates.shift()?.();
            await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const replies = await Promise.all(submits);
        expect(replies.map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);
        expect(order).toEqual([1, 2, 3, 4, 5]);
        expect(peak).toBe(2);
        expect(invoker.submitLoad).toEqual({ active: 0, waiting: 0 });
    });

    it('never starts a queued submit whose client cancelled (distributed §7.1: cancelled requests occupy the queue)', async () => {
        const fabric = new FakeFabric();
        let release: (() => void) | undefined;
        fabric.handler = async (_mode, req) => {
            await new Promise<void>((resolve) => {
                release = resolve;
            });
            return req.argument;
        };
        const invoker = new Invoker({ fabric, version: 'v', retryPolicy: policy, maxConcurrentSubmits: 1 });
        const first = invoker.invoke(rpc('RegisterTasks'), target, Uint8Array.from([1]));
        const abort = new AbortController();
        const second = invoker.invoke(rpc('RegisterTasks'), target, Uint8Array.from([2]), undefined, abort.signal);
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(invoker.submitLoad).toEqual({ active: 1, waiting: 1 });
        abort.abort();
        const err = await rejection(second);
        expect(err.code).toBe(status.CANCELLED);
        expect(invoker.submitLoad).toEqual({ active: 1, waiting: 0 });
        release?.();
        await first;
        expect(fabric.calls.map((c) => c.request.argument[0])).toEqual([1]);
        expect(invoker.submitLoad).toEqual({ active: 0, waiting: 0 });
    });

    it('stops retrying once the client cancelled', async () => {
        const fabric = new FakeFabric();
        const abort = new AbortController();
        fabric.handler = () => {
            abort.abort();
            throw new InvocationError('conflict', 'MVCC_READ_CONFLICT');
        };
        const invoker = new Invoker({ fabric, version: 'v', retryPolicy: policy, sleep: () => Promise.resolve() });
        const err = await rejection(
            invoker.invoke(rpc('RegisterTasks'), target, Uint8Array.from([1]), undefined, abort.signal),
        );
        expect(err.code).toBe(status.CANCELLED);
        expect(fabric.calls).toHaveLength(1);
    });

    it('releases the slot of a failed submit', async () => {
        const fabric = throwingFabric('chaincode', 'OE0002: not found');
        const invoker = new Invoker({ fabric, version: 'v', retryPolicy: policy, maxConcurrentSubmits: 1 });
        for (let i = 0; i < 3; i++) {
            const err = await rejection(invoker.invoke(rpc('RegisterTasks'), target, Uint8Array.from([i])));
            expect(err.code).toBe(status.NOT_FOUND);
        }
        expect(invoker.submitLoad).toEqual({ active: 0, waiting: 0 });
    });
});
