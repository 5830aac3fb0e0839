#!/usr/bin/env node
// `npm start`: the local distributed orchestrator in the foreground. Builds when a source is newer than the last
// build, starts the devnet (both orgs; mychannel/mycc and yourchannel/yourcc) and the gateway on 127.0.0.1:9000
// holding both organizations' identities, prints progress with timings, and stops everything on Ctrl-C / SIGTERM.
//
//   npm start [-- --policy or|and] [--state DIR] [--port 9000] [--metrics-port 8484] [--devnet-ports fixed|auto]
//             [--reset] [--rebuild | --no-build]
//   DEVNET_POLICY=and npm start
//
// The ledger is kept in <state>/devnet/ledger (the gateway's event index in <state>/gateway/events), so a second
// start resumes the same network; --reset starts a new chain (crypto material is kept).
//
// Before building or starting anything it checks that no other `npm start` runs on the state dir and that the
// ports it needs are free, and exits 1 with a message naming what is taken. Port 0 (--port, --metrics-port) and
// --devnet-ports auto take free ports (the tests run this way, next to a developer's own `npm start`).
// Pid files: <state>/devnet/devnet.pid (this process, which hosts the devnet), <state>/devnet/chaincode.pids.json
// (kept current when the devnet restarts a chaincode process that died), <state>/gateway/gateway.pid.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { setInterval } from 'node:timers';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const elapsed = () => `+${((Date.now() - t0) / 1000).toFixed(2)}s`;
const say = (line) => process.stdout.write(`[start ${elapsed()}] ${line}\n`);

const USAGE =
    'usage: npm start [-- --policy or|and] [--state DIR] [--port PORT] [--metrics-port PORT]' +
    ' [--devnet-ports fixed|auto] [--reset] [--rebuild | --no-build]';

/** The devnet's fixed ports (test/devnet/src/network.ts, FIXED_*_PORTS; the devnet checks them again itself). */
const DEVNET_FIXED_PORTS = [
    [7051, 'devnet peer of MyOrg1MSP'],
    [9051, 'devnet peer of MyOrg2MSP'],
    [9999, 'chaincode mycc of MyOrg1MSP'],
    [9998, 'chaincode mycc of MyOrg2MSP'],
    [9997, 'chaincode yourcc of MyOrg1MSP'],
    [9996, 'chaincode yourcc of MyOrg2MSP'],
];
const HOST = '127.0.0.1';

function parseArgs(argv) {
    const opts = {
        policy: process.env.DEVNET_POLICY || 'or',
        state: process.env.LOCAL_STATE_DIR || path.join(root, '.state', 'local'),
        port: Number(process.env.ORCHESTRATOR_PORT || 9000),
        metricsPort: Number(process.env.ORCHESTRATOR_METRICS_PORT || 8484),
        devnetPorts: process.env.DEVNET_PORTS || 'fixed',
        reset: false,
        rebuild: false,
        build: process.env.START_LOCAL_NO_BUILD !== '1',
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [flag, inline] = arg.includes('=')
            ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
            : [arg];
        const value = () => inline ?? argv[++i];
        if (flag === '--policy') opts.policy = value();
        else if (flag === '--state') opts.state = path.resolve(value());
        else if (flag === '--port') opts.port = Number(value());
        else if (flag === '--metrics-port') opts.metricsPort = Number(value());
        else if (flag === '--devnet-ports') opts.devnetPorts = value();
        else if (flag === '--reset') opts.reset = true;
        else if (flag === '--rebuild') opts.rebuild = true;
        else if (flag === '--no-build') opts.build = false;
        else if (flag === '--help' || flag === '-h') {
            console.log(USAGE);
            process.exit(0);
        } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
    if (opts.policy !== 'or' && opts.policy !== 'and') throw new Error(`--policy must be or|and\n${USAGE}`);
    if (opts.devnetPorts !== 'fixed' && opts.devnetPorts !== 'auto') {
        throw new Error(`--devnet-ports must be fixed|auto\n${USAGE}`);
    }
    for (const [name, port] of [
        ['--port', opts.port],
        ['--metrics-port', opts.metricsPort],
    ]) {
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port\n${USAGE}`);
    }
    if (opts.rebuild && !opts.build) throw new Error(`--rebuild and --no-build exclude each other\n${USAGE}`);
    return opts;
}

// --- build if needed ---

// Each workspace is current when its newest build output is newer than its newest source: `tsc -b` rewrites at
// least the .tsbuildinfo of a project it rebuilds, and the proto build regenerates everything, so this holds after
// any build however it was run (`npm run build`, `npm test`, or here). The lock file and the shared tsconfig are
// compared with the proto outputs, which every build rewrites.
const WORKSPACES = [
    { name: 'proto', inputs: ['src', 'package.json', 'tsconfig.json', '*.proto'], outputs: ['dist', 'generated'] },
    { name: 'chaincode', inputs: ['src', 'package.json', 'tsconfig.json', 'chaincode'], outputs: ['dist'] },
    { name: 'gateway', inputs: ['src', 'package.json', 'tsconfig.json'], outputs: ['dist'] },
    { name: 'test/devnet', inputs: ['src', 'package.json', 'tsconfig.json'], outputs: ['dist'] },
];
const ENTRY_POINTS = [
    'proto/dist/index.js',
    'proto/generated/api.js',
    'chaincode/dist/src/main.js',
    'gateway/dist/src/main.js',
    'test/devnet/dist/src/index.js',
];
const SHARED_INPUTS = ['package-lock.json', 'tsconfig.base.json'];

function newestMtime(p) {
    if (!existsSync(p)) return 0;
    const st = statSync(p);
    if (!st.isDirectory()) return st.mtimeMs;
    let newest = 0;
    for (const name of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)));
    return newest;
}

function expand(dir, pattern) {
    if (!pattern.startsWith('*')) return [path.join(dir, pattern)];
    return readdirSync(dir)
        .filter((f) => f.endsWith(pattern.slice(1)))
        .map((f) => path.join(dir, f));
}

/** What is out of date: missing entry points, and workspaces whose sources are newer than their build. */
function staleBuild() {
    const missing = ENTRY_POINTS.filter((p) => !existsSync(path.join(root, p)));
    const stale = [];
    let protoBuilt = 0;
    for (const ws of WORKSPACES) {
        const dir = path.join(root, ws.name);
        const input = Math.max(...ws.inputs.flatMap((p) => expand(dir, p)).map(newestMtime));
        const output = Math.max(...ws.outputs.map((p) => newestMtime(path.join(dir, p))));
        if (ws.name === 'proto') protoBuilt = output;
        if (input > output) stale.push(ws.name);
    }
    const shared = SHARED_INPUTS.filter((p) => newestMtime(path.join(root, p)) > protoBuilt);
    return { missing, stale: [...stale, ...shared] };
}

function buildIfNeeded(opts) {
    const t = Date.now();
    const { missing, stale } = staleBuild();
    if (!opts.build) {
        if (missing.length > 0) {
            throw new Error(`--no-build: ${missing.join(', ')} missing; run \`npm run build\` first`);
        }
        say(
            `build skipped (--no-build)` +
                (stale.length > 0 ? `; sources changed since the last build: ${stale.join(', ')}` : ''),
        );
        return;
    }
    if (!opts.rebuild && missing.length === 0 && stale.length === 0) {
        say(`build is up to date (checked in ${Date.now() - t} ms)`);
        return;
    }
    say(
        opts.rebuild
            ? 'building (--rebuild)'
            : missing.length > 0
              ? `building (missing ${missing.join(', ')})`
              : `building (sources changed since the last build: ${stale.join(', ')})`,
    );
    const started = Date.now();
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// --- preflight: fail fast when another instance or another program holds what we need ---

function portInUse(port) {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once('error', (err) => {
            resolve(err.code ?? err.message);
        });
        srv.listen({ port, host: HOST, exclusive: true }, () => {
            srv.close(() => {
                resolve(undefined);
            });
        });
    });
}

function readPids(file) {
    try {
        const records = JSON.parse(readFileSync(file, 'utf8'));
        return Array.isArray(records) ? records : [];
    } catch {
        return [];
    }
}

function running(rec) {
    try {
        process.kill(rec.pid, 0);
    } catch {
        return false;
    }
    if (rec.startTime === undefined) return true;
    try {
        const stat = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] === rec.startTime;
    } catch {
        return true;
    }
}

async function preflight(opts) {
    const owner = readPids(path.join(opts.state, 'devnet', 'devnet.pid')).filter(running);
    if (owner.length > 0) {
        throw new Error(
            `\`npm start\` is already running on the state dir ${opts.state} (pid ${owner.map((r) => r.pid).join(', ')}).\n` +
                'Stop it (Ctrl-C in its terminal, or `kill -INT <pid>`), or use another one: npm start -- --state DIR',
        );
    }
    const wanted = [
        ...(opts.port === 0 ? [] : [[opts.port, 'gateway gRPC', '--port']]),
        ...(opts.metricsPort === 0 ? [] : [[opts.metricsPort, 'gateway metrics', '--metrics-port']]),
        ...(opts.devnetPorts === 'auto' ? [] : DEVNET_FIXED_PORTS.map(([p, what]) => [p, what, '--devnet-ports auto'])),
    ];
    const busy = [];
    for (const [port, what, flag] of wanted) {
        const why = await portInUse(port);
        if (why) busy.push({ port, what, flag, why });
    }
    if (busy.length === 0) return;
    const flags = [...new Set(busy.map((b) => b.flag))];
    throw new Error(
        [
            `cannot start: ${busy.length === 1 ? 'a port it needs is' : 'ports it needs are'} in use on ${HOST}:`,
            ...busy.map((b) => `  ${b.port}  ${b.what} (${b.why})`),
            'Another `npm start` (on another state dir), a devnet (`node test/devnet/dist/src/cli.js down`) or another',
            `program holds ${busy.length === 1 ? 'it' : 'them'}: stop it, or choose other ports with ${flags.join(', ')}`,
            `(port 0 = any free port), e.g. npm start -- ${flags
                .map((f) => (f === '--devnet-ports auto' ? f : `${f} 0`))
                .join(' ')}`,
        ].join('\n'),
    );
}

// --- main ---

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    mkdirSync(opts.state, { recursive: true });
    await preflight(opts);
    buildIfNeeded(opts);

    // The dist output of the devnet package holds the glue (gateway files, gateway process).
    const require = createRequire(import.meta.url);
    const { startDevnet, writeGatewayFiles, gatewayEnv, startGatewayProcess, pidRecord } = require(
        path.join(root, 'test', 'devnet', 'dist', 'src', 'index.js'),
    );

    const devnetState = path.join(opts.state, 'devnet');
    const gatewayDir = path.join(opts.state, 'gateway');
    const eventsDir = path.join(gatewayDir, 'events');
    const gatewayPidFile = path.join(gatewayDir, 'gateway.pid');
    if (opts.reset) {
        rmSync(path.join(devnetState, 'ledger'), { recursive: true, force: true });
        rmSync(eventsDir, { recursive: true, force: true });
        say('reset: new chain (ledger and event index removed)');
    }
    // The gateway's event index is a cache of the chain: without the chain it must go too.
    if (!existsSync(path.join(devnetState, 'ledger'))) rmSync(eventsDir, { recursive: true, force: true });

    let devnet;
    let gateway;
    /** the gateway being started, so that a stop during its start waits for it */
    let gatewayStart;
    let devnetStart;
    let stopping = false;
    const stop = async (why, code) => {
        if (stopping) return;
        stopping = true;
        const ts = Date.now();
        say(`${why}: stopping`);
        try {
            const starting = await gatewayStart?.catch(() => undefined);
            await (gateway ?? starting)?.stop();
            rmSync(gatewayPidFile, { force: true });
            say(`gateway stopped (${Date.now() - ts} ms)`);
            const started = await devnetStart?.catch(() => undefined);
            await (devnet ?? started)?.stop();
        } catch (err) {
            process.stderr.write(`error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
            code = 1;
        }
        say(`stopped in ${Date.now() - ts} ms`);
        process.exit(code);
    };
    process.on('SIGINT', () => void stop('SIGINT', 0));
    process.on('SIGTERM', () => void stop('SIGTERM', 0));
    process.on('SIGHUP', () => void stop('SIGHUP', 0));
    // `npm start` runs us under npm and sh: a SIGTERM sent to npm ends them without reaching us, so stop when
    // our parent goes away (process.ppid is read live).
    const parent = process.ppid;
    setInterval(() => {
        if (process.ppid !== parent) void stop(`parent process ${parent} exited`, 0);
    }, 250).unref();

    let t = Date.now();
    say(`starting the devnet (policy ${opts.policy}, state ${devnetState})`);
    devnetStart = startDevnet({
        stateDir: devnetState,
        policy: opts.policy,
        ports: opts.devnetPorts,
        keepLedger: true,
        pidFiles: true,
        log: (line) => process.stdout.write(`  ${line}\n`),
    });
    devnet = await devnetStart;
    const devnetMs = Date.now() - t;
    say(`devnet up in ${devnetMs} ms`);
    if (stopping) return;

    t = Date.now();
    const files = writeGatewayFiles(devnet, gatewayDir);
    const env = gatewayEnv(files, {
        port: opts.port,
        stateDir: eventsDir,
        metricsPort: opts.metricsPort,
        logLevel: process.env.LOG_LEVEL || 'info',
    });
    const logFile = path.join(opts.state, 'logs', 'gateway.log');
    try {
        gatewayStart = startGatewayProcess({ env, logFile });
        gateway = await gatewayStart;
        if (gateway.pid !== undefined) {
            writeFileSync(gatewayPidFile, JSON.stringify([pidRecord(gateway.pid, 'gateway')], null, 2) + '\n');
        }
        if (stopping) return;
    } catch (err) {
        if (stopping) return;
        process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
        await stop('gateway failed to start', 1);
        return;
    }
    const gatewayMs = Date.now() - t;
    say(`gateway (pid ${gateway.pid}) listening on 127.0.0.1:${gateway.port} in ${gatewayMs} ms`);
    void gateway.exited.then((code) => {
        if (!stopping) void stop(`the gateway exited (${code}); see ${logFile}`, 1);
    });

    const orgs = devnet.orgs.map((o) => o.mspId);
    const lines = [
        '',
        `Substra orchestrator (distributed mode, devnet) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
            ` (devnet ${(devnetMs / 1000).toFixed(1)} s, gateway ${(gatewayMs / 1000).toFixed(1)} s)`,
        `  gRPC       127.0.0.1:${gateway.port} (plaintext, reflection on)   metrics http://127.0.0.1:${gateway.metricsPort ?? opts.metricsPort}/metrics`,
        `  orgs       ${orgs.join(', ')} (send one of them as the \`mspid\` header)`,
        `  channels   ${devnet.channels.map((c) => `${c.name} (${c.chaincode})`).join(', ')}   policy ${devnet.policy}`,
        `  wallet     ${files.walletDir}`,
        `  channels   ${files.channelConfigFile}`,
        `  logs       ${logFile}, ${path.join(devnetState, 'logs')}/`,
        '',
        'Try:',
        `  grpcurl -plaintext 127.0.0.1:${gateway.port} list`,
        `  grpcurl -plaintext -H 'mspid: ${orgs[0]}' -H 'channel: mychannel' 127.0.0.1:${gateway.port} orchestrator.InfoService/QueryVersion`,
        `  grpcurl -plaintext -H 'mspid: ${orgs[0]}' -H 'channel: mychannel' -d '{"address": "http://backend-org-1.com"}' \\`,
        `      127.0.0.1:${gateway.port} orchestrator.OrganizationService/RegisterOrganization`,
        '',
        'Ctrl-C (or SIGTERM) stops the gateway, the devnet and its chaincode processes.',
    ];
    process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
    process.stderr.write(`start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
});
