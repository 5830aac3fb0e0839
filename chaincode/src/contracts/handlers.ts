import type { Services } from '../service/provider';

/**
 * Business entry point of one RPC: the decoded request in, the response message (or a plain object of its
 * fields) out. The contract layer decodes and encodes; handlers only call services.
 */
export type RpcHandler<Request = never> = (services: Services, request: Request) => Promise<object>;

/** The handlers of one gRPC service of the API, keyed by RPC method name (= contract function name). */
export interface ServiceHandlers {
    /** gRPC service name without package, e.g. `FunctionService`. */
    readonly service: string;
    /** Each handler has its own request type; `never` accepts them all (the contract layer decodes the right one). */
    readonly methods: Readonly<Record<string, RpcHandler>>;
}

export function defineHandlers(service: string, methods: Readonly<Record<string, RpcHandler>>): ServiceHandlers {
    return { service, methods };
}
