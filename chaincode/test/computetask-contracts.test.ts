import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import { HANDLERS } from '../src/contracts/handlers';
import { ORG1, ORG2, PLAN, key, newTaskLedger, plainTask, S } from './support/fixtures';

describe('contracts orchestrator.computeplan and orchestrator.computetask (api.md §2.6, §2.7; behavior-tasks §6)', () => {
    it('§6: handler tables cover exactly the RPCs of both services', () => {
        expect(Object.keys(HANDLERS)).toContain('ComputePlanService');
        expect(Object.keys(HANDLERS.ComputePlanService).sort()).toEqual([
            'ApplyPlanAction',
            'GetPlan',
            'IsPlanRunning',
            'QueryPlans',
            'RegisterPlan',
            'UpdatePlan',
        ]);
        expect(Object.keys(HANDLERS)).toContain('ComputeTaskService');
        expect(Object.keys(HANDLERS.ComputeTaskService).sort()).toEqual([
            'ApplyTaskAction',
            'DisableOutput',
            'GetTask',
            'GetTaskInputAssets',
            'QueryTasks',
            'RegisterTasks',
        ]);
    });

    it('§6.1: plan RPCs end to end with binary protobuf requests and responses', async () => {
        const ledger = await newTaskLedger();
        const plan = await ledger.rpc<orchestrator.ComputePlan>(ORG2, 'RegisterPlan', {
            key: key(0xa, 7),
            name: 'rpc plan',
        });
        expect(plan.owner).toBe(ORG2);
        expect((await ledger.rpc<orchestrator.ComputePlan>(ORG1, 'GetPlan', { key: key(0xa, 7) })).name).toBe(
            'rpc plan',
        );
        await ledger.rpc(ORG2, 'UpdatePlan', { key: key(0xa, 7), name: 'renamed' });
        const page = await ledger.rpc<orchestrator.QueryPlansResponse>(ORG1, 'QueryPlans', { filter: { owner: ORG2 } });
        expect(page.plans.map((p) => p.name)).toContain('renamed');
        expect(
            (await ledger.rpc<orchestrator.IsPlanRunningResponse>(ORG1, 'IsPlanRunning', { key: PLAN })).is_running,
        ).toBe(false);
        await ledger.rpc(ORG2, 'ApplyPlanAction', { key: key(0xa, 7), action: 'PLAN_ACTION_CANCELED' });
        await expect(
            ledger.rpc(ORG2, 'ApplyPlanAction', { key: key(0xa, 7), action: 'PLAN_ACTION_CANCELED' }),
        ).rejects.toThrow(/OE0109/);
    });

    it('§6.2: task RPCs end to end, refusals surface their message', async () => {
        const ledger = await newTaskLedger();
        const reg = await ledger.rpc<orchestrator.RegisterTasksResponse>(ORG1, 'RegisterTasks', {
            tasks: [plainTask(key(1)), plainTask(key(2), [key(1)])],
        });
        expect(reg.tasks.map((t) => t.key)).toEqual([key(1), key(2)]);
        expect(
            (await ledger.rpc<orchestrator.IsPlanRunningResponse>(ORG1, 'IsPlanRunning', { key: PLAN })).is_running,
        ).toBe(true);
        const page = await ledger.rpc<orchestrator.QueryTasksResponse>(ORG1, 'QueryTasks', {
            filter: { status: 'STATUS_WAITING_FOR_PARENT_TASKS' },
        });
        expect(page.tasks.map((t) => t.key)).toEqual([key(2)]);
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: key(1), action: 'TASK_ACTION_EXECUTING' });
        const inputs = await ledger.rpc<orchestrator.GetTaskInputAssetsResponse>(ORG1, 'GetTaskInputAssets', {
            compute_task_key: key(1),
        });
        expect(inputs.assets).toEqual([]);
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: key(1), action: 'TASK_ACTION_DONE' });
        expect((await ledger.rpc<orchestrator.ComputeTask>(ORG2, 'GetTask', { key: key(2) })).status).toBe(
            S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
        );
        // api.md §8.4: substra-backend ignores exactly this refusal; it carries no OE code (gRPC UNKNOWN).
        await expect(
            ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: key(1), action: 'TASK_ACTION_DONE' }),
        ).rejects.toThrow(/^event transitionDone inappropriate in current state STATUS_DONE$/);
        await expect(
            ledger.rpc(ORG1, 'DisableOutput', { compute_task_key: key(1), identifier: 'model' }),
        ).rejects.toThrow('OE0108: output is not transient');
    });
});
