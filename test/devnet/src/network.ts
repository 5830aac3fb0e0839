// Starts the development network in this process: crypto, one ledger per channel, the chaincode processes (one per
// org and chaincode, launched with the hlf-k8s environment), the CCaaS connections to them, and one Gateway
// endpoint per org peer.

import * as grpc from '@grpc/grpc-js';
import { gateway as gatewayProtos } from '@hyperledger/fabric-protos';
import { ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ChaincodeConnection } from './chaincode';
import { DEFAULT_ORGS, ensureCrypto, OrgCrypto, OrgSpec } from './crypto';
import { GatewayService } from './gateway';
import { ChannelLedger, EndorsementPolicy } from './ledger';
import { MspRegistry, Signer } from './msp';
import { Peer } from './peer';
import { devnetPidFiles, isAlive, pidRecord, readPidRecords, removePidFiles, writePidRecords } from './pids';

export interface ChannelSpec {
    name: string;
    chaincode: string;
}

export const DEFAULT_CHANNELS: readonly ChannelSpec[] = [
    { name: 'mychannel', chaincode: 'mycc' },
    { name: 'yourchannel', chaincode: 'yourcc' },
];

/** Fixed port plan (fabric-network.md §3.2): peer gateways, then chaincode servers per chaincode and org. */
export const FIXED_GATEWAY_PORTS: readonly number[] = [7051, 9051];
export const FIXED_CHAINCODE_PORTS: readonly (readonly number[])[] = [
    [9999, 9998],
    [9997, 9996],
];

export interface DevnetOptions {
    /** state directory (crypto, wallet, logs, network.json); default <repo>/.state/devnet */
    stateDir?: string;
    /** endorsement policy of every chaincode: 'or' (default) or 'and' (both orgs endorse, results compared) */
    policy?: EndorsementPolicy;
    /** chaincode executable started as `./chaincode` in its directory; default: the chaincode package's one */
    chaincodeExecutable?: string;
    /** 'fixed' (7051/9051, 9999..9996; default) or 'auto' (free ports, for tests) */
    ports?: 'fixed' | 'auto';
    host?: string;
    batchTimeoutMs?: number;
    maxMessageCount?: number;
    /** LOG_LEVEL given to the chaincode processes (default INFO) */
    chaincodeLogLevel?: string;
    /** require TLS client certificates on the gateway endpoints (default true, as hlf-k8s peers do) */
    clientAuth?: boolean;
    executeTimeoutMs?: number;
    chaincodeStartTimeoutMs?: number;
    /** extra environment for the chaincode processes (the hlf-k8s set is always given) */
    chaincodeEnv?: Record<string, string>;
    /**
     * Blocks are always appended to <state>/ledger/<channel>.blocks; with keepLedger the ledger and world state
     * are rebuilt from them at start (default: a new chain every start).
     */
    keepLedger?: boolean;
    channels?: readonly ChannelSpec[];
    orgs?: readonly OrgSpec[];
    /** progress output; default: lines on stdout */
    log?: (line: string) => void;
    /**
     * A chaincode process that dies while the network runs is started again after a delay doubling from
     * `initialDelayMs` (250) up to `maxDelayMs` (10 000) per consecutive failure, and the peer reconnects to it;
     * `false` leaves it dead.
     */
    chaincodeRestart?: false | { initialDelayMs?: number; maxDelayMs?: number };
    /**
     * Write `<state>/devnet.pid` (this process) and `<state>/chaincode.pids.json` (kept current across restarts),
     * refuse to start when the recorded devnet process still runs, and remove both files on stop.
     */
    pidFiles?: boolean;
}

/** A chaincode process that ran this long since it registered starts a new series of restart attempts. */
const HEALTHY_RUN_MS = 30_000;

interface Slot {
    /** `<chaincode>/<MSPID>` */
    label: string;
    env: NodeJS.ProcessEnv;
    proc: DevnetChaincodeProcess;
    conn: ChaincodeConnection;
    child: ChildProcess | undefined;
    /** consecutive restarts without a healthy run */
    failures: number;
    /** when the current process registered (0: not registered) */
    healthySince: number;
    timer: NodeJS.Timeout | undefined;
}

export interface DevnetOrg {
    mspId: string;
    /** Gateway endpoint of the org's peer, host:port */
    endpoint: string;
    /** TLS CA of that peer */
    tlsCaFile: string;
    /** client identity (OU=client) */
    certFile: string;
    keyFile: string;
    /** TLS client pair for mutual TLS */
    tlsClientCertFile: string;
    tlsClientKeyFile: string;
    walletDir: string;
}

export interface DevnetChaincodeProcess {
    chaincode: string;
    channel: string;
    mspId: string;
    address: string;
    packageId: string;
    /** pid of the current process (changes when it is restarted) */
    pid: number | undefined;
    /** how many times the process was restarted after dying */
    restarts: number;
    logFile: string;
}

export interface Devnet {
    stateDir: string;
    policy: EndorsementPolicy;
    orgs: DevnetOrg[];
    channels: ChannelSpec[];
    chaincodes: DevnetChaincodeProcess[];
    /** bundle of both orgs' TLS CAs */
    tlsCaBundleFile: string;
    /** machine-readable copy of this description */
    networkFile: string;
    ledgers: Map<string, ChannelLedger>;
    stop(): Promise<void>;
}

export function findRepoRoot(): string {
    let dir = __dirname;
    for (;;) {
        const pkg = path.join(dir, 'package.json');
        if (existsSync(pkg)) {
            try {
                const json = JSON.parse(readFileSync(pkg, 'utf8')) as { workspaces?: unknown };
                if (json.workspaces) return dir;
            } catch {
                // keep looking
            }
        }
        const parent = path.dirname(dir);
        if (parent === dir) return process.cwd();
        dir = parent;
    }
}

export function defaultStateDir(): string {
    return path.join(findRepoRoot(), '.state', 'devnet');
}

export function defaultChaincodeExecutable(): string {
    return path.join(findRepoRoot(), 'chaincode', 'chaincode');
}

async function freePort(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, host, () => {
            const addr = srv.address();
            const port = typeof addr === 'object' && addr ? addr.port : 0;
            srv.close(() => {
                resolve(port);
            });
        });
    });
}

async function checkPortFree(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', (err: NodeJS.ErrnoException) => {
            reject(
                new Error(
                    `port ${host}:${port} is not available (${err.code ?? err.message}); is a devnet already up?`,
                ),
            );
        });
        srv.listen(port, host, () => {
            srv.close(() => {
                resolve();
            });
        });
    });
}

/** Polls until something accepts TCP connections on host:port (the chaincode server is up). */
async function waitForListener(address: string, deadline: number, gone: () => boolean): Promise<void> {
    const idx = address.lastIndexOf(':');
    const host = address.slice(0, idx);
    const port = Number(address.slice(idx + 1));
    while (Date.now() < deadline && !gone()) {
        const open = await new Promise<boolean>((resolve) => {
            const sock = net.connect({ host, port });
            sock.once('connect', () => {
                sock.destroy();
                resolve(true);
            });
            sock.once('error', () => {
                sock.destroy();
                resolve(false);
            });
        });
        if (open) return;
        await new Promise((r) => setTimeout(r, 50));
    }
}

function tail(file: string, lines = 20): string {
    try {
        return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
        return '';
    }
}

/** hlf-k8s-like package id: `<label>:<sha256 of the package>`; our package is the connection.json. */
function packageId(label: string, connectionJson: string): string {
    return `${label}:${createHash('sha256').update(connectionJson).digest('hex')}`;
}

export async function startDevnet(options: DevnetOptions = {}): Promise<Devnet> {
    const t0 = Date.now();
    const log =
        options.log ??
        ((line: string) => {
            process.stdout.write(line + '\n');
        });
    const progress = (what: string, since: number) => {
        log(`[devnet +${((Date.now() - t0) / 1000).toFixed(2)}s] ${what} (${Date.now() - since} ms)`);
    };
    const stateDir = path.resolve(options.stateDir ?? defaultStateDir());
    const policy = options.policy ?? 'or';
    const host = options.host ?? '127.0.0.1';
    const channels = [...(options.channels ?? DEFAULT_CHANNELS)];
    const orgSpecs = options.orgs ?? DEFAULT_ORGS;
    const executable = path.resolve(options.chaincodeExecutable ?? defaultChaincodeExecutable());
    const clientAuth = options.clientAuth ?? true;
    mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
    if (options.pidFiles) {
        const files = devnetPidFiles(stateDir);
        const running = readPidRecords(files.main).filter(isAlive);
        if (running.length > 0) {
            throw new Error(
                `a devnet is already up on ${stateDir} (pid ${running.map((r) => r.pid).join(', ')}); stop it first`,
            );
        }
        writePidRecords(files.main, [pidRecord(process.pid, 'devnet')]);
    }

    let t = Date.now();
    const { crypto, generated } = ensureCrypto(stateDir, orgSpecs);
    progress(`crypto ${generated ? 'generated' : 'reused'} in ${path.join(stateDir, 'crypto')}`, t);

    const msps = new MspRegistry();
    for (const o of crypto.orgs) msps.add(o.mspId, o.caCert);
    const orgIds = crypto.orgs.map((o) => o.mspId);
    const channelOrgs = new Map(channels.map((c) => [c.name, orgIds]));
    const ledgers = new Map<string, ChannelLedger>();
    for (const c of channels) {
        ledgers.set(
            c.name,
            new ChannelLedger({
                channelId: c.name,
                chaincodes: [c.chaincode],
                msps,
                orgs: orgIds,
                policy,
                batchTimeoutMs: options.batchTimeoutMs ?? 100,
                maxMessageCount: options.maxMessageCount ?? 10,
                log,
                blockFile: path.join(stateDir, 'ledger', `${c.name}.blocks`),
                restore: options.keepLedger ?? false,
            }),
        );
    }

    // Ports
    const auto = options.ports === 'auto';
    const gatewayPorts: number[] = [];
    const ccPorts: number[][] = [];
    for (let i = 0; i < crypto.orgs.length; i++) {
        const p = auto ? await freePort(host) : FIXED_GATEWAY_PORTS[i];
        if (p === undefined) throw new Error('no fixed gateway port for more than two orgs; use ports: auto');
        gatewayPorts.push(p);
    }
    for (let c = 0; c < channels.length; c++) {
        const row: number[] = [];
        for (let i = 0; i < crypto.orgs.length; i++) {
            const p = auto ? await freePort(host) : FIXED_CHAINCODE_PORTS[c]?.[i];
            if (p === undefined) throw new Error('no fixed chaincode port for this layout; use ports: auto');
            row.push(p);
        }
        ccPorts.push(row);
    }
    if (!auto) {
        for (const p of [...gatewayPorts, ...ccPorts.flat()]) await checkPortFree(host, p);
    }

    // Chaincode processes, supervised: one that dies while the network runs is started again (bounded backoff)
    // and the peer reconnects to it.
    const restartOpts = options.chaincodeRestart ?? {};
    const restartInitialMs = restartOpts === false ? 0 : (restartOpts.initialDelayMs ?? 250);
    const restartMaxMs = restartOpts === false ? 0 : (restartOpts.maxDelayMs ?? 10_000);
    const startTimeout = options.chaincodeStartTimeoutMs ?? 30_000;
    const pidFiles = options.pidFiles ? devnetPidFiles(stateDir) : undefined;
    let phase: 'starting' | 'running' | 'stopping' = 'starting';
    const slots: Slot[] = [];
    const processes: DevnetChaincodeProcess[] = [];
    const connections = new Map<string, Map<string, ChaincodeConnection>>(); // mspId -> channel/cc -> conn
    const isGone = (c: ChildProcess | undefined) => !c || c.exitCode !== null || c.signalCode !== null;
    const writeChaincodePids = () => {
        if (!pidFiles) return;
        writePidRecords(
            pidFiles.children,
            slots.flatMap((s) =>
                s.child?.pid === undefined || isGone(s.child) ? [] : [pidRecord(s.child.pid, s.label)],
            ),
        );
    };
    const stopChildren = async () => {
        const alive = slots.flatMap((s) => (s.child && !isGone(s.child) ? [s.child] : []));
        await Promise.all(
            alive.map(
                (c) =>
                    new Promise<void>((resolve) => {
                        const timer = setTimeout(() => {
                            c.kill('SIGKILL');
                        }, 5000);
                        c.once('exit', () => {
                            clearTimeout(timer);
                            resolve();
                        });
                        c.kill('SIGTERM');
                    }),
            ),
        );
    };
    // If this process exits without stop() (crash, unhandled error), take the chaincode processes with it.
    const killOnExit = () => {
        for (const s of slots) if (s.child && !isGone(s.child)) s.child.kill('SIGKILL');
    };
    process.on('exit', killOnExit);

    const scheduleRestart = (slot: Slot, child: ChildProcess, why: string) => {
        if (phase !== 'running' || slot.child !== child || slot.timer || restartOpts === false) return;
        // A process that ran healthy for a while starts a new series of attempts.
        if (slot.healthySince > 0 && Date.now() - slot.healthySince >= HEALTHY_RUN_MS) slot.failures = 0;
        slot.healthySince = 0;
        slot.failures++;
        const delay = Math.min(restartInitialMs * 2 ** Math.min(slot.failures - 1, 20), restartMaxMs);
        log(
            `[devnet] chaincode ${slot.label} (pid ${child.pid ?? '?'}) died (${why}) while the network runs; ` +
                `restarting it in ${delay} ms (attempt ${slot.failures})`,
        );
        writeChaincodePids();
        slot.timer = setTimeout(() => {
            slot.timer = undefined;
            void restart(slot);
        }, delay);
    };
    const spawnChild = (slot: Slot): ChildProcess => {
        const fd = openSync(slot.proc.logFile, 'a');
        let child: ChildProcess;
        try {
            child = spawn(executable, [], { cwd: path.dirname(executable), env: slot.env, stdio: ['ignore', fd, fd] });
        } finally {
            closeSync(fd);
        }
        slot.child = child;
        slot.proc.pid = child.pid;
        child.on('error', (err) => {
            log(`chaincode ${slot.label} failed to start: ${err.message}`);
            // no 'exit' follows a failed spawn
            if (child.pid === undefined) scheduleRestart(slot, child, err.message);
        });
        child.on('exit', (code, signal) => {
            log(`chaincode ${slot.label} (pid ${child.pid ?? '?'}) exited (${signal ?? String(code)})`);
            scheduleRestart(slot, child, signal ?? `exit code ${String(code)}`);
        });
        return child;
    };
    /** read through a call: `phase` changes while a restart awaits */
    const running = () => phase === 'running';
    const restart = async (slot: Slot) => {
        if (!running()) return;
        const tr = Date.now();
        slot.proc.restarts++;
        const child = spawnChild(slot);
        writeChaincodePids();
        const deadline = Date.now() + startTimeout;
        await waitForListener(slot.proc.address, deadline, () => isGone(child) || !running());
        if (isGone(child) || !running()) return; // its exit schedules the next attempt
        try {
            await slot.conn.connect(Math.max(1000, deadline - Date.now()));
            slot.healthySince = Date.now();
            log(
                `[devnet] chaincode ${slot.label} restarted (pid ${child.pid ?? '?'}) and registered again in ${Date.now() - tr} ms`,
            );
        } catch (err) {
            if (!running()) return;
            log(
                `[devnet] chaincode ${slot.label} restarted (pid ${child.pid ?? '?'}) but the peer could not connect: ` +
                    `${err instanceof Error ? err.message : String(err)} (the next call retries)`,
            );
        }
    };

    let startFailed = false;
    try {
        if (!existsSync(executable)) {
            throw new Error(`chaincode executable ${executable} not found (build the chaincode package first)`);
        }
        t = Date.now();
        channels.forEach((c, ci) => {
            crypto.orgs.forEach((org: OrgCrypto, oi) => {
                const port = ccPorts[ci]?.[oi] ?? 0;
                const address = `${host}:${port}`;
                const connectionJson = JSON.stringify({
                    address,
                    dial_timeout: '10s',
                    tls_required: true,
                    client_auth_required: true,
                    client_key: org.chaincodeTls.key,
                    client_cert: org.chaincodeTls.cert,
                    root_cert: org.tlsCaCert,
                });
                const ccid = packageId(c.chaincode, connectionJson);
                const env: NodeJS.ProcessEnv = {
                    PATH: process.env.PATH ?? '/usr/bin:/bin',
                    HOME: process.env.HOME ?? '/tmp',
                    ...(options.chaincodeEnv ?? {}),
                    CHAINCODE_CCID: ccid,
                    CHAINCODE_ADDRESS: address,
                    TLS_CERT_FILE: org.chaincodeTls.certFile,
                    TLS_KEY_FILE: org.chaincodeTls.keyFile,
                    TLS_ROOTCERT_FILE: org.tlsCaCertFile,
                    LOG_LEVEL: options.chaincodeLogLevel ?? 'INFO',
                };
                const proc: DevnetChaincodeProcess = {
                    chaincode: c.chaincode,
                    channel: c.name,
                    mspId: org.mspId,
                    address,
                    packageId: ccid,
                    pid: undefined,
                    restarts: 0,
                    logFile: path.join(stateDir, 'logs', `${c.chaincode}-${org.name}.log`),
                };
                const conn = new ChaincodeConnection(
                    {
                        name: c.chaincode,
                        mspId: org.mspId,
                        packageId: ccid,
                        address,
                        tlsRootCert: Buffer.from(org.tlsCaCert),
                        clientKey: Buffer.from(org.chaincodeTls.key),
                        clientCert: Buffer.from(org.chaincodeTls.cert),
                    },
                    log,
                );
                const slot: Slot = {
                    label: `${c.chaincode}/${org.mspId}`,
                    env,
                    proc,
                    conn,
                    child: undefined,
                    failures: 0,
                    healthySince: 0,
                    timer: undefined,
                };
                slots.push(slot);
                processes.push(proc);
                spawnChild(slot);
                let byOrg = connections.get(org.mspId);
                if (!byOrg) connections.set(org.mspId, (byOrg = new Map<string, ChaincodeConnection>()));
                byOrg.set(`${c.name}/${c.chaincode}`, conn);
            });
        });
        writeChaincodePids();
        progress(`started ${processes.length} chaincode processes (${executable})`, t);

        // Connect (the peer dials the chaincode servers), failing fast if a process dies.
        t = Date.now();
        await Promise.all(
            slots.map(async (slot) => {
                const { conn } = slot;
                const child = slot.child;
                const died = new Promise<never>((_, reject) => {
                    child?.once('exit', (code, signal) => {
                        reject(
                            new Error(
                                `chaincode ${slot.label} exited (${signal ?? String(code)}) before registering; log tail:\n${tail(slot.proc.logFile)}`,
                            ),
                        );
                    });
                });
                died.catch(() => undefined);
                const deadline = Date.now() + startTimeout;
                const exited = () => isGone(child);
                await waitForListener(conn.endpoint.address, deadline, () => exited() || startFailed);
                // Never dial a process that is gone (or when another one failed): a pending dial would keep
                // this process alive until its deadline.
                if (exited()) await died;
                if (startFailed) return;
                await Promise.race([conn.connect(Math.max(1000, deadline - Date.now())), died]);
                slot.healthySince = Date.now();
            }),
        );
        progress('chaincode processes registered (REGISTER → REGISTERED → READY, mutual TLS)', t);
        phase = 'running';
    } catch (err) {
        startFailed = true;
        phase = 'stopping';
        for (const m of connections.values()) for (const c of m.values()) c.close();
        await stopChildren();
        process.off('exit', killOnExit);
        if (pidFiles) removePidFiles(stateDir);
        throw err;
    }

    // Peers and gateway endpoints
    t = Date.now();
    const peers = new Map<string, Peer>();
    crypto.orgs.forEach((org, i) => {
        peers.set(
            org.mspId,
            new Peer({
                mspId: org.mspId,
                address: `${host}:${gatewayPorts[i] ?? 0}`,
                signer: new Signer(org.mspId, org.peer.cert, org.peer.key),
                msps,
                ledgers,
                chaincodes: connections.get(org.mspId) ?? new Map<string, ChaincodeConnection>(),
                executeTimeoutMs: options.executeTimeoutMs ?? 30_000,
                channelOrgs,
            }),
        );
    });
    const servers: grpc.Server[] = [];
    const bundle = Buffer.from(readFileSync(crypto.tlsCaBundleFile));
    try {
        for (const [i, org] of crypto.orgs.entries()) {
            const local = peers.get(org.mspId);
            if (!local) continue;
            const server = new grpc.Server({
                'grpc.max_receive_message_length': 100 * 1024 * 1024,
                'grpc.keepalive_permit_without_calls': 1,
                'grpc.http2.min_ping_interval_without_data_ms': 5000,
            });
            const svc = new GatewayService({ local, peers, msps, ledgers, channelOrgs, policy, log });
            server.addService(gatewayProtos.GatewayService, svc.handlers());
            const creds = grpc.ServerCredentials.createSsl(
                clientAuth ? bundle : null,
                [{ private_key: Buffer.from(org.peerTls.key), cert_chain: Buffer.from(org.peerTls.cert) }],
                clientAuth,
            );
            await new Promise<void>((resolve, reject) => {
                server.bindAsync(`${host}:${gatewayPorts[i] ?? 0}`, creds, (err) => {
                    if (err) reject(err);
                    else resolve();
                });
            });
            servers.push(server);
        }
    } catch (err) {
        phase = 'stopping';
        for (const slot of slots) clearTimeout(slot.timer);
        for (const s of servers) s.forceShutdown();
        for (const m of connections.values()) for (const c of m.values()) c.close();
        await stopChildren();
        process.off('exit', killOnExit);
        if (pidFiles) removePidFiles(stateDir);
        throw err;
    }
    progress(`gateway endpoints listening on ${gatewayPorts.map((p) => `${host}:${p}`).join(', ')}`, t);

    const orgs: DevnetOrg[] = crypto.orgs.map((o, i) => ({
        mspId: o.mspId,
        endpoint: `${host}:${gatewayPorts[i] ?? 0}`,
        tlsCaFile: o.walletTlsCaFile,
        certFile: o.client.certFile,
        keyFile: o.client.keyFile,
        tlsClientCertFile: o.clientTls.certFile,
        tlsClientKeyFile: o.clientTls.keyFile,
        walletDir: o.walletDir,
    }));
    const networkFile = path.join(stateDir, 'network.json');
    const description = {
        policy,
        clientAuth,
        orgs,
        channels,
        chaincodes: processes,
        tlsCaBundleFile: crypto.tlsCaBundleFile,
    };
    writeFileSync(networkFile, JSON.stringify(description, null, 2) + '\n');

    let stopped: Promise<void> | undefined;
    const stop = () => {
        stopped ??= (async () => {
            const ts = Date.now();
            phase = 'stopping';
            for (const slot of slots) clearTimeout(slot.timer);
            await Promise.all(
                servers.map(
                    (s) =>
                        new Promise<void>((resolve) => {
                            const timer = setTimeout(() => {
                                s.forceShutdown();
                                resolve();
                            }, 2000);
                            s.tryShutdown(() => {
                                clearTimeout(timer);
                                resolve();
                            });
                        }),
                ),
            );
            await Promise.all([...ledgers.values()].map((l) => l.close()));
            for (const m of connections.values()) for (const c of m.values()) c.close();
            await stopChildren();
            process.off('exit', killOnExit);
            if (pidFiles) removePidFiles(stateDir);
            log(`[devnet] stopped (${Date.now() - ts} ms)`);
        })();
        return stopped;
    };
    progress('ready', t0);
    return {
        stateDir,
        policy,
        orgs,
        channels,
        chaincodes: processes,
        tlsCaBundleFile: crypto.tlsCaBundleFile,
        networkFile,
        ledgers,
        stop,
    };
}
