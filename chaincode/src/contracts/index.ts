/**
 * All contracts of the chaincode, built from the RPC table of the API package and the handler table
 * (handlers.ts): one contract `orchestrator.<asset>` per gRPC service, one function per unary RPC, named like
 * the RPC. `orchestrator.organization` comes first and is therefore the default contract.
 */
import { RPCS } from '@substra-fabric/api';
import type { RpcInfo } from '@substra-fabric/api';
import { defineContract } from './contract';
import type { ContractClass } from './contract';
import { HANDLERS, handlerOf } from './handlers';
import type { HandlerLookup } from './handlers';

/** The contract that answers calls without a contract name, including the hlf-k8s Init. */
export const DEFAULT_CONTRACT = 'orchestrator.organization';

/**
 * One contract class per service, in RPC table order (organization first). Streaming RPCs are the gateway's.
 * HANDLERS has a handler for every unary RPC (its type says so); a partial table (tests) leaves the others
 * answering OE0010.
 */
export function buildContracts(handlers: HandlerLookup = HANDLERS, rpcs: readonly RpcInfo[] = RPCS): ContractClass[] {
    const unary = rpcs.filter((rpc) => !rpc.requestStream && !rpc.responseStream);
    const names = [...new Set(unary.map((rpc) => rpc.contract))];
    if (names[0] !== DEFAULT_CONTRACT) {
        throw new Error(`${DEFAULT_CONTRACT} must be the first contract`);
    }
    return names.map((name) =>
        defineContract({
            name,
            rpcs: unary
                .filter((rpc) => rpc.contract === name)
                .map((rpc) => ({ rpc, handler: handlerOf(handlers, rpc) })),
            isDefault: name === DEFAULT_CONTRACT,
        }),
    );
}

export const contracts: readonly ContractClass[] = buildContracts();
