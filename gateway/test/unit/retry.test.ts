import { status } from '@grpc/grpc-js';
import { RPCS, orchestrator, type RpcInfo } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { StatusError } from '../../src/errors';
import { InvocationError, type FailureKind } from '../../src/fabric';
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
        const fabric = new FakeFabric();
        fabric.handler = () => {
            throw new InvocationError('chaincode', 'OE0104: incompatible status');
        };
        const { invoker, delays } = newInvoker(fabric);
        const err = await rejection(invoker.invoke(rpc('ApplyTaskAction'), target, Uint8Array.from([1])));
        expect(err.code).toBe(status.INVALID_ARGUMENT);
        expect(fabric.calls).toHaveLength(1);
        expect(delays).toEqual([]);
    });

    it('counts a RegisterTasks conflict after a timed-out attempt as success', async () => {
        const fabric = new FakeFabric();
        const request = orchestrator.RegisterTasksParam.encode({ tasks: [{ key: 't1' }, { key: 't2' }] }).finish();
        let submits = 0;
        fabric.handler = (mode, req) => {
            if (mode === 'submit') {
                submits++;
                throw new InvocationError(
                    submits === 1 ? 'timeout' : 'chaincode',
                    submits === 1 ? 'commit status deadline exceeded' : 'OE0006: task t1 already exists',
                );
            }
            expect(req.fn).toBe('GetTask');
            expect(req.contract).toBe('orchestrator.computetask');
            const { key } = orchestrator.GetTaskParam.decode(req.argument);
            return orchestrator.ComputeTask.encode({ key, owner: 'Org1MSP' }).finish();
        };
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

    it('reports a conflict without a previous timeout as ALREADY_EXISTS', async () => {
        const fabric = new FakeFabric();
        fabric.handler = () => {
            throw new InvocationError('chaincode', 'OE0006: task t1 already exists');
        };
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
