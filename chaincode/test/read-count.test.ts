import { describe, expect, it } from 'vitest';
import { INDEX_VALUE } from '../src/repository/keys';
import { readPage } from '../src/repository/pagination';
import { newTestLedger } from './support/ledger';

/** A ledger holding `size` index entries under `idx~test~all`. */
function ledgerWithIndex(size: number): ReturnType<typeof newTestLedger> {
    const ledger = newTestLedger();
    for (let i = 0; i < size; i++) {
        ledger.world.seed(`\u0000idx~test~all\u0000${String(i).padStart(6, '0')}\u0000`, INDEX_VALUE);
    }
    return ledger;
}

async function pageReads(size: number, pageSize: number, pages: number): Promise<number[]> {
    const ledger = ledgerWithIndex(size);
    const reads: number[] = [];
    let token = '';
    for (let i = 0; i < pages; i++) {
        const res = await ledger.evaluate('Org1MSP', (_s, ctx) =>
            readPage(ctx.store, 'idx~test~all', [], token, pageSize),
        );
        expect(res.result.records).toHaveLength(pageSize);
        token = res.result.nextPageToken;
        reads.push(res.reads);
    }
    return reads;
}

describe('read cost of paginated queries', () => {
    it('a page query costs O(page size) state reads, the same with 50 or 5000 index records, at any page', async () => {
        const small = await pageReads(50, 10, 3);
        const large = await pageReads(5000, 10, 3);
        expect(small).toEqual([11, 11, 11]); // page size + 1 look-ahead record
        expect(large).toEqual(small);
    });
});
