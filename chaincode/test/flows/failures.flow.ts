import type { DeterminismFlow } from '../support/determinism';
import {
    A,
    FN,
    FS,
    ORG1,
    ORG2,
    ORG3,
    key,
    newTask,
    outputsFunction,
    registerFunction,
    ET,
    FAK,
    buildOutputsWorld,
} from '../support/fixtures';

const BUILDING_FN = key(0xf, 9);
const logs = { checksum: 'd'.repeat(64), storage_address: 'https://backend-org-2.example/logs' };

/**
 * Failure reports and profiling: a task failure (task FAILED, plan failed), a function build failure failing
 * its BUILDING tasks, refused reports, and profiling steps (events only).
 */
export const flow: DeterminismFlow = {
    name: 'failure reports and profiling',
    async run(ledger) {
        await buildOutputsWorld(ledger);
        await registerFunction(ledger, outputsFunction(BUILDING_FN), FS.FUNCTION_STATUS_BUILDING);
        await ledger.rpc(ORG1, 'RegisterTasks', {
            tasks: [
                newTask(key(2, 1)),
                newTask(key(2, 4), { functionKey: BUILDING_FN }),
                newTask(key(2, 3), { functionKey: BUILDING_FN }),
                newTask(key(2, 2), { functionKey: BUILDING_FN, worker: ORG3 }),
            ],
        });
        await ledger.rpc(ORG2, 'ApplyTaskAction', { compute_task_key: key(2, 1), action: A.TASK_ACTION_EXECUTING });
        // Refused: not the worker; missing logs address.
        await ledger
            .rpc(ORG3, 'RegisterFailureReport', {
                asset_key: key(2, 1),
                asset_type: FAK.FAILED_ASSET_COMPUTE_TASK,
                error_type: ET.ERROR_TYPE_EXECUTION,
                logs_address: logs,
            })
            .catch(() => undefined);
        await ledger
            .rpc(ORG2, 'RegisterFailureReport', {
                asset_key: key(2, 1),
                asset_type: FAK.FAILED_ASSET_COMPUTE_TASK,
                error_type: ET.ERROR_TYPE_EXECUTION,
            })
            .catch(() => undefined);
        await ledger.rpc(ORG2, 'RegisterFailureReport', {
            asset_key: key(2, 1),
            asset_type: FAK.FAILED_ASSET_COMPUTE_TASK,
            error_type: ET.ERROR_TYPE_EXECUTION,
            logs_address: logs,
        });
        await ledger.rpc(ORG1, 'RegisterFailureReport', {
            asset_key: BUILDING_FN,
            asset_type: FAK.FAILED_ASSET_FUNCTION,
            error_type: ET.ERROR_TYPE_BUILD,
            logs_address: logs,
        });
        await ledger
            .rpc(ORG1, 'RegisterFailureReport', {
                asset_key: FN,
                asset_type: FAK.FAILED_ASSET_FUNCTION,
                error_type: ET.ERROR_TYPE_INTERNAL,
            })
            .catch(() => undefined);
        await ledger.rpc(ORG3, 'GetFailureReport', { asset_key: BUILDING_FN });
        await ledger.rpc(ORG3, 'RegisterProfilingStep', { asset_key: FN, step: 'build image', duration: 1500 });
        await ledger.rpc(ORG2, 'RegisterProfilingStep', { asset_key: key(2, 1), step: 'save', duration: 7 });
        await ledger
            .rpc(ORG2, 'RegisterProfilingStep', { asset_key: key(2, 1), step: '', duration: 7 })
            .catch(() => undefined);
        await ledger.rpc(ORG1, 'QueryVersion', {});
    },
};
