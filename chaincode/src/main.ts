/**
 * Chaincode-as-a-service bootstrap, following the hlf-k8s chaincode Deployment (distributed.md §5.1):
 *
 * | Variable          | Meaning                                                                         |
 * |-------------------|---------------------------------------------------------------------------------|
 * | CHAINCODE_CCID    | package id (`<label>:<hash>`) the peer knows this chaincode by (required)        |
 * | CHAINCODE_ADDRESS | `host:port` to listen on, e.g. `0.0.0.0:7052` (required)                          |
 * | TLS_CERT_FILE     | server certificate (PEM); with TLS_KEY_FILE enables TLS                           |
 * | TLS_KEY_FILE      | server private key (PEM)                                                          |
 * | TLS_ROOTCERT_FILE | CA (PEM) client certificates must chain to: mutual TLS (the peer's client cert)   |
 * | LOG_LEVEL         | DEBUG, INFO, WARNING (or WARN), ERROR, CRITICAL; default INFO                     |
 * | CHAINCODE_MAX_MESSAGE_BYTES | largest gRPC message to or from the peer; default 104857600 (100 MiB, the  |
 * |                   | peer's own default): the peer sends a request's arguments twice, so grpc-js's 4 MiB |
 * |                   | default would cut any request over ~2 MB                                            |
 * | ORCHESTRATOR_TOTAL_QUERY_LIMIT | the peers' `ledger.state.totalQueryLimit`, which it must equal; default 100000 |
 * |                   | (Fabric's): range queries are continued past it (repository/store.ts)             |
 *
 * Nothing Fabric-related is imported at the top of this module: fabric-shim and fabric-contract-api read
 * the log level when they create their loggers, so it is set before they are loaded.
 */
import { readFileSync } from 'node:fs';
import { TOTAL_QUERY_LIMIT_ENV, parseTotalQueryLimit } from './repository/query-limit';

export interface ServerConfig {
    readonly ccid: string;
    readonly address: string;
    readonly tls: { readonly key: Buffer; readonly cert: Buffer; readonly clientCACerts?: Buffer } | undefined;
    /** A level name of Fabric's loggers. */
    readonly logLevel: string;
    /** gRPC message size limit, both directions. */
    readonly maxMessageBytes: number;
}

/** The peer's default `peer.maxRecvMsgSize` / `maxSendMsgSize`. */
export const DEFAULT_MAX_MESSAGE_BYTES = 100 * 1024 * 1024;

const LOG_LEVELS: Readonly<Record<string, string>> = {
    DEBUG: 'DEBUG',
    INFO: 'INFO',
    WARN: 'WARNING',
    WARNING: 'WARNING',
    ERROR: 'ERROR',
    CRITICAL: 'CRITICAL',
    FATAL: 'CRITICAL',
};

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
    const ccid = env.CHAINCODE_CCID ?? '';
    const address = env.CHAINCODE_ADDRESS ?? '';
    if (ccid === '' || address === '') {
        throw new Error('CHAINCODE_CCID and CHAINCODE_ADDRESS must be set');
    }
    const certFile = env.TLS_CERT_FILE ?? '';
    const keyFile = env.TLS_KEY_FILE ?? '';
    const rootCertFile = env.TLS_ROOTCERT_FILE ?? '';
    if ((certFile === '') !== (keyFile === '')) {
        throw new Error('TLS_CERT_FILE and TLS_KEY_FILE must be set together');
    }
    if (certFile === '' && rootCertFile !== '') {
        throw new Error('TLS_ROOTCERT_FILE needs TLS_CERT_FILE and TLS_KEY_FILE');
    }
    const tls =
        certFile === ''
            ? undefined
            : {
                  key: readFileSync(keyFile),
                  cert: readFileSync(certFile),
                  ...(rootCertFile === '' ? {} : { clientCACerts: readFileSync(rootCertFile) }),
              };
    const requested = (env.LOG_LEVEL ?? 'INFO').trim().toUpperCase();
    const logLevel = LOG_LEVELS[requested];
    if (logLevel === undefined) {
        throw new Error(`unknown LOG_LEVEL ${JSON.stringify(env.LOG_LEVEL)}`);
    }
    const maxText = (env.CHAINCODE_MAX_MESSAGE_BYTES ?? '').trim();
    const maxMessageBytes = maxText === '' ? DEFAULT_MAX_MESSAGE_BYTES : Number(maxText);
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes <= 0) {
        throw new Error(
            `CHAINCODE_MAX_MESSAGE_BYTES must be a positive number of bytes, got ${JSON.stringify(maxText)}`,
        );
    }
    // Checked at startup; the ledger layer reads it again when it builds its first store.
    parseTotalQueryLimit(env[TOTAL_QUERY_LIMIT_ENV]);
    return { ccid, address, tls, logLevel, maxMessageBytes };
}

/** Starts the chaincode server; resolves once it listens. */
export async function startServer(config: ServerConfig): Promise<void> {
    process.env.CORE_CHAINCODE_LOGGING_LEVEL = config.logLevel;
    const { Shim } = await import('fabric-shim');
    const { createChaincode } = await import('./chaincode');
    const opts = {
        ccid: config.ccid,
        address: config.address,
        // fabric-shim's types make tlsProps mandatory; at run time its absence means plaintext.
        tlsProps: config.tls as Parameters<typeof Shim.server>[1]['tlsProps'],
        // fabric-shim hands every `grpc.*` option to its grpc-js server
        'grpc.max_receive_message_length': config.maxMessageBytes,
        'grpc.max_send_message_length': config.maxMessageBytes,
    };
    const logger = Shim.newLogger('chaincode');
    const { watchPeerBatching } = await import('./ledger/peer-batching');
    watchPeerBatching((offer) => {
        logger.info(
            offer.maxWriteBatch > 0 || offer.maxGetMultiple > 0
                ? `peer connected: writes sent in batches of ${offer.maxWriteBatch} records, reads of ${offer.maxGetMultiple} keys`
                : 'peer connected: one message per state access (the peer offers no batches)',
        );
    });
    const server = Shim.server(createChaincode(), opts);
    await server.start();
    const mode = config.tls === undefined ? 'plaintext' : config.tls.clientCACerts ? 'mutual TLS' : 'TLS';
    logger.info(`chaincode ${config.ccid} listening on ${config.address} (${mode})`);
}

/** Entry point of the `chaincode` executable. */
export function main(): void {
    let config: ServerConfig;
    try {
        config = configFromEnv();
    } catch (error) {
        console.error(`chaincode: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(2);
    }
    startServer(config).catch((error: unknown) => {
        console.error('chaincode: failed to start:', error);
        process.exit(1);
    });
}
