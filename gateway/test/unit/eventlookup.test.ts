import { common, peer } from '@hyperledger/fabric-protos';
import { describe, expect, it } from 'vitest';
import { transactionEmitted } from '../../src/fabricgateway';

/** An endorser transaction envelope, built with Fabric's own protobuf classes. */
function envelope(txId: string, chaincodeEvent?: { chaincode: string; name: string }): Uint8Array {
    const channelHeader = new common.ChannelHeader();
    channelHeader.setType(common.HeaderType.ENDORSER_TRANSACTION);
    channelHeader.setTxId(txId);
    channelHeader.setChannelId('mychannel');
    const header = new common.Header();
    header.setChannelHeader(channelHeader.serializeBinary());
    const chaincodeAction = new peer.ChaincodeAction();
    if (chaincodeEvent) {
        const event = new peer.ChaincodeEvent();
        event.setChaincodeId(chaincodeEvent.chaincode);
        event.setTxId(txId);
        event.setEventName(chaincodeEvent.name);
        event.setPayload(Uint8Array.from([1, 2, 3]));
        chaincodeAction.setEvents(event.serializeBinary());
    }
    const responsePayload = new peer.ProposalResponsePayload();
    responsePayload.setExtension$(chaincodeAction.serializeBinary());
    const endorsed = new peer.ChaincodeEndorsedAction();
    endorsed.setProposalResponsePayload(responsePayload.serializeBinary());
    const actionPayload = new peer.ChaincodeActionPayload();
    actionPayload.setAction(endorsed);
    const action = new peer.TransactionAction();
    action.setPayload(actionPayload.serializeBinary());
    const transaction = new peer.Transaction();
    transaction.setActionsList([action]);
    const payload = new common.Payload();
    payload.setHeader(header);
    payload.setData(transaction.serializeBinary());
    const env = new common.Envelope();
    env.setPayload(payload.serializeBinary());
    return env.serializeBinary();
}

function block(envelopes: Uint8Array[], codes: number[] | undefined): Uint8Array {
    const header = new common.BlockHeader();
    header.setNumber(12);
    const data = new common.BlockData();
    data.setDataList(envelopes);
    const b = new common.Block();
    b.setHeader(header);
    b.setData(data);
    const metadata = new common.BlockMetadata();
    metadata.setMetadataList(codes === undefined ? [] : [new Uint8Array(0), new Uint8Array(0), Uint8Array.from(codes)]);
    b.setMetadata(metadata);
    return b.serializeBinary();
}

const UPDATES = { chaincode: 'mycc', name: 'chaincode-updates' };

describe('start transaction lookup (distributed §4.9 step 2, behavior-assets §13.5.4)', () => {
    const b = block(
        [
            envelope('tx-quiet'),
            envelope('tx-events', UPDATES),
            envelope('tx-invalid', UPDATES),
            envelope('tx-other', { chaincode: 'othercc', name: 'chaincode-updates' }),
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
        const noFlags = block([envelope('tx-events', UPDATES)], undefined);
        expect(transactionEmitted(noFlags, 'tx-events', 'mycc', 'chaincode-updates')).toBeUndefined();
    });
});
