import { orchestrator } from '@substra-fabric/api';
import { ORG1, ORG2, key } from '../support/fixtures';
import type { DeterminismFlow } from '../support/determinism';

const ignore = (): undefined => undefined;

/** Compute plans: registration, renames, cancellation, refusals and the read-only RPCs, end to end. */
export const flow: DeterminismFlow = {
    name: 'compute plans',
    async run(ledger) {
        const p1 = key(0xa0, 1);
        const p2 = key(0xa0, 2);
        await ledger.rpc(ORG1, 'RegisterPlan', { key: p1, name: 'first', tag: 't', metadata: { b: '2', a: '1' } });
        await ledger.rpc(ORG2, 'RegisterPlan', { key: p2, name: 'second' });
        await ledger.rpc(ORG2, 'RegisterPlan', { key: p1, name: 'dup' }).catch(ignore);
        await ledger.rpc(ORG1, 'UpdatePlan', { key: p1, name: 'renamed' });
        await ledger.rpc(ORG2, 'UpdatePlan', { key: p1, name: 'not mine' }).catch(ignore);
        await ledger.rpc(ORG1, 'ApplyPlanAction', {
            key: p1,
            action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
        });
        await ledger
            .rpc(ORG1, 'ApplyPlanAction', { key: p1, action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED })
            .catch(ignore);
        await ledger.rpc(ORG1, 'UpdatePlan', { key: p1, name: 'renamed after cancel' });
        await ledger.rpc(ORG1, 'QueryPlans', { page_size: 1 });
        await ledger.rpc(ORG1, 'IsPlanRunning', { key: p2 });
    },
};
