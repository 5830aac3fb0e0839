import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import { newTestLedger } from './support/ledger';
import {
    A,
    FS,
    K,
    ORG1,
    ORG2,
    PLAN,
    PLAN2,
    act,
    key,
    newTaskLedger,
    plainTask,
    register,
    publicFunction,
    registerFunction,
    expectRejected,
    S,
} from './support/fixtures';
import { complete } from './support/messages';

const FN_BUILDING = key(0xf, 9);

describe('compute plans', () => {
    it('§1.2: RegisterPlan stores the plan with owner and tx time and emits COMPUTE_PLAN CREATED', async () => {
        const ledger = newTestLedger();
        const res = await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(
                complete(orchestrator.NewComputePlan, { key: PLAN, name: 'my plan', tag: 'tag', metadata: { a: 'b' } }),
            ),
        );
        expect(res.result.owner).toBe(ORG1);
        expect(res.result.creation_date).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
        expect(res.result.cancelation_date).toBeFalsy();
        expect(res.events).toHaveLength(1);
        expect(res.events[0]!.event_kind).toBe(orchestrator.EventKind.EVENT_ASSET_CREATED);
        expect(res.events[0]!.asset_kind).toBe(orchestrator.AssetKind.ASSET_COMPUTE_PLAN);
        expect(res.events[0]!.asset_key).toBe(PLAN);
        expect(res.events[0]!.compute_plan?.name).toBe('my plan');
        expect(res.events[0]!.metadata).toEqual({});
        const got = await ledger.evaluate(ORG2, (s) => s.computePlans.getPlan(PLAN));
        expect(got.result.metadata).toEqual({ a: 'b' });
        expect(got.result.tag).toBe('tag');
    });

    it('§1.2: RegisterPlan validation failures are InvalidAsset naming the fields, nothing written', async () => {
        const ledger = newTestLedger();
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.computePlans.registerPlan(
                    complete(orchestrator.NewComputePlan, {
                        key: 'NOT-A-UUID',
                        name: '',
                        tag: 'x'.repeat(101),
                        metadata: { k: 'v'.repeat(101) },
                    }),
                ),
            /^OE0101: computeplan is not valid: key: must be a valid UUID; metadata: .*; name: cannot be blank; tag: /,
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN, name: 'é'.repeat(51) })),
            /^OE0101: computeplan is not valid: name: /,
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: '', name: 'x' })),
            /^OE0101: computeplan is not valid: key: cannot be blank\.$/,
        );
    });

    it('§1.2: RegisterPlan with an existing key is Conflict', async () => {
        const ledger = newTestLedger();
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN, name: 'a' })),
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN, name: 'b' })),
            `OE0006: computeplan with key "${PLAN}" already exists`,
        );
    });

    it('§1.3: GetPlan of a missing or malformed key is NotFound', async () => {
        const ledger = newTestLedger();
        await expect(ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).rejects.toThrow(
            `OE0002: computeplan with key "${PLAN}" not found`,
        );
        await expect(ledger.evaluate(ORG1, (s) => s.computePlans.getPlan('bad'))).rejects.toThrow(/^OE0002: /);
    });

    it('§1.4: QueryPlans orders by creation date then key, filters by owner and pages with opaque tokens', async () => {
        const ledger = newTestLedger();
        // Two plans in one transaction share their creation date: key order decides.
        await ledger.invoke(ORG1, async (s) => {
            await s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: key(3), name: 'c' }));
            await s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: key(1), name: 'a' }));
        });
        await ledger.invoke(ORG2, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: key(0), name: 'z' })),
        );
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: key(2), name: 'b' })),
        );

        const all = await ledger.evaluate(ORG1, (s) =>
            s.computePlans.queryPlans(complete(orchestrator.QueryPlansParam, {})),
        );
        expect(all.result.plans.map((p) => p.key)).toEqual([key(1), key(3), key(0), key(2)]);
        expect(all.result.next_page_token).toBe('');

        const mine = await ledger.evaluate(ORG2, (s) =>
            s.computePlans.queryPlans(complete(orchestrator.QueryPlansParam, { filter: { owner: ORG1 } })),
        );
        expect(mine.result.plans.map((p) => p.key)).toEqual([key(1), key(3), key(2)]);

        const first = await ledger.evaluate(ORG1, (s) =>
            s.computePlans.queryPlans(complete(orchestrator.QueryPlansParam, { page_size: 3 })),
        );
        expect(first.result.plans).toHaveLength(3);
        expect(first.result.next_page_token).not.toBe('');
        const second = await ledger.evaluate(ORG1, (s) =>
            s.computePlans.queryPlans(
                complete(orchestrator.QueryPlansParam, { page_size: 3, page_token: first.result.next_page_token }),
            ),
        );
        expect(second.result.plans.map((p) => p.key)).toEqual([key(2)]);
        expect(second.result.next_page_token).toBe('');

        // An exactly full last page ends with an empty token.
        const exact = await ledger.evaluate(ORG1, (s) =>
            s.computePlans.queryPlans(complete(orchestrator.QueryPlansParam, { page_size: 4 })),
        );
        expect(exact.result.next_page_token).toBe('');

        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.computePlans.queryPlans(complete(orchestrator.QueryPlansParam, { page_token: '12' })),
            ),
        ).rejects.toThrow(/invalid page token/);
        // A token of another filter is refused too.
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.computePlans.queryPlans(
                    complete(orchestrator.QueryPlansParam, {
                        page_token: first.result.next_page_token,
                        filter: { owner: ORG2 },
                    }),
                ),
            ),
        ).rejects.toThrow(/invalid page token/);
    });

    it('§1.5: UpdatePlan renames (owner only), emits UPDATED with the full plan, works on terminated plans', async () => {
        const ledger = newTestLedger();
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN, name: 'a', tag: 't' })),
        );
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.applyPlanAction(
                complete(orchestrator.ApplyPlanActionParam, {
                    key: PLAN,
                    action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
                }),
            ),
        );
        const res = await ledger.invoke(ORG1, (s) =>
            s.computePlans.updatePlan(complete(orchestrator.UpdateComputePlanParam, { key: PLAN, name: 'renamed' })),
        );
        expect(res.events).toHaveLength(1);
        expect(res.events[0]!.event_kind).toBe(orchestrator.EventKind.EVENT_ASSET_UPDATED);
        expect(res.events[0]!.compute_plan?.name).toBe('renamed');
        expect(res.events[0]!.compute_plan?.tag).toBe('t');
        expect(res.events[0]!.compute_plan?.cancelation_date).toBeTruthy();
        const got = await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN));
        expect(got.result.name).toBe('renamed');
        expect(got.result.cancelation_date).toBeTruthy();
    });

    it('§1.5: UpdatePlan errors: InvalidAsset, NotFound, PermissionDenied, nothing written', async () => {
        const ledger = newTestLedger();
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN, name: 'a' })),
        );
        const refusals: [string, orchestrator.IUpdateComputePlanParam, RegExp | string][] = [
            [ORG1, { key: PLAN, name: '' }, /^OE0101: computeplan is not valid: name: cannot be blank/],
            [ORG1, { key: 'x', name: 'n' }, /^OE0101: computeplan is not valid: key: must be a valid UUID/],
            [ORG1, { key: PLAN2, name: 'n' }, `OE0002: computeplan with key "${PLAN2}" not found`],
            [ORG2, { key: PLAN, name: 'n' }, 'OE0102: requester does not own the compute plan'],
        ];
        for (const [mspid, param, message] of refusals) {
            await expectRejected(
                ledger,
                mspid,
                (s) => s.computePlans.updatePlan(complete(orchestrator.UpdateComputePlanParam, param)),
                message,
            );
        }
    });

    it('§1.6: ApplyPlanAction CANCELED sets the cancelation date, emits UPDATED and leaves tasks untouched', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        const res = await ledger.invoke(ORG1, (s) =>
            s.computePlans.applyPlanAction(
                complete(orchestrator.ApplyPlanActionParam, {
                    key: PLAN,
                    action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
                }),
            ),
        );
        expect(res.events).toHaveLength(1);
        expect(res.events[0]!.asset_kind).toBe(orchestrator.AssetKind.ASSET_COMPUTE_PLAN);
        expect(res.events[0]!.compute_plan?.cancelation_date).toEqual({
            seconds: res.timestamp.seconds,
            nanos: res.timestamp.nanos,
        });
        const task = await ledger.evaluate(ORG1, (s) => s.computeTasks.getTask(key(1)));
        expect(task.result.status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
    });

    it('§1.6: ApplyPlanAction errors in order: NotFound, PermissionDenied (before the action), Unimplemented, OE0109', async () => {
        const ledger = newTestLedger();
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: PLAN, name: 'a' })),
        );
        const cancel = orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED;
        await expect(
            ledger.invoke(ORG1, (s) =>
                s.computePlans.applyPlanAction(
                    complete(orchestrator.ApplyPlanActionParam, { key: PLAN2, action: cancel }),
                ),
            ),
        ).rejects.toThrow(/^OE0002: computeplan/);
        await expect(
            ledger.invoke(ORG2, (s) =>
                s.computePlans.applyPlanAction(
                    complete(orchestrator.ApplyPlanActionParam, {
                        key: PLAN,
                        action: orchestrator.ComputePlanAction.PLAN_ACTION_UNKNOWN,
                    }),
                ),
            ),
        ).rejects.toThrow('OE0102: only plan owner can act on it');
        await expect(
            ledger.invoke(ORG1, (s) =>
                s.computePlans.applyPlanAction(
                    complete(orchestrator.ApplyPlanActionParam, {
                        key: PLAN,
                        action: orchestrator.ComputePlanAction.PLAN_ACTION_UNKNOWN,
                    }),
                ),
            ),
        ).rejects.toThrow('OE0010: plan action unimplemented');
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.applyPlanAction(complete(orchestrator.ApplyPlanActionParam, { key: PLAN, action: cancel })),
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.computePlans.applyPlanAction(
                    complete(orchestrator.ApplyPlanActionParam, { key: PLAN, action: cancel }),
                ),
            `OE0109: compute plan ${PLAN} is already terminated`,
        );
    });

    it('§1.7: the first task failure sets failure_date without a plan event; a failed plan cannot be cancelled', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1)), plainTask(key(2))]);
        const res = await act(ledger, ORG1, key(1), A.TASK_ACTION_FAILED);
        expect(res.events.map((e) => e.asset_kind)).toEqual([orchestrator.AssetKind.ASSET_COMPUTE_TASK]);
        const plan = (await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result;
        expect(plan.failure_date).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
        // A second failure keeps the first date.
        await act(ledger, ORG1, key(2), A.TASK_ACTION_FAILED);
        const again = (await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result;
        expect(again.failure_date).toEqual(plan.failure_date);
        await expect(
            ledger.invoke(ORG1, (s) =>
                s.computePlans.applyPlanAction(
                    complete(orchestrator.ApplyPlanActionParam, {
                        key: PLAN,
                        action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
                    }),
                ),
            ),
        ).rejects.toThrow(/^OE0109: /);
    });

    it('§1.7: failing a task of a cancelled plan keeps the plan cancelled only', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.applyPlanAction(
                complete(orchestrator.ApplyPlanActionParam, {
                    key: PLAN,
                    action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
                }),
            ),
        );
        await act(ledger, ORG1, key(1), A.TASK_ACTION_FAILED);
        const plan = (await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result;
        expect(plan.cancelation_date).toBeTruthy();
        expect(plan.failure_date).toBeFalsy();
    });

    it('§1.8: IsPlanRunning: NotFound, no tasks, active tasks, all DONE, terminated plan, first group by name', async () => {
        const ledger = await newTaskLedger();
        const running = async (): Promise<boolean> =>
            (await ledger.evaluate(ORG1, (s) => s.computePlans.isPlanRunning(PLAN))).result;
        await expect(ledger.evaluate(ORG1, (s) => s.computePlans.isPlanRunning(key(0x99)))).rejects.toThrow(
            /^OE0002: /,
        );
        expect(await running()).toBe(false);
        await register(ledger, [plainTask(key(1)), plainTask(key(2))]);
        expect(await running()).toBe(true);
        // CANCELED sorts before EXECUTING and WAITING_FOR_EXECUTOR_SLOT: the plan reads as not running.
        await act(ledger, ORG1, key(1), A.TASK_ACTION_CANCELED);
        expect(await running()).toBe(false);
        // A BUILDING task sorts before CANCELED: running again.
        await registerFunction(
            ledger,
            publicFunction(FN_BUILDING, { outputs: { model: { kind: K.ASSET_MODEL } } }),
            FS.FUNCTION_STATUS_BUILDING,
        );
        const building = await register(ledger, [plainTask(key(3), [], { function_key: FN_BUILDING })]);
        expect(building.result.tasks[0]!.status).toBe(S.STATUS_BUILDING);
        expect(await running()).toBe(true);
        const ledger2 = await newTaskLedger();
        await register(ledger2, [plainTask(key(1))]);
        await act(ledger2, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        await act(ledger2, ORG1, key(1), A.TASK_ACTION_DONE);
        expect((await ledger2.evaluate(ORG1, (s) => s.computePlans.isPlanRunning(PLAN))).result).toBe(false);
        await register(ledger2, [plainTask(key(2))]);
        expect((await ledger2.evaluate(ORG1, (s) => s.computePlans.isPlanRunning(PLAN))).result).toBe(true);
        await ledger2.invoke(ORG1, (s) =>
            s.computePlans.applyPlanAction(
                complete(orchestrator.ApplyPlanActionParam, {
                    key: PLAN,
                    action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
                }),
            ),
        );
        expect((await ledger2.evaluate(ORG1, (s) => s.computePlans.isPlanRunning(PLAN))).result).toBe(false);
    });

    it('§1.1: a plan record is not rewritten by task changes (no counters, no hot key)', async () => {
        const ledger = await newTaskLedger();
        const planKey = '\u0000computeplan\u0000' + PLAN + '\u0000';
        const reg = await register(ledger, [plainTask(key(1))]);
        expect(reg.writes.some((w) => w.key === planKey)).toBe(false);
        const exec = await act(ledger, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        expect(exec.writes.some((w) => w.key === planKey)).toBe(false);
    });
});
