#!/usr/bin/env node
// devnet command line: `up` runs the network in the foreground until Ctrl-C/SIGTERM; `down` stops a network
// started with `up` on the same state dir (only the processes recorded in its pid files).

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultStateDir, Devnet, startDevnet } from './network';

interface PidRecord {
    pid: number;
    /** start time from /proc/<pid>/stat, to avoid signalling a reused pid */
    startTime: string | undefined;
    what: string;
}

const USAGE = `usage:
  devnet up   [--state DIR] [--policy or|and] [--chaincode PATH] [--ports fixed|auto]
              [--batch-timeout MS] [--log-level LEVEL] [--no-client-auth] [--keep-ledger]
  devnet down [--state DIR]`;

function startTime(pid: number): string | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // fields after the command name (which is in parentheses and may contain spaces)
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return rest[19];
    } catch {
        return undefined;
    }
}

function alive(rec: PidRecord): boolean {
    try {
        process.kill(rec.pid, 0);
    } catch {
        return false;
    }
    return rec.startTime === undefined || startTime(rec.pid) === rec.startTime;
}

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

function pidFiles(stateDir: string) {
    return { main: path.join(stateDir, 'devnet.pid'), children: path.join(stateDir, 'chaincode.pids.json') };
}

function readRecords(file: string): PidRecord[] {
    try {
        return JSON.parse(readFileSync(file, 'utf8')) as PidRecord[];
    } catch {
        return [];
    }
}

async function up(flags: Map<string, string | true>): Promise<void> {
    const stateDir = path.resolve(str(flags, 'state') ?? defaultStateDir());
    const files = pidFiles(stateDir);
    const running = readRecords(files.main).filter(alive);
    if (running.length > 0) {
        throw new Error(`a devnet is already up on ${stateDir} (pid ${running.map((r) => r.pid).join(', ')})`);
    }
    const policy = str(flags, 'policy') ?? 'or';
    if (policy !== 'or' && policy !== 'and') throw new Error(`--policy must be or|and\n${USAGE}`);
    const ports = str(flags, 'ports') ?? 'fixed';
    if (ports !== 'fixed' && ports !== 'auto') throw new Error(`--ports must be fixed|auto\n${USAGE}`);
    mkdirSync(stateDir, { recursive: true });
    const self: PidRecord = { pid: process.pid, startTime: startTime(process.pid), what: 'devnet' };
    writeFileSync(files.main, JSON.stringify([self]) + '\n');
    const batch = str(flags, 'batch-timeout');
    const chaincode = str(flags, 'chaincode');
    const logLevel = str(flags, 'log-level');
    let devnet: Devnet;
    try {
        devnet = await startDevnet({
            stateDir,
            policy,
            ports,
            clientAuth: !flags.has('no-client-auth'),
            keepLedger: flags.has('keep-ledger'),
            ...(batch ? { batchTimeoutMs: Number(batch) } : {}),
            ...(chaincode ? { chaincodeExecutable: chaincode } : {}),
            ...(logLevel ? { chaincodeLogLevel: logLevel } : {}),
        });
    } catch (err) {
        rmSync(files.main, { force: true });
        throw err;
    }
    const children: PidRecord[] = devnet.chaincodes.flatMap((c) =>
        c.pid === undefined ? [] : [{ pid: c.pid, startTime: startTime(c.pid), what: `${c.chaincode}/${c.mspId}` }],
    );
    writeFileSync(files.children, JSON.stringify(children, null, 2) + '\n');

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
                rmSync(files.main, { force: true });
                rmSync(files.children, { force: true });
                process.exit(0);
            });
    };
    process.on('SIGINT', () => {
        shutdown('SIGINT');
    });
    process.on('SIGTERM', () => {
        shutdown('SIGTERM');
    });
    process.on('exit', () => {
        // Last resort if we exit without a clean stop: never leave chaincode processes behind.
        for (const c of children) if (alive(c)) process.kill(c.pid, 'SIGKILL');
    });
}

async function down(flags: Map<string, string | true>): Promise<void> {
    const stateDir = path.resolve(str(flags, 'state') ?? defaultStateDir());
    const files = pidFiles(stateDir);
    if (!existsSync(files.main) && !existsSync(files.children)) {
        process.stdout.write(`devnet: nothing recorded as running in ${stateDir}\n`);
        return;
    }
    const waitGone = async (recs: PidRecord[], ms: number) => {
        const end = Date.now() + ms;
        while (recs.some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    };
    const main = readRecords(files.main).filter(alive);
    for (const r of main) {
        process.stdout.write(`devnet: stopping ${r.what} (pid ${r.pid})\n`);
        process.kill(r.pid, 'SIGTERM');
    }
    await waitGone(main, 15_000);
    // Chaincode processes are stopped by the devnet itself; these remain only if it died abruptly.
    const leftovers = readRecords(files.children).filter(alive);
    for (const r of leftovers) {
        process.stdout.write(`devnet: stopping leftover ${r.what} (pid ${r.pid})\n`);
        process.kill(r.pid, 'SIGTERM');
    }
    await waitGone(leftovers, 5000);
    for (const r of [...main, ...leftovers].filter(alive)) process.kill(r.pid, 'SIGKILL');
    rmSync(files.main, { force: true });
    rmSync(files.children, { force: true });
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
