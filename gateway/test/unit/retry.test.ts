import { status } from '@grpc/grpc-js';
import { RPCS, orchestrator, type RpcInfo } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { type FailureKind, InvocationError, StatusError } from '../../src/errors';
import { backoffDelay, nextDelay, type RetryPolicy } from '../../src/fabric/retry';
import { Invoker } from '../../src/rpc/invoker';
import { FakeFabric } from './helpers';

const policy: RetryPolicy = {
    maxAttempts: 4,
    budgetMs: 10_000,
    conflictAttempts: 4,
    baseDelayMs: 100,
    maxDelayMs: 1000,
};
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

    it('retries only conflicts and unavailable peers; never an unknown outcome', () => {
        expect(nextDelay(policy, 'conflict', 1, 0, () => 1)).toBe(100);
        expect(nextDelay(policy, 'unavailable', 1, 0, () => 1)).toBe(100);
        expect(nextDelay(policy, 'timeout', 1, 0, () => 1)).toBeUndefined();
        expect(nextDelay(policy, 'chaincode', 1, 0)).toBeUndefined();
        expect(nextDelay(policy, 'other', 1, 0)).toBeUndefined();
    });

    it('bounds conflicts by their attempts only, whatever the budget', () => {
        expect(nextDelay(policy, 'conflict', 3, 60_000, () => 1)).toBe(400);
        expect(nextDelay(policy, 'conflict', 4, 0)).toBeUndefined();
    });

    it('retries an unreachable peer for at least maxAttempts, then while the budget lasts', () => {
        expect(nextDelay(policy, 'unavailable', 3, 60_000, () => 1)).toBe(400);
        expect(nextDelay(policy, 'unavailable', 10, 0, () => 1)).toBe(1000);
        expect(nextDelay(policy, 'unavailable', 10, 9_500, () => 1)).toBeUndefined();
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

    it('gives up on a conflict after conflictAttempts with UNAVAILABLE (retryable) and says why', async () => {
        const fabric = new FakeFabric();
        fabric.handler = failing(['conflict', 'conflict', 'conflict', 'conflict', 'conflict']);
        const { invoker } = newInvoker(fabric);
        const err = await rejection(invoker.invoke(rpc('RegisterPlan'), target, Uint8Array.from([1])));
        expect(err.code).toBe(status.UNAVAILABLE);
        expect(err.message).toBe('still conflicting with concurrent transactions after 4 attempts: conflict failure');
        expect(fabric.calls).toHaveLength(4);
    });

    it('retries conflicts even when the budget is shorter than one block', async () => {
        const fabric = new FakeFabric();
        const clock = { now: 0 };
        let n = 0;
        fabric.handler = () => {
            clock.now += 500; // the conflict is known only when the block is cut
            if (++n < 3) throw new InvocationError('conflict', 'MVCC_READ_CONFLICT');
            return Uint8Array.from([1]);
        };
        const invoker = new Invoker({
            fabric,
            version: 'v',
            retryPolicy: { ...policy, budgetMs: 500 },
            now: () => clock.now,
            sleep: () => Promise.resolve(),
        });
        await expect(invoker.invoke(rpc('ApplyTaskAction'), target, Uint8Array.from([1]))).resolves.toEqual(
            Uint8Array.from([1]),
        );
        expect(fabric.calls).toHaveLength(3);
    });

    it('never resubmits a transaction whose outcome is unknown', async () => {
        const fabric = throwingFabric(
            'timeout',
            'transaction t1 was sent for ordering, but whether it committed is not known',
        );
        const { invoker, delays } = newInvoker(fabric);
        const err = await rejection(invoker.invoke(rpc('ApplyTaskAction'), target, Uint8Array.from([1])));
        expect(err.code).toBe(status.UNAVAILABLE);
        expect(err.message).toContain('whether it committed is not known');
        expect(fabric.calls).toHaveLength(1);
        expect(delays).toEqual([]);
    });

    it('retries an unreachable peer maxAttempts times even past the budget, then stops', async () => {
        const fabric = new FakeFabric();
        const clock = { now: 0 };
        fabric.handler = () => {
            clock.now += 6_000;
            throw new InvocationError('unavailable', 'peer down');
        };
        const { invoker } = newInvoker(fabric, { clock });
        const err = await rejection(invoker.invoke(rpc('GetTask'), target, Uint8Array.from([1])));
        expect(err.code).toBe(status.UNAVAILABLE);
        expect(fabric.calls).toHaveLength(4);
    });

    it('keeps retrying an unreachable chaincode (a process restarting) while the budget lasts', async () => {
        const fabric = new FakeFabric();
        const clock = { now: 0 };
        fabric.handler = () => {
            clock.now += 100;
            if (clock.now < 5_000) throw new InvocationError('unavailable', 'could not launch chaincode');
            return Uint8Array.from([2]);
        };
        const { invoker } = newInvoker(fabric, { clock });
        const reply = await invoker.invoke(rpc('RegisterPlan'), target, Uint8Array.from([1]));
        expect([...reply]).toEqual([2]);
        expect(fabric.calls.length).toBeGreaterThan(policy.maxAttempts);
    });

    it('never retries chaincode errors', async () => {
        const fabric = throwingFabric('chaincode', 'OE0104: incompatible status');
        const { invoker, delays } = newInvoker(fabric);
        const err = await rejection(invoker.invoke(rpc('ApplyTaskAction'), target, Uint8Array.from([1])));
        expect(err.code).toBe(status.INVALID_ARGUMENT);
        expect(fabric.calls).toHaveLength(1);
        expect(delays).toEqual([]);
    });

    it('reports an existing registration as ALREADY_EXISTS', async () => {
        const fabric = throwingFabric('chaincode', 'OE0006: task t1 already exists');
        const { invoker } = newInvoker(fabric);
        const request = orchestrator.RegisterTasksParam.encode({ tasks: [{ key: 't1' }] }).finish();
        const err = await rejection(invoker.invoke(rpc('RegisterTasks'), target, request));
        expect(err.code).toBe(status.ALREADY_EXISTS);
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
