/**
 * Starts what the end-to-end bench measures: a real Hyperledger Fabric network (test/network: one etcdraft
 * orderer and one peer per organization, each its own process, and our chaincode as a service, one process per
 * organization) on free ports in a temporary state directory, and in this process the orchestrator gateway
 * (`GatewayServer` over `FabricGatewayClient`, as gateway/src/main.ts wires them) with an identity per
 * organization, plus a raw grpc-js client that calls it like a Substra backend (binary protobuf, headers
 * `mspid` and `channel`). The floor: a no-op chaincode (`noop-chaincode/main.ts`, one PutState per call) deployed
 * on the same channel the same way (test/network's `extraChaincodes`), with a fabric-gateway client of org1 for it.
 *
 * The gateway runs in the bench process (not as `startGatewayProcess`) so that the bench's own CPU and heap
 * numbers are those of gateway + client; the peers, the orderer and the chaincode processes are measured from
 * /proc by their pids.
 */
import { createPrivateKey } from 'node:crypto';
import { appendFileSync, createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Contract } from '@hyperledger/fabric-gateway';
import { RPCS, orchestrator } from '@substra-fabric/api';
import {
    FabricGatewayClient,
    GatewayServer,
    newLogger,
    parseChannelConfig,
    type WalletIdentity,
} from '@substra-fabric/gateway';
import {
    connectOrgGateway,
    endorsementPolicyString,
    startFabricNetwork,
    type FabricNetwork,
} from '@substra-fabric/network';
import { messageClass } from '../../../chaincode/src/contracts/codec';

export const CHANNEL = 'mychannel';
export const CHAINCODE = 'mycc';

/** The orderer's block cutting for the bench (the network's defaults, passed explicitly so the header is true). */
export const BATCH_TIMEOUT_MS = 100;
export const MAX_MESSAGE_COUNT = 10;

/** The no-op chaincode (`noop-chaincode/main.ts`, one PutState per call), deployed on the bench channel too. */
export const NOOP_CHAINCODE = 'noop';

export interface BenchNetworkOptions {
    /** orderer BatchTimeout, ms (default {@link BATCH_TIMEOUT_MS}) */
    readonly batchTimeoutMs?: number;
    /** orderer MaxMessageCount (default {@link MAX_MESSAGE_COUNT}) */
    readonly maxMessageCount?: number;
    /** endorsement policy of both chaincodes (default OR) */
    readonly policy?: 'or' | 'and';
}

/** Who endorses the gateway's writes: the Gateway service's choice, or every organization at once. */
export type Endorsers = 'gateway' | 'channel';

/** Submits to the no-op chaincode through @hyperledger/fabric-gateway directly (org1's peer), until committed. */
export interface NoopClient {
    /** `put(key, value)`: one PutState; resolves once org1's peer committed it as valid. */
    put(key: string): Promise<void>;
    close(): void;
}

export interface BenchNetwork {
    readonly client: OrchestratorClient;
    /** Sets ORCHESTRATOR_ENDORSING_ORGANIZATIONS of the gateway, for the next writes. */
    setEndorsers(endorsers: Endorsers): void;
    readonly network: FabricNetwork;
    /** The floor: the no-op chaincode, called without our gateway. */
    readonly noop: NoopClient;
    /** Temporary directory holding the network's state (`network/`), `network.log`, `gateway.log`, `gateway/`. */
    readonly stateDir: string;
    /** One line describing the network: Fabric version, processes, block cutting, endorsement policy. */
    readonly description: string;
    /** Current pid of a supervised process (`orderer`, `peer0.org1`, `mycc/MyOrg1MSP`, ...). */
    pid(name: string): number | undefined;
    /** Bytes of the bench channel's block files on org1's peer (the chain as stored); undefined when not found. */
    blockBytes(): number | undefined;
    /** Stops the gateway and the network; removes the state directory unless `keepState` (or KEEP_BENCH_STATE). */
    stop(keepState?: boolean): Promise<void>;
}

function tail(file: string, lines = 30): string {
    try {
        return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
        return '';
    }
}

/**
 * Size of a peer's block store for one channel: Fabric keeps the blocks of channel C in
 * `<CORE_PEER_FILESYSTEMPATH>/ledgersData/chains/chains/C/blockfile_NNNNNN`; test/network sets the file system
 * path of peer P to `<state>/data/P`.
 */
function blockFilesBytes(network: FabricNetwork, peerProcess: string, channel: string): number | undefined {
    const dir = path.join(network.stateDir, 'data', peerProcess, 'ledgersData', 'chains', 'chains', channel);
    try {
        return readdirSync(dir)
            .filter((name) => name.startsWith('blockfile_'))
            .reduce((sum, name) => sum + statSync(path.join(dir, name)).size, 0);
    } catch {
        return undefined;
    }
}

/** The no-op chaincode's executable, compiled next to this file (test/bench/dist/test/bench/noop-chaincode/). */
const NOOP_MAIN = path.join(__dirname, '..', 'noop-chaincode', 'main.js');

const NOOP_VALUE = Buffer.alloc(64, 'n');

function noopClient(org: FabricNetwork['orgs'][number]): NoopClient {
    // the same connection and signer as our gateway's, so the floor signs the same way
    const connection = connectOrgGateway(org);
    const { gateway } = connection;
    const contract: Contract = gateway.getNetwork(CHANNEL).getContract(NOOP_CHAINCODE);
    return {
        put: async (key) => {
            const submitted = await contract.submitAsync('put', { arguments: [key, NOOP_VALUE] });
            const status = await submitted.getStatus();
            if (!status.successful) {
                throw new Error(`no-op put ${key}: transaction ${status.transactionId} invalid (code ${status.code})`);
            }
        },
        close: () => {
            connection.close();
        },
    };
}

export async function startBenchNetwork(options: BenchNetworkOptions = {}): Promise<BenchNetwork> {
    const batchTimeoutMs = options.batchTimeoutMs ?? BATCH_TIMEOUT_MS;
    const maxMessageCount = options.maxMessageCount ?? MAX_MESSAGE_COUNT;
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'substra-bench-'));
    const networkLog = path.join(stateDir, 'network.log');
    let network: FabricNetwork;
    try {
        network = await startFabricNetwork({
            stateDir: path.join(stateDir, 'network'),
            ports: 'auto',
            policy: options.policy ?? 'or',
            channels: [{ name: CHANNEL, chaincode: CHAINCODE }],
            batchTimeoutMs,
            maxMessageCount,
            extraChaincodes: [{ name: NOOP_CHAINCODE, channel: CHANNEL, command: process.execPath, args: [NOOP_MAIN] }],
            // A process that dies must show as errors and '?' in the notes, not be replaced mid-measure.
            restart: false,
            log: (line) => {
                appendFileSync(networkLog, line + '\n');
            },
        });
    } catch (err) {
        throw new Error(
            `the Fabric network did not start (state kept in ${stateDir}); ${networkLog}:\n${tail(networkLog)}`,
            { cause: err },
        );
    }
    // Ctrl-C reaches only this process (the network's processes run in their own process groups): stop them.
    let stopping: Promise<void> | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
        process.stderr.write(`\n${signal}: stopping the Fabric network (state in ${stateDir})\n`);
        void (stopping ?? network.stop()).finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const stopNetwork = (): Promise<void> => {
        stopping ??= network.stop().finally(() => {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
        });
        return stopping;
    };
    try {
        const wallet = new Map<string, WalletIdentity>();
        for (const org of network.orgs) {
            wallet.set(org.mspId, {
                mspid: org.mspId,
                certificate: readFileSync(org.certFile),
                privateKey: createPrivateKey(readFileSync(org.keyFile)),
                peer: {
                    endpoint: org.endpoint,
                    tlsCaCertPath: org.tlsCaFile,
                    tlsClientCertPath: org.tlsClientCertFile,
                    tlsClientKeyPath: org.tlsClientKeyFile,
                    hostAlias: 'localhost',
                },
            });
        }
        const first = network.orgs[0];
        if (first === undefined) {
            throw new Error('Fabric network without organizations');
        }
        let endorsers: Endorsers = 'gateway';
        const allOrgs = network.orgs.map((o) => o.mspId).sort();
        const fabric = new FabricGatewayClient({
            wallet,
            defaultPeer: wallet.get(first.mspId)!.peer!,
            timeoutMs: 60_000,
            endorsingOrganizations: () => (endorsers === 'channel' ? allOrgs : undefined),
        });
        const channelConfig = parseChannelConfig(
            JSON.stringify({
                channels: { [CHANNEL]: network.orgs.map((o) => o.mspId) },
                chaincodes: { [CHANNEL]: CHAINCODE },
            }),
        );
        // The gateway logs one JSON line per call at info, as deployed; into a file.
        const gatewayLog = createWriteStream(path.join(stateDir, 'gateway.log'));
        const logger = newLogger('info', gatewayLog);
        const server = new GatewayServer({
            config: {
                host: '127.0.0.1',
                port: 0,
                channelConfig,
                defaultChaincode: CHAINCODE,
                maxReceiveMessageBytes: 64 * 2 ** 20,
                metricsEnabled: false,
                metricsHost: '127.0.0.1',
                metricsPort: 0,
            },
            fabric,
            logger,
            version: 'bench',
            stateDir: path.join(stateDir, 'gateway'),
            hasIdentity: (mspid) => wallet.has(mspid),
        });
        const { port } = await server.start();
        server.startListeners();
        const client = new OrchestratorClient(`127.0.0.1:${port}`);
        const noop = noopClient(first);
        const description =
            `Fabric network: Fabric ${network.fabric.version}, 1 etcdraft orderer + ${network.orgs.length} peers ` +
            `(LevelDB, TLS), chaincode as a service; BatchTimeout ${network.blockCutting.batchTimeoutMs} ms, ` +
            `MaxMessageCount ${network.blockCutting.maxMessageCount}; policy ${endorsementPolicyString(network.policy)}`;
        return {
            client,
            setEndorsers: (value) => {
                endorsers = value;
            },
            network,
            noop,
            stateDir,
            description,
            pid: (name) => network.process(name)?.pid,
            blockBytes: () => blockFilesBytes(network, first.peerProcess, CHANNEL),
            stop: async (keepState = false) => {
                client.close();
                noop.close();
                await server.stop(2000);
                await stopNetwork();
                await new Promise<void>((resolve) => gatewayLog.end(resolve));
                if (!keepState && process.env.KEEP_BENCH_STATE === undefined) {
                    rmSync(stateDir, { recursive: true, force: true });
                }
            },
        };
    } catch (err) {
        await stopNetwork();
        throw new Error(`the gateway did not start on the Fabric network (state kept in ${stateDir})`, {
            cause: err,
        });
    }
}

const identity = (value: Buffer): Buffer => value;

/** A backend-like client: request objects encoded to binary protobuf, responses decoded. */
export class OrchestratorClient {
    readonly #client: grpc.Client;

    constructor(address: string) {
        this.#client = new grpc.Client(address, grpc.credentials.createInsecure(), {
            'grpc.max_receive_message_length': 64 * 2 ** 20,
            'grpc.max_send_message_length': 64 * 2 ** 20,
        });
    }

    /** Calls `method` (e.g. `RegisterDataManager`) as `mspid` on the bench channel. */
    call<T = unknown>(mspid: string, method: string, request: object): Promise<T> {
        const rpc = RPCS.find((r) => r.method === method);
        if (rpc === undefined) {
            throw new Error(`no RPC ${method}`);
        }
        const requestClass = messageClass(rpc.requestType);
        const responseClass = messageClass(rpc.responseType);
        const arg = Buffer.from(
            requestClass.encode(requestClass.fromObject(request as Record<string, unknown>)).finish(),
        );
        const metadata = new grpc.Metadata();
        metadata.set('mspid', mspid);
        metadata.set('channel', CHANNEL);
        return new Promise((resolve, reject) => {
            this.#client.makeUnaryRequest(rpc.path, identity, identity, arg, metadata, (err, response) => {
                if (err) {
                    reject(new Error(`${method}: ${err.details || err.message}`));
                } else {
                    resolve(responseClass.decode(response ?? Buffer.alloc(0)) as T);
                }
            });
        });
    }

    /**
     * `SubscribeToEvents` from `startEventId` ('' = the beginning of the channel's events) as `mspid`; `onEvent`
     * gets each event as it arrives. Returns the cancel function.
     */
    subscribe(
        mspid: string,
        startEventId: string,
        onEvent: (event: orchestrator.Event) => void,
        onError: (err: Error) => void,
    ): () => void {
        const metadata = new grpc.Metadata();
        metadata.set('mspid', mspid);
        metadata.set('channel', CHANNEL);
        const arg = Buffer.from(orchestrator.SubscribeToEventsParam.encode({ start_event_id: startEventId }).finish());
        const call = this.#client.makeServerStreamRequest(
            '/orchestrator.EventService/SubscribeToEvents',
            identity,
            identity,
            arg,
            metadata,
        );
        let cancelled = false;
        call.on('data', (chunk: Buffer) => {
            onEvent(orchestrator.Event.decode(chunk));
        });
        call.on('error', (err: Error) => {
            if (!cancelled) onError(err);
        });
        return () => {
            cancelled = true;
            call.cancel();
        };
    }

    close(): void {
        this.#client.close();
    }
}
