/**
 * Child process of the bench: runs the development network (test/devnet, built) so that the peer's work
 * (signature checks, simulation, block commits) does not run on the event loop of the gateway being measured.
 * argv[2]: JSON {stateDir, batchTimeoutMs?}. Sends {type: 'up', orgs, chaincodes} on IPC once ready, stops the
 * network on the 'stop' message or when the parent goes away.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { startDevnet, type Devnet } from '@substra-fabric/devnet';

interface ChildOptions {
    readonly stateDir: string;
    readonly batchTimeoutMs?: number;
}

async function main(): Promise<void> {
    const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
    mkdirSync(options.stateDir, { recursive: true });
    const logFile = path.join(options.stateDir, 'devnet.log');
    const devnet: Devnet = await startDevnet({
        stateDir: options.stateDir,
        ports: 'auto',
        channels: [{ name: 'mychannel', chaincode: 'mycc' }],
        ...(options.batchTimeoutMs === undefined ? {} : { batchTimeoutMs: options.batchTimeoutMs }),
        log: (line) => {
            appendFileSync(logFile, line + '\n');
        },
    });
    let stopping = false;
    const stop = (): void => {
        if (stopping) {
            return;
        }
        stopping = true;
        void devnet.stop().finally(() => process.exit(0));
    };
    process.on('message', (message) => {
        if (message === 'stop') {
            stop();
        }
    });
    process.on('disconnect', stop);
    process.on('SIGTERM', stop);
    process.send?.({ type: 'up', orgs: devnet.orgs, chaincodes: devnet.chaincodes });
}

main().catch((err: unknown) => {
    process.stderr.write(`bench devnet: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
});
