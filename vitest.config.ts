import { defineConfig } from 'vitest/config';

// Three projects: `unit` is fast and needs no network; `deploy` renders the Helm charts with hlf-values/ (helm, no
// cluster); `integration` drives a running network (started by the test setup itself) and runs files one at a time.
export default defineConfig({
    test: {
        projects: [
            {
                extends: true,
                test: {
                    name: 'unit',
                    include: [
                        'proto/test/**/*.test.ts',
                        'chaincode/test/**/*.test.ts',
                        'gateway/test/unit/**/*.test.ts',
                        'test/network/test/**/*.test.ts',
                    ],
                    testTimeout: 20_000,
                },
            },
            {
                extends: true,
                test: {
                    name: 'deploy',
                    include: ['test/deploy/**/*.test.ts'],
                    testTimeout: 60_000,
                    // the first run builds helm (scripts/ensure-helm.mjs, ~80 s, longer on a busy machine)
                    hookTimeout: 900_000,
                },
            },
            {
                extends: true,
                test: {
                    name: 'integration',
                    include: ['test/integration/**/*.test.ts'],
                    globalSetup: ['test/integration/globalSetup.ts'],
                    testTimeout: 120_000,
                    hookTimeout: 600_000,
                    fileParallelism: false,
                },
            },
        ],
        coverage: {
            provider: 'v8',
            include: ['chaincode/src/**/*.ts', 'gateway/src/**/*.ts'],
        },
    },
});
