import type { google, orchestrator } from './generated';

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

type Orchestrator = typeof orchestrator;

/** Names of the generated message classes of package `orchestrator` (not its enums), plus `google.protobuf.Empty`. */
export type MessageName =
    | {
          [K in keyof Orchestrator]: Orchestrator[K] extends abstract new (...args: never[]) => object ? K : never;
      }[keyof Orchestrator]
    | 'google.protobuf.Empty';

/** The generated message class instance of a message name, e.g. `Message<'NewFunction'>` is `orchestrator.NewFunction`. */
export type Message<N extends MessageName> = N extends 'google.protobuf.Empty'
    ? google.protobuf.Empty
    : N extends keyof Orchestrator
      ? InstanceType<Extract<Orchestrator[N], abstract new (...args: never[]) => object>>
      : never;

interface RpcSpec {
    readonly request: MessageName;
    readonly response: MessageName;
    /** See RpcInfo.readOnly. */
    readonly readOnly: boolean;
    readonly responseStream?: true;
}

/**
 * All 40 RPCs by service and method, in the order of the .proto files: the one source of both the run-time
 * table (RPCS) and its type-level description (RpcTypes). A message name that is not a generated message is a
 * type error here.
 */
const TABLE = {
    OrganizationService: {
        RegisterOrganization: { request: 'RegisterOrganizationParam', response: 'Organization', readOnly: false },
        GetAllOrganizations: {
            request: 'GetAllOrganizationsParam',
            response: 'GetAllOrganizationsResponse',
            readOnly: true,
        },
    },
    DataSampleService: {
        RegisterDataSamples: {
            request: 'RegisterDataSamplesParam',
            response: 'RegisterDataSamplesResponse',
            readOnly: false,
        },
        UpdateDataSamples: {
            request: 'UpdateDataSamplesParam',
            response: 'UpdateDataSamplesResponse',
            readOnly: false,
        },
        QueryDataSamples: { request: 'QueryDataSamplesParam', response: 'QueryDataSamplesResponse', readOnly: true },
        GetDataSample: { request: 'GetDataSampleParam', response: 'DataSample', readOnly: true },
    },
    DataManagerService: {
        RegisterDataManager: { request: 'NewDataManager', response: 'DataManager', readOnly: false },
        GetDataManager: { request: 'GetDataManagerParam', response: 'DataManager', readOnly: true },
        QueryDataManagers: { request: 'QueryDataManagersParam', response: 'QueryDataManagersResponse', readOnly: true },
        UpdateDataManager: {
            request: 'UpdateDataManagerParam',
            response: 'UpdateDataManagerResponse',
            readOnly: false,
        },
    },
    DatasetService: {
        GetDataset: { request: 'GetDatasetParam', response: 'Dataset', readOnly: true },
    },
    FunctionService: {
        RegisterFunction: { request: 'NewFunction', response: 'Function', readOnly: false },
        GetFunction: { request: 'GetFunctionParam', response: 'Function', readOnly: true },
        QueryFunctions: { request: 'QueryFunctionsParam', response: 'QueryFunctionsResponse', readOnly: true },
        UpdateFunction: { request: 'UpdateFunctionParam', response: 'UpdateFunctionResponse', readOnly: false },
        ApplyFunctionAction: {
            request: 'ApplyFunctionActionParam',
            response: 'ApplyFunctionActionResponse',
            readOnly: false,
        },
    },
    ComputePlanService: {
        RegisterPlan: { request: 'NewComputePlan', response: 'ComputePlan', readOnly: false },
        GetPlan: { request: 'GetComputePlanParam', response: 'ComputePlan', readOnly: true },
        ApplyPlanAction: { request: 'ApplyPlanActionParam', response: 'ApplyPlanActionResponse', readOnly: false },
        QueryPlans: { request: 'QueryPlansParam', response: 'QueryPlansResponse', readOnly: true },
        UpdatePlan: { request: 'UpdateComputePlanParam', response: 'UpdateComputePlanResponse', readOnly: false },
        IsPlanRunning: { request: 'IsPlanRunningParam', response: 'IsPlanRunningResponse', readOnly: true },
    },
    ComputeTaskService: {
        RegisterTasks: { request: 'RegisterTasksParam', response: 'RegisterTasksResponse', readOnly: false },
        QueryTasks: { request: 'QueryTasksParam', response: 'QueryTasksResponse', readOnly: true },
        GetTask: { request: 'GetTaskParam', response: 'ComputeTask', readOnly: true },
        ApplyTaskAction: { request: 'ApplyTaskActionParam', response: 'ApplyTaskActionResponse', readOnly: false },
        GetTaskInputAssets: {
            request: 'GetTaskInputAssetsParam',
            response: 'GetTaskInputAssetsResponse',
            readOnly: true,
        },
        DisableOutput: { request: 'DisableOutputParam', response: 'DisableOutputResponse', readOnly: false },
    },
    ModelService: {
        RegisterModel: { request: 'NewModel', response: 'Model', readOnly: false },
        RegisterModels: { request: 'RegisterModelsParam', response: 'RegisterModelsResponse', readOnly: false },
        GetModel: { request: 'GetModelParam', response: 'Model', readOnly: true },
        GetComputeTaskOutputModels: {
            request: 'GetComputeTaskModelsParam',
            response: 'GetComputeTaskModelsResponse',
            readOnly: true,
        },
    },
    PerformanceService: {
        RegisterPerformance: { request: 'NewPerformance', response: 'Performance', readOnly: false },
        QueryPerformances: { request: 'QueryPerformancesParam', response: 'QueryPerformancesResponse', readOnly: true },
    },
    FailureReportService: {
        RegisterFailureReport: { request: 'NewFailureReport', response: 'FailureReport', readOnly: false },
        GetFailureReport: { request: 'GetFailureReportParam', response: 'FailureReport', readOnly: true },
    },
    ProfilingService: {
        RegisterProfilingStep: { request: 'ProfilingStep', response: 'google.protobuf.Empty', readOnly: false },
    },
    EventService: {
        QueryEvents: { request: 'QueryEventsParam', response: 'QueryEventsResponse', readOnly: true },
        SubscribeToEvents: {
            request: 'SubscribeToEventsParam',
            response: 'Event',
            readOnly: true,
            responseStream: true,
        },
    },
    InfoService: {
        QueryVersion: { request: 'QueryVersionParam', response: 'QueryVersionResponse', readOnly: true },
    },
} as const satisfies Readonly<Record<string, Readonly<Record<string, RpcSpec>>>>;

type Table = typeof TABLE;

/** Service names without package, e.g. `FunctionService`. */
export type ServiceName = keyof Table;

/**
 * The type-level RPC table: service -> method -> request and response message classes, and whether the
 * response is a stream. E.g. `RpcTypes['FunctionService']['RegisterFunction']['request']` is
 * `orchestrator.NewFunction`. Derived from the same table as RPCS, so the two cannot disagree.
 */
export type RpcTypes = {
    readonly [S in ServiceName]: {
        readonly [M in keyof Table[S]]: {
            readonly request: Message<Table[S][M] extends RpcSpec ? Table[S][M]['request'] : never>;
            readonly response: Message<Table[S][M] extends RpcSpec ? Table[S][M]['response'] : never>;
            readonly responseStream: Table[S][M] extends { readonly responseStream: true } ? true : false;
        };
    };
};

function row(service: string, method: string, spec: RpcSpec): RpcInfo {
    return Object.freeze({
        service,
        method,
        path: `/orchestrator.${service}/${method}`,
        requestType: spec.request,
        responseType: spec.response,
        requestStream: false,
        responseStream: spec.responseStream ?? false,
        readOnly: spec.readOnly,
        contract: `orchestrator.${service.replace(/Service$/, '').toLowerCase()}`,
        fn: method,
    });
}

/** All 40 RPCs, grouped by service in the order of the .proto files. */
export const RPCS: readonly RpcInfo[] = Object.freeze(
    Object.entries(TABLE).flatMap(([service, methods]) =>
        Object.entries(methods).map(([method, spec]: [string, RpcSpec]) => row(service, method, spec)),
    ),
);

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
