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

import { probeEndorsement } from './ledger';
import type { CcaasPackage, ChaincodeServer } from './lifecycle';
import type { ChannelSpec, FabricNetwork } from './network';
import { addr, freePort, retry } from './util';

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
    const t0 = Date.now();
    const from = await lc.queryCommitted(c.name, c.chaincode);
    const version = options.version ?? nextVersion(from.version);
    const sequence = from.sequence + 1;
    if (version === from.version) throw new Error(`${c.chaincode} on ${c.name} is already at version ${version}`);

    // 1. packages: a new label, and a new port so that old and new processes run side by side during the switch
    const packages: CcaasPackage[] = [];
    for (const o of network.orgs) packages.push(await lc.package(c.chaincode, version, o.mspId, await freePort()));

    // 2. install on each org's peer (a package already installed is not an error)
    await Promise.all(packages.map((p) => lc.install(p)));
    log(`[upgrade] ${c.chaincode} on ${c.name}: ${version} packages installed (${String(Date.now() - t0)} ms)`);

    // 3. the new processes, listening before the definition changes (the hlf-k8s environment, new CCID)
    const servers = packages.map((p): ChaincodeServer => ({
        process: `${c.chaincode}/${p.mspId}@${version}`,
        mspId: p.mspId,
        packageId: p.packageId,
        port: p.port,
        logName: `${c.chaincode}-${p.org}-${version}.log`,
    }));
    await Promise.all(servers.map((s) => lc.serve(s)));
    log(`[upgrade] ${c.chaincode} on ${c.name}: new processes listening (${String(Date.now() - t0)} ms)`);

    // 4. approve (both orgs), commit at sequence + 1
    await lc.define({ channel: c.name, chaincode: c.chaincode, version, sequence }, packages);
    const committedAt = Date.now();
    log(`[upgrade] ${c.chaincode} on ${c.name}: ${version} sequence ${String(sequence)} committed`);

    // 5. the old processes down for good (the peers now run the new package), network.json updated
    const previous = network.chaincodes.filter((x) => x.channel === c.name && x.chaincode === c.chaincode);
    await Promise.all(previous.map((x) => network.holdProcess(x.process)));
    lc.record(c.name, c.chaincode, servers);

    // 6. served by the new processes on every org's peer
    await Promise.all(
        network.orgs.map((o) =>
            retry(`${o.mspId} endorsing ${c.chaincode} ${version}`, 240, 50, () =>
                probeEndorsement(o, c.name, c.chaincode),
            ),
        ),
    );
    const servedAt = Date.now();
    const now = await lc.queryCommitted(c.name, c.chaincode);
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
        packages: servers.map((s) => ({
            mspId: s.mspId,
            packageId: s.packageId,
            address: addr(s.port),
            process: s.process,
        })),
        committedAt,
        servedAt,
        switchMs: servedAt - committedAt,
    };
}
