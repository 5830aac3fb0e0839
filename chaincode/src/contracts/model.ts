import { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** ModelService RPCs (api.md §2.8). */
export const modelHandlers = defineHandlers('ModelService', {
    RegisterModel: (services, request: orchestrator.NewModel) => services.models.registerModel(request),
    RegisterModels: (services, request: orchestrator.RegisterModelsParam) => services.models.registerModels(request),
    GetModel: (services, request: orchestrator.GetModelParam) => services.models.getModel(request.key),
    GetComputeTaskOutputModels: (services, request: orchestrator.GetComputeTaskModelsParam) =>
        services.models.getComputeTaskOutputModels(request),
});
