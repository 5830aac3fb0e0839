// Glue between the local network and the orchestrator gateway: writes, from a running network, the files the gateway reads
// (a wallet holding every org's identity in the gateway's layout, each with a peer.json naming that org's peer,
// and the channel configuration mapping every channel to every org and to its chaincode), and the environment
// that starts the gateway on them (gateway/README.md, "Settings").

import { spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type ChannelSpec, findRepoRoot, type NetworkOrg } from './network';

export interface GatewayFiles {
    /** ORCHESTRATOR_WALLET_DIR: `<dir>/<MSPID>/{signcerts/cert.pem,keystore/key.pem,peer.json}` */
    walletDir: string;
    /** ORCHESTRATOR_CHANNEL_CONFIG (YAML) */
    channelConfigFile: string;
}

export interface GatewayEnvOptions {
    /** gRPC port (0 = any free port; the gateway logs the bound port in its "gateway listening" line) */
    port: number;
    host?: string;
    /** ORCHESTRATOR_STATE_DIR (event indexes) */
    stateDir: string;
    /** metrics port; undefined disables metrics */
    metricsPort?: number;
    logLevel?: string;
}

/** Writes the gateway's wallet and channel configuration for the network under `dir` (replacing earlier ones). */
export function writeGatewayFiles(
    network: { orgs: readonly NetworkOrg[]; channels: readonly ChannelSpec[] },
    dir: string,
): GatewayFiles {
    const walletDir = path.join(dir, 'wallet');
    rmSync(walletDir, { recursive: true, force: true });
    for (const org of network.orgs) {
        const base = path.join(walletDir, org.mspId);
        mkdirSync(path.join(base, 'signcerts'), { recursive: true });
        mkdirSync(path.join(base, 'keystore'), { recursive: true });
        mkdirSync(path.join(base, 'tls'), { recursive: true });
        copyFileSync(org.certFile, path.join(base, 'signcerts', 'cert.pem'));
        copyFileSync(org.keyFile, path.join(base, 'keystore', 'key.pem'));
        copyFileSync(org.tlsCaFile, path.join(base, 'tls', 'ca.pem'));
        copyFileSync(org.tlsClientCertFile, path.join(base, 'tls', 'client.crt'));
        copyFileSync(org.tlsClientKeyFile, path.join(base, 'tls', 'client.key'));
        const peer = {
            endpoint: org.endpoint,
            tlsCaCertPath: 'tls/ca.pem',
            tlsClientCertPath: 'tls/client.crt',
            tlsClientKeyPath: 'tls/client.key',
            // the peer certificates carry SANs 127.0.0.1 and localhost; a name avoids Node's IP-as-SNI warning
            hostAlias: 'localhost',
        };
        writeFileSync(path.join(base, 'peer.json'), JSON.stringify(peer, null, 2) + '\n');
    }
    const members = network.orgs.map((o) => o.mspId);
    const lines = ['channels:'];
    for (const c of network.channels) {
        lines.push(`  ${c.name}:`);
        for (const m of members) lines.push(`    - ${m}`);
    }
    lines.push('chaincodes:');
    for (const c of network.channels) lines.push(`  ${c.name}: ${c.chaincode}`);
    const channelConfigFile = path.join(dir, 'channels.yaml');
    mkdirSync(dir, { recursive: true });
    writeFileSync(channelConfigFile, lines.join('\n') + '\n');
    return { walletDir, channelConfigFile };
}

/** The ORCHESTRATOR_* environment starting the gateway on files written by {@link writeGatewayFiles}. */
export function gatewayEnv(files: GatewayFiles, options: GatewayEnvOptions): Record<string, string> {
    return {
        ORCHESTRATOR_CHANNEL_CONFIG: files.channelConfigFile,
        ORCHESTRATOR_WALLET_DIR: files.walletDir,
        ORCHESTRATOR_HOST: options.host ?? '127.0.0.1',
        ORCHESTRATOR_PORT: String(options.port),
        ORCHESTRATOR_STATE_DIR: options.stateDir,
        METRICS_ENABLED: options.metricsPort === undefined ? 'false' : 'true',
        ...(options.metricsPort === undefined ? {} : { ORCHESTRATOR_METRICS_PORT: String(options.metricsPort) }),
        LOG_LEVEL: options.logLevel ?? 'info',
    };
}

export interface GatewayProcessOptions {
    /** environment of the gateway (e.g. from {@link gatewayEnv}); PATH and HOME are added */
    env: Record<string, string>;
    /** the gateway's JSON log lines are appended here */
    logFile: string;
    /** the gateway entry point; default: <repo>/gateway/dist/src/main.js */
    main?: string;
    /** how long to wait for the "gateway listening" line */
    startTimeoutMs?: number;
    /** also called with every log line of the gateway */
    onLine?: (line: string) => void;
}

export interface GatewayProcess {
    pid: number | undefined;
    /** the bound gRPC port (read from the gateway's "gateway listening" log line) */
    port: number;
    /** the bound metrics port (from the same line), undefined when metrics are off */
    metricsPort: number | undefined;
    /** resolves when the process has exited */
    exited: Promise<number | null>;
    /** SIGTERM, then SIGKILL after `graceMs` */
    stop(graceMs?: number): Promise<void>;
}

export function defaultGatewayMain(): string {
    return path.join(findRepoRoot(), 'gateway', 'dist', 'src', 'main.js');
}

/** Starts the gateway (`node gateway/dist/src/main.js`) as a child process and waits until it listens. */
export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
    const main = options.main ?? defaultGatewayMain();
    if (!existsSync(main)) throw new Error(`gateway entry point ${main} not found (build the gateway first)`);
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    const log = createWriteStream(options.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [main], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => {
        child.once('exit', (code) => {
            resolve(code);
        });
    });
    const killOnExit = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    process.on('exit', killOnExit);
    void exited.then(() => {
        process.off('exit', killOnExit);
        log.end();
    });
    let tail: string[] = [];
    let metricsPort: number | undefined;
    const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`the gateway did not start listening in time; log tail:\n${tail.join('\n')}`));
        }, options.startTimeoutMs ?? 30_000);
        const onData = (stream: NodeJS.ReadableStream) => {
            let buffer = '';
            stream.on('data', (chunk: Buffer) => {
                log.write(chunk);
                buffer += chunk.toString('utf8');
                let nl: number;
                while ((nl = buffer.indexOf('\n')) >= 0) {
                    const line = buffer.slice(0, nl);
                    buffer = buffer.slice(nl + 1);
                    tail = [...tail.slice(-19), line];
                    options.onLine?.(line);
                    if (line.includes('"gateway listening"')) {
                        const m = /"port":(\d+)/.exec(line);
                        if (m?.[1]) {
                            const metrics = /"metricsPort":(\d+)/.exec(line);
                            if (metrics?.[1]) metricsPort = Number(metrics[1]);
                            clearTimeout(timer);
                            resolve(Number(m[1]));
                        }
                    }
                }
            });
        };
        onData(child.stdout);
        onData(child.stderr);
        void exited.then((code) => {
            clearTimeout(timer);
            reject(new Error(`the gateway exited (${String(code)}) before listening; log tail:\n${tail.join('\n')}`));
        });
    });
    const stop = async (graceMs = 25_000) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
        }, graceMs);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
    };
    return { pid: child.pid, port, metricsPort, exited, stop };
}
