import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitLog } from './support/determinism';
import type { DeterminismFlow } from './support/determinism';
import { newTestLedger } from './support/ledger';

const FLOWS_DIR = path.join(__dirname, 'flows');
const flowFiles = readdirSync(FLOWS_DIR)
    .filter((file) => file.endsWith('.flow.ts'))
    .sort();

describe('determinism: same transactions on two fresh ledgers give identical write sets and events', () => {
    it('flow files are present', () => {
        expect(flowFiles.length).toBeGreaterThan(0);
    });

    for (const file of flowFiles) {
        it(`${file}: write sets and chaincode event payloads are byte-identical across runs`, async () => {
            const { flow } = (await import(path.join(FLOWS_DIR, file))) as { flow: DeterminismFlow };
            const first = newTestLedger();
            const second = newTestLedger();
            await flow.run(first);
            await flow.run(second);
            const log = commitLog(first);
            expect(log.length, `${flow.name} committed nothing`).toBeGreaterThan(0);
            expect(commitLog(second)).toEqual(log);
            expect(second.world.keys()).toEqual(first.world.keys());
        });
    }
});
