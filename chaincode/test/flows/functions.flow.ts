import type { orchestrator } from '@substra-fabric/api';
import type { DeterminismFlow } from '../support/determinism';
import { FA, K, ORG1, ORG2, PLAN, key } from '../support/fixtures';

const FN_READY = key(0xf, 1);
const FN_FAILED = key(0xf, 2);
const FN_CANCELED = key(0xf, 3);
const CHECKSUM = 'a'.repeat(64);

function newFunction(fnKey: string): orchestrator.INewFunction {
    return {
        key: fnKey,
        name: `function ${fnKey.slice(-1)}`,
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

function task(taskKey: string, functionKey: string): orchestrator.INewComputeTask {
    return {
        key: taskKey,
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
        for (const fnKey of [FN_READY, FN_FAILED, FN_CANCELED]) {
            await ledger.rpc(ORG1, 'RegisterFunction', newFunction(fnKey));
        }
        await ledger.rpc(ORG1, 'RegisterFunction', newFunction(FN_READY)).catch(() => undefined);
        // Tasks registered in reverse key order, in one batch, for each function.
        for (const [n, functionKey] of [FN_READY, FN_FAILED, FN_CANCELED].entries()) {
            await ledger.rpc(ORG1, 'RegisterTasks', {
                tasks: [3, 2, 1].map((i) => task(key(n + 1, i), functionKey)),
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
