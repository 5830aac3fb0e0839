import { status } from '@grpc/grpc-js';
import { orchestrator, type RpcInfo } from '@substra-fabric/api';
import type { Logger } from 'pino';
import { StatusError, asInvocationError, batchHint, toStatusError } from '../errors';
import type { FabricClient, InvokeRequest } from '../fabric/client';
import { DEFAULT_RETRY_POLICY, nextDelay, type RetryPolicy } from '../fabric/retry';
import type { CallTarget } from './headers';
import { AbortedWhileQueued, Limiter } from './limiter';

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
 * Failures leave as {@link StatusError}s ({@link toStatusError}).
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
