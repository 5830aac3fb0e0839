/**
 * Fixtures of the model, performance and failure-report tests. Everything is built through the services'
 * public API (organizations, functions with their build actions, plans, tasks and task actions), so the
 * records these tests read are exactly what the other services store.
 */
import { expect } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import { newTestLedger, type TestLedger } from './support/ledger';
import type { Services } from '../src/service/provider';
import type { TxContext } from '../src/service/context';

export const ORG1 = 'MyOrg1MSP';
export const ORG2 = 'MyOrg2MSP';
export const ORG3 = 'MyOrg3MSP';

export const K = orchestrator.AssetKind;
export const E = orchestrator.EventKind;
export const S = orchestrator.ComputeTaskStatus;
export const FS = orchestrator.FunctionStatus;
export const A = orchestrator.ComputeTaskAction;

/** A canonical lower-case UUID, e.g. uuid(0xb, 2) = 0000000b-0000-4000-8000-000000000002. */
export function uuid(group: number, n = 0): string {
    return `${group.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export const PLAN = uuid(0xa, 1);
/** READY function of ORG1: outputs `model` (MODEL), `models` (MODEL, multiple), `perf` (PERFORMANCE), `raw` (ASSET_UNKNOWN). */
export const FN = uuid(0xf, 1);

export const CHECKSUM = 'c'.repeat(64);
export function address(n = 1): orchestrator.IAddressable {
    return { checksum: CHECKSUM, storage_address: `https://backend-org-2.example/model/${n}` };
}

/** Output permissions given at task registration: private, for ORG3 and the worker ORG2 (the owner ORG1 is appended). */
const SHARED_OUTPUT: orchestrator.INewComputeTaskOutput = {
    permissions: { public: false, authorized_ids: [ORG3, ORG2] },
    transient: true,
};
const PUBLIC_OUTPUT: orchestrator.INewComputeTaskOutput = { permissions: { public: true, authorized_ids: [] } };

export function newFunction(key: string): orchestrator.INewFunction {
    return {
        key,
        name: 'trainer',
        description: { checksum: CHECKSUM, storage_address: 'https://backend-org-1.example/description' },
        archive: { checksum: CHECKSUM, storage_address: 'https://backend-org-1.example/archive' },
        new_permissions: { public: true, authorized_ids: [] },
        inputs: { models: { kind: K.ASSET_MODEL, multiple: true, optional: true } },
        outputs: {
            model: { kind: K.ASSET_MODEL },
            models: { kind: K.ASSET_MODEL, multiple: true },
            perf: { kind: K.ASSET_PERFORMANCE },
            raw: { kind: K.ASSET_UNKNOWN },
        },
    };
}

/** A task of `functionKey` in PLAN, registered by ORG1, run by `worker`, with every output of FN. */
export function newTask(
    key: string,
    options: { functionKey?: string; worker?: string; parents?: readonly string[] } = {},
): orchestrator.INewComputeTask {
    return {
        key,
        function_key: options.functionKey ?? FN,
        compute_plan_key: PLAN,
        worker: options.worker ?? ORG2,
        inputs: (options.parents ?? []).map((parent) => ({
            identifier: 'models',
            parent_task_output: { parent_task_key: parent, output_identifier: 'model' },
        })),
        outputs: { model: SHARED_OUTPUT, models: SHARED_OUTPUT, perf: PUBLIC_OUTPUT, raw: SHARED_OUTPUT },
    };
}

/** ORG1..ORG3 registered, the READY function FN and the plan PLAN, all owned by ORG1. */
export async function newOutputsLedger(): Promise<TestLedger> {
    const ledger = newTestLedger();
    for (const org of [ORG1, ORG2, ORG3]) {
        await ledger.invoke(org, (s) => s.organizations.registerOrganization({ address: '' }));
    }
    await registerFunction(ledger, FN, FS.FUNCTION_STATUS_READY);
    await ledger.invoke(ORG1, (s) => s.computePlans.registerPlan({ key: PLAN, name: 'plan' }));
    return ledger;
}

/** Registers a function of ORG1 (see newFunction) and brings it to `status` with its owner's build actions. */
export async function registerFunction(
    ledger: TestLedger,
    key: string,
    status: orchestrator.FunctionStatus,
): Promise<void> {
    await ledger.invoke(ORG1, (s) => s.functions.registerFunction(newFunction(key)));
    const FA = orchestrator.FunctionAction;
    const actions: Partial<Record<orchestrator.FunctionStatus, orchestrator.FunctionAction[]>> = {
        [FS.FUNCTION_STATUS_WAITING]: [],
        [FS.FUNCTION_STATUS_BUILDING]: [FA.FUNCTION_ACTION_BUILDING],
        [FS.FUNCTION_STATUS_READY]: [FA.FUNCTION_ACTION_BUILDING, FA.FUNCTION_ACTION_READY],
        [FS.FUNCTION_STATUS_CANCELED]: [FA.FUNCTION_ACTION_CANCELED],
    };
    for (const action of actions[status] ?? []) {
        await ledger.invoke(ORG1, (s) => s.functions.applyFunctionAction({ function_key: key, action }));
    }
}

export async function registerTasks(ledger: TestLedger, ...tasks: orchestrator.INewComputeTask[]): Promise<void> {
    await ledger.invoke(ORG1, (s) => s.computeTasks.registerTasks({ tasks }));
}

export async function taskAction(
    ledger: TestLedger,
    taskKey: string,
    action: orchestrator.ComputeTaskAction,
    mspid = ORG2,
): Promise<void> {
    await ledger.invoke(mspid, (s) => s.computeTasks.applyTaskAction({ compute_task_key: taskKey, action }));
}

/** Registers a task of FN (worker ORG2) and moves it to EXECUTING. */
export async function executingTask(
    ledger: TestLedger,
    key: string,
    options: { worker?: string; parents?: readonly string[] } = {},
): Promise<void> {
    await registerTasks(ledger, newTask(key, options));
    await taskAction(ledger, key, A.TASK_ACTION_EXECUTING, options.worker ?? ORG2);
}

export async function getTask(ledger: TestLedger, key: string): Promise<orchestrator.ComputeTask> {
    return (await ledger.evaluate(ORG1, (s) => s.computeTasks.getTask(key))).result;
}

/**
 * Runs `fn` as a submitted transaction that must fail with a message matching `pattern`, and checks that the
 * committed state did not change and no transaction was recorded (behavior-assets §1.2 rule 1).
 */
export async function expectRejected(
    ledger: TestLedger,
    mspid: string,
    fn: (services: Services, ctx: TxContext) => Promise<unknown>,
    pattern: RegExp | string,
): Promise<void> {
    const before = ledger.world.keys().map((key) => [key, ledger.get(key)]);
    const committed = ledger.world.transactions.length;
    await expect(ledger.invoke(mspid, fn)).rejects.toThrow(pattern);
    expect(ledger.world.keys().map((key) => [key, ledger.get(key)])).toEqual(before);
    expect(ledger.world.transactions.length).toBe(committed);
}

/** `(asset_kind, event_kind, asset_key)` of each event, for order assertions. */
export function eventSummary(events: readonly orchestrator.IEvent[]): [string, string, string][] {
    return events.map((event) => [
        K[event.asset_kind ?? 0] ?? '?',
        E[event.event_kind ?? 0] ?? '?',
        event.asset_key ?? '',
    ]);
}

/** The JSON form of a message given through its interface type (event payloads are typed as interfaces). */
export function asJson<T>(
    cls: { create(properties?: T): { toJSON(): Record<string, unknown> } },
    value: T | null | undefined,
): Record<string, unknown> | undefined {
    return value == null ? undefined : cls.create(value).toJSON();
}
