import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTRACTS, RPCS, RPCS_BY_PATH, rpcByContractFn, rpcByPath } from '../src/rpcs';
import { PROTO_FILES } from '../src/files';
import { collect, loadReflectionRoot } from './load-protos';

// The complete RPC surface, written out so that any accidental change shows up here:
// path (request) -> (response) streaming read/write.
const EXPECTED_RPCS = [
    '/orchestrator.OrganizationService/RegisterOrganization (RegisterOrganizationParam) -> (Organization) unary write',
    '/orchestrator.OrganizationService/GetAllOrganizations (GetAllOrganizationsParam) -> (GetAllOrganizationsResponse) unary read',
    '/orchestrator.DataSampleService/RegisterDataSamples (RegisterDataSamplesParam) -> (RegisterDataSamplesResponse) unary write',
    '/orchestrator.DataSampleService/UpdateDataSamples (UpdateDataSamplesParam) -> (UpdateDataSamplesResponse) unary write',
    '/orchestrator.DataSampleService/QueryDataSamples (QueryDataSamplesParam) -> (QueryDataSamplesResponse) unary read',
    '/orchestrator.DataSampleService/GetDataSample (GetDataSampleParam) -> (DataSample) unary read',
    '/orchestrator.DataManagerService/RegisterDataManager (NewDataManager) -> (DataManager) unary write',
    '/orchestrator.DataManagerService/GetDataManager (GetDataManagerParam) -> (DataManager) unary read',
    '/orchestrator.DataManagerService/QueryDataManagers (QueryDataManagersParam) -> (QueryDataManagersResponse) unary read',
    '/orchestrator.DataManagerService/UpdateDataManager (UpdateDataManagerParam) -> (UpdateDataManagerResponse) unary write',
    '/orchestrator.DatasetService/GetDataset (GetDatasetParam) -> (Dataset) unary read',
    '/orchestrator.FunctionService/RegisterFunction (NewFunction) -> (Function) unary write',
    '/orchestrator.FunctionService/GetFunction (GetFunctionParam) -> (Function) unary read',
    '/orchestrator.FunctionService/QueryFunctions (QueryFunctionsParam) -> (QueryFunctionsResponse) unary read',
    '/orchestrator.FunctionService/UpdateFunction (UpdateFunctionParam) -> (UpdateFunctionResponse) unary write',
    '/orchestrator.FunctionService/ApplyFunctionAction (ApplyFunctionActionParam) -> (ApplyFunctionActionResponse) unary write',
    '/orchestrator.ComputePlanService/RegisterPlan (NewComputePlan) -> (ComputePlan) unary write',
    '/orchestrator.ComputePlanService/GetPlan (GetComputePlanParam) -> (ComputePlan) unary read',
    '/orchestrator.ComputePlanService/ApplyPlanAction (ApplyPlanActionParam) -> (ApplyPlanActionResponse) unary write',
    '/orchestrator.ComputePlanService/QueryPlans (QueryPlansParam) -> (QueryPlansResponse) unary read',
    '/orchestrator.ComputePlanService/UpdatePlan (UpdateComputePlanParam) -> (UpdateComputePlanResponse) unary write',
    '/orchestrator.ComputePlanService/IsPlanRunning (IsPlanRunningParam) -> (IsPlanRunningResponse) unary read',
    '/orchestrator.ComputeTaskService/RegisterTasks (RegisterTasksParam) -> (RegisterTasksResponse) unary write',
    '/orchestrator.ComputeTaskService/QueryTasks (QueryTasksParam) -> (QueryTasksResponse) unary read',
    '/orchestrator.ComputeTaskService/GetTask (GetTaskParam) -> (ComputeTask) unary read',
    '/orchestrator.ComputeTaskService/ApplyTaskAction (ApplyTaskActionParam) -> (ApplyTaskActionResponse) unary write',
    '/orchestrator.ComputeTaskService/GetTaskInputAssets (GetTaskInputAssetsParam) -> (GetTaskInputAssetsResponse) unary read',
    '/orchestrator.ComputeTaskService/DisableOutput (DisableOutputParam) -> (DisableOutputResponse) unary write',
    '/orchestrator.ModelService/RegisterModel (NewModel) -> (Model) unary write',
    '/orchestrator.ModelService/RegisterModels (RegisterModelsParam) -> (RegisterModelsResponse) unary write',
    '/orchestrator.ModelService/GetModel (GetModelParam) -> (Model) unary read',
    '/orchestrator.ModelService/GetComputeTaskOutputModels (GetComputeTaskModelsParam) -> (GetComputeTaskModelsResponse) unary read',
    '/orchestrator.PerformanceService/RegisterPerformance (NewPerformance) -> (Performance) unary write',
    '/orchestrator.PerformanceService/QueryPerformances (QueryPerformancesParam) -> (QueryPerformancesResponse) unary read',
    '/orchestrator.FailureReportService/RegisterFailureReport (NewFailureReport) -> (FailureReport) unary write',
    '/orchestrator.FailureReportService/GetFailureReport (GetFailureReportParam) -> (FailureReport) unary read',
    '/orchestrator.ProfilingService/RegisterProfilingStep (ProfilingStep) -> (google.protobuf.Empty) unary write',
    '/orchestrator.EventService/QueryEvents (QueryEventsParam) -> (QueryEventsResponse) unary read',
    '/orchestrator.EventService/SubscribeToEvents (SubscribeToEventsParam) -> (Event) server-stream read',
    '/orchestrator.InfoService/QueryVersion (QueryVersionParam) -> (QueryVersionResponse) unary read',
];

// Messages, enums and services per file.
const EXPECTED_PER_FILE: Record<string, [number, number, number]> = {
    'common.proto': [4, 2, 0],
    'organization.proto': [4, 0, 1],
    'datasample.proto': [10, 0, 1],
    'datamanager.proto': [7, 0, 1],
    'dataset.proto': [2, 0, 1],
    'function.proto': [12, 2, 1],
    'computeplan.proto': [12, 1, 1],
    'computetask.proto': [20, 2, 1],
    'model.proto': [7, 0, 1],
    'performance.proto': [5, 0, 1],
    'failure_report.proto': [3, 2, 1],
    'profiling.proto': [1, 0, 1],
    'event.proto': [5, 1, 1],
    'info.proto': [2, 0, 1],
};

/** Reserved entries (protobufjs leaves the property undefined when there are none, despite its typings). */
function reservedOf(obj: protobuf.Type | protobuf.Enum): string[] {
    const entries = obj.reserved as (number[] | string)[] | undefined;
    return (entries ?? []).map((entry) => (typeof entry === 'string' ? entry : entry.join('-')));
}

/** One line per type, field, value, reserved entry and method: a canonical text of the whole schema. */
function describeSchema(ns: protobuf.Namespace): string {
    const lines: string[] = [];
    const byName = <T extends protobuf.ReflectionObject>(a: T, b: T): number => a.fullName.localeCompare(b.fullName);
    for (const type of collect(ns, protobuf.Type).sort(byName)) {
        lines.push(`message ${type.fullName}`);
        for (const field of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
            const kind = field instanceof protobuf.MapField ? `map<${field.keyType},${field.type}>` : field.type;
            const oneof = field.partOf ? ` oneof=${field.partOf.name}` : '';
            lines.push(`  ${field.id} ${field.name} ${field.repeated ? 'repeated ' : ''}${kind}${oneof}`);
        }
        for (const entry of reservedOf(type)) {
            lines.push(`  reserved ${entry}`);
        }
    }
    for (const en of collect(ns, protobuf.Enum).sort(byName)) {
        lines.push(`enum ${en.fullName}`);
        for (const [name, value] of Object.entries(en.values)) {
            lines.push(`  ${value} ${name}`);
        }
        for (const entry of reservedOf(en)) {
            lines.push(`  reserved ${entry}`);
        }
    }
    for (const service of collect(ns, protobuf.Service).sort(byName)) {
        lines.push(`service ${service.fullName}`);
        for (const method of service.methodsArray) {
            lines.push(
                `  ${method.name}(${method.requestType}) ${method.responseType} ${method.responseStream ? 's' : 'u'}`,
            );
        }
    }
    return lines.join('\n');
}

function rpcLine(service: protobuf.Service, method: protobuf.Method): string {
    const path = `/orchestrator.${service.name}/${method.name}`;
    const streaming = method.responseStream ? 'server-stream' : method.requestStream ? 'client-stream' : 'unary';
    const access = rpcByPath(path)?.readOnly ? 'read' : 'write';
    return `${path} (${method.requestType}) -> (${method.responseType}) ${streaming} ${access}`;
}

function shortName(type: protobuf.Type): string {
    return type.fullName.startsWith('.orchestrator.') ? type.name : type.fullName.slice(1);
}

describe('API surface of the .proto files', () => {
    let root: protobuf.Root;
    let ns: protobuf.Namespace;

    beforeAll(() => {
        root = loadReflectionRoot();
        ns = root.lookup('orchestrator') as protobuf.Namespace;
    });

    it('has 13 services, 40 RPCs, 94 messages and 10 enums in package orchestrator', () => {
        const services = collect(ns, protobuf.Service);
        expect(services).toHaveLength(13);
        expect(services.flatMap((s) => s.methodsArray)).toHaveLength(40);
        expect(collect(ns, protobuf.Type)).toHaveLength(94);
        expect(collect(ns, protobuf.Enum)).toHaveLength(10);
    });

    it('declares the expected messages, enums and services in each file', () => {
        const counts: Record<string, [number, number, number]> = {};
        const bump = (obj: protobuf.ReflectionObject, index: 0 | 1 | 2): void => {
            const file = path.basename(obj.filename ?? '?');
            counts[file] ??= [0, 0, 0];
            counts[file][index] += 1;
        };
        collect(ns, protobuf.Type).forEach((t) => {
            bump(t, 0);
        });
        collect(ns, protobuf.Enum).forEach((e) => {
            bump(e, 1);
        });
        collect(ns, protobuf.Service).forEach((s) => {
            bump(s, 2);
        });
        expect(counts).toEqual(EXPECTED_PER_FILE);
        expect(Object.keys(EXPECTED_PER_FILE).sort()).toEqual([...PROTO_FILES].sort());
    });

    it('has only the orchestrator package and the two well-known types', () => {
        const all = collect(root, protobuf.Type).map((t) => t.fullName);
        const outside = all.filter((name) => !name.startsWith('.orchestrator.'));
        expect(outside.sort()).toEqual(['.google.protobuf.Empty', '.google.protobuf.Timestamp']);
    });

    it('serves exactly the expected RPC paths, types and streaming flags', () => {
        const actual = collect(ns, protobuf.Service).flatMap((service) =>
            service.methodsArray.map((method) => rpcLine(service, method)),
        );
        expect(actual).toEqual(EXPECTED_RPCS);
    });

    it('keeps the pitfall field names and numbers', () => {
        const field = (type: string, name: string): protobuf.Field => {
            const found = root.lookupType(`orchestrator.${type}`).fields[name];
            if (!found) throw new Error(`${type}.${name} missing`);
            return found;
        };
        expect(field('QueryFunctionsResponse', 'Functions')).toMatchObject({
            id: 1,
            type: 'Function',
            rule: 'repeated',
        });
        expect(field('QueryPerformancesResponse', 'Performances')).toMatchObject({
            id: 1,
            type: 'Performance',
            rule: 'repeated',
        });
        expect(field('FunctionInput', 'optional')).toMatchObject({ id: 3, type: 'bool', optional: true });
        expect(field('Permission', 'public')).toMatchObject({ id: 1, type: 'bool' });
        expect(field('NewPermissions', 'public')).toMatchObject({ id: 1, type: 'bool' });
        expect(field('QueryVersionResponse', 'chaincode')).toMatchObject({ id: 2, type: 'string' });
        expect(field('NewModel', 'compute_task_output_identifier').id).toBe(5);
        expect(field('Performance', 'compute_task_output_identifier').id).toBe(6);
        expect(field('ComputePlan', 'name').id).toBe(19);
        expect(field('Function', 'image').id).toBe(20);
        expect(field('FailureReport', 'asset_type')).toMatchObject({ id: 6, type: 'FailedAssetKind' });
        expect(field('NewFailureReport', 'asset_type')).toMatchObject({ id: 4, type: 'FailedAssetKind' });
        expect(field('Event', 'profiling_step')).toMatchObject({ id: 17, type: 'ProfilingStep' });
    });

    it('uses no proto3 optional label and no 64-bit, bytes or double field', () => {
        for (const type of collect(ns, protobuf.Type)) {
            expect(type.oneofsArray.filter((o) => o.name.startsWith('_'))).toEqual([]);
            for (const f of type.fieldsArray) {
                expect(f.options?.proto3_optional, `${type.name}.${f.name}`).toBeUndefined();
                expect(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bytes', 'double']).not.toContain(f.type);
            }
        }
    });

    it('has exactly the three oneofs with their members', () => {
        const oneofs = collect(ns, protobuf.Type).flatMap((type) =>
            type.oneofsArray.map((o) => `${type.name}.${o.name}: ${o.fieldsArray.map((f) => f.id).join(',')}`),
        );
        expect(oneofs.sort()).toEqual([
            'ComputeTaskInput.ref: 2,3',
            'ComputeTaskInputAsset.asset: 2,3,4',
            'Event.asset: 7,8,9,10,11,12,13,14,15,16,17',
        ]);
    });

    it('keeps the reserved numbers and names', () => {
        expect(reservedOf(root.lookupType('orchestrator.Dataset'))).toEqual([
            '2-2',
            '3-3',
            'test_data_sample_keys',
            'train_data_sample_keys',
        ]);
        expect(reservedOf(root.lookupEnum('orchestrator.AssetKind'))).toEqual(['2-2', 'ASSET_METRIC']);
        expect(reservedOf(root.lookupType('orchestrator.ComputePlan'))).toHaveLength(18);
        expect(reservedOf(root.lookupType('orchestrator.ComputeTask'))).toContain('parent_task_keys');
        expect(reservedOf(root.lookupType('orchestrator.Event'))).toEqual([]);
    });

    it('matches the reviewed schema fingerprint', () => {
        // Any change of a name, number, type, label, oneof, map, enum value, reserved entry or RPC
        // changes this hash. Update it only after checking the change against api.md.
        const digest = createHash('sha256').update(describeSchema(ns)).digest('hex');
        expect(digest).toBe('b1f9514bd01a796313d281fe518de0cd878f107fe8f36cdb3dd2496730ba0115');
    });
});

describe('RPCS table', () => {
    let services: protobuf.Service[];

    beforeAll(() => {
        services = collect(loadReflectionRoot().lookup('orchestrator') as protobuf.Namespace, protobuf.Service);
    });

    it('lists every RPC of the protos once, with the same types and streaming flags', () => {
        const fromProtos = services.flatMap((service) =>
            service.methodsArray.map((method) => {
                method.resolve();
                return {
                    service: service.name,
                    method: method.name,
                    path: `/orchestrator.${service.name}/${method.name}`,
                    requestType: shortName(method.resolvedRequestType!),
                    responseType: shortName(method.resolvedResponseType!),
                    requestStream: method.requestStream === true,
                    responseStream: method.responseStream === true,
                };
            }),
        );
        expect(RPCS.map(({ readOnly: _r, contract: _c, fn: _f, ...rest }) => rest)).toEqual(fromProtos);
        expect(RPCS_BY_PATH.size).toBe(40);
    });

    it('derives contract and function names from service and method', () => {
        const rpc = rpcByPath('/orchestrator.FailureReportService/RegisterFailureReport');
        expect(rpc).toMatchObject({ contract: 'orchestrator.failurereport', fn: 'RegisterFailureReport' });
        expect(rpcByContractFn('orchestrator.function', 'RegisterFunction')?.path).toBe(
            '/orchestrator.FunctionService/RegisterFunction',
        );
        expect(rpcByContractFn('orchestrator.function', 'Nope')).toBeUndefined();
        expect(rpcByPath('/orchestrator.FunctionService/Nope')).toBeUndefined();
        expect(CONTRACTS).toHaveLength(13);
        for (const r of RPCS) {
            expect(r.contract).toBe(`orchestrator.${r.service.slice(0, -'Service'.length).toLowerCase()}`);
            expect(r.fn).toBe(r.method);
        }
    });

    it('marks the read-only RPCs', () => {
        expect(RPCS.filter((r) => r.readOnly)).toHaveLength(21);
        expect(rpcByPath('/orchestrator.InfoService/QueryVersion')?.readOnly).toBe(true);
        expect(rpcByPath('/orchestrator.ComputeTaskService/DisableOutput')?.readOnly).toBe(false);
    });

    it('is frozen', () => {
        expect(Object.isFrozen(RPCS)).toBe(true);
        expect(RPCS.every((r) => Object.isFrozen(r))).toBe(true);
    });
});
