// `node test/network/dist/src/cli.js fabric`: finds or builds the Fabric binaries (FABRIC_VERSION, default 2.5.16)
// and prints where they are, e.g. to warm the cache before a CI run.
import { ensureFabric, findRepoRoot } from './index';

async function main(): Promise<void> {
    const [command] = process.argv.slice(2);
    if (command !== 'fabric') {
        process.stderr.write('usage: cli.js fabric   (env: FABRIC_VERSION, FABRIC_BIN_DIR, FABRIC_SOURCE)\n');
        process.exit(2);
    }
    const t0 = Date.now();
    const install = await ensureFabric({ repoRoot: findRepoRoot() });
    process.stdout.write(
        `Fabric ${install.version}: ${install.binDir} (${install.origin}) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
}

main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
});
