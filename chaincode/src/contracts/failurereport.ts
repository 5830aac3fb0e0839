import { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** FailureReportService RPCs (api.md §2.10). */
export const failureReportHandlers = defineHandlers('FailureReportService', {
    RegisterFailureReport: (services, request: orchestrator.NewFailureReport) =>
        services.failureReports.registerFailureReport(request),
    GetFailureReport: (services, request: orchestrator.GetFailureReportParam) =>
        services.failureReports.getFailureReport(request.asset_key),
});
