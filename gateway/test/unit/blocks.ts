import { common, peer } from '@hyperledger/fabric-protos';

/** The chaincode event an endorser transaction sets. */
export interface SetEvent {
    readonly chaincode: string;
    readonly name: string;
}

/** An envelope of header type `type` on channel `mychannel` whose payload data is `data`. */
export function envelope(type: number, data: Uint8Array, txId = ''): Uint8Array {
    const channelHeader = new common.ChannelHeader();
    channelHeader.setType(type);
    channelHeader.setTxId(txId);
    channelHeader.setChannelId('mychannel');
    const header = new common.Header();
    header.setChannelHeader(channelHeader.serializeBinary());
    const payload = new common.Payload();
    payload.setHeader(header);
    payload.setData(data);
    const env = new common.Envelope();
    env.setPayload(payload.serializeBinary());
    return env.serializeBinary();
}

/** An endorser transaction envelope with one action, which sets `event` when given. */
export function endorserTransaction(txId: string, event?: SetEvent): Uint8Array {
    const chaincodeAction = new peer.ChaincodeAction();
    if (event) {
        const chaincodeEvent = new peer.ChaincodeEvent();
        chaincodeEvent.setChaincodeId(event.chaincode);
        chaincodeEvent.setTxId(txId);
        chaincodeEvent.setEventName(event.name);
        chaincodeEvent.setPayload(Uint8Array.from([1, 2, 3]));
        chaincodeAction.setEvents(chaincodeEvent.serializeBinary());
    }
    const response = new peer.ProposalResponsePayload();
    response.setExtension$(chaincodeAction.serializeBinary());
    const endorsed = new peer.ChaincodeEndorsedAction();
    endorsed.setProposalResponsePayload(response.serializeBinary());
    const actionPayload = new peer.ChaincodeActionPayload();
    actionPayload.setAction(endorsed);
    const action = new peer.TransactionAction();
    action.setPayload(actionPayload.serializeBinary());
    const transaction = new peer.Transaction();
    transaction.setActionsList([action]);
    return envelope(common.HeaderType.ENDORSER_TRANSACTION, transaction.serializeBinary(), txId);
}

/**
 * A block (number `number`) of these envelopes, with one validation code per envelope in its
 * TRANSACTIONS_FILTER metadata, or no metadata entries at all when `codes` is undefined.
 */
export function block(envelopes: Uint8Array[], codes: number[] | undefined, number = 12): Uint8Array {
    const header = new common.BlockHeader();
    header.setNumber(number);
    const data = new common.BlockData();
    data.setDataList(envelopes);
    const metadata = new common.BlockMetadata();
    metadata.setMetadataList(codes === undefined ? [] : [new Uint8Array(0), new Uint8Array(0), Uint8Array.from(codes)]);
    const b = new common.Block();
    b.setHeader(header);
    b.setData(data);
    b.setMetadata(metadata);
    return b.serializeBinary();
}
