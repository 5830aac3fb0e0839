// Starts what a test needs: a real Fabric network (free ports, a temporary state dir) and the gateway process on
// it, the way a deployment runs them (the gateway reads only its ORCHESTRATOR_* environment).

import {
    type ChannelSpec,
    type EndorsementPolicy,
    type FabricNetwork,
    type GatewayProcess,
    gatewayEnv,
    startFabricNetwork,
    startGatewayProcess,
    writeGatewayFiles,
} from '@substra-fabric/network';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LocalNetwork {
    root: string;
    network: FabricNetwork;
    gateway: GatewayProcess;
    /** environment the gateway was started with (port 0) */
    gatewayEnv: Record<string, string>;
    address: string;
    stop(): Promise<void>;
}

export async function startLocalNetwork(options: {
    policy?: EndorsementPolicy;
    channels?: ChannelSpec[];
    prefix?: string;
}): Promise<LocalNetwork> {
    const root = mkdtempSync(path.join(os.tmpdir(), options.prefix ?? 'substra-it-'));
    const lines: string[] = [];
    let network: FabricNetwork | undefined;
    try {
        network = await startFabricNetwork({
            stateDir: path.join(root, 'network'),
            ports: 'auto',
            policy: options.policy ?? 'or',
            ...(options.channels ? { channels: options.channels } : {}),
            log: (line) => {
                lines.push(line);
            },
        });
        const files = writeGatewayFiles(network, path.join(root, 'gateway'));
        const env = gatewayEnv(files, { port: 0, stateDir: path.join(root, 'gateway', 'events'), logLevel: 'info' });
        const gateway = await startGatewayProcess({ env, logFile: path.join(root, 'logs', 'gateway.log') });
        const started = network;
        return {
            root,
            network: started,
            gateway,
            gatewayEnv: env,
            address: `127.0.0.1:${gateway.port}`,
            stop: async () => {
                await gateway.stop();
                await started.stop();
                if (!process.env.KEEP_INTEGRATION_STATE) rmSync(root, { recursive: true, force: true });
            },
        };
    } catch (err) {
        await network?.stop();
        throw new Error(`could not start the local network in ${root}: ${String(err)}\n${lines.join('\n')}`, {
            cause: err,
        });
    }
}
