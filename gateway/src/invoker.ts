import { status } from '@grpc/grpc-js';
import { orchestrator, type RpcInfo } from '@substra-fabric/api';
import type { Logger } from 'pino';
import { StatusError, statusForMessage } from './errors';
import { asInvocationError, type FabricClient, type InvocationError, type InvokeRequest } from './fabric';
import { AbortedWhileQueued, Limiter } from './limiter';
import { DEFAULT_RETRY_POLICY, nextDelay, type RetryPolicy } from './retry';

/** Who calls, on which channel and chaincode. */
export interface CallTarget {
    readonly mspid: string;
    readonly channel: string;
    readonly chaincode: string;
}

export interface InvokerOptions {
    readonly fabric: FabricClient;
    readonly retryPolicy?: RetryPolicy;
    /** Version string of the gateway, answered in `QueryVersionResponse.orchestrator`. */
    readonly version: string;
    readonly logger?: Logger;
    /** Injectable for tests. */
    readonly sleep?: (ms: number) => Promise<void>;
    readonly random?: () => number;
    readonly now?: () => number;
    /**
     * Most submits in flight at once (0 = no bound); further ones wait in FIFO order. Each in-flight
     * submit holds a slot of the peer's gateway service (Fabric's `peer.limits.concurrency.gatewayService`,
     * 500 by default) while it waits for the commit; past that limit the peer refuses calls.
     */
    readonly maxConcurrentSubmits?: number;
}

/**
 * Routes RPCs to the chaincode: read-only RPCs are evaluated, the others submitted and awaited until
 * commit. Conflicts and unreachable peers (nothing reached the ledger) are retried with a new transaction
 * under a bounded, jittered backoff; a transaction whose outcome stayed unknown is never resubmitted.
 * Failures leave as {@link StatusError}s.
 */
export class Invoker {
    readonly #fabric: FabricClient;
    readonly #policy: RetryPolicy;
    readonly #version: string;
    readonly #logger: Logger | undefined;
    readonly #sleep: (ms: number) => Promise<void>;
    readonly #random: () => number;
    readonly #now: () => number;
    readonly #submits: Limiter;

    constructor(options: Readonly<InvokerOptions>) {
        this.#fabric = options.fabric;
        this.#policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
        this.#version = options.version;
        this.#logger = options.logger;
        this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
        this.#random = options.random ?? Math.random;
        this.#now = options.now ?? Date.now;
        this.#submits = new Limiter(options.maxConcurrentSubmits ?? 0);
    }

    /** Submits running and waiting for a slot. */
    get submitLoad(): { readonly active: number; readonly waiting: number } {
        return { active: this.#submits.active, waiting: this.#submits.waiting };
    }

    /**
     * Invoke the chaincode function of `rpc` with the request bytes; resolves with the response bytes.
     * `logger` (default: the invoker's) receives the retry messages of this call.
     */
    async invoke(
        rpc: RpcInfo,
        target: CallTarget,
        argument: Uint8Array,
        logger?: Logger,
        signal?: AbortSignal,
    ): Promise<Uint8Array> {
        const log = logger ?? this.#logger;
        if (rpc.method === 'QueryVersion') {
            return this.#queryVersion(rpc, target, argument, log);
        }
        return this.#invokeWithRetry(rpc, target, argument, log, signal);
    }

    async #queryVersion(
        rpc: RpcInfo,
        target: CallTarget,
        argument: Uint8Array,
        logger: Logger | undefined,
    ): Promise<Uint8Array> {
        const bytes = await this.#invokeWithRetry(rpc, target, argument, logger);
        const response = orchestrator.QueryVersionResponse.decode(bytes);
        response.orchestrator = this.#version;
        return orchestrator.QueryVersionResponse.encode(response).finish();
    }

    async #invokeWithRetry(
        rpc: RpcInfo,
        target: CallTarget,
        argument: Uint8Array,
        logger: Logger | undefined,
        signal?: AbortSignal,
    ): Promise<Uint8Array> {
        const request: InvokeRequest = { ...target, contract: rpc.contract, fn: rpc.fn, argument };
        // The retry budget counts from the start of the first attempt, not from the wait for a slot.
        let started: number | undefined;
        const call = (): Promise<Uint8Array> => {
            started ??= this.#now();
            return rpc.readOnly ? this.#fabric.evaluate(request) : this.#fabric.submit(request);
        };
        for (let attempt = 1; ; attempt++) {
            try {
                if (attempt > 1 && signal?.aborted) {
                    throw new StatusError(status.CANCELLED, 'cancelled by the client before a retry');
                }
                return await (rpc.readOnly ? call() : this.#submits.run(call, signal));
            } catch (err) {
                if (err instanceof StatusError) {
                    throw err;
                }
                if (err instanceof AbortedWhileQueued) {
                    throw new StatusError(status.CANCELLED, err.message);
                }
                const failure = asInvocationError(err);
                const elapsed = this.#now() - (started ?? this.#now());
                const delay = nextDelay(this.#policy, failure.kind, attempt, elapsed, this.#random);
                if (delay === undefined) {
                    throw toStatusError(failure, attempt, batchHint(rpc, argument, failure));
                }
                logger?.warn(
                    { attempt, kind: failure.kind, delayMs: delay, txId: failure.transactionId, err: failure.message },
                    'retrying transaction',
                );
                await this.#sleep(delay);
            }
        }
    }
}

/** Items per call of the batch RPCs, read from their request. */
const BATCH_ITEMS: Readonly<Record<string, { noun: string; count(request: Uint8Array): number }>> = {
    RegisterTasks: { noun: 'tasks', count: (r) => orchestrator.RegisterTasksParam.decode(r).tasks.length },
    RegisterDataSamples: {
        noun: 'data samples',
        count: (r) => orchestrator.RegisterDataSamplesParam.decode(r).samples.length,
    },
    RegisterModels: { noun: 'models', count: (r) => orchestrator.RegisterModelsParam.decode(r).models.length },
};

/** For a batch too large for one transaction: how many items per call would fit (with a 10 % margin). */
export function batchHint(rpc: RpcInfo, request: Uint8Array, failure: InvocationError): string {
    const batch = BATCH_ITEMS[rpc.method];
    if (failure.kind !== 'too_large' || !batch || !failure.size) {
        return '';
    }
    const count = batch.count(request);
    if (count <= 1) {
        return '';
    }
    const perItem = failure.size.transactionBytes / count;
    const safe = Math.max(1, Math.floor((failure.size.limitBytes * 0.9) / perItem));
    return `; this ${rpc.method} of ${count} ${batch.noun} takes about ${Math.round(perItem)} bytes per item: send at most ${safe} ${batch.noun} per call`;
}

/**
 * gRPC status of a final failure: chaincode messages by their orchestration code (UNKNOWN when none),
 * conflicts still unresolved, unreachable peers and unknown outcomes UNAVAILABLE, transactions over the
 * channel's size limit RESOURCE_EXHAUSTED, work that did not finish in time DEADLINE_EXCEEDED, everything
 * else UNKNOWN.
 */
export function toStatusError(failure: InvocationError, attempts = 1, hint = ''): StatusError {
    switch (failure.kind) {
        case 'too_large':
            return new StatusError(status.RESOURCE_EXHAUSTED, failure.message + hint);
        case 'deadline':
            return new StatusError(status.DEADLINE_EXCEEDED, failure.message);
        case 'chaincode':
            return new StatusError(statusForMessage(failure.message), failure.message);
        case 'conflict':
            // transient by nature: UNAVAILABLE is what the Substra backend retries (with a growing delay)
            return new StatusError(
                status.UNAVAILABLE,
                `still conflicting with concurrent transactions after ${attempts} attempts: ${failure.message}`,
            );
        case 'unavailable':
        case 'timeout':
            return new StatusError(status.UNAVAILABLE, failure.message);
        default:
            return new StatusError(status.UNKNOWN, failure.message);
    }
}
