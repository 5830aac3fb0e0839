#!/usr/bin/env node
// `npm start`: the local distributed orchestrator in the foreground, on a real Hyperledger Fabric network.
// Builds when a source is newer than the last build, finds or builds the Fabric binaries (cached outside the
// clone), starts the network as supervised processes (one etcdraft orderer, one peer each for MyOrg1MSP and
// MyOrg2MSP, mychannel/mycc and yourchannel/yourcc, our chaincode as a service: one process per org and
// chaincode) and the gateway on 127.0.0.1:9000 holding both organizations' identities. Prints progress with
// timings; Ctrl-C / SIGTERM stops everything it started, and nothing else.
//
//   npm start [-- --policy or|and] [--state DIR] [--port 9000] [--metrics-port 8484] [--network-ports fixed|auto]
//             [--batch-timeout MS] [--reset] [--rebuild | --no-build]
//   NETWORK_POLICY=and npm start      FABRIC_VERSION=3.1.5 npm start
//
// The chain is kept in <state>/network (ledgers, crypto, deployed chaincodes; the gateway's event index in
// <state>/gateway/events), so a second start restarts the orderer and peers on their ledgers; --reset starts a
// new chain (crypto material is kept).
//
// Before building or starting anything it checks that no other `npm start` runs on the state dir and that the
// ports it needs are free, and exits 1 with a message naming what is taken (the checks are the network package's:
// on a clone with no build yet, test/network alone is built for them first). Port 0 (--port, --metrics-port) and
// --network-ports auto take free ports (the tests run this way, next to a developer's own `npm start`).
// Pid files: <state>/launcher.pid (this process), <state>/network/pids.json (orderer, peers, chaincode
// processes; kept current when one is restarted), <state>/gateway/gateway.pid.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setInterval } from 'node:timers';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const elapsed = () => `+${((Date.now() - t0) / 1000).toFixed(2)}s`;
const say = (line) => process.stdout.write(`[start ${elapsed()}] ${line}\n`);
const errorMessage = (err) => (err instanceof Error ? err.message : String(err));

const USAGE =
    'usage: npm start [-- --policy or|and] [--state DIR] [--port PORT] [--metrics-port PORT]' +
    ' [--network-ports fixed|auto] [--batch-timeout MS] [--reset] [--rebuild | --no-build]';
const HOST = '127.0.0.1';

function parseArgs(argv) {
    const opts = {
        policy: process.env.NETWORK_POLICY || 'or',
        state: process.env.LOCAL_STATE_DIR || path.join(root, '.state', 'local'),
        port: Number(process.env.ORCHESTRATOR_PORT || 9000),
        metricsPort: Number(process.env.ORCHESTRATOR_METRICS_PORT || 8484),
        networkPorts: process.env.NETWORK_PORTS || 'fixed',
        batchTimeoutMs: process.env.NETWORK_BATCH_TIMEOUT_MS ? Number(process.env.NETWORK_BATCH_TIMEOUT_MS) : undefined,
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
        else if (flag === '--network-ports') opts.networkPorts = value();
        else if (flag === '--batch-timeout') opts.batchTimeoutMs = Number(value());
        else if (flag === '--reset') opts.reset = true;
        else if (flag === '--rebuild') opts.rebuild = true;
        else if (flag === '--no-build') opts.build = false;
        else if (flag === '--help' || flag === '-h') {
            console.log(USAGE);
            process.exit(0);
        } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
    if (opts.policy !== 'or' && opts.policy !== 'and') throw new Error(`--policy must be or|and\n${USAGE}`);
    if (opts.networkPorts !== 'fixed' && opts.networkPorts !== 'auto') {
        throw new Error(`--network-ports must be fixed|auto\n${USAGE}`);
    }
    for (const [name, port] of [
        ['--port', opts.port],
        ['--metrics-port', opts.metricsPort],
    ]) {
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port\n${USAGE}`);
    }
    if (opts.batchTimeoutMs !== undefined && !(Number.isInteger(opts.batchTimeoutMs) && opts.batchTimeoutMs > 0)) {
        throw new Error(`--batch-timeout must be a positive number of milliseconds\n${USAGE}`);
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
    { name: 'test/network', inputs: ['src', 'package.json', 'tsconfig.json'], outputs: ['dist'] },
];
const ENTRY_POINTS = [
    'proto/dist/index.js',
    'proto/generated/api.js',
    'chaincode/dist/src/main.js',
    'gateway/dist/src/main.js',
    'test/network/dist/src/index.js',
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

// The preflight runs before the build (a second `npm start` must not rebuild under a running one), with the network
// package's own pid and port helpers: pids.js and util.js need nothing but Node, so any build of them does. A clone
// with no build yet gets test/network built first, alone (it needs no other workspace). They leave the require cache
// again, so that the package required after the build loads its files as built then.
const PREFLIGHT_MODULES = ['pids.js', 'util.js'].map((f) => path.join(root, 'test', 'network', 'dist', 'src', f));

function preflightHelpers(opts) {
    const missing = PREFLIGHT_MODULES.filter((f) => !existsSync(f)).map((f) => path.relative(root, f));
    if (missing.length > 0) {
        if (!opts.build) throw new Error(`--no-build: ${missing.join(', ')} missing; run \`npm run build\` first`);
        say(`building test/network first (missing ${missing.join(', ')})`);
        execFileSync('npm', ['run', 'build', '--silent', '-w', 'test/network'], {
            cwd: root,
            stdio: ['ignore', 'ignore', 'inherit'],
        });
    }
    const require = createRequire(import.meta.url);
    const helpers = Object.assign({}, ...PREFLIGHT_MODULES.map((f) => require(f)));
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the require cache is keyed by file name
    for (const f of PREFLIGHT_MODULES) delete require.cache[f];
    return helpers;
}

function busyError(busy) {
    const flags = [...new Set(busy.map((b) => b.flag))];
    return new Error(
        [
            `cannot start: ${busy.length === 1 ? 'a port it needs is' : 'ports it needs are'} in use on ${HOST}:`,
            ...busy.map((b) => `  ${b.port}  ${b.what} (${b.why})`),
            `Another \`npm start\` (on another state dir) or another program holds ${busy.length === 1 ? 'it' : 'them'}:`,
            `stop it, or choose other ports with ${flags.join(', ')} (port 0 = any free port), e.g. npm start -- ${flags
                .map((f) => (f === '--network-ports auto' ? f : `${f} 0`))
                .join(' ')}`,
        ].join('\n'),
    );
}

async function preflight(opts, launcherPidFile) {
    const { isAlive, portTaken, readPidRecords } = preflightHelpers(opts);
    const owner = readPidRecords(launcherPidFile).filter((rec) => isAlive(rec));
    if (owner.length > 0) {
        throw new Error(
            `\`npm start\` is already running on the state dir ${opts.state} (pid ${owner.map((r) => r.pid).join(', ')}).\n` +
                'Stop it (Ctrl-C in its terminal, or `kill -INT <pid>`), or use another one: npm start -- --state DIR',
        );
    }
    const busy = [];
    for (const [port, what, flag] of [
        ...(opts.port === 0 ? [] : [[opts.port, 'gateway gRPC', '--port']]),
        ...(opts.metricsPort === 0 ? [] : [[opts.metricsPort, 'gateway metrics', '--metrics-port']]),
    ]) {
        const why = await portTaken(port);
        if (why) busy.push({ port, what, flag, why });
    }
    if (busy.length > 0) throw busyError(busy);
}

// --- main ---

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    mkdirSync(opts.state, { recursive: true });
    const launcherPidFile = path.join(opts.state, 'launcher.pid');
    await preflight(opts, launcherPidFile);
    buildIfNeeded(opts);

    const require = createRequire(import.meta.url);
    const local = require(path.join(root, 'test', 'network', 'dist', 'src', 'index.js'));
    const networkState = path.join(opts.state, 'network');
    const gatewayDir = path.join(opts.state, 'gateway');
    const eventsDir = path.join(gatewayDir, 'events');
    const gatewayPidFile = path.join(gatewayDir, 'gateway.pid');
    const resume = !opts.reset;
    const recorded = existsSync(path.join(networkState, 'network.json'));
    if (opts.networkPorts === 'fixed' && !(resume && recorded)) {
        const taken = await local.takenFixedPorts();
        if (taken.length > 0) {
            throw busyError(taken.map((t) => ({ ...t, flag: '--network-ports auto' })));
        }
    }
    local.writePidRecords(launcherPidFile, [local.pidRecord(process.pid, 'launcher')]);

    let network;
    let networkStart;
    let gateway;
    let gatewayStart;
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
            const started = await networkStart?.catch(() => undefined);
            await (network ?? started)?.stop();
            rmSync(path.join(networkState, 'pids.json'), { force: true });
        } catch (err) {
            process.stderr.write(`error while stopping: ${errorMessage(err)}\n`);
            code = 1;
        }
        rmSync(launcherPidFile, { force: true });
        say(`stopped in ${Date.now() - ts} ms`);
        process.exit(code);
    };
    /** `what` failed with `err`: says why, and stops what was started (unless a stop is already under way). */
    const fail = async (what, err) => {
        if (stopping) return;
        process.stderr.write(`${errorMessage(err)}\n`);
        await stop(what, 1);
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
    say(`starting the Fabric network (policy ${opts.policy}, state ${networkState}${opts.reset ? ', new chain' : ''})`);
    try {
        networkStart = local.startFabricNetwork({
            stateDir: networkState,
            repoRoot: root,
            policy: opts.policy,
            ports: opts.networkPorts,
            keepLedger: resume,
            ...(opts.batchTimeoutMs === undefined ? {} : { batchTimeoutMs: opts.batchTimeoutMs }),
            log: (line) => process.stdout.write(`  ${line}\n`),
        });
        network = await networkStart;
    } catch (err) {
        await fail('the network failed to start', err);
        return;
    }
    const networkMs = Date.now() - t;
    // `npm run upgrade` asks a running launcher to upgrade the chaincode live, on its own supervisor (SIGUSR2 with
    // <state>/upgrade-request.json; the outcome goes to <state>/upgrade-result.json).
    let upgrading = false;
    process.on('SIGUSR2', () => {
        if (upgrading || stopping) return;
        upgrading = true;
        const request = JSON.parse(readFileSync(path.join(opts.state, 'upgrade-request.json'), 'utf8'));
        const result = (body) =>
            writeFileSync(path.join(opts.state, 'upgrade-result.json'), JSON.stringify({ id: request.id, ...body }));
        say(`upgrading the chaincode live (request ${request.id})`);
        local
            .upgradeChaincodes(network, {
                ...(request.version ? { version: request.version } : {}),
                log: (line) => process.stdout.write(`  ${line}\n`),
            })
            .then(
                (upgrades) => {
                    for (const u of upgrades) {
                        say(`${u.chaincode} on ${u.channel} is at version ${u.version}, sequence ${u.sequence}`);
                    }
                    result({ ok: true, upgrades });
                },
                (err) => {
                    say(`upgrade failed: ${errorMessage(err)}`);
                    result({ ok: false, error: errorMessage(err) });
                },
            )
            .finally(() => {
                upgrading = false;
            });
    });
    say(
        `Fabric ${network.fabric.version} network ${network.resumed ? 'resumed on its ledgers' : 'up (new chain)'} in ${networkMs} ms`,
    );
    if (stopping) return;
    // The gateway's event index is a cache of the chain: a new chain needs a new one.
    if (!network.resumed) rmSync(eventsDir, { recursive: true, force: true });

    t = Date.now();
    const files = local.writeGatewayFiles(network, gatewayDir);
    const logFile = path.join(opts.state, 'logs', 'gateway.log');
    const gatewayEnvFor = (port, metricsPort) =>
        local.gatewayEnv(files, {
            port,
            stateDir: eventsDir,
            metricsPort,
            logLevel: process.env.LOG_LEVEL || 'info',
        });
    // Supervised like the network's processes: a gateway that dies is started again (same ports) with backoff.
    let failures = 0;
    const startGateway = async (port, metricsPort) => {
        gatewayStart = local.startGatewayProcess({ env: gatewayEnvFor(port, metricsPort), logFile });
        gateway = await gatewayStart;
        local.writePidRecords(gatewayPidFile, [local.pidRecord(gateway.pid, 'gateway')]);
        const startedAt = Date.now();
        void gateway.exited.then((code) => {
            if (stopping) return;
            if (Date.now() - startedAt > 30_000) failures = 0;
            failures++;
            const delay = Math.min(250 * 2 ** (failures - 1), 10_000);
            say(
                `[supervisor] gateway (pid ${gateway.pid}) died (exit ${code}); restarting it in ${delay} ms (attempt ${failures}); see ${logFile}`,
            );
            setTimeout(() => {
                if (stopping) return;
                startGateway(gateway.port, gateway.metricsPort).then(
                    () => say(`[supervisor] gateway restarted (pid ${gateway.pid})`),
                    (err) => {
                        if (!stopping) void stop(`the gateway could not be restarted: ${errorMessage(err)}`, 1);
                    },
                );
            }, delay);
        });
    };
    try {
        await startGateway(opts.port, opts.metricsPort);
        if (stopping) return;
    } catch (err) {
        await fail('gateway failed to start', err);
        return;
    }
    const gatewayMs = Date.now() - t;
    say(`gateway (pid ${gateway.pid}) listening on 127.0.0.1:${gateway.port} in ${gatewayMs} ms`);

    const orgs = network.orgs.map((o) => o.mspId);
    const ports = network.ports;
    const lines = [
        '',
        `Substra orchestrator (distributed mode, Fabric ${network.fabric.version}) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
            ` (network ${(networkMs / 1000).toFixed(1)} s, gateway ${(gatewayMs / 1000).toFixed(1)} s)`,
        `  gRPC       127.0.0.1:${gateway.port} (plaintext, reflection on)   metrics http://127.0.0.1:${gateway.metricsPort ?? opts.metricsPort}/metrics`,
        `  orgs       ${orgs.join(', ')} (send one of them as the \`mspid\` header)`,
        `  channels   ${network.channels.map((c) => `${c.name} (${c.chaincode})`).join(', ')}   policy ${network.policy}`,
        `  peers      ${network.orgs.map((o) => `${o.mspId} ${o.endpoint}`).join(', ')}; orderer 127.0.0.1:${ports.orderer}` +
            ` (blocks every ${network.blockCutting.batchTimeoutMs} ms or ${network.blockCutting.maxMessageCount} transactions)`,
        `  wallet     ${files.walletDir}`,
        `  logs       ${logFile}, ${path.join(networkState, 'logs')}/`,
        '',
        'Try:',
        `  grpcurl -plaintext 127.0.0.1:${gateway.port} list`,
        `  grpcurl -plaintext -H 'mspid: ${orgs[0]}' -H 'channel: mychannel' 127.0.0.1:${gateway.port} orchestrator.InfoService/QueryVersion`,
        `  grpcurl -plaintext -H 'mspid: ${orgs[0]}' -H 'channel: mychannel' -d '{"address": "http://backend-org-1.com"}' \\`,
        `      127.0.0.1:${gateway.port} orchestrator.OrganizationService/RegisterOrganization`,
        '',
        'Ctrl-C (or SIGTERM) stops the gateway, the chaincode processes, the peers and the orderer.',
    ];
    process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
    process.stderr.write(`start: ${errorMessage(err)}\n`);
    process.exit(1);
});
