import * as http from 'node:http';
import { Server, type ServerCredentials, ServerCredentials as Credentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { PROTO_DIR, PROTO_FILES } from '@substra-fabric/api';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { EventHub } from '../events/hub';
import type { EventIndex } from '../events/eventindex';
import type { FabricClient } from '../fabric/client';
import type { RetryPolicy } from '../fabric/retry';
import { chaincodeFor, type GatewayConfig } from '../ops/config';
import { FabricHealth, type ProbeTarget } from '../ops/health';
import { GatewayMetrics } from '../ops/metrics';
import type { CallTarget } from './headers';
import {
    errorMappingInterceptor,
    headerInterceptor,
    observabilityInterceptor,
    requestIdInterceptor,
} from './interceptors';
import { Invoker } from './invoker';
import { type HandlerContext, orchestratorServices, serviceImplementation } from './services';
import type { MspVerifier } from './tls';

/**
 * Settings the server itself reads (a subset of {@link GatewayConfig}). Without `health` the peer is
 * not probed (every health name SERVING); without `allowAnyChaincode` only configured chaincodes are served.
 */
export type ServerConfig = Partial<Pick<GatewayConfig, 'allowAnyChaincode' | 'health'>> &
    Pick<
        GatewayConfig,
        | 'host'
        | 'port'
        | 'channelConfig'
        | 'defaultChaincode'
        | 'maxReceiveMessageBytes'
        | 'metricsEnabled'
        | 'metricsHost'
        | 'metricsPort'
    >;

export interface GatewayServerOptions {
    readonly config: ServerConfig;
    readonly fabric: FabricClient;
    readonly logger: Logger;
    /** Version answered by QueryVersion in `orchestrator`. */
    readonly version: string;
    readonly retryPolicy?: RetryPolicy;
    /** Most submits in flight at once (0 or omitted = no bound). */
    readonly maxConcurrentSubmits?: number;
    /** Directory of the durable event indexes; undefined keeps them in memory. */
    readonly stateDir?: string;
    /** Insecure when omitted. */
    readonly credentials?: ServerCredentials;
    readonly mspVerifier?: MspVerifier;
    /** Whether the wallet holds an identity of an organization (all, when omitted). */
    readonly hasIdentity?: (mspid: string) => boolean;
    /** Options of the Invoker, for tests (sleep, random, now). */
    readonly invokerOverrides?: Partial<Pick<ConstructorParameters<typeof Invoker>[0], 'sleep' | 'random' | 'now'>>;
}

export interface ListeningAddresses {
    readonly port: number;
    readonly metricsPort: number | undefined;
}

/**
 * The orchestrator gRPC server of the distributed mode: the 40 RPCs forwarded to the chaincode as
 * bytes, QueryEvents and SubscribeToEvents served from chaincode events, health, reflection and
 * Prometheus metrics.
 */
export class GatewayServer {
    readonly #options: GatewayServerOptions;
    readonly #server: Server;
    readonly #health = new HealthImplementation({ '': 'SERVING' });
    readonly #fabricHealth: FabricHealth;
    readonly #invoker: Invoker;
    readonly #events: EventHub;
    readonly #metrics: GatewayMetrics | undefined;
    readonly #logger: Logger;
    /** Ends each running event stream, for shutdown. */
    readonly #streams = new Set<() => void>();
    #metricsServer: http.Server | undefined;

    constructor(options: Readonly<GatewayServerOptions>) {
        this.#options = options;
        this.#logger = options.logger;
        this.#metrics = options.config.metricsEnabled ? new GatewayMetrics() : undefined;
        this.#invoker = new Invoker({
            fabric: options.fabric,
            version: options.version,
            logger: options.logger,
            ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}),
            ...(options.maxConcurrentSubmits !== undefined
                ? { maxConcurrentSubmits: options.maxConcurrentSubmits }
                : {}),
            ...options.invokerOverrides,
        });
        this.#events = new EventHub({
            fabric: options.fabric,
            logger: options.logger,
            ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}),
        });
        this.#server = new Server({
            'grpc.max_receive_message_length': options.config.maxReceiveMessageBytes,
            interceptors: [
                requestIdInterceptor(),
                observabilityInterceptor(this.#metrics, options.logger),
                errorMappingInterceptor(),
                headerInterceptor({ config: options.config, verifier: options.mspVerifier }),
            ],
        });
        this.#fabricHealth = new FabricHealth({
            fabric: options.fabric,
            targets: this.#probeTargets(),
            intervalMs: options.config.health?.intervalMs ?? 0,
            startupGraceMs: options.config.health?.startupGraceMs ?? 0,
            setStatus: (service, servingStatus) => {
                this.#health.setStatus(service, servingStatus);
            },
            logger: options.logger,
            metrics: this.#metrics,
            indexing: this.#events,
        });
        this.#register();
    }

    /** Each configured channel, its chaincode, and the first member the wallet holds an identity of. */
    #probeTargets(): ProbeTarget[] {
        const { config } = this.#options;
        return [...config.channelConfig.channels].map(([channel, members]) => ({
            mspid: this.#walletMember(members),
            channel,
            chaincode: chaincodeFor(config, channel),
        }));
    }

    /** Prometheus registry (undefined when metrics are disabled). */
    get metrics(): GatewayMetrics | undefined {
        return this.#metrics;
    }

    /** Bind the gRPC port (and the metrics port); port 0 picks a free one. */
    async start(): Promise<ListeningAddresses> {
        const { config } = this.#options;
        const credentials = this.#options.credentials ?? Credentials.createInsecure();
        const port = await new Promise<number>((resolve, reject) => {
            this.#server.bindAsync(`${config.host}:${config.port}`, credentials, (err, bound) => {
                if (err) {
                    reject(err);
                } else {
                    resolve(bound);
                }
            });
        });
        let metricsPort: number | undefined;
        if (this.#metrics) {
            const listening = await this.#metrics.listen(config.metricsHost, config.metricsPort);
            this.#metricsServer = listening.server;
            metricsPort = listening.port;
        }
        this.#logger.info({ host: config.host, port, metricsPort }, 'gateway listening');
        this.#fabricHealth.start();
        return { port, metricsPort };
    }

    /** Start the event listener of every configured channel that a wallet identity can read. */
    startListeners(): void {
        const { config } = this.#options;
        for (const [channel, members] of config.channelConfig.channels) {
            const mspid = this.#walletMember(members);
            if (mspid !== undefined) {
                this.#events.index({ mspid, channel, chaincode: chaincodeFor(config, channel) });
            }
        }
    }

    /**
     * Index of the caller's channel and chaincode. Its listener (when this call starts it) signs with
     * the caller's identity if the wallet has it, else with another member of the channel that it has.
     */
    #indexFor(target: CallTarget, reader: string = this.#readerOf(target)): EventIndex {
        return this.#events.index({ ...target, mspid: reader });
    }

    /** Identity that reads the ledger for a caller: its own when the wallet has it, else a channel member's. */
    #readerOf(target: CallTarget): string {
        if (this.#hasIdentity(target.mspid)) {
            return target.mspid;
        }
        const members = this.#options.config.channelConfig.channels.get(target.channel) ?? [];
        return this.#walletMember(members) ?? target.mspid;
    }

    /** The first of `members` the wallet holds an identity of. */
    #walletMember(members: Iterable<string>): string | undefined {
        return [...members].find((m) => this.#hasIdentity(m));
    }

    #hasIdentity(mspid: string): boolean {
        return this.#options.hasIdentity?.(mspid) ?? true;
    }

    /** Report NOT_SERVING, stop accepting calls (waiting up to `graceMs` for running ones), close everything. */
    async stop(graceMs = 5000): Promise<void> {
        this.#fabricHealth.stop();
        await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
                this.#server.forceShutdown();
                resolve();
            }, graceMs);
            this.#server.tryShutdown(() => {
                clearTimeout(timer);
                resolve();
            });
            // Event streams never end by themselves: end them so that shutdown can complete.
            for (const end of [...this.#streams]) {
                end();
            }
        });
        await this.#events.shutdown();
        await new Promise<void>((resolve) => {
            if (this.#metricsServer) {
                this.#metricsServer.close(() => {
                    resolve();
                });
                this.#metricsServer.closeAllConnections();
            } else {
                resolve();
            }
        });
        this.#options.fabric.close();
    }

    #register(): void {
        const context: HandlerContext = {
            invoker: this.#invoker,
            fabric: this.#options.fabric,
            logger: this.#logger,
            readerOf: (target) => this.#readerOf(target),
            indexFor: (target, reader) => this.#indexFor(target, reader),
            streams: this.#streams,
        };
        for (const [name, definition] of orchestratorServices()) {
            this.#server.addService(definition, serviceImplementation(name, context));
        }
        this.#health.addToServer(this.#server);
        const packageDefinition = loadSync([...PROTO_FILES], {
            includeDirs: [PROTO_DIR],
            keepCase: true,
            longs: String,
            enums: String,
            defaults: true,
            oneofs: true,
        });
        new ReflectionService(packageDefinition).addToServer(this.#server);
    }
}
