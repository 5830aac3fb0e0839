import * as fs from 'node:fs';
import * as path from 'node:path';
import { FabricGatewayClient } from './fabric/gatewayclient';
import { loadWallet } from './fabric/wallet';
import { endorsersFor, loadConfig } from './ops/config';
import { newLogger } from './ops/logger';
import { GatewayServer } from './rpc/server';
import { MspVerifier, serverCredentials } from './rpc/tls';

/** Version of this package, answered by QueryVersion. */
export function gatewayVersion(): string {
    for (const candidate of ['../package.json', '../../package.json']) {
        const file = path.resolve(__dirname, candidate);
        if (fs.existsSync(file)) {
            const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
            if (parsed.name === '@substra-fabric/gateway' && parsed.version) {
                return parsed.version;
            }
        }
    }
    return 'unknown';
}

/** Start the gateway from the environment; stops on SIGTERM or SIGINT. */
export async function main(): Promise<void> {
    const config = loadConfig();
    const logger = newLogger(config.logLevel);
    const wallet = loadWallet(config);
    const fabric = new FabricGatewayClient({
        wallet,
        defaultPeer: config.peer,
        timeoutMs: config.gatewayTimeoutMs,
        commitWaitMs: config.gatewayTimeoutMs,
        maxTransactionBytes: config.maxTransactionBytes,
        endorsingOrganizations: (channel) => endorsersFor(config, channel),
        onPeerSwitch: (switched) => {
            logger.warn(switched, 'peer unreachable: calls of this identity go to another peer of the channel');
        },
    });
    const server = new GatewayServer({
        config,
        fabric,
        logger,
        version: gatewayVersion(),
        retryPolicy: config.retry,
        maxConcurrentSubmits: config.maxConcurrentSubmits,
        stateDir: config.stateDir,
        credentials: serverCredentials(config.tls),
        hasIdentity: (mspid) => wallet.has(mspid),
        ...(config.verifyClientMspId
            ? { mspVerifier: MspVerifier.fromDirectory(config.tls.clientCaCertDir, { tls: config.tls.enabled }) }
            : {}),
    });
    await server.start();
    server.startListeners();
    let stopping = false;
    const stop = (signal: string): void => {
        if (stopping) {
            return;
        }
        stopping = true;
        logger.info({ signal }, 'stopping');
        server.stop(20_000).then(
            () => process.exit(0),
            (err: unknown) => {
                logger.error({ err }, 'shutdown failed');
                process.exit(1);
            },
        );
    };
    process.on('SIGTERM', () => {
        stop('SIGTERM');
    });
    process.on('SIGINT', () => {
        stop('SIGINT');
    });
}

if (require.main === module) {
    main().catch((err: unknown) => {
        console.error(err);
        process.exit(1);
    });
}
