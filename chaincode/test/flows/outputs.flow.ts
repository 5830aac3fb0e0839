import type { DeterminismFlow } from '../support/determinism';
import { A, ORG1, ORG2, address, key, newTask, buildOutputsWorld } from '../support/fixtures';

const PARENT = key(1, 1);
const CHILD = key(1, 2);
const OTHER = key(1, 3);

/**
 * Models and performances: a batch of models on single and multiple outputs, a performance, a refused batch,
 * the parent's DONE releasing its child, DisableOutput of a transient output, and the reads.
 */
export const flow: DeterminismFlow = {
    name: 'models and performances',
    async run(ledger) {
        await buildOutputsWorld(ledger);
        await ledger.rpc(ORG1, 'RegisterTasks', {
            tasks: [newTask(PARENT), newTask(CHILD, { parents: [PARENT] }), newTask(OTHER)],
        });
        await ledger.rpc(ORG2, 'ApplyTaskAction', { compute_task_key: PARENT, action: A.TASK_ACTION_EXECUTING });
        await ledger.rpc(ORG2, 'RegisterModels', {
            models: [
                {
                    key: key(0xb, 3),
                    compute_task_key: PARENT,
                    compute_task_output_identifier: 'models',
                    address: address(3),
                },
                {
                    key: key(0xb, 1),
                    compute_task_key: PARENT,
                    compute_task_output_identifier: 'model',
                    address: address(1),
                },
                {
                    key: key(0xb, 2),
                    compute_task_key: PARENT,
                    compute_task_output_identifier: 'models',
                    address: address(2),
                },
            ],
        });
        await ledger.rpc(ORG2, 'RegisterPerformance', {
            compute_task_key: PARENT,
            compute_task_output_identifier: 'perf',
            performance_value: 0.1,
        });
        // Refused: unique output already registered; duplicate performance.
        await ledger
            .rpc(ORG2, 'RegisterModel', {
                key: key(0xb, 4),
                compute_task_key: PARENT,
                compute_task_output_identifier: 'model',
                address: address(4),
            })
            .catch(() => undefined);
        await ledger
            .rpc(ORG2, 'RegisterPerformance', { compute_task_key: PARENT, compute_task_output_identifier: 'perf' })
            .catch(() => undefined);
        await ledger.rpc(ORG2, 'ApplyTaskAction', { compute_task_key: PARENT, action: A.TASK_ACTION_DONE });
        await ledger.rpc(ORG2, 'ApplyTaskAction', { compute_task_key: CHILD, action: A.TASK_ACTION_EXECUTING });
        await ledger.rpc(ORG2, 'RegisterPerformance', {
            compute_task_key: CHILD,
            compute_task_output_identifier: 'model',
            performance_value: 2.5,
        });
        await ledger.rpc(ORG2, 'ApplyTaskAction', { compute_task_key: CHILD, action: A.TASK_ACTION_DONE });
        await ledger.rpc(ORG2, 'DisableOutput', { compute_task_key: PARENT, identifier: 'models' });
        await ledger.rpc(ORG1, 'GetComputeTaskOutputModels', { compute_task_key: PARENT });
        await ledger.rpc(ORG1, 'QueryPerformances', { page_size: 1 });
        await ledger.rpc(ORG1, 'QueryPerformances', { filter: { compute_task_output_identifier: 'perf' } });
        await ledger.rpc(ORG1, 'GetTaskInputAssets', { compute_task_key: CHILD }).catch(() => undefined);
    },
};
