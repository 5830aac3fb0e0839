import type { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** ComputePlanService RPCs (api.md §2.6): contract `orchestrator.computeplan`. */
export const computePlanHandlers = defineHandlers('ComputePlanService', {
    RegisterPlan: (services, request: orchestrator.NewComputePlan) => services.computePlans.registerPlan(request),
    GetPlan: (services, request: orchestrator.GetComputePlanParam) => services.computePlans.getPlan(request.key),
    ApplyPlanAction: (services, request: orchestrator.ApplyPlanActionParam) =>
        services.computePlans.applyPlanAction(request),
    QueryPlans: (services, request: orchestrator.QueryPlansParam) => services.computePlans.queryPlans(request),
    UpdatePlan: (services, request: orchestrator.UpdateComputePlanParam) => services.computePlans.updatePlan(request),
    IsPlanRunning: async (services, request: orchestrator.IsPlanRunningParam) => ({
        is_running: await services.computePlans.isPlanRunning(request.key),
    }),
});
