import { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** PerformanceService RPCs (api.md §2.9). */
export const performanceHandlers = defineHandlers('PerformanceService', {
    RegisterPerformance: (services, request: orchestrator.NewPerformance) =>
        services.performances.registerPerformance(request),
    QueryPerformances: (services, request: orchestrator.QueryPerformancesParam) =>
        services.performances.queryPerformances(request),
});
