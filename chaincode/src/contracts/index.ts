/**
 * All contracts of the chaincode, built from the RPC table of the API package and the handler tables of
 * the contracts/<asset>.ts files: one contract `orchestrator.<asset>` per gRPC service, one function per unary
 * RPC, named like the RPC. `orchestrator.organization` comes first and is therefore the default contract.
 */
import { RPCS } from '@substra-fabric/api';
import type { RpcInfo } from '@substra-fabric/api';
import { defineContract } from './contract';
import type { ContractClass } from './contract';
import type { RpcHandler, ServiceHandlers } from './handlers';
import * as computeplan from './computeplan';
import * as computetask from './computetask';
import * as datamanager from './datamanager';
import * as datasample from './datasample';
import * as dataset from './dataset';
import * as event from './event';
import * as failurereport from './failurereport';
import * as functions from './function';
import * as info from './info';
import * as model from './model';
import * as organization from './organization';
import * as performance from './performance';
import * as profiling from './profiling';

/** The contract that answers calls without a contract name, including the hlf-k8s Init. */
export const DEFAULT_CONTRACT = 'orchestrator.organization';

const handlerModules: readonly Readonly<Record<string, unknown>>[] = [
    organization,
    datasample,
    functions,
    datamanager,
    dataset,
    computetask,
    model,
    computeplan,
    performance,
    failurereport,
    profiling,
    event,
    info,
];

function isServiceHandlers(value: unknown): value is ServiceHandlers {
    return (
        typeof value === 'object' &&
        value !== null &&
        typeof (value as ServiceHandlers).service === 'string' &&
        typeof (value as ServiceHandlers).methods === 'object'
    );
}

/**
 * Every exported `defineHandlers(...)` table of the handler modules, by service. Fails at load time on a
 * service defined twice or a method that is not an RPC of its service, so that a typo cannot hide a handler.
 */
export function collectHandlers(
    modules: readonly Readonly<Record<string, unknown>>[] = handlerModules,
    rpcs: readonly RpcInfo[] = RPCS,
): ReadonlyMap<string, ReadonlyMap<string, RpcHandler>> {
    const byService = new Map<string, Map<string, RpcHandler>>();
    for (const table of modules.flatMap((module) => Object.values(module).filter(isServiceHandlers))) {
        if (byService.has(table.service)) {
            throw new Error(`handlers of ${table.service} are defined twice`);
        }
        const methods = new Map<string, RpcHandler>();
        for (const [method, handler] of Object.entries(table.methods)) {
            if (!rpcs.some((rpc) => rpc.service === table.service && rpc.method === method && !rpc.responseStream)) {
                throw new Error(`handler ${table.service}.${method} matches no unary RPC`);
            }
            methods.set(method, handler);
        }
        byService.set(table.service, methods);
    }
    return byService;
}

/** One contract class per service, in RPC table order (organization first). Streaming RPCs are the gateway's. */
export function buildContracts(
    handlers: ReadonlyMap<string, ReadonlyMap<string, RpcHandler>> = collectHandlers(),
    rpcs: readonly RpcInfo[] = RPCS,
): ContractClass[] {
    const unary = rpcs.filter((rpc) => !rpc.requestStream && !rpc.responseStream);
    const names = [...new Set(unary.map((rpc) => rpc.contract))];
    if (names[0] !== DEFAULT_CONTRACT) {
        throw new Error(`${DEFAULT_CONTRACT} must be the first contract`);
    }
    return names.map((name) => {
        const contractRpcs = unary.filter((rpc) => rpc.contract === name);
        const service = contractRpcs[0]?.service ?? '';
        return defineContract({
            name,
            rpcs: contractRpcs,
            handlers: handlers.get(service) ?? new Map<string, RpcHandler>(),
            isDefault: name === DEFAULT_CONTRACT,
        });
    });
}

export const contracts: readonly ContractClass[] = buildContracts();
