import { google, orchestrator } from '@substra-fabric/api';
import type { RpcInfo, RpcTypes, ServiceName } from '@substra-fabric/api';
import { unimplemented } from '../service/errors';
import type { Complete } from '../service/messages';
import type { Services } from '../service/provider';

/** The fields of a generated message class (its `I*` interface, with the class's required fields). */
type Fields<C> = Omit<C, 'toJSON'>;

/** What a handler receives: the decoded request message, complete (see service/messages.ts). */
export type RpcRequest<S extends ServiceName, M extends keyof RpcTypes[S]> = Complete<
    Fields<RpcTypes[S][M] extends { readonly request: infer R } ? R : never>
>;

/** What a handler answers: the response message, or a plain object of its fields. */
export type RpcResponse<S extends ServiceName, M extends keyof RpcTypes[S]> = Fields<
    RpcTypes[S][M] extends { readonly response: infer R } ? R : never
>;

/** The methods of a service that a contract function serves: the unary ones (streams are the gateway's). */
type UnaryMethod<S extends ServiceName> = {
    [M in keyof RpcTypes[S]]: RpcTypes[S][M] extends { readonly responseStream: false } ? M : never;
}[keyof RpcTypes[S]];

/**
 * The handler table's type, derived from the API's RPC table: every unary RPC of every service has exactly
 * one handler, taking that RPC's request and answering its response. A missing handler, a method that is
 * not a unary RPC of its service, or a handler of the wrong request or response type does not compile.
 */
export type HandlerTable = {
    readonly [S in ServiceName]: {
        readonly [M in UnaryMethod<S>]: (services: Services, request: RpcRequest<S, M>) => Promise<RpcResponse<S, M>>;
    };
};

/** A handler as the contract layer calls it: the request it decoded for the handler's RPC. */
export type RpcHandler = (services: Services, request: never) => Promise<object>;

/** Handlers by service and method name, as found by the run-time strings of an RpcInfo; any may be missing. */
export type HandlerLookup = Readonly<Partial<Record<string, Readonly<Partial<Record<string, RpcHandler>>>>>>;

/** The handler of `rpc` in `handlers`, if any (own properties only: names are never prototype members). */
export function handlerOf(handlers: HandlerLookup, rpc: RpcInfo): RpcHandler | undefined {
    const methods = Object.hasOwn(handlers, rpc.service) ? handlers[rpc.service] : undefined;
    return methods !== undefined && Object.hasOwn(methods, rpc.method) ? methods[rpc.method] : undefined;
}

/**
 * Business entry point of each RPC (api.md §2), by gRPC service and method (= contract function name). The
 * contract layer decodes the request and encodes the response; handlers only call services.
 */
export const HANDLERS: HandlerTable = {
    OrganizationService: {
        RegisterOrganization: (services, request) => services.organizations.registerOrganization(request),
        GetAllOrganizations: (services) => services.organizations.getAllOrganizations(),
    },
    DataSampleService: {
        RegisterDataSamples: async (services, request) =>
            orchestrator.RegisterDataSamplesResponse.create({
                data_samples: await services.dataSamples.registerDataSamples(request),
            }),
        UpdateDataSamples: async (services, request) => {
            await services.dataSamples.updateDataSamples(request);
            return orchestrator.UpdateDataSamplesResponse.create();
        },
        QueryDataSamples: (services, request) => services.dataSamples.queryDataSamples(request),
        GetDataSample: (services, request) => services.dataSamples.getDataSample(request.key),
    },
    DataManagerService: {
        RegisterDataManager: (services, request) => services.dataManagers.registerDataManager(request),
        GetDataManager: (services, request) => services.dataManagers.getDataManager(request.key),
        QueryDataManagers: (services, request) => services.dataManagers.queryDataManagers(request),
        UpdateDataManager: async (services, request) => {
            await services.dataManagers.updateDataManager(request);
            return orchestrator.UpdateDataManagerResponse.create();
        },
    },
    DatasetService: {
        GetDataset: (services, request) => services.datasets.getDataset(request.key),
    },
    FunctionService: {
        RegisterFunction: (services, request) => services.functions.registerFunction(request),
        GetFunction: (services, request) => services.functions.getFunction(request.key),
        QueryFunctions: (services, request) => services.functions.queryFunctions(request),
        UpdateFunction: async (services, request) => {
            await services.functions.updateFunction(request);
            return orchestrator.UpdateFunctionResponse.create();
        },
        ApplyFunctionAction: async (services, request) => {
            await services.functions.applyFunctionAction(request);
            return orchestrator.ApplyFunctionActionResponse.create();
        },
    },
    ComputePlanService: {
        RegisterPlan: (services, request) => services.computePlans.registerPlan(request),
        GetPlan: (services, request) => services.computePlans.getPlan(request.key),
        ApplyPlanAction: (services, request) => services.computePlans.applyPlanAction(request),
        QueryPlans: (services, request) => services.computePlans.queryPlans(request),
        UpdatePlan: (services, request) => services.computePlans.updatePlan(request),
        IsPlanRunning: async (services, request) => ({
            is_running: await services.computePlans.isPlanRunning(request.key),
        }),
    },
    ComputeTaskService: {
        RegisterTasks: (services, request) => services.computeTasks.registerTasks(request),
        QueryTasks: (services, request) => services.computeTasks.queryTasks(request),
        GetTask: (services, request) => services.computeTasks.getTask(request.key),
        ApplyTaskAction: (services, request) => services.computeTasks.applyTaskAction(request),
        GetTaskInputAssets: (services, request) => services.computeTasks.getTaskInputAssets(request),
        DisableOutput: (services, request) => services.computeTasks.disableOutput(request),
    },
    ModelService: {
        RegisterModel: (services, request) => services.models.registerModel(request),
        RegisterModels: (services, request) => services.models.registerModels(request),
        GetModel: (services, request) => services.models.getModel(request.key),
        GetComputeTaskOutputModels: (services, request) => services.models.getComputeTaskOutputModels(request),
    },
    PerformanceService: {
        RegisterPerformance: (services, request) => services.performances.registerPerformance(request),
        QueryPerformances: (services, request) => services.performances.queryPerformances(request),
    },
    FailureReportService: {
        RegisterFailureReport: (services, request) => services.failureReports.registerFailureReport(request),
        GetFailureReport: (services, request) => services.failureReports.getFailureReport(request.asset_key),
    },
    ProfilingService: {
        RegisterProfilingStep: async (services, request) => {
            await services.profiling.registerProfilingStep(request);
            return google.protobuf.Empty.create();
        },
    },
    EventService: {
        // Events are not stored in world state (design.md): the gateway serves QueryEvents and SubscribeToEvents
        // from the `chaincode-updates` chaincode events of the channel. The function exists so that a caller of
        // the 0.37.0 surface gets a clear answer.
        QueryEvents: () =>
            Promise.reject(
                unimplemented(
                    'QueryEvents is not served by the chaincode: the gateway answers it from the chaincode events of the channel',
                ),
            ),
    },
    InfoService: {
        QueryVersion: (services) => Promise.resolve(services.info.queryVersion()),
    },
};
