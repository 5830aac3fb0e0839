// AND endorsement policy: every transaction is endorsed by both organizations' peers (each running its own
// chaincode process), whose proposal responses (read/write sets, event, response) must be byte-identical. A
// multi-task RegisterTasks (topological sort, indexes, events) must therefore be deterministic to commit. This
// file runs a real Fabric network of its own (mychannel only, AND policy) with the gateway process on it, and
// reads the committed blocks through qscc to check who endorsed.

import { createHash, randomUUID } from 'node:crypto';
import { orchestrator } from '@substra-fabric/api';
import { committedTransaction } from '@substra-fabric/network';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrgClient, closeClients } from './support/client';
import { expectContentionGoal, updateOnePlanConcurrently } from './support/contention';
import { type LocalNetwork, startLocalNetwork } from './support/network';

const { AssetKind, ComputeTaskStatus: S } = orchestrator;
const ORG1 = 'MyOrg1MSP';
const ORG2 = 'MyOrg2MSP';

let net: LocalNetwork;
let o1: OrgClient;
let o2: OrgClient;

beforeAll(async () => {
    net = await startLocalNetwork({
        policy: 'and',
        channels: [{ name: 'mychannel', chaincode: 'mycc' }],
        prefix: 'substra-it-and-',
    });
    o1 = new OrgClient(net.address, ORG1, 'mychannel');
    o2 = new OrgClient(net.address, ORG2, 'mychannel');
});

afterAll(async () => {
    closeClients();
    await net.stop();
});

/** MSP ids of the endorsers of transaction `txId` on mychannel, from the block org 2's peer committed (qscc). */
async function endorsersOf(txId: string): Promise<string[]> {
    const org2 = net.network.orgs.find((o) => o.mspId === ORG2);
    if (!org2) throw new Error('no org 2');
    const tx = await committedTransaction(org2, 'mychannel', txId);
    expect(tx.validationCode).toBe(0); // VALID
    return tx.endorsers;
}

describe('AND endorsement policy', () => {
    it('a multi-task RegisterTasks is endorsed by both organizations and commits', async () => {
        const hex = (s: string) => createHash('sha256').update(s).digest('hex');
        const addr = (s: string) => ({ checksum: hex(s), storage_address: `http://org.com/${s}` });
        await o1.call('OrganizationService/RegisterOrganization', { address: 'http://org-1.com' });
        await o2.call('OrganizationService/RegisterOrganization', { address: 'http://org-2.com' });
        const fn = randomUUID();
        await o1.call('FunctionService/RegisterFunction', {
            key: fn,
            name: 'aggregate',
            description: addr('d'),
            archive: addr('a'),
            new_permissions: { public: true, authorized_ids: [] },
            inputs: { models: { kind: AssetKind.ASSET_MODEL, multiple: true, optional: true } },
            outputs: { model: { kind: AssetKind.ASSET_MODEL, multiple: false } },
        });
        for (const action of [
            orchestrator.FunctionAction.FUNCTION_ACTION_BUILDING,
            orchestrator.FunctionAction.FUNCTION_ACTION_READY,
        ]) {
            await o1.call('FunctionService/ApplyFunctionAction', { function_key: fn, action });
        }
        const plan = randomUUID();
        await o1.call('ComputePlanService/RegisterPlan', { key: plan, name: 'and plan' });
        // a diamond plus a chain, given in reverse order
        const [a, b, c, d, e] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
        const perms = { permissions: { public: false, authorized_ids: [ORG1, ORG2] }, transient: false };
        const task = (k: string, worker: string, parents: string[]) => ({
            key: k,
            function_key: fn,
            compute_plan_key: plan,
            worker,
            metadata: { name: k.slice(0, 8), other: 'x' },
            inputs: parents.map((p) => ({
                identifier: 'models',
                parent_task_output: { parent_task_key: p, output_identifier: 'model' },
            })),
            outputs: { model: perms },
        });
        const res = await o1.call<orchestrator.IRegisterTasksResponse>('ComputeTaskService/RegisterTasks', {
            tasks: [
                task(e, ORG1, [d]),
                task(d, ORG2, [b, c]),
                task(c, ORG1, [a]),
                task(b, ORG2, [a]),
                task(a, ORG1, []),
            ],
        });
        expect((res.tasks ?? []).map((t) => [t.key, t.rank, t.status])).toEqual([
            [a, 0, S.STATUS_WAITING_FOR_EXECUTOR_SLOT],
            [c, 1, S.STATUS_WAITING_FOR_PARENT_TASKS],
            [b, 1, S.STATUS_WAITING_FOR_PARENT_TASKS],
            [d, 2, S.STATUS_WAITING_FOR_PARENT_TASKS],
            [e, 3, S.STATUS_WAITING_FOR_PARENT_TASKS],
        ]);
        // committed: the other organization reads it
        const seen = await o2.call<orchestrator.IQueryTasksResponse>('ComputeTaskService/QueryTasks', {
            filter: { compute_plan_key: plan },
        });
        expect((seen.tasks ?? []).map((t) => t.key).sort()).toEqual([a, b, c, d, e].sort());
        // and both organizations endorsed the transaction
        let events: orchestrator.IQueryEventsResponse = {};
        for (let i = 0; i < 100 && !events.events?.length; i++) {
            if (i > 0) await new Promise((r) => setTimeout(r, 100)); // the gateway's event index follows the chain
            events = await o2.call<orchestrator.IQueryEventsResponse>('EventService/QueryEvents', {
                filter: { asset_key: a },
            });
        }
        const txId = events.events?.[0]?.id?.split(':')[0] ?? '';
        expect(await endorsersOf(txId)).toEqual([ORG1, ORG2]);

        // a state change with a cascade, endorsed by both, still matches
        await o1.call('ComputeTaskService/ApplyTaskAction', {
            compute_task_key: a,
            action: orchestrator.ComputeTaskAction.TASK_ACTION_EXECUTING,
        });
        await o1.call('ModelService/RegisterModels', {
            models: [
                { key: randomUUID(), compute_task_key: a, compute_task_output_identifier: 'model', address: addr('m') },
            ],
        });
        await o1.call('ComputeTaskService/ApplyTaskAction', {
            compute_task_key: a,
            action: orchestrator.ComputeTaskAction.TASK_ACTION_DONE,
        });
        const after = await o2.call<orchestrator.IQueryTasksResponse>('ComputeTaskService/QueryTasks', {
            filter: { compute_plan_key: plan, status: S.STATUS_WAITING_FOR_EXECUTOR_SLOT },
        });
        expect((after.tasks ?? []).map((t) => t.key).sort()).toEqual([b, c].sort());
    });

    it('function build propagation to several tasks and a failure report are deterministic', async () => {
        const hex = (s: string) => createHash('sha256').update(s).digest('hex');
        const addr = (s: string) => ({ checksum: hex(s), storage_address: `http://org.com/${s}` });
        const [ok, broken] = [randomUUID(), randomUUID()];
        for (const fn of [ok, broken]) {
            await o1.call('FunctionService/RegisterFunction', {
                key: fn,
                name: 'fn',
                description: addr('d'),
                archive: addr('a'),
                new_permissions: { public: true, authorized_ids: [] },
                inputs: { models: { kind: AssetKind.ASSET_MODEL, multiple: true, optional: true } },
                outputs: { model: { kind: AssetKind.ASSET_MODEL, multiple: false } },
            });
        }
        const plan = randomUUID();
        await o1.call('ComputePlanService/RegisterPlan', { key: plan, name: 'build plan' });
        const perms = { permissions: { public: true, authorized_ids: [] }, transient: false };
        const keys = Array.from({ length: 6 }, () => randomUUID());
        await o1.call('ComputeTaskService/RegisterTasks', {
            tasks: keys.map((k, i) => ({
                key: k,
                function_key: i % 2 ? broken : ok,
                compute_plan_key: plan,
                worker: i % 3 ? ORG1 : ORG2,
                inputs: [],
                outputs: { model: perms },
            })),
        });
        for (const fn of [ok, broken]) {
            await o1.call('FunctionService/ApplyFunctionAction', {
                function_key: fn,
                action: orchestrator.FunctionAction.FUNCTION_ACTION_BUILDING,
            });
        }
        await o1.call('FunctionService/ApplyFunctionAction', {
            function_key: ok,
            action: orchestrator.FunctionAction.FUNCTION_ACTION_READY,
        });
        await o1.call('FailureReportService/RegisterFailureReport', {
            asset_key: broken,
            error_type: orchestrator.ErrorType.ERROR_TYPE_BUILD,
            logs_address: addr('logs'),
            asset_type: orchestrator.FailedAssetKind.FAILED_ASSET_FUNCTION,
        });
        const tasks = await o2.call<orchestrator.IQueryTasksResponse>('ComputeTaskService/QueryTasks', {
            filter: { compute_plan_key: plan },
        });
        const status = new Map((tasks.tasks ?? []).map((t) => [t.key, t.status]));
        expect(keys.map((k) => status.get(k))).toEqual(
            keys.map((_, i) => (i % 2 ? S.STATUS_FAILED : S.STATUS_WAITING_FOR_EXECUTOR_SLOT)),
        );
        const p = await o2.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: plan });
        expect(p.failure_date).not.toBeNull();
        // the failure report's transaction (with its cascade) carries both endorsements
        let reported: orchestrator.IEvent | undefined;
        for (let i = 0; i < 100 && !reported; i++) {
            if (i > 0) await new Promise((r) => setTimeout(r, 100));
            const found = await o2.call<orchestrator.IQueryEventsResponse>('EventService/QueryEvents', {
                filter: { asset_kind: AssetKind.ASSET_FAILURE_REPORT, asset_key: broken },
            });
            reported = found.events?.[0];
        }
        expect(await endorsersOf(reported?.id?.split(':')[0] ?? '')).toEqual([ORG1, ORG2]);
    });

    it('16 writers on one key, 200 calls: at least 99 % succeed despite peers endorsing at different heights', async () => {
        // Under AND the two peers may commit a block at different times, so their endorsements of the same
        // proposal differ ("ProposalResponsePayloads do not match"): transient, retried like an MVCC conflict.
        const r = await updateOnePlanConcurrently(o1, { writers: 16, calls: 200 });
        expectContentionGoal(r, 'AND policy, 16 writers, one plan', 200);
    });
});
