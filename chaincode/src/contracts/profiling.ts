import { google, type orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** ProfilingService RPCs (api.md §2.11). */
export const profilingHandlers = defineHandlers('ProfilingService', {
    RegisterProfilingStep: async (services, request: orchestrator.ProfilingStep) => {
        await services.profiling.registerProfilingStep(request);
        return google.protobuf.Empty.create();
    },
});
