/**
 * Starts what the end-to-end bench measures: the devnet in a child process (lib/devnet-child.ts), and in this
 * process the orchestrator gateway (`GatewayServer` over `FabricGatewayClient`, as gateway/src/main.ts wires
 * them) with an identity per organization, plus a raw grpc-js client that calls it like a Substra backend
 * (binary protobuf, headers `mspid` and `channel`).
 *
 * Why not test/integration/support/network.ts: it runs the devnet inside the calling process, so the peer's
 * signing and block validation would share the event loop (and the heap numbers) of the measured client.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RPCS } from '@substra-fabric/api';
import type { DevnetChaincodeProcess, DevnetOrg } from '@substra-fabric/devnet';
import {
    FabricGatewayClient,
    GatewayServer,
    newLogger,
    parseChannelConfig,
    type WalletIdentity,
} from '@substra-fabric/gateway';
import { messageClass } from '../../../chaincode/src/contracts/codec';

export const CHANNEL = 'mychannel';

export interface BenchNetwork {
    readonly client: OrchestratorClient;
    readonly devnetPid: number | undefined;
    readonly chaincodes: readonly DevnetChaincodeProcess[];
    readonly stateDir: string;
    stop(): Promise<void>;
}

interface UpMessage {
    readonly type: 'up';
    readonly orgs: DevnetOrg[];
    readonly chaincodes: DevnetChaincodeProcess[];
}

function startDevnetChild(stateDir: string): Promise<{ child: ChildProcess; up: UpMessage }> {
    const child = fork(path.join(__dirname, 'devnet-child.js'), [JSON.stringify({ stateDir })], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`devnet did not start in 120 s (see ${stateDir}/devnet.log)`));
        }, 120_000);
        child.once('message', (message: UpMessage) => {
            clearTimeout(timer);
            resolve({ child, up: message });
        });
        child.once('exit', (code, signal) => {
            clearTimeout(timer);
            reject(new Error(`devnet exited (${signal ?? String(code)}) before it was up; see ${stateDir}/devnet.log`));
        });
    });
}

export async function startBenchNetwork(stateDir: string): Promise<BenchNetwork> {
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(stateDir, { recursive: true });
    const { child, up } = await startDevnetChild(path.join(stateDir, 'devnet'));
    const stopChild = (): Promise<void> =>
        new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) {
                resolve();
                return;
            }
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
                clearTimeout(timer);
                resolve();
            });
            child.send('stop');
        });
    try {
        const wallet = new Map<string, WalletIdentity>();
        for (const org of up.orgs) {
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
        const first = up.orgs[0];
        if (first === undefined) {
            throw new Error('devnet without organizations');
        }
        const fabric = new FabricGatewayClient({
            wallet,
            defaultPeer: wallet.get(first.mspId)!.peer!,
            timeoutMs: 60_000,
        });
        const channelConfig = parseChannelConfig(
            JSON.stringify({ channels: { [CHANNEL]: up.orgs.map((o) => o.mspId) }, chaincodes: { [CHANNEL]: 'mycc' } }),
        );
        // The gateway logs one JSON line per call at info, as deployed; into a file.
        const logger = newLogger('info', createWriteStream(path.join(stateDir, 'gateway.log')));
        const server = new GatewayServer({
            config: {
                host: '127.0.0.1',
                port: 0,
                channelConfig,
                defaultChaincode: 'mycc',
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
        return {
            client,
            devnetPid: child.pid,
            chaincodes: up.chaincodes,
            stateDir,
            stop: async () => {
                client.close();
                await server.stop(2000);
                await stopChild();
            },
        };
    } catch (err) {
        await stopChild();
        throw err;
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

    close(): void {
        this.#client.close();
    }
}
