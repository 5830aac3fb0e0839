import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { RetryPolicy } from '../fabric/retry';

/** Channel membership: channel name → MSP ids allowed on it, plus the chaincode name per channel. */
export interface ChannelConfig {
    readonly channels: ReadonlyMap<string, ReadonlySet<string>>;
    readonly chaincodes: ReadonlyMap<string, string>;
}

export interface TlsConfig {
    readonly enabled: boolean;
    readonly certPath: string;
    readonly keyPath: string;
    readonly mtlsEnabled: boolean;
    readonly serverCaCertPath: string;
    readonly clientCaCertDir: string;
}

export interface PeerConfig {
    /** `host:port` of the peer's Gateway service. */
    readonly endpoint: string;
    /** TLS CA of the peer; empty = plaintext connection. */
    readonly tlsCaCertPath: string;
    /** Client TLS pair presented to the peer (both empty = none). */
    readonly tlsClientCertPath: string;
    readonly tlsClientKeyPath: string;
    /** TLS server name to check instead of the endpoint's host; empty = the host. */
    readonly hostAlias: string;
}

export interface GatewayConfig {
    readonly host: string;
    readonly port: number;
    readonly metricsEnabled: boolean;
    readonly metricsHost: string;
    readonly metricsPort: number;
    readonly logLevel: string;
    readonly channelConfig: ChannelConfig;
    /** Chaincode used on channels that name none in the channel configuration. */
    readonly defaultChaincode: string;
    readonly tls: TlsConfig;
    readonly verifyClientMspId: boolean;
    readonly walletDir: string;
    readonly fabricCertPath: string;
    readonly fabricKeyPath: string;
    readonly mspId: string;
    readonly peer: PeerConfig;
    readonly gatewayTimeoutMs: number;
    readonly retry: RetryPolicy;
    readonly stateDir: string;
    readonly maxReceiveMessageBytes: number;
    /** Most submits in flight at once (0 = no bound). */
    readonly maxConcurrentSubmits: number;
    /** Largest transaction sent for ordering (0: the channel's BatchSize.AbsoluteMaxBytes). */
    readonly maxTransactionBytes: number;
    /** Accept a `chaincode` header naming a chaincode that is not configured for the channel. */
    readonly allowAnyChaincode: boolean;
    /**
     * Who endorses a write: `gateway` (the peer's Gateway service picks the organizations from the policy, starting
     * with its own, then the others), `channel` (every organization of the channel, all at once) or a list of MSP ids
     * (all at once). Under an AND policy `channel` endorses in parallel instead of one organization after the other.
     */
    readonly endorsingOrganizations: EndorsingOrganizations;
    readonly health: HealthConfig;
}

export type EndorsingOrganizations =
    | { readonly kind: 'gateway' }
    | { readonly kind: 'channel' }
    | { readonly kind: 'list'; readonly mspIds: readonly string[] };

/** `ORCHESTRATOR_ENDORSING_ORGANIZATIONS`: empty = `gateway`, `channel`, or comma-separated MSP ids. */
export function parseEndorsingOrganizations(value: string): EndorsingOrganizations {
    const text = value.trim();
    if (text === '' || text === 'gateway') {
        return { kind: 'gateway' };
    }
    if (text === 'channel') {
        return { kind: 'channel' };
    }
    const mspIds = text
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id !== '');
    if (mspIds.length === 0) {
        throw new Error(`ORCHESTRATOR_ENDORSING_ORGANIZATIONS: no MSP id in "${value}"`);
    }
    return { kind: 'list', mspIds };
}

/** The organizations to endorse a write on `channel`; undefined: the Gateway service chooses. */
export function endorsersFor(
    config: Pick<GatewayConfig, 'endorsingOrganizations' | 'channelConfig'>,
    channel: string,
): string[] | undefined {
    const choice = config.endorsingOrganizations;
    switch (choice.kind) {
        case 'gateway':
            return undefined;
        case 'channel': {
            const members = config.channelConfig.channels.get(channel);
            return members === undefined || members.size === 0 ? undefined : [...members].sort();
        }
        case 'list':
            return [...choice.mspIds];
    }
}

/** The peer probes behind the health service (see `health.ts`). */
export interface HealthConfig {
    /** Time between two probe rounds; 0 turns probing off (every health name SERVING, as in Substra). */
    readonly intervalMs: number;
    /** Longest time the overall status (`''`) stays NOT_SERVING at start-up while no probe has succeeded. */
    readonly startupGraceMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const DURATION_UNITS: Readonly<Record<string, number>> = {
    ns: 1e-6,
    us: 1e-3,
    '\u00b5s': 1e-3, // micro sign
    '\u03bcs': 1e-3, // Greek mu

    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
};

/**
 * Parse a Go duration (`500ms`, `20s`, `1m30s`, `1.5h`, `.5s`, `+2s`) into milliseconds, as Go's
 * `time.ParseDuration` does (negative durations are refused: none makes sense here). A bare number is
 * milliseconds (Go accepts only `0`).
 */
export function parseDuration(text: string): number {
    const trimmed = text.trim().replace(/^\+/, '');
    if (/^\d+(\.\d+)?$/.test(trimmed)) {
        return Number(trimmed);
    }
    const part = /(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/gu;
    let total = 0;
    let consumed = 0;
    for (const match of trimmed.matchAll(part)) {
        if (match.index !== consumed) {
            break;
        }
        const [whole, value = '0', unit = 'ms'] = match;
        total += Number(value) * (DURATION_UNITS[unit] ?? Number.NaN);
        consumed += whole.length;
    }
    if (trimmed === '' || consumed !== trimmed.length || !Number.isFinite(total)) {
        throw new Error(`invalid duration "${text}"`);
    }
    return total;
}

export function parseBool(text: string, name: string): boolean {
    const value = text.trim().toLowerCase();
    if (['1', 't', 'true', 'yes', 'on'].includes(value)) {
        return true;
    }
    if (['0', 'f', 'false', 'no', 'off', ''].includes(value)) {
        return false;
    }
    throw new Error(`${name}: invalid boolean "${text}"`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parse the channel configuration (YAML or JSON). The `channels` map is the Substra chart's format
 * (channel → list of MSP ids); the optional `chaincodes` map (channel → chaincode name) is ours.
 */
export function parseChannelConfig(text: string): ChannelConfig {
    const doc: unknown = parseYaml(text);
    if (!isRecord(doc) || !isRecord(doc.channels)) {
        throw new Error('channel configuration: a top-level "channels" map is required');
    }
    const channels = new Map<string, ReadonlySet<string>>();
    for (const [channel, members] of Object.entries(doc.channels)) {
        if (!Array.isArray(members) || !members.every((m): m is string => typeof m === 'string')) {
            throw new Error(`channel configuration: channel "${channel}" must list MSP ids`);
        }
        channels.set(channel, new Set(members));
    }
    const chaincodes = new Map<string, string>();
    if (doc.chaincodes !== undefined && doc.chaincodes !== null) {
        if (!isRecord(doc.chaincodes)) {
            throw new Error('channel configuration: "chaincodes" must map channels to chaincode names');
        }
        for (const [channel, name] of Object.entries(doc.chaincodes)) {
            if (typeof name !== 'string' || name === '') {
                throw new Error(`channel configuration: invalid chaincode name for channel "${channel}"`);
            }
            chaincodes.set(channel, name);
        }
    }
    return { channels, chaincodes };
}

/**
 * The peer of a fabric-sdk-go connection profile (`ORCHESTRATOR_NETWORK_CONFIG`, the file the Substra
 * chart renders): the first peer of the organization whose `mspid` is `mspId` (else of
 * `client.organization`), its `url` (scheme removed), `tlsCACerts.path` and
 * `grpcOptions.ssl-target-name-override`, and the client TLS pair `client.tlsCerts.client`; plus
 * that organization's `mspid`.
 */
export function peerFromConnectionProfile(
    text: string,
    mspId: string,
): { readonly peer: Partial<PeerConfig>; readonly mspId: string | undefined } {
    const doc: unknown = parseYaml(text);
    const get = (value: unknown, ...keys: string[]): unknown => {
        let current = value;
        for (const key of keys) {
            current = isRecord(current) ? current[key] : undefined;
        }
        return current;
    };
    const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
    const organizations = get(doc, 'organizations');
    const orgs = isRecord(organizations) ? Object.entries(organizations) : [];
    const clientOrg = str(get(doc, 'client', 'organization'));
    const org =
        orgs.find(([, o]) => mspId !== '' && get(o, 'mspid') === mspId)?.[1] ??
        (clientOrg === undefined ? undefined : get(organizations, clientOrg));
    const orgMspId = str(get(org, 'mspid'));
    const orgPeers = get(org, 'peers');
    const peers = get(doc, 'peers');
    const name =
        (Array.isArray(orgPeers) ? str(orgPeers[0]) : undefined) ?? Object.keys(isRecord(peers) ? peers : {})[0];
    if (name === undefined) {
        throw new Error('connection profile: no peer found');
    }
    const peer = get(peers, name);
    const url = str(get(peer, 'url')) ?? name;
    const result: Partial<Record<keyof PeerConfig, string>> = { endpoint: url.replace(/^grpcs?:\/\//, '') };
    const optional: [keyof PeerConfig, unknown][] = [
        ['tlsCaCertPath', get(peer, 'tlsCACerts', 'path')],
        ['hostAlias', get(peer, 'grpcOptions', 'ssl-target-name-override')],
        ['tlsClientCertPath', get(doc, 'client', 'tlsCerts', 'client', 'cert', 'path')],
        ['tlsClientKeyPath', get(doc, 'client', 'tlsCerts', 'client', 'key', 'path')],
    ];
    for (const [key, value] of optional) {
        const v = str(value);
        if (v !== undefined) {
            result[key] = v;
        }
    }
    return { peer: result, mspId: orgMspId };
}

class EnvReader {
    readonly #env: Env;

    constructor(env: Env) {
        this.#env = env;
    }

    str(name: string, fallback: string): string {
        const value = this.#env[name];
        return value === undefined || value === '' ? fallback : value;
    }

    required(name: string): string {
        const value = this.#env[name];
        if (value === undefined || value === '') {
            throw new Error(`${name} is required`);
        }
        return value;
    }

    bool(name: string, fallback: boolean): boolean {
        const value = this.#env[name];
        return value === undefined || value === '' ? fallback : parseBool(value, name);
    }

    int(name: string, fallback: number): number {
        const value = this.#env[name];
        if (value === undefined || value === '') {
            return fallback;
        }
        const parsed = Number(value);
        if (!Number.isInteger(parsed) || parsed < 0) {
            throw new Error(`${name}: invalid number "${value}"`);
        }
        return parsed;
    }

    duration(name: string, fallback: string): number {
        try {
            return parseDuration(this.str(name, fallback));
        } catch (err) {
            throw new Error(`${name}: ${(err as Error).message}`, { cause: err });
        }
    }
}

/** Read the gateway configuration from `ORCHESTRATOR_*` variables (plus LOG_LEVEL, METRICS_ENABLED). */
export function loadConfig(env: Env = process.env): GatewayConfig {
    const e = new EnvReader(env);
    const channelConfigPath = e.required('ORCHESTRATOR_CHANNEL_CONFIG');
    const tlsEnabled = e.bool('ORCHESTRATOR_TLS_ENABLED', false);
    const mtlsEnabled = tlsEnabled && e.bool('ORCHESTRATOR_MTLS_ENABLED', false);
    const tls: TlsConfig = {
        enabled: tlsEnabled,
        certPath: tlsEnabled ? e.required('ORCHESTRATOR_TLS_CERT_PATH') : e.str('ORCHESTRATOR_TLS_CERT_PATH', ''),
        keyPath: tlsEnabled ? e.required('ORCHESTRATOR_TLS_KEY_PATH') : e.str('ORCHESTRATOR_TLS_KEY_PATH', ''),
        mtlsEnabled,
        serverCaCertPath: mtlsEnabled
            ? e.required('ORCHESTRATOR_TLS_SERVER_CA_CERT')
            : e.str('ORCHESTRATOR_TLS_SERVER_CA_CERT', ''),
        clientCaCertDir: e.str('ORCHESTRATOR_TLS_CLIENT_CA_CERT_DIR', ''),
    };
    const verifyClientMspId = e.bool('ORCHESTRATOR_VERIFY_CLIENT_MSP_ID', false);
    if ((mtlsEnabled || verifyClientMspId) && tls.clientCaCertDir === '') {
        throw new Error('ORCHESTRATOR_TLS_CLIENT_CA_CERT_DIR is required with mTLS or client MSP id verification');
    }
    const gatewayTimeoutMs = e.duration('ORCHESTRATOR_FABRIC_GATEWAY_TIMEOUT', '20s');
    const networkConfig = e.str('ORCHESTRATOR_NETWORK_CONFIG', '');
    let profilePeer: Partial<PeerConfig> = {};
    let profileMspId: string | undefined;
    if (networkConfig !== '') {
        try {
            const profile = peerFromConnectionProfile(
                fs.readFileSync(networkConfig, 'utf8'),
                e.str('ORCHESTRATOR_MSPID', ''),
            );
            profilePeer = profile.peer;
            profileMspId = profile.mspId;
        } catch (err) {
            throw new Error(`ORCHESTRATOR_NETWORK_CONFIG: ${(err as Error).message}`, { cause: err });
        }
    }
    // The identity of ORCHESTRATOR_FABRIC_CERT/KEY: ORCHESTRATOR_MSPID, else the profile's organization.
    const mspId = e.str('ORCHESTRATOR_MSPID', profileMspId ?? '');
    // Substra listens on every interface; under its chart (which sets ORCHESTRATOR_MODE and never
    // ORCHESTRATOR_HOST) so must we, or the Service cannot reach the pod.
    const defaultHost = e.str('ORCHESTRATOR_MODE', '') === '' ? '127.0.0.1' : '0.0.0.0';
    const host = e.str('ORCHESTRATOR_HOST', defaultHost);
    return {
        host,
        port: e.int('ORCHESTRATOR_PORT', 9000),
        metricsEnabled: e.bool('METRICS_ENABLED', true),
        metricsHost: e.str('ORCHESTRATOR_METRICS_HOST', host),
        metricsPort: e.int('ORCHESTRATOR_METRICS_PORT', 8484),
        logLevel: pinoLevel(e.str('LOG_LEVEL', 'info')),
        channelConfig: parseChannelConfig(fs.readFileSync(channelConfigPath, 'utf8')),
        defaultChaincode: e.str('ORCHESTRATOR_CHAINCODE', 'mycc'),
        tls,
        verifyClientMspId,
        walletDir: e.str('ORCHESTRATOR_WALLET_DIR', ''),
        fabricCertPath: e.str('ORCHESTRATOR_FABRIC_CERT', ''),
        fabricKeyPath: e.str('ORCHESTRATOR_FABRIC_KEY', ''),
        mspId,
        peer: {
            endpoint: e.str('ORCHESTRATOR_PEER_ENDPOINT', profilePeer.endpoint ?? 'localhost:7051'),
            tlsCaCertPath: e.str('ORCHESTRATOR_PEER_TLS_CA_CERT', profilePeer.tlsCaCertPath ?? ''),
            tlsClientCertPath: e.str('ORCHESTRATOR_PEER_TLS_CLIENT_CERT', profilePeer.tlsClientCertPath ?? ''),
            tlsClientKeyPath: e.str('ORCHESTRATOR_PEER_TLS_CLIENT_KEY', profilePeer.tlsClientKeyPath ?? ''),
            hostAlias: e.str('ORCHESTRATOR_PEER_HOST_ALIAS', profilePeer.hostAlias ?? ''),
        },
        gatewayTimeoutMs,
        retry: {
            maxAttempts: Math.max(1, e.int('ORCHESTRATOR_TX_RETRY_MAX_ATTEMPTS', 5)),
            budgetMs: e.duration('ORCHESTRATOR_TX_RETRY_BUDGET', '30s'),
            conflictAttempts: Math.max(1, e.int('ORCHESTRATOR_TX_CONFLICT_MAX_ATTEMPTS', 20)),
            baseDelayMs: e.duration('ORCHESTRATOR_TX_RETRY_BASE_DELAY', '100ms'),
            maxDelayMs: e.duration('ORCHESTRATOR_TX_RETRY_MAX_DELAY', '2s'),
        },
        stateDir: path.resolve(e.str('ORCHESTRATOR_STATE_DIR', '.state/gateway')),
        maxReceiveMessageBytes: e.int('ORCHESTRATOR_GRPC_MAX_RECEIVE_MESSAGE_SIZE', 4 * 1024 * 1024),
        maxConcurrentSubmits: e.int('ORCHESTRATOR_MAX_CONCURRENT_SUBMITS', 256),
        maxTransactionBytes: e.int('ORCHESTRATOR_MAX_TRANSACTION_BYTES', 0),
        allowAnyChaincode: e.bool('ORCHESTRATOR_ALLOW_ANY_CHAINCODE', false),
        endorsingOrganizations: parseEndorsingOrganizations(e.str('ORCHESTRATOR_ENDORSING_ORGANIZATIONS', '')),
        health: {
            intervalMs: e.duration('ORCHESTRATOR_HEALTH_CHECK_INTERVAL', '10s'),
            startupGraceMs: e.duration('ORCHESTRATOR_HEALTH_STARTUP_GRACE', '15s'),
        },
    };
}

const PINO_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/**
 * The pino level of a zerolog level name (LOG_LEVEL, case-insensitive as in Substra): `panic` is
 * `fatal`, `disabled` is `silent`, `warning` is `warn`; anything else unknown is `info` rather than a
 * start-up failure.
 */
export function pinoLevel(name: string): string {
    const level = name.trim().toLowerCase();
    const aliases: Readonly<Record<string, string>> = { panic: 'fatal', disabled: 'silent', warning: 'warn' };
    const mapped = aliases[level] ?? level;
    return PINO_LEVELS.has(mapped) ? mapped : 'info';
}

/** Chaincode of a channel: the channel configuration's entry, else the default. */
export function chaincodeFor(
    config: Pick<GatewayConfig, 'channelConfig' | 'defaultChaincode'>,
    channel: string,
): string {
    return config.channelConfig.chaincodes.get(channel) ?? config.defaultChaincode;
}
