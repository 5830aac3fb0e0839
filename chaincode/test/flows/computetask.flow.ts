import { orchestrator } from '@substra-fabric/api';
import {
    address,
    DM1,
    DS1,
    DS2,
    FN_PLAIN,
    ORG1,
    ORG2,
    PLAN,
    assetInput,
    key,
    output,
    parentInput,
    plainTask,
    buildTaskWorld,
    trainTask,
    A,
} from '../support/fixtures';
import type { DeterminismFlow } from '../support/determinism';

const ignore = (): undefined => undefined;

/**
 * Compute tasks end to end: a batch registered out of topological order, the status machine with its DONE
 * cascade (several children released in one transaction) and plan failure, refused transitions, output models,
 * DisableOutput (accepted, then refused), and read-only RPCs.
 */
export const flow: DeterminismFlow = {
    name: 'compute tasks',
    async run(ledger) {
        await buildTaskWorld(ledger);
        const root = key(0xb0, 1);
        const childA = key(0xb0, 3);
        const childB = key(0xb0, 2);
        const agg = key(0xb0, 4);
        const train = key(0xb0, 5);
        const tasks: orchestrator.INewComputeTask[] = [
            plainTask(agg, [childA, childB], { metadata: { z: '1', a: '2' } }),
            plainTask(childA, [root]),
            plainTask(childB, [root]),
            plainTask(root, [], { outputs: { model: output({ transient: true, ids: [ORG2] }) } }),
            trainTask(train, {
                inputs: [assetInput('opener', DM1), assetInput('datasamples', DS2), assetInput('datasamples', DS1)],
            }),
        ];
        await ledger.rpc(ORG1, 'RegisterTasks', { tasks });
        // Refused: existing key, unknown parent.
        await ledger.rpc(ORG1, 'RegisterTasks', { tasks: [plainTask(root)] }).catch(ignore);
        await ledger.rpc(ORG1, 'RegisterTasks', { tasks: [plainTask(key(0xb0, 9), [key(0xb0, 99)])] }).catch(ignore);

        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: root, action: A.TASK_ACTION_EXECUTING });
        await ledger.rpc(ORG1, 'RegisterModels', {
            models: [
                {
                    key: key(0xc0, 1),
                    compute_task_key: root,
                    compute_task_output_identifier: 'model',
                    address: address(),
                },
            ],
        });
        // DONE releases both children (ascending key) in the same transaction.
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: root, action: A.TASK_ACTION_DONE, log: 'ok' });
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: root, action: A.TASK_ACTION_DONE }).catch(ignore);
        await ledger.rpc(ORG1, 'GetTaskInputAssets', { compute_task_key: childA });
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: childA, action: A.TASK_ACTION_EXECUTING });
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: childA, action: A.TASK_ACTION_DONE });
        // DisableOutput refused while a child is still active, then accepted, then refused again.
        await ledger.rpc(ORG1, 'DisableOutput', { compute_task_key: root, identifier: 'model' }).catch(ignore);
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: childB, action: A.TASK_ACTION_CANCELED });
        await ledger.rpc(ORG1, 'DisableOutput', { compute_task_key: root, identifier: 'model' });
        await ledger.rpc(ORG1, 'DisableOutput', { compute_task_key: root, identifier: 'model' }).catch(ignore);
        // A child registered after a parent was cancelled starts CANCELED.
        await ledger.rpc(ORG1, 'RegisterTasks', {
            tasks: [
                {
                    key: key(0xb0, 6),
                    function_key: FN_PLAIN,
                    compute_plan_key: PLAN,
                    worker: ORG1,
                    inputs: [parentInput('models', childB, 'model')],
                    outputs: { model: output() },
                },
            ],
        });
        // FAILED fails the plan (no plan event); later failures leave it alone.
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: train, action: A.TASK_ACTION_FAILED });
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: agg, action: A.TASK_ACTION_FAILED, log: 'x' });
        await ledger.rpc(ORG1, 'QueryTasks', { filter: { compute_plan_key: PLAN }, page_size: 2 });
        await ledger.rpc(ORG1, 'IsPlanRunning', { key: PLAN });
    },
};
