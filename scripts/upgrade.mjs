#!/usr/bin/env node
// `npm run upgrade`: upgrades the chaincode of the `npm start` chain (Fabric's lifecycle: a new ccaas package per
// org with a new version label, approved by both orgs, committed at sequence + 1; the chaincode processes switched
// onto the new package id), keeping every ledger, the gateway's event index and the crypto material.
//
//   npm run upgrade [-- --state DIR] [--version X.Y]
//
// With `npm start` running on the state dir, the upgrade happens live in the launcher, on its own supervisor
// (SIGUSR2 with <state>/upgrade-request.json): old and new chaincode processes run side by side during the switch,
// and nothing stops. With no launcher running, the chain is resumed here, upgraded, and stopped. Either way
// <state>/network/network.json then names the new package ids and ports, so the next `npm start` resumes on the new
// version. The live switch under load (no write lost) is what test/integration/upgrade.test.ts measures.
// No ledger migration is needed: the ledger layout does not change between versions (docs: hlf-values/README.md).

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const say = (line) => process.stdout.write(`[upgrade +${((Date.now() - t0) / 1000).toFixed(2)}s] ${line}\n`);
const USAGE = 'usage: npm run upgrade [-- --state DIR] [--version X.Y]';

function parseArgs(argv) {
    const opts = { state: path.join(root, '.state', 'local'), version: undefined };
    for (let i = 0; i < argv.length; i++) {
        const [flag, inline] = argv[i].split('=', 2);
        const value = () => inline ?? argv[++i];
        if (flag === '--state') opts.state = path.resolve(value());
        else if (flag === '--version') opts.version = value();
        else if (flag === '--help' || flag === '-h') {
            process.stdout.write(`${USAGE}\n`);
            process.exit(0);
        } else throw new Error(`unknown argument ${argv[i]}\n${USAGE}`);
    }
    return opts;
}

function readJson(file, fallback) {
    try {
        return JSON.parse(readFileSync(file, 'utf8'));
    } catch {
        return fallback;
    }
}

/** Asks the running launcher to upgrade live; resolves with its outcome. */
async function upgradeLive(local, state, launcher, version) {
    const id = `${process.pid}-${Date.now()}`;
    const resultFile = path.join(state, 'upgrade-result.json');
    rmSync(resultFile, { force: true });
    writeFileSync(path.join(state, 'upgrade-request.json'), JSON.stringify({ id, ...(version ? { version } : {}) }));
    say(`asking the running launcher (pid ${launcher.pid}) to upgrade live`);
    process.kill(launcher.pid, 'SIGUSR2');
    const deadline = Date.now() + 180_000;
    for (;;) {
        const result = readJson(resultFile, undefined);
        if (result?.id === id) return result;
        if (!local.isAlive(launcher)) throw new Error('the launcher stopped during the upgrade');
        if (Date.now() > deadline) throw new Error('no answer from the launcher within 3 minutes');
        await new Promise((r) => setTimeout(r, 200));
    }
}

function report(upgrades) {
    for (const u of upgrades) {
        say(
            `${u.chaincode} on ${u.channel}: ${u.fromVersion} (sequence ${u.fromSequence}) → ${u.version} ` +
                `(sequence ${u.sequence}), served by the new processes ${u.switchMs} ms after the commit`,
        );
    }
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const networkState = path.join(opts.state, 'network');
    const deployment = readJson(path.join(networkState, 'network.json'), undefined);
    if (!deployment?.deployed) {
        throw new Error(`no deployed chain in ${networkState}: start one with \`npm start\` first`);
    }
    const index = path.join(root, 'test', 'network', 'dist', 'src', 'index.js');
    if (!existsSync(index)) throw new Error('test/network is not built: run `npm run build` first');
    const local = createRequire(import.meta.url)(index);

    const launcher = local.readPidRecords(path.join(opts.state, 'launcher.pid')).find((rec) => local.isAlive(rec));
    if (launcher) {
        const result = await upgradeLive(local, opts.state, launcher, opts.version);
        if (!result.ok) throw new Error(result.error);
        report(result.upgrades);
        say('upgraded live; the running system serves the new version');
        return;
    }
    let t = Date.now();
    const network = await local.startFabricNetwork({
        stateDir: networkState,
        repoRoot: root,
        fabricVersion: deployment.fabricVersion,
        policy: deployment.policy,
        channels: deployment.channels,
        keepLedger: true,
        log: (line) => process.stdout.write(`  ${line}\n`),
    });
    say(`chain resumed (${Date.now() - t} ms)`);
    try {
        t = Date.now();
        report(
            await local.upgradeChaincodes(network, {
                ...(opts.version ? { version: opts.version } : {}),
                log: (line) => process.stdout.write(`  ${line}\n`),
            }),
        );
        say(`upgraded in ${Date.now() - t} ms; network.json names the new package ids`);
    } finally {
        await network.stop();
        rmSync(path.join(networkState, 'pids.json'), { force: true });
    }
    say('`npm start` resumes the chain on the new version');
}

main().catch((err) => {
    process.stderr.write(`upgrade: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
});
