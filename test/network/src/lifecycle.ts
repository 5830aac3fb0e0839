// Our chaincode as a service through Fabric's lifecycle: the steps a network start (version 1.0, sequence 1) and a
// chaincode upgrade (upgrade.ts, sequence + 1) both take. A ccaas package per org, whose connection.json names that
// org's chaincode server, installed on the org's peer; the chaincode server started the way the hlf-k8s chart
// starts it; the definition approved by every org and committed; the committed definition queried.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProcessSpec } from './supervisor';
import { addr, exec, poll, retry, tcpOpen } from './util';

/** An org as the lifecycle steps see it. */
export interface LifecycleOrg {
    mspId: string;
    /** cryptogen name: org1 */
    name: string;
    /** the org peer's address */
    peerAddress: string;
    /** TLS CA of the org */
    tlsCa: string;
    /** tls/ of the org's peer: its server pair is the client pair the peer dials the chaincode with */
    peerTlsDir: string;
    /** tls/ of the org's chaincode servers */
    chaincodeTlsDir: string;
}

/** What the lifecycle steps need of a running network (network.ts provides it). */
export interface LifecycleContext {
    bin(tool: string): string;
    packagesDir: string;
    logsDir: string;
    /** every org, the first one commits */
    orgs: readonly LifecycleOrg[];
    /** the signature policy of every definition (endorsementPolicyString) */
    signaturePolicy: string;
    /** the environment of `peer` CLI commands as that org's admin */
    adminEnv(mspId: string): NodeJS.ProcessEnv;
    /** orderer connection flags of `peer lifecycle` commands as that org's admin */
    ordererFlags(mspId: string): string[];
    /** our chaincode executable, and the base environment (PATH, HOME) and LOG_LEVEL of chaincode servers */
    chaincodeExecutable: string;
    baseEnv: Record<string, string>;
    chaincodeLogLevel: string;
    /** starts a supervised process and waits until it is ready */
    startProcess(spec: ProcessSpec): Promise<void>;
    /** see {@link ChaincodeLifecycle.record} */
    record(channel: string, chaincode: string, servers: readonly ChaincodeServer[]): void;
}

export interface CcaasPackage {
    chaincode: string;
    version: string;
    mspId: string;
    /** cryptogen name of the org: org1 */
    org: string;
    /** `<chaincode>_<version>_<org>` */
    label: string;
    file: string;
    /** `<label>:<sha256 of the file>` */
    packageId: string;
    /** the port of the chaincode server connection.json names (on 127.0.0.1) */
    port: number;
}

export interface ChaincodeDefinition {
    channel: string;
    chaincode: string;
    version: string;
    sequence: number;
}

/** A chaincode server: one process per org and package, listening on `port`. */
export interface ChaincodeServer {
    /** supervised process name */
    process: string;
    mspId: string;
    packageId: string;
    port: number;
    /** its log file, in the network's logs/ */
    logName: string;
    /** default our chaincode executable, run in its directory with no arguments */
    command?: string;
    args?: string[];
    cwd?: string;
}

/**
 * Writes `<dir>/<label>.tgz`, a package for Fabric's ccaas builder: metadata.json (type ccaas, the label) and
 * code.tar.gz holding connection.json, which names the chaincode server at `address` with mutual TLS (the peer's
 * TLS server pair as its client pair, the org's TLS CA as root). Returns the file and its package id.
 */
export async function writeCcaasPackage(o: {
    dir: string;
    label: string;
    address: string;
    tlsCa: string;
    peerTlsDir: string;
}): Promise<{ file: string; packageId: string }> {
    const file = path.join(o.dir, `${o.label}.tgz`);
    const work = path.join(o.dir, `${o.label}.work`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    writeFileSync(
        path.join(work, 'connection.json'),
        JSON.stringify({
            address: o.address,
            dial_timeout: '10s',
            tls_required: true,
            client_auth_required: true,
            client_key: readFileSync(path.join(o.peerTlsDir, 'server.key'), 'utf8'),
            client_cert: readFileSync(path.join(o.peerTlsDir, 'server.crt'), 'utf8'),
            root_cert: readFileSync(o.tlsCa, 'utf8'),
        }),
    );
    writeFileSync(path.join(work, 'metadata.json'), JSON.stringify({ type: 'ccaas', label: o.label }));
    await exec('tar', ['-czf', 'code.tar.gz', 'connection.json'], process.env, work);
    // exactly two regular files, no directory entry: what the peer's package parser accepts
    await exec('tar', ['-czf', file, 'metadata.json', 'code.tar.gz'], process.env, work);
    rmSync(work, { recursive: true, force: true });
    return { file, packageId: `${o.label}:${createHash('sha256').update(readFileSync(file)).digest('hex')}` };
}

/** The lifecycle steps on one network (FabricNetwork.lifecycle). */
export class ChaincodeLifecycle {
    readonly #ctx: LifecycleContext;

    constructor(ctx: LifecycleContext) {
        this.#ctx = ctx;
    }

    #org(mspId: string): LifecycleOrg {
        const o = this.#ctx.orgs.find((x) => x.mspId === mspId);
        if (!o) throw new Error(`unknown org ${mspId}`);
        return o;
    }

    #peer(args: string[], mspId: string) {
        return exec(this.#ctx.bin('peer'), ['lifecycle', 'chaincode', ...args], this.#ctx.adminEnv(mspId));
    }

    /** Writes the package of `chaincode` `version` for org `mspId`, naming its server at 127.0.0.1:`port`. */
    async package(chaincode: string, version: string, mspId: string, port: number): Promise<CcaasPackage> {
        const o = this.#org(mspId);
        const label = `${chaincode}_${version}_${o.name}`;
        const { file, packageId } = await writeCcaasPackage({
            dir: this.#ctx.packagesDir,
            label,
            address: addr(port),
            tlsCa: o.tlsCa,
            peerTlsDir: o.peerTlsDir,
        });
        return { chaincode, version, mspId, org: o.name, label, file, packageId, port };
    }

    /** Installs a package on its org's peer (one already installed is not an error). */
    async install(pkg: Pick<CcaasPackage, 'mspId' | 'file'>): Promise<void> {
        try {
            await this.#peer(['install', pkg.file], pkg.mspId);
        } catch (err) {
            if (!String(err).includes('already successfully installed')) throw err;
        }
    }

    /** Starts a chaincode server (supervised) with the hlf-k8s chaincode Deployment's environment, until it listens. */
    serve(server: ChaincodeServer): Promise<void> {
        const ctx = this.#ctx;
        const o = this.#org(server.mspId);
        const command = server.command ?? ctx.chaincodeExecutable;
        return ctx.startProcess({
            name: server.process,
            command,
            args: server.args,
            cwd: server.cwd ?? path.dirname(command),
            logFile: path.join(ctx.logsDir, server.logName),
            stopOrder: 0,
            env: {
                ...ctx.baseEnv,
                CHAINCODE_CCID: server.packageId,
                CHAINCODE_ADDRESS: addr(server.port),
                TLS_CERT_FILE: path.join(o.chaincodeTlsDir, 'server.crt'),
                TLS_KEY_FILE: path.join(o.chaincodeTlsDir, 'server.key'),
                TLS_ROOTCERT_FILE: o.tlsCa,
                LOG_LEVEL: ctx.chaincodeLogLevel,
            },
            ready: (gone) => poll(() => tcpOpen(server.port), gone, 50),
        });
    }

    /** Approves `def` for every org (with that org's package), then commits it as the first org. */
    async define(
        def: ChaincodeDefinition,
        packages: readonly Pick<CcaasPackage, 'mspId' | 'packageId'>[],
    ): Promise<void> {
        const definition = [
            '--channelID',
            def.channel,
            '--name',
            def.chaincode,
            '--version',
            def.version,
            '--sequence',
            String(def.sequence),
            '--signature-policy',
            this.#ctx.signaturePolicy,
        ];
        const flags = (mspId: string) => [...this.#ctx.ordererFlags(mspId), ...definition];
        await Promise.all(
            packages.map((p) =>
                this.#peer(['approveformyorg', ...flags(p.mspId), '--package-id', p.packageId], p.mspId),
            ),
        );
        const first = this.#ctx.orgs[0]?.mspId ?? '';
        const peers = this.#ctx.orgs.flatMap((o) => ['--peerAddresses', o.peerAddress, '--tlsRootCertFiles', o.tlsCa]);
        // the other org's peer may not have committed both approvals yet: retry
        await retry(`committing ${def.chaincode} ${def.version} on ${def.channel}`, 20, 300, () =>
            this.#peer(['commit', ...flags(first), ...peers], first),
        );
    }

    /** The definition of `chaincode` committed on `channel`, as the first org's peer has it. */
    async queryCommitted(channel: string, chaincode: string): Promise<{ version: string; sequence: number }> {
        const { stdout } = await this.#peer(
            ['querycommitted', '--channelID', channel, '--name', chaincode, '-O', 'json'],
            this.#ctx.orgs[0]?.mspId ?? '',
        );
        const parsed = JSON.parse(stdout) as { version: string; sequence: number | string };
        return { version: parsed.version, sequence: Number(parsed.sequence) };
    }

    /**
     * Makes the network's records name `servers` as `chaincode` on `channel` (its chaincodes, ports and network.json:
     * a restart resumes on them).
     */
    record(channel: string, chaincode: string, servers: readonly ChaincodeServer[]): void {
        this.#ctx.record(channel, chaincode, servers);
    }
}
