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
 * How to turn an "already exists" after a timed-out attempt into success: the keys the request
 * registers, the getter that returns each asset, and the response built from the assets.
 */
interface Recovery {
    keys(request: Uint8Array): string[];
    getter: { readonly contract: string; readonly fn: string; encode(key: string): Uint8Array };
    response(assets: Uint8Array[]): Uint8Array;
}

const encodeKey = {
    task: (key: string) => orchestrator.GetTaskParam.encode({ key }).finish(),
    sample: (key: string) => orchestrator.GetDataSampleParam.encode({ key }).finish(),
    fn: (key: string) => orchestrator.GetFunctionParam.encode({ key }).finish(),
    manager: (key: string) => orchestrator.GetDataManagerParam.encode({ key }).finish(),
    model: (key: string) => orchestrator.GetModelParam.encode({ key }).finish(),
    plan: (key: string) => orchestrator.GetComputePlanParam.encode({ key }).finish(),
    failureReport: (key: string) => orchestrator.GetFailureReportParam.encode({ asset_key: key }).finish(),
    /** A performance is identified by its task and output identifier, joined by a NUL character. */
    performance: (key: string) => {
        const [taskKey = '', identifier = ''] = key.split('\u0000');
        return orchestrator.QueryPerformancesParam.encode({
            page_size: 1,
            filter: { compute_task_key: taskKey, compute_task_output_identifier: identifier },
        }).finish();
    },
};

function single(assets: Uint8Array[]): Uint8Array {
    const [asset] = assets;
    if (asset === undefined) {
        throw new StatusError(status.INTERNAL, 'OE0007: no asset to return');
    }
    return asset;
}

const RECOVERIES: ReadonlyMap<string, Recovery> = new Map<string, Recovery>([
    [
        'RegisterTasks',
        {
            keys: (req) => orchestrator.RegisterTasksParam.decode(req).tasks.map((t) => t.key ?? ''),
            getter: { contract: 'orchestrator.computetask', fn: 'GetTask', encode: encodeKey.task },
            response: (assets) =>
                orchestrator.RegisterTasksResponse.encode({
                    tasks: assets.map((a) => orchestrator.ComputeTask.decode(a)),
                }).finish(),
        },
    ],
    [
        'RegisterDataSamples',
        {
            keys: (req) => orchestrator.RegisterDataSamplesParam.decode(req).samples.map((s) => s.key ?? ''),
            getter: { contract: 'orchestrator.datasample', fn: 'GetDataSample', encode: encodeKey.sample },
            response: (assets) =>
                orchestrator.RegisterDataSamplesResponse.encode({
                    data_samples: assets.map((a) => orchestrator.DataSample.decode(a)),
                }).finish(),
        },
    ],
    [
        'RegisterModels',
        {
            keys: (req) => orchestrator.RegisterModelsParam.decode(req).models.map((m) => m.key ?? ''),
            getter: { contract: 'orchestrator.model', fn: 'GetModel', encode: encodeKey.model },
            response: (assets) =>
                orchestrator.RegisterModelsResponse.encode({
                    models: assets.map((a) => orchestrator.Model.decode(a)),
                }).finish(),
        },
    ],
    [
        'RegisterModel',
        {
            keys: (req) => [orchestrator.NewModel.decode(req).key],
            getter: { contract: 'orchestrator.model', fn: 'GetModel', encode: encodeKey.model },
            response: single,
        },
    ],
    [
        'RegisterFunction',
        {
            keys: (req) => [orchestrator.NewFunction.decode(req).key],
            getter: { contract: 'orchestrator.function', fn: 'GetFunction', encode: encodeKey.fn },
            response: single,
        },
    ],
    [
        'RegisterPlan',
        {
            keys: (req) => [orchestrator.NewComputePlan.decode(req).key],
            getter: { contract: 'orchestrator.computeplan', fn: 'GetPlan', encode: encodeKey.plan },
            response: single,
        },
    ],
    [
        'RegisterFailureReport',
        {
            keys: (req) => [orchestrator.NewFailureReport.decode(req).asset_key],
            getter: {
                contract: 'orchestrator.failurereport',
                fn: 'GetFailureReport',
                encode: encodeKey.failureReport,
            },
            response: single,
        },
    ],
    [
        'RegisterPerformance',
        {
            keys: (req) => {
                const performance = orchestrator.NewPerformance.decode(req);
                return [`${performance.compute_task_key}\u0000${performance.compute_task_output_identifier}`];
            },
            getter: { contract: 'orchestrator.performance', fn: 'QueryPerformances', encode: encodeKey.performance },
            response: (pages) => {
                const [found] = orchestrator.QueryPerformancesResponse.decode(single(pages)).Performances;
                if (found === undefined) {
                    throw new StatusError(status.INTERNAL, 'OE0007: the registered performance cannot be found');
                }
                return orchestrator.Performance.encode(found).finish();
            },
        },
    ],
    [
        'RegisterDataManager',
        {
            keys: (req) => [orchestrator.NewDataManager.decode(req).key],
            getter: { contract: 'orchestrator.datamanager', fn: 'GetDataManager', encode: encodeKey.manager },
            response: single,
        },
    ],
]);

/** Names of the RPCs whose "already exists" after a timed-out attempt is treated as success. */
export const IDEMPOTENT_REGISTRATIONS: readonly string[] = Object.freeze([...RECOVERIES.keys()]);

/**
 * Routes RPCs to the chaincode: read-only RPCs are evaluated, the others submitted and awaited until
 * commit. Conflicts, unreachable peers and timeouts are retried with a new transaction under a bounded,
 * jittered backoff. Failures leave as {@link StatusError}s.
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
        let timedOut = false;
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
                const recovery = RECOVERIES.get(rpc.method);
                if (timedOut && recovery && failure.kind === 'chaincode' && failure.message.includes('OE0006')) {
                    logger?.info({ attempt }, 'registration already committed by a timed-out attempt');
                    return this.#recover(recovery, target, argument);
                }
                const elapsed = this.#now() - (started ?? this.#now());
                const delay = nextDelay(this.#policy, failure.kind, attempt, elapsed, this.#random);
                if (delay === undefined) {
                    throw toStatusError(failure);
                }
                timedOut ||= failure.kind === 'timeout';
                logger?.warn(
                    { attempt, kind: failure.kind, delayMs: delay, txId: failure.transactionId, err: failure.message },
                    'retrying transaction',
                );
                await this.#sleep(delay);
            }
        }
    }

    async #recover(recovery: Recovery, target: CallTarget, argument: Uint8Array): Promise<Uint8Array> {
        const assets: Uint8Array[] = [];
        for (const key of recovery.keys(argument)) {
            const request = { ...target, contract: recovery.getter.contract, fn: recovery.getter.fn };
            try {
                assets.push(await this.#fabric.evaluate({ ...request, argument: recovery.getter.encode(key) }));
            } catch (err) {
                throw toStatusError(asInvocationError(err));
            }
        }
        return recovery.response(assets);
    }
}

/**
 * gRPC status of a final failure: chaincode messages by their orchestration code (UNKNOWN when none),
 * transport failures and timeouts UNAVAILABLE, everything else UNKNOWN.
 */
export function toStatusError(failure: InvocationError): StatusError {
    switch (failure.kind) {
        case 'chaincode':
            return new StatusError(statusForMessage(failure.message), failure.message);
        case 'unavailable':
        case 'timeout':
            return new StatusError(status.UNAVAILABLE, failure.message);
        default:
            return new StatusError(status.UNKNOWN, failure.message);
    }
}
