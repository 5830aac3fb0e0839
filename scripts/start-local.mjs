#!/usr/bin/env node
// `npm start`: the local distributed orchestrator in the foreground. Builds when a source is newer than the last
// build, starts the devnet (both orgs; mychannel/mycc and yourchannel/yourcc) and the gateway on 127.0.0.1:9000
// holding both organizations' identities, prints progress with timings, and stops everything on Ctrl-C / SIGTERM.
//
//   npm start [-- --policy or|and] [--state DIR] [--port 9000] [--reset]
//   DEVNET_POLICY=and npm start
//
// The ledger is kept in <state>/devnet/ledger (the gateway's event index in <state>/gateway/events), so a second
// start resumes the same network; --reset starts a new chain (crypto material is kept).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setInterval } from 'node:timers';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const elapsed = () => `+${((Date.now() - t0) / 1000).toFixed(2)}s`;
const say = (line) => process.stdout.write(`[start ${elapsed()}] ${line}\n`);

const USAGE =
    'usage: npm start [-- --policy or|and] [--state DIR] [--port PORT] [--metrics-port PORT] [--reset] [--rebuild]';

function parseArgs(argv) {
    const opts = {
        policy: process.env.DEVNET_POLICY || 'or',
        state: process.env.LOCAL_STATE_DIR || path.join(root, '.state', 'local'),
        port: Number(process.env.ORCHESTRATOR_PORT || 9000),
        metricsPort: Number(process.env.ORCHESTRATOR_METRICS_PORT || 8484),
        reset: false,
        rebuild: false,
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
        else if (flag === '--reset') opts.reset = true;
        else if (flag === '--rebuild') opts.rebuild = true;
        else if (flag === '--help' || flag === '-h') {
            console.log(USAGE);
            process.exit(0);
        } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
    if (opts.policy !== 'or' && opts.policy !== 'and') throw new Error(`--policy must be or|and\n${USAGE}`);
    if (!Number.isInteger(opts.port) || !Number.isInteger(opts.metricsPort)) throw new Error(USAGE);
    return opts;
}

// --- build if needed ---

const BUILD_INPUTS = ['proto', 'chaincode', 'gateway', 'test/devnet'].flatMap((ws) => [
    path.join(ws, 'src'),
    path.join(ws, 'package.json'),
    path.join(ws, 'tsconfig.json'),
]);
const BUILD_OUTPUTS = [
    'proto/dist/index.js',
    'proto/generated/api.js',
    'chaincode/dist/src/main.js',
    'gateway/dist/src/main.js',
    'test/devnet/dist/src/index.js',
];

function newestMtime(p) {
    if (!existsSync(p)) return 0;
    const st = statSync(p);
    if (!st.isDirectory()) return st.mtimeMs;
    let newest = 0;
    for (const name of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)));
    return newest;
}

function buildIfNeeded(stampFile, force) {
    const t = Date.now();
    const protoFiles = readdirSync(path.join(root, 'proto'))
        .filter((f) => f.endsWith('.proto'))
        .map((f) => path.join('proto', f));
    const newestInput = Math.max(
        ...[...BUILD_INPUTS, ...protoFiles, 'package-lock.json', 'tsconfig.base.json'].map((p) =>
            newestMtime(path.join(root, p)),
        ),
    );
    const outputs = BUILD_OUTPUTS.map((p) => path.join(root, p));
    const missing = outputs.filter((p) => !existsSync(p));
    const reference = existsSync(stampFile)
        ? statSync(stampFile).mtimeMs
        : missing.length === 0
          ? Math.min(...outputs.map((p) => statSync(p).mtimeMs))
          : 0;
    if (!force && missing.length === 0 && newestInput <= reference) {
        say(`build is up to date (checked in ${Date.now() - t} ms)`);
        return;
    }
    say(
        force
            ? 'building (--rebuild)'
            : missing.length > 0
              ? `building (missing ${missing.map((p) => path.relative(root, p)).join(', ')})`
              : 'building (sources changed since the last build)',
    );
    const started = Date.now();
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    mkdirSync(path.dirname(stampFile), { recursive: true });
    writeFileSync(stampFile, new Date(started).toISOString() + '\n');
    say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// --- main ---

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    mkdirSync(opts.state, { recursive: true });
    buildIfNeeded(path.join(root, '.state', 'build.stamp'), opts.rebuild);

    // The dist output of the devnet package holds the glue (gateway files, gateway process).
    const require = createRequire(import.meta.url);
    const { startDevnet, writeGatewayFiles, gatewayEnv, startGatewayProcess } = require(
        path.join(root, 'test', 'devnet', 'dist', 'src', 'index.js'),
    );

    const devnetState = path.join(opts.state, 'devnet');
    const gatewayDir = path.join(opts.state, 'gateway');
    const eventsDir = path.join(gatewayDir, 'events');
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
        ports: 'fixed',
        keepLedger: true,
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
        `  gRPC       127.0.0.1:${gateway.port} (plaintext, reflection on)   metrics http://127.0.0.1:${opts.metricsPort}/metrics`,
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
