// The local Fabric network, all plain processes on 127.0.0.1 (../shared/spec/fabric-network.md): one etcdraft
// orderer (channel participation, no system channel), one peer each for MyOrg1MSP and MyOrg2MSP, TLS with
// client authentication everywhere, LevelDB, the Gateway service on, Docker off; two channels with both orgs;
// our chaincode as a service, one process per (org, chaincode) started the way the hlf-k8s chart starts it.
//
// State directory layout:
//   crypto/            cryptogen output (kept across resets: certificates last for years)
//   config/            configtx.yaml, crypto-config.yaml, peer/core.yaml (Fabric's sample with Docker off)
//   artifacts/         channel genesis blocks
//   packages/          chaincode packages (lifecycle.ts; their sha256 is the package id)
//   data/              orderer and peer ledgers
//   logs/              one log per process
//   network.json       what was deployed (ports, package ids, policy, Fabric version): a restart resumes from it
//   pids.json          every running process we started, with its start time

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ensureFabric, type FabricInstall } from './fabric';
import { probeEndorsement } from './ledger';
import { type CcaasPackage, ChaincodeLifecycle } from './lifecycle';
import { readPidRecords } from './pids';
import {
    type ProcessSpec,
    stopRecorded,
    type SupervisedProcess,
    Supervisor,
    type SupervisorOptions,
} from './supervisor';
import { addr, exec, freePort, HOST, poll, portTaken, retry } from './util';

export type EndorsementPolicy = 'or' | 'and';

export interface ChannelSpec {
    name: string;
    chaincode: string;
}

/**
 * Another chaincode run as a service next to ours (e.g. the bench's no-op chaincode): packaged (ccaas, one package
 * per org), installed, approved and committed on `channel` with the network's policy, and started once per org
 * with the same environment as ours (CHAINCODE_CCID, CHAINCODE_ADDRESS, TLS_*), on free ports.
 */
export interface ExtraChaincodeSpec {
    name: string;
    /** one of the network's channels */
    channel: string;
    command: string;
    args?: string[];
}

export const DEFAULT_CHANNELS: readonly ChannelSpec[] = [
    { name: 'mychannel', chaincode: 'mycc' },
    { name: 'yourchannel', chaincode: 'yourcc' },
];

interface OrgSpec {
    /** cryptogen name and domain prefix: org1 → org1.example.com */
    name: string;
    mspId: string;
}

const ORGS: readonly OrgSpec[] = [
    { name: 'org1', mspId: 'MyOrg1MSP' },
    { name: 'org2', mspId: 'MyOrg2MSP' },
];

/** The fixed port plan (fabric-network.md §3.2); `ports: 'auto'` takes free ports instead. */
const FIXED_PORTS = {
    orderer: 7050,
    ordererAdmin: 7053,
    ordererOperations: 8443,
    peers: [
        { peer: 7051, chaincodeListener: 7052, operations: 9444 },
        { peer: 9051, chaincodeListener: 9052, operations: 9445 },
    ],
    /** per channel, per org */
    chaincodes: [
        [9999, 9998],
        [9997, 9996],
    ],
};

export interface NetworkPorts {
    orderer: number;
    ordererAdmin: number;
    ordererOperations: number;
    peers: { peer: number; chaincodeListener: number; operations: number }[];
    chaincodes: number[][];
}

export interface NetworkOptions {
    stateDir: string;
    /** the repository root (chaincode executable, ../shared/fabric); default: found from this file */
    repoRoot?: string;
    /** already resolved binaries; default: ensureFabric() for FABRIC_VERSION */
    fabric?: FabricInstall;
    fabricVersion?: string;
    /** endorsement policy of every chaincode (default or) */
    policy?: EndorsementPolicy;
    /** 'fixed' (the port plan above, default) or 'auto' (free ports, for tests next to a running npm start) */
    ports?: 'fixed' | 'auto';
    /**
     * Orderer block cutting. Default 20 ms, 10 transactions: measured on 2 cores (sequential write p50 / 32 writers):
     * 100 ms×10 131 ms / 77 tx/s, 20 ms×10 49 ms / 83 tx/s, 5 ms×10 43 ms / 63 tx/s, 20 ms×1 32 ms / 68 tx/s.
     */
    batchTimeoutMs?: number;
    maxMessageCount?: number;
    /** resume the chain of an earlier run when there is one (default: a new chain) */
    keepLedger?: boolean;
    channels?: readonly ChannelSpec[];
    /** more chaincodes as a service (not with a resumed chain); default none */
    extraChaincodes?: readonly ExtraChaincodeSpec[];
    /** `./chaincode` in its directory, as the chaincode image runs it; default <repo>/chaincode/chaincode */
    chaincodeExecutable?: string;
    /** LOG_LEVEL of the chaincode processes (default INFO) */
    chaincodeLogLevel?: string;
    /** FABRIC_LOGGING_SPEC of the peers and orderer (default info) */
    fabricLogSpec?: string;
    /** keep <state>/pids.json current (default true) */
    pidFile?: boolean;
    restart?: SupervisorOptions['restart'];
    log?: (line: string) => void;
}

export interface NetworkOrg {
    mspId: string;
    /** the org peer's address (gRPC, including the Gateway service) */
    endpoint: string;
    /** TLS CA of the org (the peer's server certificate chains to it) */
    tlsCaFile: string;
    /** client identity (User1, OU client) */
    certFile: string;
    keyFile: string;
    /** TLS client pair of User1 for mutual TLS */
    tlsClientCertFile: string;
    tlsClientKeyFile: string;
    /** supervised process name of the org's peer */
    peerProcess: string;
}

export interface ChaincodeProcessInfo {
    chaincode: string;
    channel: string;
    mspId: string;
    address: string;
    packageId: string;
    /** supervised process name */
    process: string;
}

export interface FabricNetwork {
    stateDir: string;
    fabric: FabricInstall;
    policy: EndorsementPolicy;
    orgs: NetworkOrg[];
    channels: ChannelSpec[];
    chaincodes: ChaincodeProcessInfo[];
    ports: NetworkPorts;
    /** true when this start resumed an existing chain */
    resumed: boolean;
    /** the orderer's block cutting, as deployed in the channels' genesis blocks */
    blockCutting: { batchTimeoutMs: number; maxMessageCount: number };
    /** the orderer's TLS CA */
    ordererTlsCaFile: string;
    /** name → pid, restarts, log of every supervised process */
    processes(): SupervisedProcess[];
    process(name: string): SupervisedProcess | undefined;
    /** kills process `name` and keeps it down (an outage under test) until {@link resumeProcess} */
    holdProcess(name: string): Promise<void>;
    resumeProcess(name: string): Promise<void>;
    /** the environment of `peer` CLI commands as that org's admin (peer channel getinfo, fetch, ...) */
    adminEnv(mspId: string): NodeJS.ProcessEnv;
    /** the chaincode lifecycle steps on this network (package, install, serve, define, ...), for upgrade.ts */
    readonly lifecycle: ChaincodeLifecycle;
    stop(): Promise<void>;
}

interface Deployment {
    fabricVersion: string;
    policy: EndorsementPolicy;
    batchTimeoutMs: number;
    maxMessageCount: number;
    channels: ChannelSpec[];
    ports: NetworkPorts;
    packageIds: Record<string, string>;
    deployed: boolean;
}

export function findRepoRoot(from = __dirname): string {
    let dir = from;
    for (;;) {
        const pkg = path.join(dir, 'package.json');
        if (existsSync(pkg)) {
            try {
                if ((JSON.parse(readFileSync(pkg, 'utf8')) as { workspaces?: unknown }).workspaces) return dir;
            } catch {
                // keep looking
            }
        }
        const parent = path.dirname(dir);
        if (parent === dir) return process.cwd();
        dir = parent;
    }
}

async function allocatePorts(mode: 'fixed' | 'auto', channels: number): Promise<NetworkPorts> {
    if (mode === 'fixed') {
        if (channels > FIXED_PORTS.chaincodes.length)
            throw new Error('more channels than fixed ports; use ports: auto');
        return { ...FIXED_PORTS, chaincodes: FIXED_PORTS.chaincodes.slice(0, channels) };
    }
    // Take them all while holding none: distinct, since each was free at the time the kernel picked it.
    const taken = new Set<number>();
    const next = async () => {
        for (;;) {
            const p = await freePort();
            if (!taken.has(p)) {
                taken.add(p);
                return p;
            }
        }
    };
    const peers = [];
    for (let i = 0; i < ORGS.length; i++) {
        peers.push({ peer: await next(), chaincodeListener: await next(), operations: await next() });
    }
    const chaincodes: number[][] = [];
    for (let c = 0; c < channels; c++) chaincodes.push([await next(), await next()]);
    return { orderer: await next(), ordererAdmin: await next(), ordererOperations: await next(), peers, chaincodes };
}

export function listPorts(ports: NetworkPorts, channels: readonly ChannelSpec[]): [number, string][] {
    return [
        [ports.orderer, 'orderer'],
        [ports.ordererAdmin, 'orderer admin'],
        [ports.ordererOperations, 'orderer operations'],
        ...ports.peers.flatMap((p, i): [number, string][] => [
            [p.peer, `peer of ${ORGS[i]?.mspId ?? '?'}`],
            [p.chaincodeListener, `chaincode listener of the ${ORGS[i]?.mspId ?? '?'} peer`],
            [p.operations, `operations of the ${ORGS[i]?.mspId ?? '?'} peer`],
        ]),
        ...ports.chaincodes.flatMap((row, c) =>
            row.map((p, i): [number, string] => [
                p,
                `chaincode ${channels[c]?.chaincode ?? '?'} of ${ORGS[i]?.mspId ?? '?'}`,
            ]),
        ),
    ];
}

/** The fixed ports that are taken, for a launcher's fail-fast check. */
export async function takenFixedPorts(
    channels = DEFAULT_CHANNELS,
): Promise<{ port: number; what: string; why: string }[]> {
    const out = [];
    for (const [port, what] of listPorts(await allocatePorts('fixed', channels.length), channels)) {
        const why = await portTaken(port);
        if (why) out.push({ port, what, why });
    }
    return out;
}

function httpOk(url: string): Promise<boolean> {
    return new Promise((resolve) => {
        const req = http.get(url, { timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
        });
        req.on('error', () => {
            resolve(false);
        });
        req.on('timeout', () => {
            req.destroy();
            resolve(false);
        });
    });
}

// --- crypto and channel configuration (ours; JSON is YAML, which both cryptogen and configtxgen read) ---

function cryptoConfig(): unknown {
    const sans = ['localhost', HOST];
    return {
        OrdererOrgs: [
            {
                Name: 'Orderer',
                Domain: 'example.com',
                EnableNodeOUs: true,
                Specs: [{ Hostname: 'orderer', SANS: sans }],
            },
        ],
        PeerOrgs: ORGS.map((o) => ({
            Name: o.name,
            Domain: `${o.name}.example.com`,
            EnableNodeOUs: true,
            // `chaincode`: the TLS server certificate of the org's chaincode processes
            Specs: [
                { Hostname: 'peer0', SANS: sans },
                { Hostname: 'chaincode', SANS: sans },
            ],
            Users: { Count: 1 },
        })),
    };
}

function signature(rule: string) {
    return { Type: 'Signature', Rule: rule };
}

function implicit(rule: string) {
    return { Type: 'ImplicitMeta', Rule: rule };
}

function configtx(o: {
    crypto: string;
    ports: NetworkPorts;
    batchTimeoutMs: number;
    maxMessageCount: number;
}): unknown {
    const ordererDir = path.join(o.crypto, 'ordererOrganizations', 'example.com');
    const ordererTlsCert = path.join(ordererDir, 'orderers', 'orderer.example.com', 'tls', 'server.crt');
    const ordererOrg = {
        Name: 'OrdererMSP',
        ID: 'OrdererMSP',
        MSPDir: path.join(ordererDir, 'msp'),
        Policies: {
            Readers: signature("OR('OrdererMSP.member')"),
            Writers: signature("OR('OrdererMSP.member')"),
            Admins: signature("OR('OrdererMSP.admin')"),
        },
        OrdererEndpoints: [addr(o.ports.orderer)],
    };
    const peerOrgs = ORGS.map((org, i) => {
        const m = org.mspId;
        return {
            Name: m,
            ID: m,
            MSPDir: path.join(o.crypto, 'peerOrganizations', `${org.name}.example.com`, 'msp'),
            Policies: {
                Readers: signature(`OR('${m}.admin', '${m}.peer', '${m}.client')`),
                Writers: signature(`OR('${m}.admin', '${m}.client')`),
                Admins: signature(`OR('${m}.admin')`),
                Endorsement: signature(`OR('${m}.peer')`),
            },
            // in the genesis block, so no anchor-peer update is needed
            AnchorPeers: [{ Host: HOST, Port: o.ports.peers[i]?.peer ?? 0 }],
        };
    });
    return {
        Profiles: {
            AppChannel: {
                Policies: {
                    Readers: implicit('ANY Readers'),
                    Writers: implicit('ANY Writers'),
                    Admins: implicit('MAJORITY Admins'),
                },
                Capabilities: { V2_0: true },
                Orderer: {
                    OrdererType: 'etcdraft',
                    BatchTimeout: `${o.batchTimeoutMs}ms`,
                    BatchSize: {
                        MaxMessageCount: o.maxMessageCount,
                        AbsoluteMaxBytes: '10 MB',
                        PreferredMaxBytes: '2 MB',
                    },
                    EtcdRaft: {
                        Consenters: [
                            {
                                Host: HOST,
                                Port: o.ports.orderer,
                                ClientTLSCert: ordererTlsCert,
                                ServerTLSCert: ordererTlsCert,
                            },
                        ],
                        Options: {
                            TickInterval: '200ms',
                            ElectionTick: 10,
                            HeartbeatTick: 1,
                            MaxInflightBlocks: 5,
                            SnapshotIntervalSize: '16 MB',
                        },
                    },
                    Organizations: [ordererOrg],
                    Policies: {
                        Readers: implicit('ANY Readers'),
                        Writers: implicit('ANY Writers'),
                        Admins: implicit('MAJORITY Admins'),
                        BlockValidation: implicit('ANY Writers'),
                    },
                    Capabilities: { V2_0: true },
                },
                Application: {
                    Organizations: peerOrgs,
                    Policies: {
                        Readers: implicit('ANY Readers'),
                        Writers: implicit('ANY Writers'),
                        Admins: implicit('MAJORITY Admins'),
                        LifecycleEndorsement: implicit('MAJORITY Endorsement'),
                        Endorsement: implicit('MAJORITY Endorsement'),
                    },
                    Capabilities: { V2_5: true },
                },
            },
        },
    };
}

export function endorsementPolicyString(policy: EndorsementPolicy): string {
    const members = ORGS.map((o) => `'${o.mspId}.member'`).join(',');
    return policy === 'and' ? `AND(${members})` : `OR(${members})`;
}

// --- the network ---

export async function startFabricNetwork(options: NetworkOptions): Promise<FabricNetwork> {
    const t0 = Date.now();
    const log = options.log ?? ((line: string) => process.stdout.write(line + '\n'));
    const progress = (what: string, since: number) => {
        log(`[network +${((Date.now() - t0) / 1000).toFixed(2)}s] ${what} (${Date.now() - since} ms)`);
    };
    const repoRoot = options.repoRoot ?? findRepoRoot();
    const stateDir = path.resolve(options.stateDir);
    const dirs = {
        crypto: path.join(stateDir, 'crypto'),
        config: path.join(stateDir, 'config'),
        artifacts: path.join(stateDir, 'artifacts'),
        packages: path.join(stateDir, 'packages'),
        data: path.join(stateDir, 'data'),
        logs: path.join(stateDir, 'logs'),
    };
    const networkFile = path.join(stateDir, 'network.json');
    const pidFile = path.join(stateDir, 'pids.json');
    mkdirSync(dirs.logs, { recursive: true });
    // Processes an earlier launcher left behind (it was killed): ours by pid and start time, so stop them.
    await stopRecorded(readPidRecords(pidFile), log);

    let t = Date.now();
    const fabric =
        options.fabric ??
        (await ensureFabric({ repoRoot, log, ...(options.fabricVersion ? { version: options.fabricVersion } : {}) }));
    progress(`Fabric ${fabric.version} binaries (${fabric.origin})`, t);
    const bin = (tool: string) => path.join(fabric.binDir, tool);

    const channels = [...(options.channels ?? DEFAULT_CHANNELS)];
    const policy = options.policy ?? 'or';
    const batchTimeoutMs = options.batchTimeoutMs ?? 20;
    const maxMessageCount = options.maxMessageCount ?? 10;

    let previous: Deployment | undefined;
    try {
        previous = JSON.parse(readFileSync(networkFile, 'utf8')) as Deployment;
    } catch {
        previous = undefined;
    }
    const resumable =
        options.keepLedger === true &&
        previous?.deployed === true &&
        existsSync(dirs.data) &&
        previous.channels.length > 0;
    if (resumable && previous) {
        const differs = [
            previous.fabricVersion !== fabric.version && `Fabric ${previous.fabricVersion} (now ${fabric.version})`,
            previous.policy !== policy && `policy ${previous.policy} (now ${policy})`,
            JSON.stringify(previous.channels) !== JSON.stringify(channels) && 'other channels',
        ].filter(Boolean);
        if (differs.length > 0) {
            throw new Error(
                `the chain in ${stateDir} was made with ${differs.join(', ')}: start with --reset for a new chain`,
            );
        }
    }
    const resumed = resumable && previous !== undefined;
    const ports = resumed && previous ? previous.ports : await allocatePorts(options.ports ?? 'fixed', channels.length);
    const extras = options.extraChaincodes ?? [];
    if (resumed && extras.length > 0) throw new Error('extraChaincodes need a new chain (no keepLedger)');
    for (const e of extras) {
        if (!channels.some((c) => c.name === e.channel))
            throw new Error(`extra chaincode ${e.name}: no channel ${e.channel}`);
    }
    const usedPorts = new Set(listPorts(ports, channels).map(([port]) => port));
    const extraPorts: number[][] = [];
    for (let i = 0; i < extras.length; i++) {
        const row: number[] = [];
        while (row.length < ORGS.length) {
            const port = await freePort();
            if (!usedPorts.has(port)) {
                usedPorts.add(port);
                row.push(port);
            }
        }
        extraPorts.push(row);
    }
    const busy = [];
    for (const [port, what] of listPorts(ports, channels)) {
        const why = await portTaken(port);
        if (why) busy.push(`${port} (${what}: ${why})`);
    }
    if (busy.length > 0) throw new Error(`ports in use on ${HOST}: ${busy.join(', ')}`);

    if (!resumed) {
        for (const d of [dirs.data, dirs.artifacts, dirs.packages, dirs.config])
            rmSync(d, { recursive: true, force: true });
        rmSync(networkFile, { force: true });
    }
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });

    // Crypto material: kept across resets (cryptogen certificates are valid for years).
    t = Date.now();
    const cryptoConfigFile = path.join(dirs.config, 'crypto-config.yaml');
    if (!existsSync(path.join(dirs.crypto, 'peerOrganizations'))) {
        writeFileSync(cryptoConfigFile, JSON.stringify(cryptoConfig(), null, 2) + '\n');
        rmSync(dirs.crypto, { recursive: true, force: true });
        await exec(
            bin('cryptogen'),
            ['generate', `--config=${cryptoConfigFile}`, `--output=${dirs.crypto}`],
            process.env,
        );
        progress('crypto material generated (cryptogen)', t);
    }
    const ordererDir = path.join(dirs.crypto, 'ordererOrganizations', 'example.com');
    const ordererNode = path.join(ordererDir, 'orderers', 'orderer.example.com');
    const ordererAdmin = path.join(ordererDir, 'users', 'Admin@example.com');
    const ordererTlsCa = path.join(ordererDir, 'tlsca', 'tlsca.example.com-cert.pem');
    const org = (o: OrgSpec) => {
        const base = path.join(dirs.crypto, 'peerOrganizations', `${o.name}.example.com`);
        const domain = `${o.name}.example.com`;
        return {
            base,
            tlsCa: path.join(base, 'tlsca', `tlsca.${domain}-cert.pem`),
            peer: path.join(base, 'peers', `peer0.${domain}`),
            chaincode: path.join(base, 'peers', `chaincode.${domain}`),
            admin: path.join(base, 'users', `Admin@${domain}`),
            user: path.join(base, 'users', `User1@${domain}`),
            userCert: path.join(base, 'users', `User1@${domain}`, 'msp', 'signcerts', `User1@${domain}-cert.pem`),
        };
    };
    const clientRootCas = [...ORGS.map((o) => org(o).tlsCa), ordererTlsCa];

    // Peer configuration: Fabric's sample core.yaml with the Docker endpoint emptied (2.5 ignores an empty
    // CORE_VM_ENDPOINT); with it non-empty the peer registers a Docker health check that fails here.
    const peerConfigDir = path.join(dirs.config, 'peer');
    if (!existsSync(path.join(peerConfigDir, 'core.yaml'))) {
        mkdirSync(peerConfigDir, { recursive: true });
        const core = readFileSync(path.join(fabric.configDir, 'core.yaml'), 'utf8');
        const edited = core.replace(/^(\s*endpoint:\s*)unix:\/\/\/var\/run\/docker\.sock\s*$/m, '$1');
        if (edited === core) throw new Error(`no Docker endpoint found in ${fabric.configDir}/core.yaml`);
        writeFileSync(path.join(peerConfigDir, 'core.yaml'), edited);
    }

    const logSpec = options.fabricLogSpec ?? 'info';
    const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
    // Fabric's default log format colours its lines; ours go to files.
    const logFormat = '%{time:2006-01-02 15:04:05.000} %{level:.4s} [%{module}] %{shortfunc}: %{message}';
    const adminEnv = (mspId: string): NodeJS.ProcessEnv => {
        const i = ORGS.findIndex((o) => o.mspId === mspId);
        const spec = ORGS[i];
        if (!spec) throw new Error(`unknown org ${mspId}`);
        const o = org(spec);
        return {
            ...baseEnv,
            FABRIC_CFG_PATH: peerConfigDir,
            FABRIC_LOGGING_SPEC: 'warning',
            CORE_PEER_ADDRESS: addr(ports.peers[i]?.peer ?? 0),
            CORE_PEER_LOCALMSPID: mspId,
            CORE_PEER_MSPCONFIGPATH: path.join(o.admin, 'msp'),
            CORE_PEER_TLS_ENABLED: 'true',
            CORE_PEER_TLS_ROOTCERT_FILE: o.tlsCa,
            CORE_PEER_TLS_CLIENTAUTHREQUIRED: 'true',
            CORE_PEER_TLS_CLIENTCERT_FILE: path.join(o.admin, 'tls', 'client.crt'),
            CORE_PEER_TLS_CLIENTKEY_FILE: path.join(o.admin, 'tls', 'client.key'),
        };
    };
    const ordererFlags = (mspId: string) => {
        const spec = ORGS.find((o) => o.mspId === mspId);
        if (!spec) throw new Error(`unknown org ${mspId}`);
        const admin = org(spec).admin;
        return [
            '-o',
            addr(ports.orderer),
            '--tls',
            '--cafile',
            ordererTlsCa,
            '--clientauth',
            '--certfile',
            path.join(admin, 'tls', 'client.crt'),
            '--keyfile',
            path.join(admin, 'tls', 'client.key'),
        ];
    };

    const orgInfos = (): NetworkOrg[] =>
        ORGS.map((spec, i) => {
            const o = org(spec);
            return {
                mspId: spec.mspId,
                endpoint: addr(ports.peers[i]?.peer ?? 0),
                tlsCaFile: o.tlsCa,
                certFile: o.userCert,
                keyFile: path.join(o.user, 'msp', 'keystore', 'priv_sk'),
                tlsClientCertFile: path.join(o.user, 'tls', 'client.crt'),
                tlsClientKeyFile: path.join(o.user, 'tls', 'client.key'),
                peerProcess: `peer0.${spec.name}`,
            };
        });

    const supervisor = new Supervisor({
        ...(options.pidFile === false ? {} : { pidFile }),
        log,
        ...(options.restart !== undefined ? { restart: options.restart } : {}),
    });
    const v25 = fabric.version.startsWith('2.');

    const ordererSpec: ProcessSpec = {
        name: 'orderer',
        command: bin('orderer'),
        cwd: stateDir,
        logFile: path.join(dirs.logs, 'orderer.log'),
        stopOrder: 2,
        env: {
            ...baseEnv,
            FABRIC_CFG_PATH: fabric.configDir,
            FABRIC_LOGGING_SPEC: logSpec,
            FABRIC_LOGGING_FORMAT: logFormat,
            ORDERER_GENERAL_LISTENADDRESS: HOST,
            ORDERER_GENERAL_LISTENPORT: String(ports.orderer),
            ORDERER_GENERAL_LOCALMSPID: 'OrdererMSP',
            ORDERER_GENERAL_LOCALMSPDIR: path.join(ordererNode, 'msp'),
            ORDERER_GENERAL_TLS_ENABLED: 'true',
            ORDERER_GENERAL_TLS_CERTIFICATE: path.join(ordererNode, 'tls', 'server.crt'),
            ORDERER_GENERAL_TLS_PRIVATEKEY: path.join(ordererNode, 'tls', 'server.key'),
            ORDERER_GENERAL_TLS_ROOTCAS: `[${path.join(ordererNode, 'tls', 'ca.crt')}]`,
            ORDERER_GENERAL_TLS_CLIENTAUTHREQUIRED: 'true',
            ORDERER_GENERAL_TLS_CLIENTROOTCAS: `[${clientRootCas.join(',')}]`,
            ...(v25 ? { ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none', ORDERER_CHANNELPARTICIPATION_ENABLED: 'true' } : {}),
            ORDERER_ADMIN_LISTENADDRESS: addr(ports.ordererAdmin),
            ORDERER_ADMIN_TLS_ENABLED: 'true',
            ORDERER_ADMIN_TLS_CERTIFICATE: path.join(ordererNode, 'tls', 'server.crt'),
            ORDERER_ADMIN_TLS_PRIVATEKEY: path.join(ordererNode, 'tls', 'server.key'),
            ORDERER_ADMIN_TLS_ROOTCAS: `[${ordererTlsCa}]`,
            ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED: 'true',
            ORDERER_ADMIN_TLS_CLIENTROOTCAS: `[${ordererTlsCa}]`,
            ORDERER_OPERATIONS_LISTENADDRESS: addr(ports.ordererOperations),
            ORDERER_FILELEDGER_LOCATION: path.join(dirs.data, 'orderer'),
            ORDERER_CONSENSUS_WALDIR: path.join(dirs.data, 'orderer', 'etcdraft', 'wal'),
            ORDERER_CONSENSUS_SNAPDIR: path.join(dirs.data, 'orderer', 'etcdraft', 'snapshot'),
        },
        ready: (gone) => poll(() => httpOk(`http://${addr(ports.ordererOperations)}/healthz`), gone),
    };

    const peerSpecs: ProcessSpec[] = ORGS.map((spec, i) => {
        const o = org(spec);
        const p = ports.peers[i] ?? { peer: 0, chaincodeListener: 0, operations: 0 };
        const dataDir = path.join(dirs.data, `peer0.${spec.name}`);
        return {
            name: `peer0.${spec.name}`,
            command: bin('peer'),
            args: ['node', 'start'],
            cwd: stateDir,
            logFile: path.join(dirs.logs, `peer0.${spec.name}.log`),
            stopOrder: 1,
            env: {
                ...baseEnv,
                FABRIC_CFG_PATH: peerConfigDir,
                FABRIC_LOGGING_SPEC: logSpec,
                FABRIC_LOGGING_FORMAT: logFormat,
                CORE_PEER_ID: `peer0.${spec.name}.example.com`,
                CORE_PEER_LOCALMSPID: spec.mspId,
                CORE_PEER_MSPCONFIGPATH: path.join(o.peer, 'msp'),
                CORE_PEER_LISTENADDRESS: addr(p.peer),
                CORE_PEER_ADDRESS: addr(p.peer),
                CORE_PEER_CHAINCODELISTENADDRESS: addr(p.chaincodeListener),
                CORE_PEER_CHAINCODEADDRESS: addr(p.chaincodeListener),
                CORE_PEER_GOSSIP_BOOTSTRAP: addr(p.peer),
                CORE_PEER_GOSSIP_ENDPOINT: addr(p.peer),
                CORE_PEER_GOSSIP_EXTERNALENDPOINT: addr(p.peer),
                CORE_PEER_GOSSIP_USELEADERELECTION: 'false',
                CORE_PEER_GOSSIP_ORGLEADER: 'true',
                CORE_PEER_TLS_ENABLED: 'true',
                CORE_PEER_TLS_CERT_FILE: path.join(o.peer, 'tls', 'server.crt'),
                CORE_PEER_TLS_KEY_FILE: path.join(o.peer, 'tls', 'server.key'),
                CORE_PEER_TLS_ROOTCERT_FILE: path.join(o.peer, 'tls', 'ca.crt'),
                CORE_PEER_TLS_CLIENTAUTHREQUIRED: 'true',
                CORE_PEER_TLS_CLIENTROOTCAS_FILES: clientRootCas.join(' '),
                CORE_PEER_FILESYSTEMPATH: dataDir,
                CORE_LEDGER_SNAPSHOTS_ROOTDIR: path.join(dataDir, 'snapshots'),
                CORE_LEDGER_STATE_STATEDATABASE: 'goleveldb',
                CORE_PEER_GATEWAY_ENABLED: 'true',
                CORE_OPERATIONS_LISTENADDRESS: addr(p.operations),
                CORE_CHAINCODE_EXTERNALBUILDERS: JSON.stringify([
                    {
                        name: 'ccaas_builder',
                        path: fabric.builderDir,
                        propagateEnvironment: ['CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG'],
                    },
                ]),
                CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG: '{}',
                CORE_CHAINCODE_EXECUTETIMEOUT: '30s',
            },
            ready: (gone) => poll(() => httpOk(`http://${addr(p.operations)}/healthz`), gone),
        };
    });

    const executable = path.resolve(options.chaincodeExecutable ?? path.join(repoRoot, 'chaincode', 'chaincode'));
    if (!existsSync(executable)) throw new Error(`chaincode executable ${executable} not found (build first)`);
    /** Every chaincode to run as a service, by channel: ours on each channel, then the extra ones. */
    const deployments: (ChannelSpec & { ports: number[]; command: string; args: string[]; cwd: string })[] = [
        ...channels.map((c, ci) => ({
            ...c,
            ports: ports.chaincodes[ci] ?? [],
            command: executable,
            args: [],
            cwd: path.dirname(executable),
        })),
        ...extras.map((e, i) => ({
            name: e.channel,
            chaincode: e.name,
            ports: extraPorts[i] ?? [],
            command: e.command,
            args: e.args ?? [],
            cwd: stateDir,
        })),
    ];
    const chaincodes: ChaincodeProcessInfo[] = [];
    const packageIds: Record<string, string> = resumed && previous ? { ...previous.packageIds } : {};

    const signaturePolicy = endorsementPolicyString(policy);
    const lifecycle = new ChaincodeLifecycle({
        bin,
        packagesDir: dirs.packages,
        logsDir: dirs.logs,
        orgs: ORGS.map((spec, i) => {
            const o = org(spec);
            return {
                mspId: spec.mspId,
                name: spec.name,
                peerAddress: addr(ports.peers[i]?.peer ?? 0),
                tlsCa: o.tlsCa,
                peerTlsDir: path.join(o.peer, 'tls'),
                chaincodeTlsDir: path.join(o.chaincode, 'tls'),
            };
        }),
        signaturePolicy,
        adminEnv,
        ordererFlags,
        chaincodeExecutable: executable,
        baseEnv,
        chaincodeLogLevel: options.chaincodeLogLevel ?? 'INFO',
        startProcess: (spec) => supervisor.start(spec),
        record: (channel, chaincode, servers) => {
            const row = ports.chaincodes[channels.findIndex((c) => c.name === channel)];
            for (const s of servers) {
                packageIds[`${chaincode}/${s.mspId}`] = s.packageId;
                if (row) row[ORGS.findIndex((o) => o.mspId === s.mspId)] = s.port;
                const info = chaincodes.find(
                    (x) => x.channel === channel && x.chaincode === chaincode && x.mspId === s.mspId,
                );
                if (info) {
                    info.packageId = s.packageId;
                    info.address = addr(s.port);
                    info.process = s.process;
                }
            }
            // what network.json says (block cutting as deployed), with the package ids and ports of now
            const d = JSON.parse(readFileSync(networkFile, 'utf8')) as Deployment;
            writeFileSync(networkFile, JSON.stringify({ ...d, ports, packageIds }, null, 2) + '\n');
        },
    });

    const writeDeployment = (deployed: boolean) => {
        const d: Deployment = {
            fabricVersion: fabric.version,
            policy,
            batchTimeoutMs,
            maxMessageCount,
            channels,
            ports,
            packageIds,
            deployed,
        };
        writeFileSync(networkFile, JSON.stringify(d, null, 2) + '\n');
    };

    try {
        if (!resumed) {
            t = Date.now();
            writeFileSync(
                path.join(dirs.config, 'configtx.yaml'),
                JSON.stringify(configtx({ crypto: dirs.crypto, ports, batchTimeoutMs, maxMessageCount }), null, 2) +
                    '\n',
            );
            await Promise.all(
                channels.map((c) =>
                    exec(
                        bin('configtxgen'),
                        [
                            '-profile',
                            'AppChannel',
                            '-channelID',
                            c.name,
                            '-outputBlock',
                            path.join(dirs.artifacts, `${c.name}.block`),
                            '-configPath',
                            dirs.config,
                        ],
                        { ...baseEnv, FABRIC_LOGGING_SPEC: 'warning' },
                    ),
                ),
            );
            progress(`genesis blocks of ${channels.map((c) => c.name).join(', ')} (configtxgen)`, t);
        }

        t = Date.now();
        await supervisor.start(ordererSpec);
        await Promise.all(peerSpecs.map((s) => supervisor.start(s)));
        progress(`orderer and ${peerSpecs.length} peers serving (${resumed ? 'on their ledgers' : 'new ledgers'})`, t);

        if (!resumed) {
            t = Date.now();
            const osnadmin = (args: string[]) =>
                exec(
                    bin('osnadmin'),
                    [
                        ...args,
                        '-o',
                        addr(ports.ordererAdmin),
                        '--ca-file',
                        ordererTlsCa,
                        '--client-cert',
                        path.join(ordererAdmin, 'tls', 'client.crt'),
                        '--client-key',
                        path.join(ordererAdmin, 'tls', 'client.key'),
                    ],
                    baseEnv,
                );
            for (const c of channels) {
                await osnadmin([
                    'channel',
                    'join',
                    '--channelID',
                    c.name,
                    '--config-block',
                    path.join(dirs.artifacts, `${c.name}.block`),
                ]);
            }
            await Promise.all(
                ORGS.flatMap((spec) =>
                    channels.map((c) =>
                        retry(`${spec.mspId} joining ${c.name}`, 20, 250, () =>
                            exec(
                                bin('peer'),
                                ['channel', 'join', '-b', path.join(dirs.artifacts, `${c.name}.block`)],
                                adminEnv(spec.mspId),
                            ),
                        ),
                    ),
                ),
            );
            progress('orderer and peers joined the channels (osnadmin, peer channel join)', t);

            t = Date.now();
            const packages: CcaasPackage[] = [];
            for (const c of deployments) {
                for (const [oi, spec] of ORGS.entries()) {
                    const pkg = await lifecycle.package(c.chaincode, '1.0', spec.mspId, c.ports[oi] ?? 0);
                    packageIds[`${c.chaincode}/${spec.mspId}`] = pkg.packageId;
                    packages.push(pkg);
                }
            }
            await Promise.all(
                ORGS.map(async (spec) => {
                    for (const p of packages.filter((x) => x.mspId === spec.mspId)) await lifecycle.install(p);
                }),
            );
            progress('chaincode packages (ccaas, one per org and chaincode) installed', t);
        }

        t = Date.now();
        await Promise.all(
            deployments.flatMap((c) =>
                ORGS.map((spec, oi) => {
                    const id = packageIds[`${c.chaincode}/${spec.mspId}`];
                    if (!id) throw new Error(`no package id for ${c.chaincode}/${spec.mspId} in ${networkFile}`);
                    const port = c.ports[oi] ?? 0;
                    const name = `${c.chaincode}/${spec.mspId}`;
                    chaincodes.push({
                        chaincode: c.chaincode,
                        channel: c.name,
                        mspId: spec.mspId,
                        address: addr(port),
                        packageId: id,
                        process: name,
                    });
                    return lifecycle.serve({
                        process: name,
                        mspId: spec.mspId,
                        packageId: id,
                        port,
                        logName: `${c.chaincode}-${spec.name}.log`,
                        command: c.command,
                        args: c.args,
                        cwd: c.cwd,
                    });
                }),
            ),
        );
        progress(`${chaincodes.length} chaincode processes listening (mutual TLS, hlf-k8s environment)`, t);

        if (!resumed) {
            t = Date.now();
            await Promise.all(
                deployments.map((c) =>
                    lifecycle.define(
                        { channel: c.name, chaincode: c.chaincode, version: '1.0', sequence: 1 },
                        ORGS.map((spec) => ({
                            mspId: spec.mspId,
                            packageId: packageIds[`${c.chaincode}/${spec.mspId}`] ?? '',
                        })),
                    ),
                ),
            );
            progress(`chaincode definitions approved by both orgs and committed (policy ${signaturePolicy})`, t);
            writeDeployment(true);
        }

        // Ready when every org's peer gets each chaincode endorsed as its policy requires (the first call also
        // dials the chaincode processes; under AND it needs the other org's peer, found through gossip).
        t = Date.now();
        await Promise.all(
            deployments.flatMap((c) =>
                orgInfos().map((o) =>
                    retry(`${o.mspId} endorsing ${c.chaincode} on ${c.name}`, 240, 250, () =>
                        probeEndorsement(o, c.name, c.chaincode),
                    ),
                ),
            ),
        );
        progress(`every peer gets every chaincode endorsed (policy ${policy})`, t);
    } catch (err) {
        await supervisor.stop();
        throw err;
    }

    const orgs = orgInfos();
    progress(resumed ? 'network resumed' : 'network ready', t0);

    let stopping: Promise<void> | undefined;
    return {
        stateDir,
        fabric,
        policy,
        orgs,
        channels,
        chaincodes,
        ports,
        resumed,
        blockCutting:
            resumed && previous
                ? { batchTimeoutMs: previous.batchTimeoutMs, maxMessageCount: previous.maxMessageCount }
                : { batchTimeoutMs, maxMessageCount },
        ordererTlsCaFile: ordererTlsCa,
        processes: () => supervisor.processes,
        process: (name) => supervisor.process(name),
        holdProcess: (name) => supervisor.hold(name),
        resumeProcess: (name) => supervisor.resume(name),
        adminEnv,
        lifecycle,
        stop: () => {
            stopping ??= (async () => {
                const ts = Date.now();
                await supervisor.stop();
                log(`[network] stopped (${Date.now() - ts} ms)`);
            })();
            return stopping;
        },
    };
}
