import { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** DataSampleService RPCs (api.md §2.2). */
export const dataSampleHandlers = defineHandlers('DataSampleService', {
    RegisterDataSamples: async (services, request: orchestrator.RegisterDataSamplesParam) =>
        orchestrator.RegisterDataSamplesResponse.create({
            data_samples: await services.dataSamples.registerDataSamples(request),
        }),
    UpdateDataSamples: async (services, request: orchestrator.UpdateDataSamplesParam) => {
        await services.dataSamples.updateDataSamples(request);
        return orchestrator.UpdateDataSamplesResponse.create();
    },
    QueryDataSamples: (services, request: orchestrator.QueryDataSamplesParam) =>
        services.dataSamples.queryDataSamples(request),
    GetDataSample: (services, request: orchestrator.GetDataSampleParam) =>
        services.dataSamples.getDataSample(request.key),
});
