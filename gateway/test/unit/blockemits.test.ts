import { common, peer } from '@hyperledger/fabric-protos';
import { describe, expect, it } from 'vitest';
import { blockEmits } from '../../src/fabricgateway';

const VALID = 0;
const MVCC_READ_CONFLICT = 11;

/** An endorser transaction envelope whose single action set chaincode event `name` of `chaincode`. */
function endorserTransaction(chaincode: string, name: string): Uint8Array {
    const event = new peer.ChaincodeEvent();
    event.setChaincodeId(chaincode);
    event.setEventName(name);
    const action = new peer.ChaincodeAction();
    action.setEvents(event.serializeBinary());
    const response = new peer.ProposalResponsePayload();
    response.setExtension$(action.serializeBinary());
    const endorsed = new peer.ChaincodeEndorsedAction();
    endorsed.setProposalResponsePayload(response.serializeBinary());
    const actionPayload = new peer.ChaincodeActionPayload();
    actionPayload.setAction(endorsed);
    const transactionAction = new peer.TransactionAction();
    transactionAction.setPayload(actionPayload.serializeBinary());
    const transaction = new peer.Transaction();
    transaction.addActions(transactionAction);
    return envelope(common.HeaderType.ENDORSER_TRANSACTION, transaction.serializeBinary());
}

function envelope(type: number, data: Uint8Array): Uint8Array {
    const channelHeader = new common.ChannelHeader();
    channelHeader.setType(type);
    const header = new common.Header();
    header.setChannelHeader(channelHeader.serializeBinary());
    const payload = new common.Payload();
    payload.setHeader(header);
    payload.setData(data);
    const env = new common.Envelope();
    env.setPayload(payload.serializeBinary());
    return env.serializeBinary();
}

function block(envelopes: Uint8Array[], codes: number[]): Uint8Array {
    const data = new common.BlockData();
    data.setDataList(envelopes);
    const metadata = new common.BlockMetadata();
    const entries: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0), Uint8Array.from(codes)];
    metadata.setMetadataList(entries);
    const b = new common.Block();
    b.setData(data);
    b.setMetadata(metadata);
    return b.serializeBinary();
}

describe('blockEmits (which blocks the event listener will see)', () => {
    it('skips config transactions, whose payload is not a Transaction', () => {
        // a config envelope's data is a ConfigEnvelope: walking it as a Transaction used to throw
        const config = new common.ConfigEnvelope();
        config.setConfig(new common.Config());
        const configBlock = block([envelope(common.HeaderType.CONFIG, config.serializeBinary())], [VALID]);
        expect(blockEmits(configBlock, 'mycc', 'chaincode-updates')).toBe(false);
    });

    it('finds a valid transaction setting the event, and only for that chaincode and name', () => {
        const b = block([endorserTransaction('mycc', 'chaincode-updates')], [VALID]);
        expect(blockEmits(b, 'mycc', 'chaincode-updates')).toBe(true);
        expect(blockEmits(b, 'yourcc', 'chaincode-updates')).toBe(false);
        expect(blockEmits(b, 'mycc', 'other')).toBe(false);
    });

    it('ignores transactions invalidated at commit', () => {
        const b = block(
            [endorserTransaction('mycc', 'chaincode-updates'), endorserTransaction('mycc', 'chaincode-updates')],
            [MVCC_READ_CONFLICT, VALID],
        );
        expect(blockEmits(b, 'mycc', 'chaincode-updates')).toBe(true);
        const none = block([endorserTransaction('mycc', 'chaincode-updates')], [MVCC_READ_CONFLICT]);
        expect(blockEmits(none, 'mycc', 'chaincode-updates')).toBe(false);
    });
});
