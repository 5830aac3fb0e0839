// One network for the whole integration project: devnet (both orgs, mychannel/mycc and yourchannel/yourcc, OR
// policy) and the gateway process on free ports in a temporary state dir; torn down at the end.

import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalNetwork } from './support/network';

declare module 'vitest' {
    export interface ProvidedContext {
        network: {
            address: string;
            root: string;
            gatewayEnv: Record<string, string>;
        };
    }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
    const repo = path.resolve(__dirname, '../..');
    for (const built of ['chaincode/dist/src/main.js', 'gateway/dist/src/main.js', 'proto/dist/index.js']) {
        if (!existsSync(path.join(repo, built))) throw new Error(`${built} is missing: run \`npm run build\` first`);
    }
    const t0 = Date.now();
    const network = await startLocalNetwork({ prefix: 'substra-it-' });
    console.log(
        `[integration] devnet + gateway ready at ${network.address} in ${Date.now() - t0} ms (${network.root})`,
    );
    project.provide('network', { address: network.address, root: network.root, gatewayEnv: network.gatewayEnv });
    return async () => {
        await network.stop();
    };
}
