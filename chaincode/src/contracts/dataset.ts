import type { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** DatasetService RPCs (api.md §2.4). */
export const datasetHandlers = defineHandlers('DatasetService', {
    GetDataset: (services, request: orchestrator.GetDatasetParam) => services.datasets.getDataset(request.key),
});
