import { common } from '@hyperledger/fabric-protos';
import { describe, expect, it } from 'vitest';
import { blockEmits } from '../../src/fabric/blocks';
import { block, endorserTransaction, envelope } from './blocks';

const VALID = 0;
const MVCC_READ_CONFLICT = 11;
const UPDATES = { chaincode: 'mycc', name: 'chaincode-updates' };

describe('blockEmits (which blocks the event listener will see)', () => {
    it('skips config transactions, whose payload is not a Transaction', () => {
        // a config envelope's data is a ConfigEnvelope: walking it as a Transaction used to throw
        const config = new common.ConfigEnvelope();
        config.setConfig(new common.Config());
        const configBlock = block([envelope(common.HeaderType.CONFIG, config.serializeBinary())], [VALID]);
        expect(blockEmits(configBlock, 'mycc', 'chaincode-updates')).toBe(false);
    });

    it('finds a valid transaction setting the event, and only for that chaincode and name', () => {
        const b = block([endorserTransaction('tx', UPDATES)], [VALID]);
        expect(blockEmits(b, 'mycc', 'chaincode-updates')).toBe(true);
        expect(blockEmits(b, 'yourcc', 'chaincode-updates')).toBe(false);
        expect(blockEmits(b, 'mycc', 'other')).toBe(false);
    });

    it('ignores transactions invalidated at commit', () => {
        const b = block(
            [endorserTransaction('tx1', UPDATES), endorserTransaction('tx2', UPDATES)],
            [MVCC_READ_CONFLICT, VALID],
        );
        expect(blockEmits(b, 'mycc', 'chaincode-updates')).toBe(true);
        const none = block([endorserTransaction('tx', UPDATES)], [MVCC_READ_CONFLICT]);
        expect(blockEmits(none, 'mycc', 'chaincode-updates')).toBe(false);
    });
});
