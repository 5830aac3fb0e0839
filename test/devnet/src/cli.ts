#!/usr/bin/env node
// devnet command line: `up` runs the network in the foreground until Ctrl-C/SIGTERM; `down` stops a network
// started with `up` on the same state dir (only the processes recorded in its pid files).

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { defaultStateDir, Devnet, startDevnet } from './network';
import { devnetPidFiles, isAlive, PidRecord, readPidRecords, removePidFiles } from './pids';

const USAGE = `usage:
  devnet up   [--state DIR] [--policy or|and] [--chaincode PATH] [--ports fixed|auto]
              [--batch-timeout MS] [--log-level LEVEL] [--no-client-auth] [--keep-ledger]
  devnet down [--state DIR]`;

function parseArgs(argv: string[]): { cmd: string; flags: Map<string, string | true> } {
    const [cmd = '', ...rest] = argv;
    const flags = new Map<string, string | true>();
    for (let i = 0; i < rest.length; i++) {
        const a = rest[i] ?? '';
        if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n${USAGE}`);
        const eq = a.indexOf('=');
        if (eq > 0) {
            flags.set(a.slice(2, eq), a.slice(eq + 1));
        } else if (a === '--no-client-auth' || a === '--keep-ledger') {
            flags.set(a.slice(2), true);
        } else {
            const v = rest[i + 1];
            if (v === undefined) throw new Error(`missing value for ${a}`);
            flags.set(a.slice(2), v);
            i++;
        }
    }
    return { cmd, flags };
}

function str(flags: Map<string, string | true>, name: string): string | undefined {
    const v = flags.get(name);
    return typeof v === 'string' ? v : undefined;
}

async function up(flags: Map<string, string | true>): Promise<void> {
    const stateDir = path.resolve(str(flags, 'state') ?? defaultStateDir());
    const policy = str(flags, 'policy') ?? 'or';
    if (policy !== 'or' && policy !== 'and') throw new Error(`--policy must be or|and\n${USAGE}`);
    const ports = str(flags, 'ports') ?? 'fixed';
    if (ports !== 'fixed' && ports !== 'auto') throw new Error(`--ports must be fixed|auto\n${USAGE}`);
    mkdirSync(stateDir, { recursive: true });
    const batch = str(flags, 'batch-timeout');
    const chaincode = str(flags, 'chaincode');
    const logLevel = str(flags, 'log-level');
    const devnet: Devnet = await startDevnet({
        stateDir,
        policy,
        ports,
        clientAuth: !flags.has('no-client-auth'),
        keepLedger: flags.has('keep-ledger'),
        ...(batch ? { batchTimeoutMs: Number(batch) } : {}),
        ...(chaincode ? { chaincodeExecutable: chaincode } : {}),
        ...(logLevel ? { chaincodeLogLevel: logLevel } : {}),
        pidFiles: true,
    });

    const out = (s: string) => process.stdout.write(s + '\n');
    out(`devnet up: policy ${devnet.policy}, state ${devnet.stateDir}, pid ${process.pid}`);
    for (const o of devnet.orgs) {
        out(`  ${o.mspId}: gateway ${o.endpoint}  tls ca ${o.tlsCaFile}`);
        out(`    identity ${o.certFile} + ${o.keyFile}`);
        out(`    tls client ${o.tlsClientCertFile} + ${o.tlsClientKeyFile}`);
    }
    for (const c of devnet.channels) out(`  channel ${c.name}: chaincode ${c.chaincode}`);
    for (const c of devnet.chaincodes) {
        out(`  chaincode ${c.chaincode}/${c.mspId} pid ${c.pid ?? '?'} at ${c.address} log ${c.logFile}`);
    }
    out(`  all TLS CAs: ${devnet.tlsCaBundleFile}; description: ${devnet.networkFile}`);
    out('Ctrl-C or `devnet down` to stop.');

    let stopping = false;
    const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        out(`devnet: ${signal}, stopping`);
        devnet
            .stop()
            .catch((err: unknown) => {
                process.stderr.write(`devnet: error while stopping: ${String(err)}\n`);
            })
            .finally(() => {
                process.exit(0);
            });
    };
    process.on('SIGINT', () => {
        shutdown('SIGINT');
    });
    process.on('SIGTERM', () => {
        shutdown('SIGTERM');
    });
}

async function down(flags: Map<string, string | true>): Promise<void> {
    const stateDir = path.resolve(str(flags, 'state') ?? defaultStateDir());
    const files = devnetPidFiles(stateDir);
    if (!existsSync(files.main) && !existsSync(files.children)) {
        process.stdout.write(`devnet: nothing recorded as running in ${stateDir}\n`);
        return;
    }
    const waitGone = async (recs: PidRecord[], ms: number) => {
        const end = Date.now() + ms;
        while (recs.some(isAlive) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    };
    const main = readPidRecords(files.main).filter(isAlive);
    for (const r of main) {
        process.stdout.write(`devnet: stopping ${r.what} (pid ${r.pid})\n`);
        process.kill(r.pid, 'SIGTERM');
    }
    await waitGone(main, 15_000);
    // Chaincode processes are stopped by the devnet itself; these remain only if it died abruptly.
    const leftovers = readPidRecords(files.children).filter(isAlive);
    for (const r of leftovers) {
        process.stdout.write(`devnet: stopping leftover ${r.what} (pid ${r.pid})\n`);
        process.kill(r.pid, 'SIGTERM');
    }
    await waitGone(leftovers, 5000);
    for (const r of [...main, ...leftovers].filter(isAlive)) process.kill(r.pid, 'SIGKILL');
    removePidFiles(stateDir);
    process.stdout.write('devnet: down\n');
}

async function main(): Promise<void> {
    const { cmd, flags } = parseArgs(process.argv.slice(2));
    if (cmd === 'up') await up(flags);
    else if (cmd === 'down') await down(flags);
    else throw new Error(USAGE);
}

main().catch((err: unknown) => {
    process.stderr.write(`devnet: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
});
