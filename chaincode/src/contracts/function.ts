import { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** FunctionService RPCs (api.md §2.5). */
export const functionHandlers = defineHandlers('FunctionService', {
    RegisterFunction: (services, request: orchestrator.NewFunction) => services.functions.registerFunction(request),
    GetFunction: (services, request: orchestrator.GetFunctionParam) => services.functions.getFunction(request.key),
    QueryFunctions: (services, request: orchestrator.QueryFunctionsParam) => services.functions.queryFunctions(request),
    UpdateFunction: async (services, request: orchestrator.UpdateFunctionParam) => {
        await services.functions.updateFunction(request);
        return orchestrator.UpdateFunctionResponse.create();
    },
    ApplyFunctionAction: async (services, request: orchestrator.ApplyFunctionActionParam) => {
        await services.functions.applyFunctionAction(request);
        return orchestrator.ApplyFunctionActionResponse.create();
    },
});
