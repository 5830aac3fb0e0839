import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import { TransitionError } from '../src/service/errors';
import {
    actionRule,
    isFinalStatus,
    nextStatus,
    taskStatusName,
    type TaskTransition,
} from '../src/service/computetask-state';
import {
    A,
    FS,
    K,
    ORG1,
    ORG2,
    ORG3,
    PLAN,
    act,
    aggregateFunction,
    getTask,
    key,
    newTaskLedger,
    plainTask,
    register,
    runToDone,
    overwriteFunction,
    plainFunction,
    publicFunction,
    registerFunction,
    FA,
    stateSize,
    E,
    S,
} from './support/fixtures';
import type { TestLedger } from './support/ledger';
import { complete } from './support/messages';

const ALL_STATUSES = [
    S.STATUS_UNKNOWN,
    S.STATUS_WAITING_FOR_PARENT_TASKS,
    S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
    S.STATUS_EXECUTING,
    S.STATUS_DONE,
    S.STATUS_CANCELED,
    S.STATUS_FAILED,
    S.STATUS_WAITING_FOR_BUILDER_SLOT,
    S.STATUS_BUILDING,
];
const ACTIVE = [
    S.STATUS_WAITING_FOR_BUILDER_SLOT,
    S.STATUS_BUILDING,
    S.STATUS_WAITING_FOR_PARENT_TASKS,
    S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
    S.STATUS_EXECUTING,
];

/** Registers a task of a function seeded in `fnStatus` (so the task starts where the table needs it). */
async function taskInStatus(
    ledger: TestLedger,
    taskKey: string,
    status: orchestrator.ComputeTaskStatus,
    parents: string[] = [],
): Promise<void> {
    const fnKey = key(0xf, 0x100 + status);
    const fnStatus: Partial<Record<orchestrator.ComputeTaskStatus, orchestrator.FunctionStatus>> = {
        [S.STATUS_WAITING_FOR_BUILDER_SLOT]: FS.FUNCTION_STATUS_WAITING,
        [S.STATUS_BUILDING]: FS.FUNCTION_STATUS_BUILDING,
        [S.STATUS_FAILED]: FS.FUNCTION_STATUS_FAILED,
        [S.STATUS_CANCELED]: FS.FUNCTION_STATUS_CANCELED,
        [S.STATUS_UNKNOWN]: FS.FUNCTION_STATUS_UNKNOWN,
    };
    const targetStatus = fnStatus[status] ?? FS.FUNCTION_STATUS_READY;
    if ((await ledger.evaluate(ORG1, (s) => s.functions.findFunction(fnKey))).result !== undefined) {
        // Registered by an earlier call for the same status.
    } else if (targetStatus === FS.FUNCTION_STATUS_UNKNOWN) {
        // No build action leads to UNKNOWN: corrupted state, written raw.
        await registerFunction(ledger, plainFunction(fnKey), FS.FUNCTION_STATUS_WAITING);
        overwriteFunction(ledger, fnKey, { status: targetStatus });
    } else {
        await registerFunction(ledger, plainFunction(fnKey), targetStatus);
    }
    await register(ledger, [plainTask(taskKey, parents, { function_key: fnKey })]);
    if (status === S.STATUS_EXECUTING || status === S.STATUS_DONE) {
        await act(ledger, ORG1, taskKey, A.TASK_ACTION_EXECUTING);
    }
    if (status === S.STATUS_DONE) {
        await act(ledger, ORG1, taskKey, A.TASK_ACTION_DONE);
    }
    if (status === S.STATUS_WAITING_FOR_PARENT_TASKS && parents.length === 0) {
        throw new Error('needs a parent');
    }
    expect((await getTask(ledger, taskKey)).status).toBe(status);
}

describe('task status machine (§3.1, §3.2)', () => {
    it('§3.2: the transition table, every status × transition; refusals name the transition and status', () => {
        const allowed: Record<TaskTransition, [orchestrator.ComputeTaskStatus[], orchestrator.ComputeTaskStatus]> = {
            transitionBuilding: [[S.STATUS_WAITING_FOR_BUILDER_SLOT], S.STATUS_BUILDING],
            transitionWaitingParentTasks: [[S.STATUS_BUILDING], S.STATUS_WAITING_FOR_PARENT_TASKS],
            transitionWaitingExecutorSlot: [
                [S.STATUS_BUILDING, S.STATUS_WAITING_FOR_PARENT_TASKS],
                S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
            ],
            transitionExecuting: [[S.STATUS_WAITING_FOR_EXECUTOR_SLOT], S.STATUS_EXECUTING],
            transitionDone: [[S.STATUS_EXECUTING], S.STATUS_DONE],
            transitionCanceled: [ACTIVE, S.STATUS_CANCELED],
            transitionFailed: [ACTIVE, S.STATUS_FAILED],
        };
        for (const [transition, [from, to]] of Object.entries(allowed) as [
            TaskTransition,
            [orchestrator.ComputeTaskStatus[], orchestrator.ComputeTaskStatus],
        ][]) {
            for (const status of ALL_STATUSES) {
                if (from.includes(status)) {
                    expect(nextStatus(status, transition)).toBe(to);
                } else {
                    expect(() => nextStatus(status, transition)).toThrow(TransitionError);
                    expect(() => nextStatus(status, transition)).toThrow(
                        `event ${transition} inappropriate in current state ${taskStatusName(status)}`,
                    );
                }
            }
        }
        expect(ALL_STATUSES.filter(isFinalStatus)).toEqual([
            S.STATUS_UNKNOWN,
            S.STATUS_DONE,
            S.STATUS_CANCELED,
            S.STATUS_FAILED,
        ]);
        expect(taskStatusName(42)).toBe('42');
        expect(actionRule(A.TASK_ACTION_BUILD_STARTED)).toBeUndefined();
    });
});

describe('ApplyTaskAction (§3.3)', () => {
    it('§3.3.1: missing task is NotFound (key not validated)', async () => {
        const ledger = await newTaskLedger();
        await expect(act(ledger, ORG1, 'not-a-key', A.TASK_ACTION_DONE)).rejects.toThrow(
            'OE0002: computetask with key "not-a-key" not found',
        );
        await expect(act(ledger, ORG1, '', A.TASK_ACTION_DONE)).rejects.toThrow(
            'OE0002: computetask with key "" not found',
        );
    });

    it('§3.3.2: permissions by action: worker for EXECUTING/DONE, owner or worker for CANCELED/FAILED, nobody for others', async () => {
        const ledger = await newTaskLedger();
        // Owner ORG1, worker ORG2.
        await register(ledger, [
            plainTask(key(1), [], { worker: ORG2 }),
            plainTask(key(2), [], { worker: ORG2 }),
            plainTask(key(3), [], { worker: ORG2 }),
        ]);
        const before = stateSize(ledger);
        const denied = 'OE0102: only task owner can update it';
        await expect(act(ledger, ORG1, key(1), A.TASK_ACTION_EXECUTING)).rejects.toThrow(denied);
        await expect(act(ledger, ORG1, key(1), A.TASK_ACTION_DONE)).rejects.toThrow(denied);
        await expect(act(ledger, ORG3, key(1), A.TASK_ACTION_CANCELED)).rejects.toThrow(denied);
        await expect(act(ledger, ORG3, key(1), A.TASK_ACTION_FAILED)).rejects.toThrow(denied);
        for (const action of [
            A.TASK_ACTION_UNKNOWN,
            A.TASK_ACTION_BUILD_STARTED,
            A.TASK_ACTION_BUILD_FINISHED,
            // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- a value outside the enum, as a client may send
            99 as orchestrator.ComputeTaskAction,
        ]) {
            await expect(act(ledger, ORG2, key(1), action)).rejects.toThrow(denied);
            await expect(act(ledger, ORG1, key(1), action)).rejects.toThrow(denied);
        }
        expect(stateSize(ledger)).toBe(before);
        await act(ledger, ORG2, key(1), A.TASK_ACTION_EXECUTING);
        await act(ledger, ORG2, key(1), A.TASK_ACTION_DONE);
        await act(ledger, ORG1, key(2), A.TASK_ACTION_CANCELED);
        await act(ledger, ORG2, key(3), A.TASK_ACTION_FAILED);
        expect((await getTask(ledger, key(1))).status).toBe(S.STATUS_DONE);
        expect((await getTask(ledger, key(2))).status).toBe(S.STATUS_CANCELED);
        expect((await getTask(ledger, key(3))).status).toBe(S.STATUS_FAILED);
    });

    it('§3.3.4: the full matrix of permitted actions; refusals carry no OE code and write nothing', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(0x90))]);
        const results: Record<string, string> = {};
        let n = 0;
        for (const status of [...ACTIVE, S.STATUS_DONE, S.STATUS_CANCELED, S.STATUS_FAILED, S.STATUS_UNKNOWN]) {
            for (const action of [
                A.TASK_ACTION_EXECUTING,
                A.TASK_ACTION_DONE,
                A.TASK_ACTION_CANCELED,
                A.TASK_ACTION_FAILED,
            ]) {
                const k = key(0x300, n++);
                await taskInStatus(ledger, k, status, status === S.STATUS_WAITING_FOR_PARENT_TASKS ? [key(0x90)] : []);
                const before = stateSize(ledger);
                try {
                    await act(ledger, ORG1, k, action);
                    results[`${taskStatusName(status)}/${action}`] = taskStatusName((await getTask(ledger, k)).status);
                } catch (error) {
                    expect(error).toBeInstanceOf(TransitionError);
                    expect((error as Error).message).not.toMatch(/OE\d{4}/);
                    expect(stateSize(ledger)).toBe(before);
                    results[`${taskStatusName(status)}/${action}`] = 'refused';
                }
            }
        }
        const row = (s: string, e: string, d: string): Record<string, string> => ({
            [`${s}/1`]: e,
            [`${s}/4`]: d,
            [`${s}/2`]: ACTIVE.map(taskStatusName).includes(s) ? 'STATUS_CANCELED' : 'refused',
            [`${s}/3`]: ACTIVE.map(taskStatusName).includes(s) ? 'STATUS_FAILED' : 'refused',
        });
        expect(results).toEqual({
            ...row('STATUS_WAITING_FOR_BUILDER_SLOT', 'refused', 'refused'),
            ...row('STATUS_BUILDING', 'refused', 'refused'),
            ...row('STATUS_WAITING_FOR_PARENT_TASKS', 'refused', 'refused'),
            ...row('STATUS_WAITING_FOR_EXECUTOR_SLOT', 'STATUS_EXECUTING', 'refused'),
            ...row('STATUS_EXECUTING', 'refused', 'STATUS_DONE'),
            ...row('STATUS_DONE', 'refused', 'refused'),
            ...row('STATUS_CANCELED', 'refused', 'refused'),
            ...row('STATUS_FAILED', 'refused', 'refused'),
            ...row('STATUS_UNKNOWN', 'refused', 'refused'),
        });
        await expect(act(ledger, ORG1, key(0x90), A.TASK_ACTION_EXECUTING)).resolves.toBeDefined();
        await act(ledger, ORG1, key(0x90), A.TASK_ACTION_DONE);
        await expect(act(ledger, ORG1, key(0x90), A.TASK_ACTION_DONE)).rejects.toThrow(
            'event transitionDone inappropriate in current state STATUS_DONE',
        );
    });

    it('§3.3.3, §3.8: UPDATED event with the new status and reason = log, or `User action` when empty', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        const exec = await act(ledger, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        expect(exec.events).toHaveLength(1);
        const event = exec.events[0]!;
        expect(event.event_kind).toBe(E.EVENT_ASSET_UPDATED);
        expect(event.asset_kind).toBe(orchestrator.AssetKind.ASSET_COMPUTE_TASK);
        expect(event.asset_key).toBe(key(1));
        expect(event.metadata).toEqual({ reason: 'User action' });
        expect(event.compute_task?.status).toBe(S.STATUS_EXECUTING);
        expect(event.compute_task?.outputs!.model).toBeDefined();
        const done = await act(ledger, ORG1, key(1), A.TASK_ACTION_DONE, 'all good');
        expect(done.events[0]!.metadata).toEqual({ reason: 'all good' });
    });

    it('§3.3: no plan check: a task of a cancelled plan can still execute and finish', async () => {
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
        await runToDone(ledger, key(1));
        expect((await getTask(ledger, key(1))).status).toBe(S.STATUS_DONE);
    });
});

describe('cascades (§3.4, §3.5)', () => {
    it('§3.5.1: DONE releases waiting children in ascending key order once all their parents are DONE', async () => {
        const ledger = await newTaskLedger();
        const [p1, p2] = [key(1), key(2)];
        const [c1, c2, c3] = [key(0x13), key(0x11), key(0x12)];
        await register(ledger, [
            plainTask(p1),
            plainTask(p2),
            plainTask(c1, [p1]),
            plainTask(c2, [p1, p2]),
            plainTask(c3, [p1]),
        ]);
        await act(ledger, ORG1, p1, A.TASK_ACTION_EXECUTING);
        const res = await act(ledger, ORG1, p1, A.TASK_ACTION_DONE);
        // Own event first, then children by ascending key; c2 still waits for p2.
        expect(res.events.map((e) => [e.asset_key, e.compute_task?.status, e.metadata.reason])).toEqual([
            [p1, S.STATUS_DONE, 'User action'],
            [c3, S.STATUS_WAITING_FOR_EXECUTOR_SLOT, `Last parent task ${p1} done`],
            [c1, S.STATUS_WAITING_FOR_EXECUTOR_SLOT, `Last parent task ${p1} done`],
        ]);
        // Cascade payloads are complete tasks (Decision).
        expect(res.events[1]!.compute_task?.inputs).toHaveLength(1);
        expect((await getTask(ledger, c2)).status).toBe(S.STATUS_WAITING_FOR_PARENT_TASKS);
        await act(ledger, ORG1, p2, A.TASK_ACTION_EXECUTING);
        const res2 = await act(ledger, ORG1, p2, A.TASK_ACTION_DONE);
        expect(res2.events.map((e) => e.asset_key)).toEqual([p2, c2]);
        expect(res2.events[1]!.metadata).toEqual({ reason: `Last parent task ${p2} done` });
    });

    it('§3.5.1: children not WAITING_FOR_PARENT_TASKS are skipped, grandchildren untouched', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [
            plainTask(key(1)),
            plainTask(key(2), [key(1)]),
            plainTask(key(3), [key(1)]),
            plainTask(key(4), [key(2)]),
        ]);
        await act(ledger, ORG1, key(3), A.TASK_ACTION_CANCELED);
        const buildingFn = key(0xf, 0x50);
        await registerFunction(ledger, aggregateFunction(buildingFn), FS.FUNCTION_STATUS_BUILDING);
        await register(ledger, [plainTask(key(5), [key(1)], { function_key: buildingFn })]);
        await act(ledger, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        const res = await act(ledger, ORG1, key(1), A.TASK_ACTION_DONE);
        expect(res.events.map((e) => e.asset_key)).toEqual([key(1), key(2)]);
        expect((await getTask(ledger, key(3))).status).toBe(S.STATUS_CANCELED);
        expect((await getTask(ledger, key(4))).status).toBe(S.STATUS_WAITING_FOR_PARENT_TASKS);
        expect((await getTask(ledger, key(5))).status).toBe(S.STATUS_BUILDING);
    });

    it('§3.5.2, §3.5.3: FAILED fails the plan and CANCELED does nothing; children stay waiting', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [
            plainTask(key(1)),
            plainTask(key(2)),
            plainTask(key(3), [key(1)]),
            plainTask(key(4), [key(2)]),
        ]);
        const cancel = await act(ledger, ORG1, key(2), A.TASK_ACTION_CANCELED);
        expect(cancel.events).toHaveLength(1);
        expect((await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result.failure_date).toBeFalsy();
        const fail = await act(ledger, ORG1, key(1), A.TASK_ACTION_FAILED, 'boom');
        expect(fail.events.map((e) => e.asset_key)).toEqual([key(1)]);
        expect(fail.events[0]!.metadata).toEqual({ reason: 'boom' });
        expect((await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result.failure_date).toBeTruthy();
        expect((await getTask(ledger, key(3))).status).toBe(S.STATUS_WAITING_FOR_PARENT_TASKS);
        expect((await getTask(ledger, key(4))).status).toBe(S.STATUS_WAITING_FOR_PARENT_TASKS);
    });

    it('§3.5.4: a task registered after its parents are DONE starts WAITING_FOR_EXECUTOR_SLOT; after a failure, CANCELED', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1)), plainTask(key(2))]);
        await runToDone(ledger, key(1));
        await act(ledger, ORG1, key(2), A.TASK_ACTION_FAILED);
        const res = await register(ledger, [plainTask(key(3), [key(1)]), plainTask(key(4), [key(2)])]);
        expect(res.result.tasks.map((t) => t.status)).toEqual([S.STATUS_WAITING_FOR_EXECUTOR_SLOT, S.STATUS_CANCELED]);
    });

    it('§3.9: failTask applies transitionFailed with its reason and fails the plan (failure-report entry)', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1)), plainTask(key(2))]);
        await act(ledger, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        const res = await ledger.invoke(ORG1, async (s) =>
            s.computeTasks.failTask(await s.computeTasks.getTask(key(1)), 'failure report registered'),
        );
        expect(res.result.status).toBe(S.STATUS_FAILED);
        expect(res.events[0]!.metadata).toEqual({ reason: 'failure report registered' });
        expect((await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result.failure_date).toBeTruthy();
        await expect(
            ledger.invoke(ORG1, async (s) => s.computeTasks.failTask(await s.computeTasks.getTask(key(1)), 'x')),
        ).rejects.toThrow('event transitionFailed inappropriate in current state STATUS_FAILED');
    });
});

describe('function build status (§3.7)', () => {
    const FN = key(0xf, 0x60);

    async function setup(): Promise<TestLedger> {
        const ledger = await newTaskLedger();
        await registerFunction(ledger, plainFunction(FN), FS.FUNCTION_STATUS_WAITING, ORG2);
        return ledger;
    }

    async function propagate(ledger: TestLedger, status: orchestrator.FunctionStatus, reason = 'User action') {
        return ledger.invoke(ORG2, (s) => s.computeTasks.propagateFunctionStatus({ key: FN, status }, reason));
    }

    it('§3.7: BUILDING moves WAITING_FOR_BUILDER_SLOT tasks (creation date, key order) with the action reason', async () => {
        const ledger = await setup();
        await register(ledger, [plainTask(key(3), [], { function_key: FN })]);
        await register(ledger, [
            plainTask(key(2), [], { function_key: FN }),
            plainTask(key(1), [], { function_key: FN }),
        ]);
        const res = await propagate(ledger, FS.FUNCTION_STATUS_BUILDING);
        expect(res.events.map((e) => [e.asset_key, e.compute_task?.status, e.metadata.reason])).toEqual([
            [key(3), S.STATUS_BUILDING, 'User action'],
            [key(1), S.STATUS_BUILDING, 'User action'],
            [key(2), S.STATUS_BUILDING, 'User action'],
        ]);
    });

    it('§3.7: READY sends BUILDING tasks to the executor slot when all parents are DONE, else to parent tasks', async () => {
        const ledger = await setup();
        await register(ledger, [plainTask(key(1)), plainTask(key(2)), plainTask(key(3))]);
        await runToDone(ledger, key(1));
        await act(ledger, ORG1, key(3), A.TASK_ACTION_CANCELED);
        await register(ledger, [
            plainTask(key(0x11), [], { function_key: FN }),
            plainTask(key(0x12), [key(1)], { function_key: FN }),
            plainTask(key(0x13), [key(1), key(2)], { function_key: FN }),
        ]);
        await propagate(ledger, FS.FUNCTION_STATUS_BUILDING);
        const res = await propagate(ledger, FS.FUNCTION_STATUS_READY, 'ignored');
        expect(res.events.map((e) => [e.asset_key, e.compute_task?.status, e.metadata.reason])).toEqual([
            [key(0x11), S.STATUS_WAITING_FOR_EXECUTOR_SLOT, `Function ${FN} finished building`],
            [key(0x12), S.STATUS_WAITING_FOR_EXECUTOR_SLOT, `Function ${FN} finished building`],
            [key(0x13), S.STATUS_WAITING_FOR_PARENT_TASKS, `Function ${FN} finished building`],
        ]);
        // The task then follows its last parent.
        await runToDone(ledger, key(2));
        expect((await getTask(ledger, key(0x13))).status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
    });

    it('§3.7: CANCELED only touches BUILDING tasks; WAITING_FOR_BUILDER_SLOT tasks stay', async () => {
        const ledger = await setup();
        await register(ledger, [plainTask(key(1), [], { function_key: FN })]);
        await propagate(ledger, FS.FUNCTION_STATUS_BUILDING);
        // The function service stores the function as BUILDING: later tasks start BUILDING.
        await ledger.invoke(ORG2, (s) =>
            s.functions.applyFunctionAction({ function_key: FN, action: FA.FUNCTION_ACTION_BUILDING }),
        );
        await register(ledger, [plainTask(key(2), [], { function_key: FN, inputs: [] })]);
        expect((await getTask(ledger, key(2))).status).toBe(S.STATUS_BUILDING);
        const res = await propagate(ledger, FS.FUNCTION_STATUS_CANCELED);
        expect(res.events.map((e) => [e.asset_key, e.compute_task?.status])).toEqual([
            [key(1), S.STATUS_CANCELED],
            [key(2), S.STATUS_CANCELED],
        ]);
        // A function cancelled from WAITING leaves its WAITING_FOR_BUILDER_SLOT tasks alone.
        const waitingFn = key(0xf, 0x61);
        await registerFunction(
            ledger,
            publicFunction(waitingFn, { outputs: { model: { kind: K.ASSET_MODEL } } }),
            FS.FUNCTION_STATUS_WAITING,
            ORG2,
        );
        await register(ledger, [plainTask(key(3), [], { function_key: waitingFn, inputs: [] })]);
        const waiting = await ledger.invoke(ORG2, (s) =>
            s.computeTasks.propagateFunctionStatus(
                { key: waitingFn, status: FS.FUNCTION_STATUS_CANCELED },
                'User action',
            ),
        );
        expect(waiting.events).toHaveLength(0);
        expect((await getTask(ledger, key(3))).status).toBe(S.STATUS_WAITING_FOR_BUILDER_SLOT);
    });

    it('§3.7: FAILED fails BUILDING tasks across plans, each plan once (read-your-writes), with the given reason', async () => {
        const ledger = await setup();
        await register(ledger, [
            plainTask(key(1), [], { function_key: FN }),
            plainTask(key(2), [], { function_key: FN }),
        ]);
        await register(
            ledger,
            [plainTask(key(3), [], { function_key: FN, compute_plan_key: key(0xa, 2), worker: ORG2 })],
            ORG2,
        );
        await propagate(ledger, FS.FUNCTION_STATUS_BUILDING);
        const res = await propagate(ledger, FS.FUNCTION_STATUS_FAILED, 'failure report registered');
        expect(res.events.map((e) => [e.asset_key, e.compute_task?.status, e.metadata.reason])).toEqual([
            [key(1), S.STATUS_FAILED, 'failure report registered'],
            [key(2), S.STATUS_FAILED, 'failure report registered'],
            [key(3), S.STATUS_FAILED, 'failure report registered'],
        ]);
        const plan1 = (await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result;
        const plan2 = (await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(key(0xa, 2)))).result;
        expect(plan1.failure_date).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
        expect(plan2.failure_date).toEqual(plan1.failure_date);
        // Plan records are written once each in that transaction.
        const planWrites = res.writes.filter((w) => w.key.startsWith('\u0000computeplan\u0000'));
        expect(planWrites).toHaveLength(2);
    });

    it('§3.7: other function statuses change nothing', async () => {
        const ledger = await setup();
        await register(ledger, [plainTask(key(1), [], { function_key: FN })]);
        const res = await propagate(ledger, FS.FUNCTION_STATUS_WAITING);
        expect(res.events).toHaveLength(0);
        expect(res.writes).toHaveLength(0);
    });
});
