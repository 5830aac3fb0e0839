import {
    type MethodDefinition,
    type ServerUnaryCall,
    type ServerWritableStream,
    type ServiceDefinition,
    type UntypedServiceImplementation,
    type sendUnaryData,
    status,
} from '@grpc/grpc-js';
import { RPCS, orchestrator, type RpcInfo } from '@substra-fabric/api';
import type { Logger } from 'pino';
import { StatusError, toServiceError } from '../errors';
import type { EventIndex } from '../events/eventindex';
import { queryEvents, startPosition, streamEvents } from '../events/service';
import type { FabricClient } from '../fabric/client';
import { type CallTarget, callTarget, singleHeader } from './headers';
import type { Invoker } from './invoker';

/** What the orchestrator handlers use of the server. */
export interface HandlerContext {
    readonly invoker: Invoker;
    readonly fabric: FabricClient;
    readonly logger: Logger;
    /** Identity that reads the ledger for a caller. */
    readerOf(target: CallTarget): string;
    /** Event index of the caller's channel and chaincode; its listener, when this starts it, signs as `reader`. */
    indexFor(target: CallTarget, reader?: string): EventIndex;
    /** Ends each running event stream, for shutdown. */
    readonly streams: Set<() => void>;
}

const identity = (value: Buffer): Buffer => value;

/** grpc-js definitions of the 13 orchestrator services, with bytes in and bytes out. */
export function orchestratorServices(): Map<string, ServiceDefinition> {
    const services = new Map<string, Record<string, MethodDefinition<Buffer, Buffer>>>();
    for (const rpc of RPCS) {
        let service = services.get(rpc.service);
        if (service === undefined) {
            service = {};
            services.set(rpc.service, service);
        }
        service[rpc.method] = {
            path: rpc.path,
            requestStream: rpc.requestStream,
            responseStream: rpc.responseStream,
            requestSerialize: identity,
            requestDeserialize: identity,
            responseSerialize: identity,
            responseDeserialize: identity,
            originalName: rpc.method,
        };
    }
    return services;
}

/**
 * The handlers of one orchestrator service: SubscribeToEvents streams from the event index, QueryEvents
 * answers from it, every other RPC goes to the chaincode through the invoker.
 */
export function serviceImplementation(service: string, context: HandlerContext): UntypedServiceImplementation {
    const implementation: UntypedServiceImplementation = {};
    for (const rpc of RPCS.filter((r) => r.service === service)) {
        implementation[rpc.method] = rpc.responseStream ? subscribeHandler(context) : unaryHandler(rpc, context);
    }
    return implementation;
}

function unaryHandler(rpc: RpcInfo, context: HandlerContext) {
    return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
        const target = callTarget(call.metadata);
        // A call cancelled by its client never starts a queued submit, nor a retry.
        const cancelled = new AbortController();
        call.on('cancelled', () => {
            cancelled.abort();
        });
        const reply =
            rpc.method === 'QueryEvents'
                ? Promise.resolve().then(() => queryEvents(context.indexFor(target), target.channel, call.request))
                : context.invoker.invoke(
                      rpc,
                      target,
                      call.request,
                      context.logger.child({
                          reqid: singleHeader(call.metadata, 'reqid'),
                          ...target,
                          method: rpc.path,
                      }),
                      cancelled.signal,
                  );
        reply.then(
            (bytes) => {
                callback(null, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
            },
            (err: unknown) => {
                callback(toServiceError(err));
            },
        );
    };
}

function subscribeHandler(context: HandlerContext) {
    return (call: ServerWritableStream<Buffer, Buffer>): void => {
        const target = callTarget(call.metadata);
        const abort = new AbortController();
        const fail = (err: unknown): void => {
            if (!abort.signal.aborted) {
                abort.abort();
                call.emit('error', toServiceError(err));
            }
        };
        const shutdown = (): void => {
            fail(new StatusError(status.UNAVAILABLE, 'server is shutting down'));
        };
        context.streams.add(shutdown);
        call.on('cancelled', () => {
            abort.abort();
        });
        const run = async (): Promise<void> => {
            const reader = context.readerOf(target);
            const index = context.indexFor(target, reader);
            const { start_event_id: startEventId } = orchestrator.SubscribeToEventsParam.decode(call.request);
            const start = { index, fabric: context.fabric, ...target, mspid: reader, signal: abort.signal };
            const position = await startPosition(start, startEventId);
            await streamEvents(index, target.channel, position, call, abort.signal);
        };
        run()
            .catch(fail)
            .finally(() => {
                context.streams.delete(shutdown);
            });
    };
}
