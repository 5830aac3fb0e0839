import {
    FS,
    ORG1,
    PLAN,
    PLAN2,
    key,
    output,
    plainTask,
    plainFunction,
    registerFunction,
    buildTaskWorld,
    FA,
    ORG2,
} from '../support/fixtures';
import type { DeterminismFlow } from '../support/determinism';

/** Function build status driving tasks across plans (§3.7): BUILDING, READY with and without DONE parents, FAILED. */
export const flow: DeterminismFlow = {
    name: 'compute tasks driven by their function',
    async run(ledger) {
        await buildTaskWorld(ledger);
        const building = key(0xf0, 1);
        const failing = key(0xf0, 2);
        for (const fn of [building, failing]) {
            await registerFunction(ledger, plainFunction(fn, 'waiting'), FS.FUNCTION_STATUS_WAITING);
        }
        const t = (n: number) => key(0xb1, n);
        await ledger.rpc(ORG1, 'RegisterTasks', {
            tasks: [
                plainTask(t(3), [], { function_key: building }),
                plainTask(t(1), [], { function_key: building }),
                plainTask(t(2), [t(1)], { function_key: building }),
                plainTask(t(4), [], { function_key: failing }),
                plainTask(t(5), [], { function_key: failing, outputs: { model: output({ public: true }) } }),
            ],
        });
        await ledger.rpc(ORG2, 'RegisterTasks', {
            tasks: [plainTask(t(6), [], { function_key: failing, compute_plan_key: PLAN2, worker: ORG2 })],
        });
        for (const fn of [building, failing]) {
            await ledger.rpc(ORG1, 'ApplyFunctionAction', { function_key: fn, action: FA.FUNCTION_ACTION_BUILDING });
        }
        await ledger.rpc(ORG1, 'ApplyFunctionAction', { function_key: building, action: FA.FUNCTION_ACTION_READY });
        // Two tasks of PLAN and one of PLAN2 fail in one transaction: each plan gets one failure date.
        await ledger.rpc(ORG1, 'ApplyFunctionAction', { function_key: failing, action: FA.FUNCTION_ACTION_FAILED });
        await ledger.rpc(ORG1, 'IsPlanRunning', { key: PLAN });
    },
};
