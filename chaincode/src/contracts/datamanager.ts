import { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** DataManagerService RPCs (api.md §2.3). */
export const dataManagerHandlers = defineHandlers('DataManagerService', {
    RegisterDataManager: (services, request: orchestrator.NewDataManager) =>
        services.dataManagers.registerDataManager(request),
    GetDataManager: (services, request: orchestrator.GetDataManagerParam) =>
        services.dataManagers.getDataManager(request.key),
    QueryDataManagers: (services, request: orchestrator.QueryDataManagersParam) =>
        services.dataManagers.queryDataManagers(request),
    UpdateDataManager: async (services, request: orchestrator.UpdateDataManagerParam) => {
        await services.dataManagers.updateDataManager(request);
        return orchestrator.UpdateDataManagerResponse.create();
    },
});
