// Chaincode upgrade with the data kept, on a running local network: Fabric's lifecycle switch, as hlf-k8s does it
// when the chart's chaincode version and sequence are bumped (hlf-values/README.md, "Deploying").
//
// For each (channel, chaincode): one new ccaas package per org (label `<cc>_<version>_<org>`, connection.json naming
// a new port), installed on that org's peer; new chaincode processes started with the new CHAINCODE_CCID (same
// executable: the point is the lifecycle switch) and listening before anything changes; the definition approved by
// both orgs and committed at sequence + 1; then the old processes are stopped (held down by the supervisor, so never
// restarted). Between the commit and the first call each peer makes, nothing is served by the old package: the peer
// dials the new package's address on its next invocation. Transactions endorsed against the old definition and
// validated after the commit fail MVCC (every invocation reads the chaincode's sequence) and are retried by the
// gateway. network.json gets the new package ids and ports, so a restart resumes on the new version.
//
// The ledger layout does not change: no migration runs.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { probeEndorsement } from './ledger';
import { type ChannelSpec, endorsementPolicyString, type FabricNetwork } from './network';

export interface UpgradeOptions {
    /** new version label; default: the committed version's major + 1 (`1.0` → `2.0`) */
    version?: string;
    /** only these channels (default every channel of the network) */
    channels?: readonly string[];
    log?: (line: string) => void;
}

export interface ChaincodeUpgrade {
    channel: string;
    chaincode: string;
    fromVersion: string;
    fromSequence: number;
    version: string;
    sequence: number;
    /** per org: package id and the address of its new process */
    packages: { mspId: string; packageId: string; address: string; process: string }[];
    /** Date.now() when the commit of the new definition returned (committed on both peers) */
    committedAt: number;
    /** Date.now() when every org's peer had an endorsement served by the new processes (old ones stopped) */
    servedAt: number;
    /** servedAt - committedAt */
    switchMs: number;
}

interface Committed {
    version: string;
    sequence: number;
}

async function queryCommitted(network: FabricNetwork, channel: string, chaincode: string): Promise<Committed> {
    const lc = network.lifecycle;
    const mspId = network.orgs[0]?.mspId ?? '';
    const { stdout } = await lc.exec(
        lc.bin('peer'),
        ['lifecycle', 'chaincode', 'querycommitted', '--channelID', channel, '--name', chaincode, '-O', 'json'],
        network.adminEnv(mspId),
    );
    const parsed = JSON.parse(stdout) as { version: string; sequence: number | string };
    return { version: parsed.version, sequence: Number(parsed.sequence) };
}

function nextVersion(version: string): string {
    const major = Number.parseInt(version, 10);
    return Number.isFinite(major) ? `${String(major + 1)}.0` : `${version}-next`;
}

/** Upgrades every chaincode of `network` (or those of `options.channels`) to a new version at sequence + 1. */
export async function upgradeChaincodes(
    network: FabricNetwork,
    options: UpgradeOptions = {},
): Promise<ChaincodeUpgrade[]> {
    const targets = network.channels.filter((c) => !options.channels || options.channels.includes(c.name));
    const out: ChaincodeUpgrade[] = [];
    for (const c of targets) out.push(await upgradeChaincode(network, c, options));
    return out;
}

async function upgradeChaincode(
    network: FabricNetwork,
    c: ChannelSpec,
    options: UpgradeOptions,
): Promise<ChaincodeUpgrade> {
    const lc = network.lifecycle;
    const log = options.log ?? (() => undefined);
    const ci = network.channels.findIndex((x) => x.name === c.name);
    const t0 = Date.now();
    const from = await queryCommitted(network, c.name, c.chaincode);
    const version = options.version ?? nextVersion(from.version);
    const sequence = from.sequence + 1;
    if (version === from.version) throw new Error(`${c.chaincode} on ${c.name} is already at version ${version}`);

    // 1. packages: a new label, and a new port so that old and new processes run side by side during the switch
    const packages: (ChaincodeUpgrade['packages'][number] & { file: string; port: number; oi: number })[] = [];
    for (const [oi, o] of lc.orgs.entries()) {
        const port = await lc.freePort();
        const label = `${c.chaincode}_${version}_${o.name}`;
        const file = path.join(lc.packagesDir, `${label}.tgz`);
        const work = path.join(lc.packagesDir, `${label}.work`);
        rmSync(work, { recursive: true, force: true });
        mkdirSync(work, { recursive: true });
        writeFileSync(
            path.join(work, 'connection.json'),
            JSON.stringify({
                address: `127.0.0.1:${String(port)}`,
                dial_timeout: '10s',
                tls_required: true,
                client_auth_required: true,
                client_key: readFileSync(path.join(o.peerTlsDir, 'server.key'), 'utf8'),
                client_cert: readFileSync(path.join(o.peerTlsDir, 'server.crt'), 'utf8'),
                root_cert: readFileSync(o.tlsCa, 'utf8'),
            }),
        );
        writeFileSync(path.join(work, 'metadata.json'), JSON.stringify({ type: 'ccaas', label }));
        await lc.exec('tar', ['-czf', 'code.tar.gz', 'connection.json'], process.env, work);
        await lc.exec('tar', ['-czf', file, 'metadata.json', 'code.tar.gz'], process.env, work);
        rmSync(work, { recursive: true, force: true });
        const packageId = `${label}:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
        packages.push({
            mspId: o.mspId,
            packageId,
            address: `127.0.0.1:${String(port)}`,
            process: `${c.chaincode}/${o.mspId}@${version}`,
            file,
            port,
            oi,
        });
    }

    // 2. install on each org's peer (a package already installed is not an error)
    await Promise.all(
        packages.map(async (p) => {
            try {
                await lc.exec(lc.bin('peer'), ['lifecycle', 'chaincode', 'install', p.file], network.adminEnv(p.mspId));
            } catch (err) {
                if (!String(err).includes('already successfully installed')) throw err;
            }
        }),
    );
    log(`[upgrade] ${c.chaincode} on ${c.name}: ${version} packages installed (${String(Date.now() - t0)} ms)`);

    // 3. the new processes, listening before the definition changes (the hlf-k8s environment, new CCID)
    await Promise.all(
        packages.map((p) => {
            const o = lc.orgs[p.oi];
            if (!o) throw new Error('no org');
            return lc.startProcess({
                name: p.process,
                command: lc.chaincodeExecutable,
                cwd: path.dirname(lc.chaincodeExecutable),
                logFile: path.join(lc.logsDir, `${c.chaincode}-${o.name}-${version}.log`),
                stopOrder: 0,
                env: {
                    ...lc.baseEnv,
                    CHAINCODE_CCID: p.packageId,
                    CHAINCODE_ADDRESS: p.address,
                    TLS_CERT_FILE: path.join(o.chaincodeTlsDir, 'server.crt'),
                    TLS_KEY_FILE: path.join(o.chaincodeTlsDir, 'server.key'),
                    TLS_ROOTCERT_FILE: o.tlsCa,
                    LOG_LEVEL: lc.chaincodeLogLevel,
                },
                ready: async (gone) => {
                    while (!gone()) {
                        if (await lc.tcpOpen(p.port)) return;
                        await new Promise((r) => setTimeout(r, 50));
                    }
                    throw new Error('gone');
                },
            });
        }),
    );
    log(`[upgrade] ${c.chaincode} on ${c.name}: new processes listening (${String(Date.now() - t0)} ms)`);

    // 4. approve (both orgs), commit at sequence + 1
    const definition = [
        '--channelID',
        c.name,
        '--name',
        c.chaincode,
        '--version',
        version,
        '--sequence',
        String(sequence),
        '--signature-policy',
        endorsementPolicyString(network.policy),
    ];
    await Promise.all(
        packages.map((p) =>
            lc.exec(
                lc.bin('peer'),
                [
                    'lifecycle',
                    'chaincode',
                    'approveformyorg',
                    ...lc.ordererFlags(p.mspId),
                    ...definition,
                    '--package-id',
                    p.packageId,
                ],
                network.adminEnv(p.mspId),
            ),
        ),
    );
    const first = lc.orgs[0]?.mspId ?? '';
    await lc.retry(`committing ${c.chaincode} ${version} on ${c.name}`, 20, 300, () =>
        lc.exec(
            lc.bin('peer'),
            ['lifecycle', 'chaincode', 'commit', ...lc.ordererFlags(first), ...definition, ...lc.peerFlags()],
            network.adminEnv(first),
        ),
    );
    const committedAt = Date.now();
    log(`[upgrade] ${c.chaincode} on ${c.name}: ${version} sequence ${String(sequence)} committed`);

    // 5. the old processes down for good (the peers now run the new package), network.json updated
    const previous = network.chaincodes.filter((x) => x.channel === c.name && x.chaincode === c.chaincode);
    await Promise.all(previous.map((x) => network.holdProcess(x.process)));
    for (const p of packages) {
        lc.packageIds[`${c.chaincode}/${p.mspId}`] = p.packageId;
        const row = network.ports.chaincodes[ci];
        if (row) row[p.oi] = p.port;
        const info = network.chaincodes.find((x) => x.channel === c.name && x.mspId === p.mspId);
        if (info) {
            info.packageId = p.packageId;
            info.address = p.address;
            info.process = p.process;
        }
    }
    lc.writeDeployment();

    // 6. served by the new processes on every org's peer
    await Promise.all(
        network.orgs.map((o) =>
            lc.retry(`${o.mspId} endorsing ${c.chaincode} ${version}`, 240, 50, () =>
                probeEndorsement(o, c.name, c.chaincode),
            ),
        ),
    );
    const servedAt = Date.now();
    const now = await queryCommitted(network, c.name, c.chaincode);
    if (now.sequence !== sequence || now.version !== version) {
        throw new Error(`${c.chaincode} on ${c.name}: committed ${now.version}/${String(now.sequence)} after upgrade`);
    }
    log(
        `[upgrade] ${c.chaincode} on ${c.name}: ${from.version}/${String(from.sequence)} → ${version}/${String(sequence)}, ` +
            `served ${String(servedAt - committedAt)} ms after the commit (${String(servedAt - t0)} ms in all)`,
    );
    return {
        channel: c.name,
        chaincode: c.chaincode,
        fromVersion: from.version,
        fromSequence: from.sequence,
        version,
        sequence,
        packages: packages.map(({ mspId, packageId, address, process }) => ({ mspId, packageId, address, process })),
        committedAt,
        servedAt,
        switchMs: servedAt - committedAt,
    };
}
