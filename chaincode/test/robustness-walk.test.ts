/**
 * Seeded random walk over the contract surface: a few hundred valid-looking RPC calls (random picks among the
 * registered keys, random actions by any organization) on one ledger, through the real contract dispatcher.
 * After every call: the call rule of robustness.test.ts (success, or a documented error that wrote nothing),
 * the events of the transaction, and invariants of the committed world state (behavior-tasks.md,
 * behavior-assets.md, design.md storage conventions).
 */
import { orchestrator } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { messageClass } from '../src/contracts/codec';
import { DOCUMENTED_MESSAGES, Rng, expectCleanOutcome, snapshot } from './support/fuzz';
import {
    A,
    FN_AGG,
    FN_PLAIN,
    FN_TRAIN,
    ORG1,
    ORG2,
    ORG3,
    PLAN,
    PLAN2,
    S,
    UNREGISTERED,
    address,
    key,
    newTaskLedger,
    output,
    parentInput,
} from './support/fixtures';
import { findRpc } from './support/ledger';
import type { CallResult, TestLedger } from './support/ledger';

const STEPS = 300;
const ORGS = [ORG1, ORG2, ORG3];
const STATUS_VALUES = new Set(Object.values(orchestrator.ComputeTaskStatus).filter((v) => typeof v === 'number'));
const TERMINAL = new Set<number>([S.STATUS_DONE, S.STATUS_CANCELED, S.STATUS_FAILED]);
/** Statuses a task reaches only once every parent is DONE (behavior-tasks §3.3, §3.5.1, §3.5.4). */
const NEEDS_PARENTS_DONE = new Set<number>([S.STATUS_WAITING_FOR_EXECUTOR_SLOT, S.STATUS_EXECUTING, S.STATUS_DONE]);
const TASK_INDEXES = ['all', 'plan', 'function', 'worker', 'plan_function', 'plan_status', 'function_status'];
/** Kinds whose records all have an `idx~<kind>~all` entry (design.md, storage conventions). */
const KINDS_WITH_ALL_INDEX = ['function', 'datamanager', 'datasample', 'computeplan', 'computetask', 'performance'];

interface WalkState {
    readonly ledger: TestLedger;
    readonly rng: Rng;
    readonly tasks: string[];
    readonly plans: string[];
    readonly models: string[];
    /** Worker of each registered task (as requested), and the statuses seen after the last step. */
    readonly workers: Map<string, string>;
    /** Owner of each plan. */
    readonly planOwners: Map<string, string>;
    statuses: Map<string, orchestrator.ComputeTaskStatus>;
    next: number;
}

interface Step {
    readonly method: string;
    readonly mspid: string;
    readonly request: object;
}

function pickOrg(rng: Rng): string {
    return rng.chance(0.05) ? UNREGISTERED : rng.pick(ORGS);
}

function newKey(state: WalkState, group: number): string {
    state.next++;
    return key(group, state.next);
}

/** A task key: mostly a registered one, sometimes unknown or malformed. */
function someTask(state: WalkState): string {
    const { rng } = state;
    if (state.tasks.length === 0 || rng.chance(0.05)) {
        return rng.pick(['', 'not-a-key', key(0x99, 1)]);
    }
    return rng.pick(state.tasks);
}

/** A registered task in `status` when there is one (half of the time), else any task. */
function taskIn(state: WalkState, status: orchestrator.ComputeTaskStatus): string {
    const matching = state.tasks.filter((t) => state.statuses.get(t) === status);
    return matching.length > 0 && state.rng.chance(0.85) ? state.rng.pick(matching) : someTask(state);
}

/** Mostly the task's worker, sometimes anyone. */
function workerOr(state: WalkState, task: string): string {
    const worker = state.workers.get(task);
    return worker !== undefined && state.rng.chance(0.75) ? worker : pickOrg(state.rng);
}

function registerTasksStep(state: WalkState): Step {
    const { rng } = state;
    const plan = rng.pick(state.plans);
    const batch: orchestrator.INewComputeTask[] = [];
    for (let i = 1 + rng.int(3); i > 0; i--) {
        const parents = new Set<string>();
        for (let p = rng.int(3); p > 0; p--) {
            const pool = [...state.tasks.slice(-12), ...batch.map((t) => t.key ?? '')];
            if (pool.length > 0) {
                parents.add(rng.pick(pool));
            }
        }
        const fn = parents.size > 0 && rng.chance(0.3) ? FN_AGG : rng.chance(0.05) ? FN_TRAIN : FN_PLAIN;
        batch.push({
            key: rng.chance(0.05) && state.tasks.length > 0 ? rng.pick(state.tasks) : newKey(state, 0x7),
            function_key: fn,
            compute_plan_key: plan,
            worker: rng.chance(0.05) ? UNREGISTERED : rng.pick(ORGS),
            inputs: [...parents].map((p) => parentInput('models', p, 'model')),
            outputs: rng.chance(0.05) ? {} : { model: output({ public: rng.chance(0.7), transient: rng.chance(0.3) }) },
        });
    }
    const owner = state.planOwners.get(plan) ?? ORG1;
    return { method: 'RegisterTasks', mspid: rng.chance(0.85) ? owner : pickOrg(rng), request: { tasks: batch } };
}

const TASK_ACTIONS: orchestrator.ComputeTaskAction[] = [
    A.TASK_ACTION_EXECUTING,
    A.TASK_ACTION_EXECUTING,
    A.TASK_ACTION_DONE,
    A.TASK_ACTION_DONE,
    A.TASK_ACTION_DONE,
    A.TASK_ACTION_CANCELED,
    A.TASK_ACTION_FAILED,
    A.TASK_ACTION_UNKNOWN,
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- a value outside the enum, as a client may send
    77 as orchestrator.ComputeTaskAction,
];

function nextStep(state: WalkState): Step {
    const { rng } = state;
    const roll = rng.int(100);
    if (roll < 22) {
        return registerTasksStep(state);
    }
    if (roll < 55) {
        const action = rng.pick(TASK_ACTIONS);
        const task =
            action === A.TASK_ACTION_EXECUTING
                ? taskIn(state, S.STATUS_WAITING_FOR_EXECUTOR_SLOT)
                : action === A.TASK_ACTION_DONE
                  ? taskIn(state, S.STATUS_EXECUTING)
                  : someTask(state);
        return {
            method: 'ApplyTaskAction',
            mspid: workerOr(state, task),
            request: { compute_task_key: task, action, log: rng.pick(['', 'x']) },
        };
    }
    if (roll < 65) {
        const task = taskIn(state, S.STATUS_EXECUTING);
        const models = Array.from({ length: rng.chance(0.85) ? 1 : 2 }, () => ({
            key: rng.chance(0.02) && state.models.length > 0 ? rng.pick(state.models) : newKey(state, 0x8),
            compute_task_key: task,
            compute_task_output_identifier: rng.chance(0.9) ? 'model' : 'nope',
            address: address(state.next),
        }));
        return { method: 'RegisterModels', mspid: workerOr(state, task), request: { models } };
    }
    if (roll < 68) {
        const task = taskIn(state, S.STATUS_DONE);
        return {
            method: 'DisableOutput',
            mspid: workerOr(state, task),
            request: { compute_task_key: task, identifier: 'model' },
        };
    }
    if (roll < 71) {
        const task = taskIn(state, S.STATUS_EXECUTING);
        return {
            method: 'RegisterFailureReport',
            mspid: workerOr(state, task),
            request: {
                asset_key: task,
                error_type: orchestrator.ErrorType.ERROR_TYPE_EXECUTION,
                logs_address: address(1),
                asset_type: rng.chance(0.8) ? orchestrator.FailedAssetKind.FAILED_ASSET_COMPUTE_TASK : rng.pick([0, 9]),
            },
        };
    }
    if (roll < 73) {
        return {
            method: 'ApplyPlanAction',
            mspid: pickOrg(rng),
            request: { key: rng.pick(state.plans), action: rng.pick([0, 1, 5]) },
        };
    }
    if (roll < 77) {
        const planKey = rng.chance(0.9) ? newKey(state, 0xa) : rng.pick(state.plans);
        return {
            method: 'RegisterPlan',
            mspid: pickOrg(rng),
            request: { key: planKey, name: 'p' },
        };
    }
    if (roll < 79) {
        return { method: 'UpdatePlan', mspid: pickOrg(rng), request: { key: rng.pick(state.plans), name: `n${roll}` } };
    }
    if (roll < 80) {
        return {
            method: 'ApplyFunctionAction',
            mspid: pickOrg(rng),
            request: { function_key: rng.pick([FN_PLAIN, FN_AGG]), action: rng.int(6) },
        };
    }
    // Reads.
    const reads: Step[] = [
        {
            method: 'QueryTasks',
            mspid: ORG1,
            request: {
                page_size: rng.int(4),
                filter: {
                    compute_plan_key: rng.chance(0.5) ? rng.pick(state.plans) : '',
                    status: rng.chance(0.5) ? rng.int(8) : 0,
                    worker: rng.chance(0.3) ? rng.pick(ORGS) : '',
                },
            },
        },
        { method: 'GetTask', mspid: ORG2, request: { key: someTask(state) } },
        { method: 'IsPlanRunning', mspid: ORG1, request: { key: rng.pick(state.plans) } },
        { method: 'GetTaskInputAssets', mspid: ORG1, request: { compute_task_key: someTask(state) } },
        { method: 'GetComputeTaskOutputModels', mspid: ORG3, request: { compute_task_key: someTask(state) } },
        { method: 'GetPlan', mspid: ORG1, request: { key: rng.pick(state.plans) } },
    ];
    return rng.pick(reads);
}

async function run(state: WalkState, step: Step): Promise<CallResult> {
    const rpc = findRpc(step.method);
    const cls = messageClass(rpc.requestType);
    const arg = cls.encode(cls.fromObject(step.request as Record<string, unknown>)).finish();
    const fcn = `${rpc.contract}:${rpc.fn}`;
    const before = snapshot(state.ledger);
    const res = rpc.readOnly
        ? await state.ledger.evaluateCall(step.mspid, fcn, arg)
        : await state.ledger.submit(step.mspid, fcn, arg);
    expectCleanOutcome(res, before, state.ledger, rpc, `${step.method} ${JSON.stringify(step.request)}`, [
        ...DOCUMENTED_MESSAGES,
    ]);
    return res;
}

/** Events of one transaction: ids `<txid>:<n>` from 0 in order, the transaction's timestamp. */
function checkEvents(res: CallResult, label: string): void {
    res.events.forEach((event, n) => {
        expect(event.id, label).toBe(`${res.txId}:${n}`);
        expect(event.timestamp?.seconds, label).toBe(res.timestamp.seconds);
        expect(event.timestamp?.nanos, label).toBe(res.timestamp.nanos);
    });
    if (res.status !== 200) {
        expect(res.events, label).toEqual([]);
    }
}

interface Parsed {
    readonly objectType: string;
    readonly attrs: string[];
}

function parseKey(stateKey: string): Parsed | undefined {
    if (!stateKey.startsWith('\u0000')) {
        return undefined;
    }
    const parts = stateKey.slice(1, -1).split('\u0000');
    return { objectType: parts[0]!, attrs: parts.slice(1) };
}

function statusName(status: number): string {
    return orchestrator.ComputeTaskStatus[status] ?? `?${status}`;
}

/** Invariants of the committed state; returns the task statuses (for monotonicity across steps). */
function checkWorld(
    ledger: TestLedger,
    previous: Map<string, orchestrator.ComputeTaskStatus>,
    label: string,
): Map<string, orchestrator.ComputeTaskStatus> {
    const keys = ledger.world.keys();
    const records = new Map<string, Set<string>>(); // kind -> record keys
    const indexes: Parsed[] = [];
    for (const stateKey of keys) {
        const parsed = parseKey(stateKey);
        expect(parsed, `${label}: non-composite key ${JSON.stringify(stateKey)}`).toBeDefined();
        if (parsed!.objectType.startsWith('idx~')) {
            indexes.push(parsed!);
        } else if (parsed!.attrs.length === 1) {
            const set = records.get(parsed!.objectType) ?? new Set<string>();
            set.add(parsed!.attrs[0]!);
            records.set(parsed!.objectType, set);
        }
    }
    const tasks = new Map<string, orchestrator.ComputeTask>();
    for (const taskKey of records.get('computetask') ?? []) {
        const bytes = ledger.get(`\u0000computetask\u0000${taskKey}\u0000`)!;
        const task = orchestrator.ComputeTask.decode(bytes);
        expect(task.key, label).toBe(taskKey);
        expect(STATUS_VALUES.has(task.status), `${label}: task ${taskKey} status ${task.status}`).toBe(true);
        tasks.set(taskKey, task);
    }
    const statuses = new Map<string, orchestrator.ComputeTaskStatus>();
    const indexCount = new Map<string, number>();
    for (const [taskKey, task] of tasks) {
        statuses.set(taskKey, task.status);
        // A final status never changes (behavior-tasks §3.3: every action from DONE/CANCELED/FAILED is refused).
        const before = previous.get(taskKey);
        if (before !== undefined && TERMINAL.has(before)) {
            expect(statusName(task.status), `${label}: terminal task ${taskKey} changed`).toBe(statusName(before));
        }
        const parents = task.inputs
            .map((input) => input.parent_task_output?.parent_task_key)
            .filter((p): p is string => typeof p === 'string' && p !== '');
        for (const parent of parents) {
            expect(tasks.has(parent), `${label}: parent ${parent} of ${taskKey} missing`).toBe(true);
        }
        const allParentsDone = parents.every((p) => tasks.get(p)?.status === S.STATUS_DONE);
        // §3.5.1: the last parent becoming DONE moves a waiting child to WAITING_FOR_EXECUTOR_SLOT.
        if (task.status === S.STATUS_WAITING_FOR_PARENT_TASKS) {
            expect(allParentsDone, `${label}: ${taskKey} waits for parents that are all DONE`).toBe(false);
        }
        if (NEEDS_PARENTS_DONE.has(task.status)) {
            expect(allParentsDone, `${label}: ${taskKey} ${statusName(task.status)} with a parent not DONE`).toBe(true);
        }
    }
    for (const index of indexes) {
        const [, kind = '', by = ''] = index.objectType.split('~');
        const recordKey = index.attrs[index.attrs.length - 1]!;
        expect(records.get(kind)?.has(recordKey), `${label}: ${index.objectType} -> missing ${recordKey}`).toBe(true);
        if (kind === 'computetask' && by === 'children') {
            const [parent = '', child = ''] = index.attrs;
            expect(tasks.has(parent), `${label}: children index of missing parent ${parent}`).toBe(true);
            const childTask = tasks.get(child)!;
            const refs = childTask.inputs.map((i) => i.parent_task_output?.parent_task_key);
            expect(refs, `${label}: child link ${parent} -> ${child}`).toContain(parent);
            continue;
        }
        if (kind === 'computetask') {
            const task = tasks.get(recordKey)!;
            if (by.endsWith('status')) {
                expect(index.attrs[by === 'plan_status' || by === 'function_status' ? 1 : 0], label).toBe(
                    statusName(task.status),
                );
            }
            indexCount.set(recordKey, (indexCount.get(recordKey) ?? 0) + 1);
            expect(TASK_INDEXES, `${label}: unknown task index ${by}`).toContain(by);
        }
        if (kind === 'model' && by === 'task') {
            expect(tasks.has(index.attrs[0]!), `${label}: model index of missing task`).toBe(true);
        }
    }
    // Each record has its index entries.
    for (const taskKey of tasks.keys()) {
        expect(indexCount.get(taskKey), `${label}: index entries of task ${taskKey}`).toBe(TASK_INDEXES.length);
    }
    const indexed = new Set(indexes.map((i) => `${i.objectType}|${i.attrs[i.attrs.length - 1]!}`));
    for (const kind of KINDS_WITH_ALL_INDEX) {
        for (const recordKey of records.get(kind) ?? []) {
            expect(indexed.has(`idx~${kind}~all|${recordKey}`), `${label}: ${kind} ${recordKey} not indexed`).toBe(
                true,
            );
        }
    }
    for (const modelKey of records.get('model') ?? []) {
        const model = orchestrator.Model.decode(ledger.get(`\u0000model\u0000${modelKey}\u0000`)!);
        expect(tasks.has(model.compute_task_key), `${label}: model ${modelKey} of a missing task`).toBe(true);
        expect(indexed.has(`idx~model~task|${modelKey}`), `${label}: model ${modelKey} not indexed`).toBe(true);
    }
    return statuses;
}

describe('random walk over the contract surface', () => {
    it(`${STEPS} seeded random calls keep every invariant`, async () => {
        const ledger = await newTaskLedger();
        const state: WalkState = {
            ledger,
            rng: new Rng(0x5eed),
            tasks: [],
            plans: [PLAN, PLAN2],
            models: [],
            workers: new Map(),
            planOwners: new Map([
                [PLAN, ORG1],
                [PLAN2, ORG2],
            ]),
            statuses: new Map(),
            next: 0,
        };
        let statuses = checkWorld(ledger, new Map(), 'initial');
        const outcomes = new Map<string, { ok: number; failed: number }>();
        for (let i = 0; i < STEPS; i++) {
            const step = nextStep(state);
            const label = `step ${i} ${step.method} by ${step.mspid}`;
            const res = await run(state, step);
            checkEvents(res, label);
            const tally = outcomes.get(step.method) ?? { ok: 0, failed: 0 };
            if (res.status === 200) {
                tally.ok++;
                if (step.method === 'RegisterTasks') {
                    const tasks = (step.request as orchestrator.IRegisterTasksParam).tasks ?? [];
                    for (const task of tasks) {
                        state.tasks.push(task.key ?? '');
                        state.workers.set(task.key ?? '', task.worker ?? '');
                    }
                } else if (step.method === 'RegisterModels') {
                    const models = (step.request as orchestrator.IRegisterModelsParam).models ?? [];
                    state.models.push(...models.map((m) => m.key ?? ''));
                } else if (step.method === 'RegisterPlan') {
                    const planKey = (step.request as orchestrator.INewComputePlan).key ?? '';
                    state.plans.push(planKey);
                    state.planOwners.set(planKey, step.mspid);
                }
            } else {
                tally.failed++;
            }
            outcomes.set(step.method, tally);
            statuses = checkWorld(ledger, statuses, label);
            state.statuses = statuses;
        }
        // For the record of what the walk exercised; not an assertion.
        console.info(`random walk: ${[...outcomes].map(([m, t]) => `${m} ${t.ok}/${t.ok + t.failed}`).join(', ')}`);
        // The walk went somewhere: tasks registered, run to DONE (cascading to children), models registered.
        const done = [...statuses.values()].filter((s) => s === S.STATUS_DONE).length;
        expect(outcomes.get('RegisterTasks')?.ok ?? 0).toBeGreaterThan(10);
        expect(outcomes.get('RegisterModels')?.ok ?? 0).toBeGreaterThan(3);
        expect(done).toBeGreaterThan(5);
        expect(outcomes.get('ApplyTaskAction')?.failed ?? 0).toBeGreaterThan(10);
    });
});
