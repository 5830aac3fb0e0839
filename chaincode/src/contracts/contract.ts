import { Contract } from 'fabric-contract-api';
import type { Context } from 'fabric-contract-api';
import type { RpcInfo } from '@substra-fabric/api';
import { runTransaction } from '../ledger/transaction';
import { unimplemented } from '../service/errors';
import { decodeRequest, encodeResponse } from './codec';
import type { RpcHandler } from './handlers';

/** Constructor of a contract class, as fabric-shim's ChaincodeFromContract instantiates it. */
export type ContractClass = new () => Contract;

export interface ContractDefinition {
    /** `orchestrator.<asset>`. */
    readonly name: string;
    /** The contract functions: one per unary RPC of the service, with its handler; one without answers OE0010. */
    readonly rpcs: readonly { readonly rpc: RpcInfo; readonly handler: RpcHandler | undefined }[];
    /** The default contract answers the hlf-k8s Init (empty function name) with success. */
    readonly isDefault: boolean;
}

/**
 * Builds a contract class whose prototype has one function per RPC, named like the RPC: fabric-contract-api
 * discovers transaction functions from the own properties of the class prototype, so GetMetadata lists them.
 * Each takes one argument (the request bytes) and returns the response bytes.
 */
export function defineContract(definition: ContractDefinition): ContractClass {
    const { name, isDefault } = definition;

    class OrchestratorContract extends Contract {
        constructor() {
            super(name);
        }

        override async unknownTransaction(ctx: Context): Promise<void> {
            const { fcn } = ctx.stub.getFunctionAndParameters();
            if (isDefault && fcn === '') {
                // hlf-k8s initialises the chaincode with Init(''), as the Go contract API accepted.
                ctx.logging.getLogger().info(`[${ctx.stub.getTxID()}] Init: nothing to initialise`);
                return Promise.resolve();
            }
            throw boundedError(new Error(`function "${fcn}" not found in contract "${name}"`));
        }
    }
    Object.defineProperty(OrchestratorContract, 'name', { value: contractClassName(name) });

    for (const { rpc, handler } of definition.rpcs) {
        // A named function of two parameters: the contract API infers one string parameter (after ctx).
        const fn = async function (ctx: Context, arg: Uint8Array): Promise<Uint8Array> {
            return invokeRpc(ctx, rpc, handler, arg);
        };
        Object.defineProperty(OrchestratorContract.prototype, rpc.fn, {
            value: fn,
            writable: true,
            configurable: true,
            enumerable: false,
        });
    }
    return OrchestratorContract;
}

/** e.g. `orchestrator.computetask` -> `OrchestratorComputetaskContract` (shows in logs and metadata). */
function contractClassName(contract: string): string {
    return `${contract
        .split('.')
        .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
        .join('')}Contract`;
}

async function invokeRpc(
    ctx: Context,
    rpc: RpcInfo,
    handler: RpcHandler | undefined,
    arg: Uint8Array,
): Promise<Uint8Array> {
    const logger = ctx.logging.getLogger();
    const prefix = `[${ctx.stub.getTxID().slice(0, 8)}]`;
    logger.debug(`${prefix} ${rpc.contract}:${rpc.fn}`);
    try {
        if (handler === undefined) {
            throw unimplemented(`${rpc.service}.${rpc.method} is not implemented`);
        }
        const request = decodeRequest(rpc, arg);
        const requester = ctx.clientIdentity.getMSPID();
        // The one cast between the run-time RPC table and the typed handler table: `request` is the decoded
        // message of `rpc.requestType`, the very type HandlerTable gives the handler of `rpc` (a decoded message
        // is complete, service/messages.ts), and the handler was looked up by the same `rpc`.
        const response = await runTransaction(ctx.stub, requester, async (services) =>
            encodeResponse(rpc, await handler(services, request as never)),
        );
        logger.debug(`${prefix} ${rpc.contract}:${rpc.fn} succeeded`);
        return withCheapJson(response);
    } catch (error) {
        const failure = boundedError(error);
        logger.warn(`${prefix} ${rpc.contract}:${rpc.fn} failed: ${failure.message}`);
        throw failure;
    }
}

/**
 * The response bytes, unchanged, with a `toJSON` that prints their length. fabric-shim 2.5.8's
 * ChaincodeFromContract evaluates `logger.debug(\`${JSON.stringify(result)},...\`)` for every transaction,
 * whatever the log level: for a Buffer that is `{"type":"Buffer","data":[...]}`, about 4 characters per byte
 * (8 MB of text and ~100 ms for a 2 MB QueryTasks page of 5 000 tasks). The serializer sends the bytes as they
 * are; only that discarded string changes.
 */
export function withCheapJson(bytes: Uint8Array): Uint8Array {
    Object.defineProperty(bytes, 'toJSON', { value: () => `<${bytes.length} bytes>`, enumerable: false });
    return bytes;
}

/** Longest error message returned to the peer; longer ones (a megabyte key echoed back) are cut. */
export const MAX_ERROR_MESSAGE = 2048;

/**
 * The error as fabric-shim returns it (`error.message` becomes the response message): always an Error, its
 * message (OE code or documented text first) cut to MAX_ERROR_MESSAGE characters.
 */
export function boundedError(error: unknown): Error {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (failure.message.length <= MAX_ERROR_MESSAGE) {
        return failure;
    }
    const omitted = failure.message.length - MAX_ERROR_MESSAGE;
    const bounded = new Error(`${failure.message.slice(0, MAX_ERROR_MESSAGE)}... (${omitted} more characters)`);
    bounded.name = failure.name;
    return bounded;
}
