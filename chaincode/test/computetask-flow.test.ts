import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import { newTestLedger } from './support/ledger';
import { ORG1, ORG2, key } from './support/fixtures';

const ADDR = { checksum: 'b'.repeat(64), storage_address: 'https://org1.example/file' };

/** Everything registered through the RPCs of every service, as a backend would. */
describe('task life cycle through the RPCs of all services (§2, §3.7, §4)', () => {
    it('§3.7, §4.2, §4.3: build, run, register models, release a child and disable a transient output', async () => {
        const ledger = newTestLedger();
        await ledger.rpc(ORG1, 'RegisterOrganization', { address: 'https://org1.example' });
        await ledger.rpc(ORG2, 'RegisterOrganization', { address: 'https://org2.example' });
        const fn = key(0xf, 1);
        await ledger.rpc(ORG1, 'RegisterFunction', {
            key: fn,
            name: 'train',
            description: ADDR,
            archive: ADDR,
            new_permissions: { public: true },
            inputs: {
                opener: { kind: 'ASSET_DATA_MANAGER' },
                datasamples: { kind: 'ASSET_DATA_SAMPLE', multiple: true },
                model: { kind: 'ASSET_MODEL', optional: true },
            },
            outputs: { model: { kind: 'ASSET_MODEL' } },
        });
        const dm = key(0xd, 1);
        await ledger.rpc(ORG1, 'RegisterDataManager', {
            key: dm,
            name: 'dm',
            description: ADDR,
            opener: ADDR,
            new_permissions: { public: false, authorized_ids: [] },
            logs_permission: { public: false, authorized_ids: [ORG2] },
        });
        const ds = key(0xe, 1);
        await ledger.rpc(ORG1, 'RegisterDataSamples', {
            samples: [{ key: ds, data_manager_keys: [dm], checksum: 'c'.repeat(64) }],
        });
        const plan = key(0xa, 1);
        await ledger.rpc(ORG1, 'RegisterPlan', { key: plan, name: 'plan' });

        const parent = key(1);
        const child = key(2);
        const inputs = [
            { identifier: 'opener', asset_key: dm },
            { identifier: 'datasamples', asset_key: ds },
        ];
        const reg = await ledger.rpc<orchestrator.RegisterTasksResponse>(ORG1, 'RegisterTasks', {
            tasks: [
                {
                    key: child,
                    function_key: fn,
                    compute_plan_key: plan,
                    inputs: [
                        ...inputs,
                        {
                            identifier: 'model',
                            parent_task_output: { parent_task_key: parent, output_identifier: 'model' },
                        },
                    ],
                    outputs: { model: { permissions: { public: false } } },
                },
                {
                    key: parent,
                    function_key: fn,
                    compute_plan_key: plan,
                    inputs,
                    outputs: { model: { permissions: { public: false }, transient: true } },
                },
            ],
        });
        expect(reg.tasks.map((t) => [t.key, t.status])).toEqual([
            [parent, orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_BUILDER_SLOT],
            [child, orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_BUILDER_SLOT],
        ]);
        expect(reg.tasks[0]!.logs_permission?.authorized_ids).toEqual([ORG2, ORG1]);

        await ledger.rpc(ORG1, 'ApplyFunctionAction', { function_key: fn, action: 'FUNCTION_ACTION_BUILDING' });
        await ledger.rpc(ORG1, 'ApplyFunctionAction', { function_key: fn, action: 'FUNCTION_ACTION_READY' });
        const status = async (k: string): Promise<orchestrator.ComputeTaskStatus> =>
            (await ledger.rpc<orchestrator.ComputeTask>(ORG1, 'GetTask', { key: k })).status;
        expect(await status(parent)).toBe(orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_EXECUTOR_SLOT);
        expect(await status(child)).toBe(orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_PARENT_TASKS);

        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: parent, action: 'TASK_ACTION_EXECUTING' });
        await ledger.rpc(ORG1, 'RegisterModels', {
            models: [
                { key: key(0xb, 1), compute_task_key: parent, compute_task_output_identifier: 'model', address: ADDR },
            ],
        });
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: parent, action: 'TASK_ACTION_DONE' });
        expect(await status(child)).toBe(orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_EXECUTOR_SLOT);

        const assets = await ledger.rpc<orchestrator.GetTaskInputAssetsResponse>(ORG2, 'GetTaskInputAssets', {
            compute_task_key: child,
        });
        expect(
            assets.assets.map((a) => [
                a.identifier,
                a.model ? 'model' : a.data_manager ? 'data_manager' : a.data_sample ? 'data_sample' : 'none',
            ]),
        ).toEqual([
            ['opener', 'data_manager'],
            ['datasamples', 'data_sample'],
            ['model', 'model'],
        ]);

        await expect(
            ledger.rpc(ORG1, 'DisableOutput', { compute_task_key: parent, identifier: 'model' }),
        ).rejects.toThrow('OE0108: cannot disable asset: child not in final state');
        await ledger.rpc(ORG1, 'ApplyTaskAction', { compute_task_key: child, action: 'TASK_ACTION_CANCELED' });
        await ledger.rpc(ORG1, 'DisableOutput', { compute_task_key: parent, identifier: 'model' });
        const model = await ledger.rpc<orchestrator.Model>(ORG1, 'GetModel', { key: key(0xb, 1) });
        expect(model.address).toBeFalsy();
        expect(
            (await ledger.rpc<orchestrator.IsPlanRunningResponse>(ORG1, 'IsPlanRunning', { key: plan })).is_running,
        ).toBe(false);
    });
});
