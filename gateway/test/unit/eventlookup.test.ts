import { describe, expect, it } from 'vitest';
import { transactionEmitted } from '../../src/fabric/blocks';
import { block, endorserTransaction } from './blocks';

const UPDATES = { chaincode: 'mycc', name: 'chaincode-updates' };

describe('start transaction lookup (distributed §4.9 step 2, behavior-assets §13.5.4)', () => {
    const b = block(
        [
            endorserTransaction('tx-quiet'),
            endorserTransaction('tx-events', UPDATES),
            endorserTransaction('tx-invalid', UPDATES),
            endorserTransaction('tx-other', { chaincode: 'othercc', name: 'chaincode-updates' }),
        ],
        [0, 0, 11, 0],
    );

    it('sees the chaincode-updates event of a valid transaction', () => {
        expect(transactionEmitted(b, 'tx-events', 'mycc', 'chaincode-updates')).toBe(true);
    });

    it('reports a valid transaction without event, an invalid one and another chaincode as not emitted', () => {
        expect(transactionEmitted(b, 'tx-quiet', 'mycc', 'chaincode-updates')).toBe(false);
        expect(transactionEmitted(b, 'tx-invalid', 'mycc', 'chaincode-updates')).toBe(false);
        expect(transactionEmitted(b, 'tx-other', 'mycc', 'chaincode-updates')).toBe(false);
        expect(transactionEmitted(b, 'tx-events', 'mycc', 'other-name')).toBe(false);
    });

    it('cannot tell for a transaction absent from the block or a block without validation flags', () => {
        expect(transactionEmitted(b, 'tx-absent', 'mycc', 'chaincode-updates')).toBeUndefined();
        const noFlags = block([endorserTransaction('tx-events', UPDATES)], undefined);
        expect(transactionEmitted(noFlags, 'tx-events', 'mycc', 'chaincode-updates')).toBeUndefined();
    });
});
