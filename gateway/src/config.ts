import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { RetryPolicy } from './retry';

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
}

type Env = Readonly<Record<string, string | undefined>>;

const DURATION_UNITS: Readonly<Record<string, number>> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
};

/** Parse a Go duration (`500ms`, `20s`, `1m30s`, `1.5h`) into milliseconds. A bare number is milliseconds. */
export function parseDuration(text: string): number {
    const trimmed = text.trim();
    if (/^\d+(\.\d+)?$/.test(trimmed)) {
        return Number(trimmed);
    }
    const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
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
    return {
        host: e.str('ORCHESTRATOR_HOST', '127.0.0.1'),
        port: e.int('ORCHESTRATOR_PORT', 9000),
        metricsEnabled: e.bool('METRICS_ENABLED', true),
        metricsHost: e.str('ORCHESTRATOR_METRICS_HOST', e.str('ORCHESTRATOR_HOST', '127.0.0.1')),
        metricsPort: e.int('ORCHESTRATOR_METRICS_PORT', 8484),
        logLevel: e.str('LOG_LEVEL', 'info').toLowerCase(),
        channelConfig: parseChannelConfig(fs.readFileSync(channelConfigPath, 'utf8')),
        defaultChaincode: e.str('ORCHESTRATOR_CHAINCODE', 'mycc'),
        tls,
        verifyClientMspId,
        walletDir: e.str('ORCHESTRATOR_WALLET_DIR', ''),
        fabricCertPath: e.str('ORCHESTRATOR_FABRIC_CERT', ''),
        fabricKeyPath: e.str('ORCHESTRATOR_FABRIC_KEY', ''),
        mspId: e.str('ORCHESTRATOR_MSPID', ''),
        peer: {
            endpoint: e.str('ORCHESTRATOR_PEER_ENDPOINT', 'localhost:7051'),
            tlsCaCertPath: e.str('ORCHESTRATOR_PEER_TLS_CA_CERT', ''),
            tlsClientCertPath: e.str('ORCHESTRATOR_PEER_TLS_CLIENT_CERT', ''),
            tlsClientKeyPath: e.str('ORCHESTRATOR_PEER_TLS_CLIENT_KEY', ''),
            hostAlias: e.str('ORCHESTRATOR_PEER_HOST_ALIAS', ''),
        },
        gatewayTimeoutMs,
        retry: {
            maxAttempts: Math.max(1, e.int('ORCHESTRATOR_TX_RETRY_MAX_ATTEMPTS', 5)),
            budgetMs: e.duration('ORCHESTRATOR_TX_RETRY_BUDGET', '30s'),
            baseDelayMs: e.duration('ORCHESTRATOR_TX_RETRY_BASE_DELAY', '100ms'),
            maxDelayMs: e.duration('ORCHESTRATOR_TX_RETRY_MAX_DELAY', '2s'),
        },
        stateDir: path.resolve(e.str('ORCHESTRATOR_STATE_DIR', '.state/gateway')),
        maxReceiveMessageBytes: e.int('ORCHESTRATOR_GRPC_MAX_RECEIVE_MESSAGE_SIZE', 4 * 1024 * 1024),
    };
}

/** Chaincode of a channel: the channel configuration's entry, else the default. */
export function chaincodeFor(
    config: Pick<GatewayConfig, 'channelConfig' | 'defaultChaincode'>,
    channel: string,
): string {
    return config.channelConfig.chaincodes.get(channel) ?? config.defaultChaincode;
}
