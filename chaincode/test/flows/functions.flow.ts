import { orchestrator } from '@substra-fabric/api';
import type { DeterminismFlow } from '../support/determinism';

const K = orchestrator.AssetKind;
const FA = orchestrator.FunctionAction;
const ORG1 = 'MyOrg1MSP';
const ORG2 = 'MyOrg2MSP';
const PLAN = '0000000a-0000-4000-8000-000000000001';
const FN_READY = '0000000f-0000-4000-8000-000000000001';
const FN_FAILED = '0000000f-0000-4000-8000-000000000002';
const FN_CANCELED = '0000000f-0000-4000-8000-000000000003';
const CHECKSUM = 'a'.repeat(64);

function newFunction(key: string): orchestrator.INewFunction {
    return {
        key,
        name: `function ${key.slice(-1)}`,
        description: { checksum: CHECKSUM, storage_address: 'https://org1.example/description' },
        archive: { checksum: CHECKSUM, storage_address: 'https://org1.example/archive' },
        // Ids given out of order and repeated: kept as given, the owner appended.
        new_permissions: { public: false, authorized_ids: [ORG2, ORG2] },
        // Map entries in non-sorted insertion order: the encoding must not depend on it.
        metadata: { zeta: '1', alpha: '2', mid: '3' },
        inputs: {
            zz: { kind: K.ASSET_MODEL, multiple: true, optional: true },
            aa: { kind: K.ASSET_MODEL, optional: true },
        },
        outputs: { model: { kind: K.ASSET_MODEL }, perf: { kind: K.ASSET_PERFORMANCE } },
    };
}

function task(key: string, functionKey: string): orchestrator.INewComputeTask {
    return {
        key,
        function_key: functionKey,
        compute_plan_key: PLAN,
        worker: ORG2,
        outputs: {
            model: { permissions: { public: false, authorized_ids: [ORG2] } },
            perf: { permissions: { public: true, authorized_ids: [] } },
        },
    };
}

/**
 * Functions with their build actions: registration, tasks waiting for the builder, BUILDING propagated to
 * several tasks, UpdateFunction (image), READY, CANCELED, FAILED through ApplyFunctionAction, refused calls
 * and the queries.
 */
export const flow: DeterminismFlow = {
    name: 'functions',
    async run(ledger) {
        await ledger.rpc(ORG1, 'RegisterOrganization', { address: '' });
        await ledger.rpc(ORG2, 'RegisterOrganization', { address: '' });
        await ledger.rpc(ORG1, 'RegisterPlan', { key: PLAN, name: 'plan' });
        for (const key of [FN_READY, FN_FAILED, FN_CANCELED]) {
            await ledger.rpc(ORG1, 'RegisterFunction', newFunction(key));
        }
        await ledger.rpc(ORG1, 'RegisterFunction', newFunction(FN_READY)).catch(() => undefined);
        // Tasks registered in reverse key order, in one batch, for each function.
        for (const [n, functionKey] of [FN_READY, FN_FAILED, FN_CANCELED].entries()) {
            await ledger.rpc(ORG1, 'RegisterTasks', {
                tasks: [3, 2, 1].map((i) => task(`0000000${n + 1}-0000-4000-8000-00000000000${i}`, functionKey)),
            });
        }
        for (const functionKey of [FN_READY, FN_FAILED, FN_CANCELED]) {
            await ledger.rpc(ORG1, 'ApplyFunctionAction', {
                function_key: functionKey,
                action: FA.FUNCTION_ACTION_BUILDING,
            });
        }
        await ledger.rpc(ORG1, 'UpdateFunction', {
            key: FN_READY,
            name: 'renamed',
            image: { checksum: CHECKSUM, storage_address: 'https://org1.example/image' },
        });
        await ledger.rpc(ORG1, 'ApplyFunctionAction', { function_key: FN_READY, action: FA.FUNCTION_ACTION_READY });
        await ledger.rpc(ORG1, 'ApplyFunctionAction', { function_key: FN_FAILED, action: FA.FUNCTION_ACTION_FAILED });
        await ledger.rpc(ORG1, 'ApplyFunctionAction', {
            function_key: FN_CANCELED,
            action: FA.FUNCTION_ACTION_CANCELED,
        });
        // Refused: final state, not the owner.
        await ledger
            .rpc(ORG1, 'ApplyFunctionAction', { function_key: FN_READY, action: FA.FUNCTION_ACTION_CANCELED })
            .catch(() => undefined);
        await ledger.rpc(ORG2, 'UpdateFunction', { key: FN_READY, name: 'x' }).catch(() => undefined);
        await ledger.rpc(ORG2, 'QueryFunctions', { page_size: 2 });
        await ledger.rpc(ORG2, 'QueryFunctions', { filter: { compute_plan_key: PLAN } });
    },
};
