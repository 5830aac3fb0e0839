import { orchestrator, rpcByPath } from '@substra-fabric/api';
import type { Logger } from 'pino';
import type { IndexReadiness } from '../events/hub';
import type { FabricClient } from '../fabric/client';
import type { GatewayMetrics } from './metrics';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

/** Health name that follows the peer: SERVING while the last probe of at least one channel succeeded. */
export const FABRIC_HEALTH_SERVICE = 'orchestrator.fabric';

/** Health name that follows one channel: SERVING while its last probe succeeded. */
export function channelHealthService(channel: string): string {
    return `${FABRIC_HEALTH_SERVICE}/${channel}`;
}

/** One configured (channel, chaincode) and the wallet identity that probes it (undefined: none can). */
export interface ProbeTarget {
    readonly mspid: string | undefined;
    readonly channel: string;
    readonly chaincode: string;
}

export interface FabricHealthOptions {
    readonly fabric: FabricClient;
    readonly targets: readonly ProbeTarget[];
    /** Time between the end of a probe round and the start of the next; 0 = no probes. */
    readonly intervalMs: number;
    /** Longest time the overall status stays NOT_SERVING at start-up while no probe has succeeded. */
    readonly startupGraceMs: number;
    /** Receives every status change (the grpc.health.v1 implementation). */
    readonly setStatus: (service: string, status: ServingStatus) => void;
    readonly logger: Logger;
    readonly metrics?: GatewayMetrics | undefined;
    /**
     * The event indexes: a channel whose probe succeeds but whose index is still catching up with the
     * chain is NOT_SERVING, and so is `orchestrator.fabric` (without it, probes alone decide).
     */
    readonly indexing?: IndexReadiness | undefined;
}

const QUERY_VERSION = rpcByPath('/orchestrator.InfoService/QueryVersion');
const QUERY_VERSION_ARGUMENT = orchestrator.QueryVersionParam.encode({}).finish();

/**
 * Health that means something. Every `intervalMs`, each configured (channel, chaincode) is probed by
 * an evaluate of `orchestrator.info:QueryVersion` (one attempt, no retry; no answer within the interval
 * counts as a failure), signed by the first wallet identity that is a member of the channel. Statuses:
 *
 * - `orchestrator.fabric/<channel>`: SERVING while that channel's last probe succeeded and its event
 *   index has caught up with the chain;
 * - `orchestrator.fabric`: SERVING while at least one channel is SERVING and no channel that answers is
 *   still catching up, NOT_SERVING while every probe fails (readiness);
 * - `''` (overall): NOT_SERVING at start-up until a probe succeeds or `startupGraceMs` has passed,
 *   then SERVING until shutdown, whatever the peer does (liveness and start-up probes: a peer outage
 *   must not get the pod restarted, it would not help).
 *
 * With `intervalMs` 0 nothing is probed and every name is SERVING from the start.
 */
export class FabricHealth {
    readonly #options: FabricHealthOptions;
    /** Last probe result per target (undefined before the first one). */
    readonly #up: (boolean | undefined)[];
    /** Last status sent per name: health Watch streams are told of changes only. */
    readonly #statuses = new Map<string, ServingStatus>();
    #started = false;
    #stopped = false;
    #timer: NodeJS.Timeout | undefined;
    #graceTimer: NodeJS.Timeout | undefined;
    #unsubscribe: (() => void) | undefined;
    /** Deadlines of the probes in flight, cleared on stop. */
    readonly #deadlines = new Set<NodeJS.Timeout>();

    constructor(options: Readonly<FabricHealthOptions>) {
        this.#options = options;
        this.#up = options.targets.map(() => undefined);
        const initial: ServingStatus = this.enabled ? 'NOT_SERVING' : 'SERVING';
        for (const service of this.#names()) {
            this.#set(service, initial);
        }
        if (this.enabled) {
            for (const target of options.targets) {
                options.metrics?.fabricUp.set({ channel: target.channel, chaincode: target.chaincode }, 0);
            }
            this.#unsubscribe = options.indexing?.onChange(() => {
                if (!this.#stopped && this.#up.some((up) => up !== undefined)) {
                    this.#publish();
                }
            });
        }
    }

    get enabled(): boolean {
        return this.#options.intervalMs > 0;
    }

    /** Start probing (the first round at once) and the start-up grace period. */
    start(): void {
        if (!this.enabled || this.#stopped || this.#timer !== undefined) {
            return;
        }
        this.#graceTimer = setTimeout(() => {
            this.#graceTimer = undefined;
            if (!this.#started) {
                this.#options.logger.warn(
                    { graceMs: this.#options.startupGraceMs },
                    'no peer probe succeeded during the start-up grace period; reporting SERVING for liveness',
                );
                this.#markStarted();
            }
        }, this.#options.startupGraceMs);
        this.#schedule(0);
    }

    /** Stop probing and report NOT_SERVING under every name (shutdown). */
    stop(): void {
        this.#stopped = true;
        this.#unsubscribe?.();
        clearTimeout(this.#timer);
        clearTimeout(this.#graceTimer);
        for (const deadline of this.#deadlines) {
            clearTimeout(deadline);
        }
        for (const service of this.#names()) {
            this.#set(service, 'NOT_SERVING');
        }
    }

    /** Probe every target once and publish the statuses. */
    async probeAll(): Promise<void> {
        const errors = await Promise.all(this.#options.targets.map((target) => this.#probe(target)));
        if (this.#stopped) {
            return;
        }
        errors.forEach((error, i) => {
            this.#record(i, error);
        });
        this.#publish();
    }

    #set(service: string, status: ServingStatus): void {
        if (this.#statuses.get(service) !== status) {
            this.#statuses.set(service, status);
            this.#options.setStatus(service, status);
        }
    }

    #names(): string[] {
        return [
            '',
            FABRIC_HEALTH_SERVICE,
            ...new Set(this.#options.targets.map((t) => channelHealthService(t.channel))),
        ];
    }

    #schedule(delayMs: number): void {
        this.#timer = setTimeout(() => {
            this.probeAll()
                .catch((err: unknown) => {
                    this.#options.logger.error({ err }, 'peer probe round failed');
                })
                .finally(() => {
                    if (!this.#stopped) {
                        this.#schedule(this.#options.intervalMs);
                    }
                });
        }, delayMs);
    }

    /** Resolves with the failure's text, or undefined on success; never rejects. */
    async #probe(target: ProbeTarget): Promise<string | undefined> {
        if (target.mspid === undefined) {
            return `the wallet holds no identity of a member of channel "${target.channel}"`;
        }
        if (QUERY_VERSION === undefined) {
            return 'QueryVersion is missing from the RPC table';
        }
        const { intervalMs } = this.#options;
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<string>((resolve) => {
            timer = setTimeout(() => {
                resolve(`no answer within ${intervalMs} ms`);
            }, intervalMs);
            this.#deadlines.add(timer);
        });
        const request = {
            mspid: target.mspid,
            channel: target.channel,
            chaincode: target.chaincode,
            contract: QUERY_VERSION.contract,
            fn: QUERY_VERSION.fn,
            argument: QUERY_VERSION_ARGUMENT,
        };
        const call = Promise.resolve()
            .then(() => this.#options.fabric.evaluate(request))
            .then(
                () => undefined,
                (err: unknown) => (err instanceof Error ? err.message : String(err)),
            );
        try {
            return await Promise.race([call, deadline]);
        } finally {
            if (timer !== undefined) {
                clearTimeout(timer);
                this.#deadlines.delete(timer);
            }
        }
    }

    #record(i: number, error: string | undefined): void {
        const target = this.#options.targets[i];
        if (target === undefined) {
            return;
        }
        const up = error === undefined;
        const previous = this.#up[i];
        this.#up[i] = up;
        this.#options.metrics?.fabricUp.set({ channel: target.channel, chaincode: target.chaincode }, up ? 1 : 0);
        if (previous === up) {
            return;
        }
        const fields = { channel: target.channel, chaincode: target.chaincode, mspid: target.mspid };
        if (up) {
            this.#options.logger.info(fields, 'peer probe succeeded');
        } else {
            this.#options.logger.warn({ ...fields, error }, 'peer probe failed');
        }
    }

    #publish(): void {
        const { targets, indexing } = this.#options;
        const channels = new Map<string, boolean>();
        let catchingUp = false;
        for (const [i, target] of targets.entries()) {
            const reachable = this.#up[i] === true;
            const indexed = indexing?.caughtUp(target.channel, target.chaincode) ?? true;
            catchingUp ||= reachable && !indexed;
            channels.set(target.channel, (channels.get(target.channel) ?? false) || (reachable && indexed));
        }
        for (const [channel, up] of channels) {
            this.#set(channelHealthService(channel), up ? 'SERVING' : 'NOT_SERVING');
        }
        const anyUp = [...channels.values()].some(Boolean);
        this.#set(FABRIC_HEALTH_SERVICE, anyUp && !catchingUp ? 'SERVING' : 'NOT_SERVING');
        // Liveness follows the peer only: a long catch-up must not get the pod restarted.
        if (!this.#started && this.#up.some((up) => up === true)) {
            this.#markStarted();
        }
    }

    #markStarted(): void {
        this.#started = true;
        clearTimeout(this.#graceTimer);
        if (!this.#stopped) {
            this.#set('', 'SERVING');
        }
    }
}
