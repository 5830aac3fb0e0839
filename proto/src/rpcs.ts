/** One RPC of the orchestrator API, with the Fabric contract function that serves it. */
export interface RpcInfo {
    /** Service name without package, e.g. `FunctionService`. */
    readonly service: string;
    /** Method name, e.g. `RegisterFunction`. */
    readonly method: string;
    /** gRPC method path, e.g. `/orchestrator.FunctionService/RegisterFunction`. */
    readonly path: string;
    /** Request message: a name in package `orchestrator` (e.g. `NewFunction`). */
    readonly requestType: string;
    /** Response message: a name in package `orchestrator`, or `google.protobuf.Empty`. */
    readonly responseType: string;
    readonly requestStream: boolean;
    readonly responseStream: boolean;
    /**
     * Never writes: served by a Fabric evaluate rather than a submit (Substra's read-only list).
     * `SubscribeToEvents` is also marked read-only: it is served from chaincode events, never submitted.
     */
    readonly readOnly: boolean;
    /** Contract name: `orchestrator.` + service name without `Service`, lower-cased. */
    readonly contract: string;
    /** Contract function name (= method). */
    readonly fn: string;
}

function row(
    service: string,
    method: string,
    requestType: string,
    responseType: string,
    readOnly: boolean,
    responseStream = false,
): RpcInfo {
    return Object.freeze({
        service,
        method,
        path: `/orchestrator.${service}/${method}`,
        requestType,
        responseType,
        requestStream: false,
        responseStream,
        readOnly,
        contract: `orchestrator.${service.replace(/Service$/, '').toLowerCase()}`,
        fn: method,
    });
}

/** All 40 RPCs, grouped by service in the order of the .proto files. */
export const RPCS: readonly RpcInfo[] = Object.freeze([
    row('OrganizationService', 'RegisterOrganization', 'RegisterOrganizationParam', 'Organization', false),
    row('OrganizationService', 'GetAllOrganizations', 'GetAllOrganizationsParam', 'GetAllOrganizationsResponse', true),
    row('DataSampleService', 'RegisterDataSamples', 'RegisterDataSamplesParam', 'RegisterDataSamplesResponse', false),
    row('DataSampleService', 'UpdateDataSamples', 'UpdateDataSamplesParam', 'UpdateDataSamplesResponse', false),
    row('DataSampleService', 'QueryDataSamples', 'QueryDataSamplesParam', 'QueryDataSamplesResponse', true),
    row('DataSampleService', 'GetDataSample', 'GetDataSampleParam', 'DataSample', true),
    row('DataManagerService', 'RegisterDataManager', 'NewDataManager', 'DataManager', false),
    row('DataManagerService', 'GetDataManager', 'GetDataManagerParam', 'DataManager', true),
    row('DataManagerService', 'QueryDataManagers', 'QueryDataManagersParam', 'QueryDataManagersResponse', true),
    row('DataManagerService', 'UpdateDataManager', 'UpdateDataManagerParam', 'UpdateDataManagerResponse', false),
    row('DatasetService', 'GetDataset', 'GetDatasetParam', 'Dataset', true),
    row('FunctionService', 'RegisterFunction', 'NewFunction', 'Function', false),
    row('FunctionService', 'GetFunction', 'GetFunctionParam', 'Function', true),
    row('FunctionService', 'QueryFunctions', 'QueryFunctionsParam', 'QueryFunctionsResponse', true),
    row('FunctionService', 'UpdateFunction', 'UpdateFunctionParam', 'UpdateFunctionResponse', false),
    row('FunctionService', 'ApplyFunctionAction', 'ApplyFunctionActionParam', 'ApplyFunctionActionResponse', false),
    row('ComputePlanService', 'RegisterPlan', 'NewComputePlan', 'ComputePlan', false),
    row('ComputePlanService', 'GetPlan', 'GetComputePlanParam', 'ComputePlan', true),
    row('ComputePlanService', 'ApplyPlanAction', 'ApplyPlanActionParam', 'ApplyPlanActionResponse', false),
    row('ComputePlanService', 'QueryPlans', 'QueryPlansParam', 'QueryPlansResponse', true),
    row('ComputePlanService', 'UpdatePlan', 'UpdateComputePlanParam', 'UpdateComputePlanResponse', false),
    row('ComputePlanService', 'IsPlanRunning', 'IsPlanRunningParam', 'IsPlanRunningResponse', true),
    row('ComputeTaskService', 'RegisterTasks', 'RegisterTasksParam', 'RegisterTasksResponse', false),
    row('ComputeTaskService', 'QueryTasks', 'QueryTasksParam', 'QueryTasksResponse', true),
    row('ComputeTaskService', 'GetTask', 'GetTaskParam', 'ComputeTask', true),
    row('ComputeTaskService', 'ApplyTaskAction', 'ApplyTaskActionParam', 'ApplyTaskActionResponse', false),
    row('ComputeTaskService', 'GetTaskInputAssets', 'GetTaskInputAssetsParam', 'GetTaskInputAssetsResponse', true),
    row('ComputeTaskService', 'DisableOutput', 'DisableOutputParam', 'DisableOutputResponse', false),
    row('ModelService', 'RegisterModel', 'NewModel', 'Model', false),
    row('ModelService', 'RegisterModels', 'RegisterModelsParam', 'RegisterModelsResponse', false),
    row('ModelService', 'GetModel', 'GetModelParam', 'Model', true),
    row(
        'ModelService',
        'GetComputeTaskOutputModels',
        'GetComputeTaskModelsParam',
        'GetComputeTaskModelsResponse',
        true,
    ),
    row('PerformanceService', 'RegisterPerformance', 'NewPerformance', 'Performance', false),
    row('PerformanceService', 'QueryPerformances', 'QueryPerformancesParam', 'QueryPerformancesResponse', true),
    row('FailureReportService', 'RegisterFailureReport', 'NewFailureReport', 'FailureReport', false),
    row('FailureReportService', 'GetFailureReport', 'GetFailureReportParam', 'FailureReport', true),
    row('ProfilingService', 'RegisterProfilingStep', 'ProfilingStep', 'google.protobuf.Empty', false),
    row('EventService', 'QueryEvents', 'QueryEventsParam', 'QueryEventsResponse', true),
    row('EventService', 'SubscribeToEvents', 'SubscribeToEventsParam', 'Event', true, true),
    row('InfoService', 'QueryVersion', 'QueryVersionParam', 'QueryVersionResponse', true),
]);

/** RPCs by gRPC method path. */
export const RPCS_BY_PATH: ReadonlyMap<string, RpcInfo> = new Map(RPCS.map((rpc) => [rpc.path, rpc]));

/** The RPC served at a gRPC method path, if any. */
export function rpcByPath(path: string): RpcInfo | undefined {
    return RPCS_BY_PATH.get(path);
}

const byContractFn: ReadonlyMap<string, RpcInfo> = new Map(RPCS.map((rpc) => [`${rpc.contract}:${rpc.fn}`, rpc]));

/** The RPC served by a contract function (e.g. `orchestrator.function`, `RegisterFunction`), if any. */
export function rpcByContractFn(contract: string, fn: string): RpcInfo | undefined {
    return byContractFn.get(`${contract}:${fn}`);
}

/** Contract names, one per service, in RPCS order. */
export const CONTRACTS: readonly string[] = Object.freeze([...new Set(RPCS.map((rpc) => rpc.contract))]);
