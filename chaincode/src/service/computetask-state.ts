import { orchestrator } from '@substra-fabric/api';
import { TransitionError } from './errors';

/**
 * Task status machine (behavior-tasks §3.2). The transition names are part of the wire contract: a refused
 * transition is reported as `event <name> inappropriate in current state <STATUS_NAME>` and backends match
 * that text.
 */
export type TaskTransition =
    | 'transitionBuilding'
    | 'transitionWaitingParentTasks'
    | 'transitionWaitingExecutorSlot'
    | 'transitionExecuting'
    | 'transitionDone'
    | 'transitionCanceled'
    | 'transitionFailed';

const S = orchestrator.ComputeTaskStatus;

/** The five statuses in which a task is still alive (it can be cancelled or failed). */
export const ACTIVE_STATUSES: readonly orchestrator.ComputeTaskStatus[] = [
    S.STATUS_WAITING_FOR_BUILDER_SLOT,
    S.STATUS_BUILDING,
    S.STATUS_WAITING_FOR_PARENT_TASKS,
    S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
    S.STATUS_EXECUTING,
];

interface TransitionRule {
    readonly from: readonly orchestrator.ComputeTaskStatus[];
    readonly to: orchestrator.ComputeTaskStatus;
}

const TRANSITIONS: Readonly<Record<TaskTransition, TransitionRule>> = {
    transitionBuilding: { from: [S.STATUS_WAITING_FOR_BUILDER_SLOT], to: S.STATUS_BUILDING },
    transitionWaitingParentTasks: { from: [S.STATUS_BUILDING], to: S.STATUS_WAITING_FOR_PARENT_TASKS },
    transitionWaitingExecutorSlot: {
        from: [S.STATUS_BUILDING, S.STATUS_WAITING_FOR_PARENT_TASKS],
        to: S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
    },
    transitionExecuting: { from: [S.STATUS_WAITING_FOR_EXECUTOR_SLOT], to: S.STATUS_EXECUTING },
    transitionDone: { from: [S.STATUS_EXECUTING], to: S.STATUS_DONE },
    transitionCanceled: { from: ACTIVE_STATUSES, to: S.STATUS_CANCELED },
    transitionFailed: { from: ACTIVE_STATUSES, to: S.STATUS_FAILED },
};

/** Enum value name as the reference prints it; unknown numbers print as digits. */
export function taskStatusName(status: number): string {
    const name = (orchestrator.ComputeTaskStatus as unknown as Record<number, string | undefined>)[status];
    return name ?? String(status);
}

export function assetKindName(kind: number): string {
    const name = (orchestrator.AssetKind as unknown as Record<number, string | undefined>)[kind];
    return name ?? String(kind);
}

/** Destination of `transition` from `current`, or a TransitionError when the table does not allow it. */
export function nextStatus(
    current: orchestrator.ComputeTaskStatus,
    transition: TaskTransition,
): orchestrator.ComputeTaskStatus {
    const rule = TRANSITIONS[transition];
    if (!rule.from.includes(current)) {
        throw new TransitionError(transition, taskStatusName(current));
    }
    return rule.to;
}

/** DONE, CANCELED, FAILED and UNKNOWN (anything without an outgoing transition) are final. */
export function isFinalStatus(status: orchestrator.ComputeTaskStatus): boolean {
    return !ACTIVE_STATUSES.includes(status);
}

/** Action of ApplyTaskAction → transition and who may request it (§3.3); BUILD_* and unknown actions: nobody. */
export function actionRule(
    action: orchestrator.ComputeTaskAction,
): { transition: TaskTransition; ownerAllowed: boolean } | undefined {
    const A = orchestrator.ComputeTaskAction;
    switch (action) {
        case A.TASK_ACTION_EXECUTING:
            return { transition: 'transitionExecuting', ownerAllowed: false };
        case A.TASK_ACTION_DONE:
            return { transition: 'transitionDone', ownerAllowed: false };
        case A.TASK_ACTION_CANCELED:
            return { transition: 'transitionCanceled', ownerAllowed: true };
        case A.TASK_ACTION_FAILED:
            return { transition: 'transitionFailed', ownerAllowed: true };
        default:
            return undefined;
    }
}
