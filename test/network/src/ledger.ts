// Reads committed blocks from a peer through the query system chaincode (qscc), the way an auditor would: used by
// the tests to check who endorsed a transaction and how the peer validated it.

import * as grpc from '@grpc/grpc-js';
import { connect, type Gateway, hash, signers } from '@hyperledger/fabric-gateway';
import { common, msp, peer } from '@hyperledger/fabric-protos';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { NetworkOrg } from './network';

export interface CommittedTransaction {
    blockNumber: number;
    /** TxValidationCode of the transaction in its block (0 = VALID) */
    validationCode: number;
    /** MSP ids of the endorsements the transaction carries, sorted */
    endorsers: string[];
}

/** Block metadata index of the transaction validation flags (common.BlockMetadataIndex.TRANSACTIONS_FILTER). */
const TRANSACTIONS_FILTER = 2;

/** A fabric-gateway connection to `org`'s peer as its user (mutual TLS), as our gateway signs. */
export function connectOrgGateway(org: NetworkOrg): { gateway: Gateway; close(): void } {
    const client = new grpc.Client(
        org.endpoint,
        grpc.credentials.createSsl(
            readFileSync(org.tlsCaFile),
            readFileSync(org.tlsClientKeyFile),
            readFileSync(org.tlsClientCertFile),
        ),
        // the peer's certificate names localhost and 127.0.0.1; a name avoids Node's IP-as-SNI warning
        { 'grpc.ssl_target_name_override': 'localhost' },
    );
    const gateway = connect({
        client,
        identity: { mspId: org.mspId, credentials: readFileSync(org.certFile) },
        signer: signers.newPrivateKeySigner(createPrivateKey(readFileSync(org.keyFile))),
        hash: hash.sha256,
    });
    return {
        gateway,
        close: () => {
            gateway.close();
            client.close();
        },
    };
}

/** Who endorsed transaction `txId` of `channel`, as read from the block `org`'s peer committed it in. */
export async function committedTransaction(
    org: NetworkOrg,
    channel: string,
    txId: string,
): Promise<CommittedTransaction> {
    const connection = connectOrgGateway(org);
    try {
        const bytes = await connection.gateway
            .getNetwork(channel)
            .getContract('qscc')
            .evaluateTransaction('GetBlockByTxID', channel, txId);
        return parseTransaction(common.Block.deserializeBinary(bytes), txId);
    } finally {
        connection.close();
    }
}

/**
 * Endorses (without submitting) a read-only call of `chaincode` through `org`'s peer Gateway, which picks the
 * endorsers the chaincode's policy needs through discovery: it succeeds once the peer runs the chaincode, can
 * dial the chaincode process, and (under AND) knows the other org's peer through gossip.
 */
export async function probeEndorsement(org: NetworkOrg, channel: string, chaincode: string): Promise<void> {
    const connection = connectOrgGateway(org);
    try {
        await connection.gateway
            .getNetwork(channel)
            .getContract(chaincode)
            .newProposal('orchestrator.info:QueryVersion', { arguments: [new Uint8Array(0)] })
            .endorse();
    } finally {
        connection.close();
    }
}

export function parseTransaction(block: common.Block, txId: string): CommittedTransaction {
    const flags = block.getMetadata()?.getMetadataList_asU8()[TRANSACTIONS_FILTER] ?? new Uint8Array(0);
    const envelopes = block.getData()?.getDataList_asU8() ?? [];
    for (const [i, raw] of envelopes.entries()) {
        const payload = common.Payload.deserializeBinary(common.Envelope.deserializeBinary(raw).getPayload_asU8());
        const header = common.ChannelHeader.deserializeBinary(
            payload.getHeader()?.getChannelHeader_asU8() ?? new Uint8Array(0),
        );
        if (header.getTxId() !== txId) continue;
        const endorsers = peer.Transaction.deserializeBinary(payload.getData_asU8())
            .getActionsList()
            .flatMap((action) =>
                (
                    peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8())
                        .getAction()
                        ?.getEndorsementsList() ?? []
                ).map((e) => msp.SerializedIdentity.deserializeBinary(e.getEndorser_asU8()).getMspid()),
            )
            .sort();
        const code = flags[i];
        if (code === undefined)
            throw new Error(`block ${block.getHeader()?.getNumber() ?? '?'} has no validation flag for ${txId}`);
        return { blockNumber: block.getHeader()?.getNumber() ?? 0, validationCode: code, endorsers };
    }
    throw new Error(`transaction ${txId} is not in block ${block.getHeader()?.getNumber() ?? '?'}`);
}
