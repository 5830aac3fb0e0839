#!/usr/bin/env node
// The integration suite on every Fabric line we support, one after the other, each on a fresh real network:
// FABRIC_TEST_VERSIONS (space separated; default "2.5.16 3.1.5"). Prints how long each run took.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const versions = (process.env.FABRIC_TEST_VERSIONS || '2.5.16 3.1.5').split(/[\s,]+/).filter(Boolean);
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const timings = [];
for (const version of versions) {
    process.stdout.write(`\n[test-integration] Fabric ${version}\n`);
    const t0 = Date.now();
    const run = spawnSync(process.execPath, [vitest, 'run', '--project', 'integration', ...process.argv.slice(2)], {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, FABRIC_VERSION: version },
    });
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    timings.push(`Fabric ${version}: ${run.status === 0 ? 'passed' : 'FAILED'} in ${seconds} s`);
    if (run.status !== 0) {
        process.stdout.write(`[test-integration] ${timings.join('; ')}\n`);
        process.exit(run.status ?? 1);
    }
}
process.stdout.write(`[test-integration] ${timings.join('; ')}\n`);
