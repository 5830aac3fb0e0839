import type { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

/** ComputeTaskService RPCs (api.md §2.7): contract `orchestrator.computetask`. */
export const computeTaskHandlers = defineHandlers('ComputeTaskService', {
    RegisterTasks: (services, request: orchestrator.RegisterTasksParam) => services.computeTasks.registerTasks(request),
    QueryTasks: (services, request: orchestrator.QueryTasksParam) => services.computeTasks.queryTasks(request),
    GetTask: (services, request: orchestrator.GetTaskParam) => services.computeTasks.getTask(request.key),
    ApplyTaskAction: (services, request: orchestrator.ApplyTaskActionParam) =>
        services.computeTasks.applyTaskAction(request),
    GetTaskInputAssets: (services, request: orchestrator.GetTaskInputAssetsParam) =>
        services.computeTasks.getTaskInputAssets(request),
    DisableOutput: (services, request: orchestrator.DisableOutputParam) => services.computeTasks.disableOutput(request),
});
