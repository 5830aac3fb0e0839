// One network for the whole integration project: a real Fabric network (both orgs, mychannel/mycc and
// yourchannel/yourcc, OR policy; FABRIC_VERSION picks the Fabric line) and the gateway process on free ports in a
// temporary state dir, brought up fresh for the run and torn down at the end.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { ensureFabric } from '@substra-fabric/network';
import type { TestProject } from 'vitest/node';
import { startLocalNetwork } from './support/network';

declare module 'vitest' {
    export interface ProvidedContext {
        network: {
            address: string;
            root: string;
            gatewayEnv: Record<string, string>;
            fabricVersion: string;
        };
    }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
    const repo = path.resolve(__dirname, '../..');
    for (const built of [
        'chaincode/dist/src/main.js',
        'gateway/dist/src/main.js',
        'proto/dist/index.js',
        'test/network/dist/src/index.js',
    ]) {
        if (!existsSync(path.join(repo, built))) throw new Error(`${built} is missing: run \`npm run build\` first`);
    }
    // Fabric binaries first (built once and cached), so that the network's bring-up time is its own.
    const tf = Date.now();
    const fabric = await ensureFabric({
        repoRoot: repo,
        log: (line) => {
            console.log(line);
        },
    });
    console.log(`[integration] Fabric ${fabric.version} (${fabric.origin}) in ${Date.now() - tf} ms`);
    const t0 = Date.now();
    const network = await startLocalNetwork({ prefix: 'substra-it-' });
    console.log(
        `[integration] Fabric network + gateway ready at ${network.address} in ${Date.now() - t0} ms (${network.root})`,
    );
    project.provide('network', {
        address: network.address,
        root: network.root,
        gatewayEnv: network.gatewayEnv,
        fabricVersion: fabric.version,
    });
    return async () => {
        await network.stop();
    };
}
