/**
 * What the gateway reads in Fabric's own messages (blocks, envelopes, chain info, channel configuration),
 * all decoded with `@hyperledger/fabric-protos`.
 */
import { common, orderer, peer } from '@hyperledger/fabric-protos';

const TX_VALID = 0;

/** Number of an encoded `common.Block`. */
export function blockNumberOf(block: Uint8Array): bigint {
    const header = common.Block.deserializeBinary(block).getHeader();
    if (header === undefined) {
        throw new Error('block without header');
    }
    return BigInt(header.getNumber());
}

/** The transactions of an encoded block: each envelope's payload, channel header and validation code. */
function* transactionsOf(bytes: Uint8Array): Generator<{
    payload: common.Payload;
    header: common.ChannelHeader;
    code: number | undefined;
}> {
    const block = common.Block.deserializeBinary(bytes);
    const filter = block.getMetadata()?.getMetadataList_asU8()[common.BlockMetadataIndex.TRANSACTIONS_FILTER];
    for (const [i, envelope] of (block.getData()?.getDataList_asU8() ?? []).entries()) {
        const payload = common.Payload.deserializeBinary(common.Envelope.deserializeBinary(envelope).getPayload_asU8());
        const header = common.ChannelHeader.deserializeBinary(
            payload.getHeader()?.getChannelHeader_asU8() ?? new Uint8Array(0),
        );
        yield { payload, header, code: filter?.[i] };
    }
}

/**
 * Whether transaction `transactionId` of an encoded `common.Block` is valid and set a chaincode event
 * named `eventName` for `chaincode` (what the chaincode-events service delivers); undefined when the
 * block does not hold the transaction or lacks its validation flags.
 */
export function transactionEmitted(
    block: Uint8Array,
    transactionId: string,
    chaincode: string,
    eventName: string,
): boolean | undefined {
    for (const { payload, header, code } of transactionsOf(block)) {
        if (header.getTxId() !== transactionId) {
            continue;
        }
        if (code === undefined) {
            return undefined;
        }
        return code === TX_VALID && setsEvent(payload, chaincode, eventName);
    }
    return undefined;
}

/**
 * Whether an encoded `common.Block` holds a valid endorser transaction that set chaincode event `eventName` of
 * `chaincode` (config and other transaction types are skipped).
 */
export function blockEmits(bytes: Uint8Array, chaincode: string, eventName: string): boolean {
    for (const { payload, header, code } of transactionsOf(bytes)) {
        if (
            code === TX_VALID &&
            header.getType() === common.HeaderType.ENDORSER_TRANSACTION &&
            setsEvent(payload, chaincode, eventName)
        ) {
            return true;
        }
    }
    return false;
}

/** Whether an endorser transaction's payload sets chaincode event `eventName` of `chaincode`. */
function setsEvent(payload: common.Payload, chaincode: string, eventName: string): boolean {
    const transaction = peer.Transaction.deserializeBinary(payload.getData_asU8());
    return transaction.getActionsList().some((action) => {
        const endorsed = peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8()).getAction();
        if (endorsed === undefined) {
            return false;
        }
        const response = peer.ProposalResponsePayload.deserializeBinary(endorsed.getProposalResponsePayload_asU8());
        const event = peer.ChaincodeEvent.deserializeBinary(
            peer.ChaincodeAction.deserializeBinary(response.getExtension_asU8()).getEvents_asU8(),
        );
        return event.getChaincodeId() === chaincode && event.getEventName() === eventName;
    });
}

/** Height of a chain from qscc `GetChainInfo`'s answer (an encoded `common.BlockchainInfo`). */
export function chainHeightOf(info: Uint8Array): bigint {
    return BigInt(common.BlockchainInfo.deserializeBinary(info).getHeight());
}

/** `Orderer/BatchSize.AbsoluteMaxBytes` of cscc `GetChannelConfig`'s answer (an encoded `common.Config`); 0 when absent. */
export function absoluteMaxBytes(config: Uint8Array): number {
    const batchSize = common.Config.deserializeBinary(config)
        .getChannelGroup()
        ?.getGroupsMap()
        .get('Orderer')
        ?.getValuesMap()
        .get('BatchSize')
        ?.getValue_asU8();
    return batchSize ? orderer.BatchSize.deserializeBinary(batchSize).getAbsoluteMaxBytes() : 0;
}
