// Parsing and assembling Fabric messages (proposals, proposal responses, transactions, blocks).

import { common, peer } from '@hyperledger/fabric-protos';
import { sha256 } from './msp';

export class BadRequestError extends Error {}

export interface ParsedProposal {
    signedProposal: peer.SignedProposal;
    proposalBytes: Uint8Array;
    signature: Uint8Array;
    header: common.Header;
    channelHeader: common.ChannelHeader;
    signatureHeader: common.SignatureHeader;
    payload: peer.ChaincodeProposalPayload;
    /** chaincode name from the invocation spec */
    chaincodeName: string;
    input: peer.ChaincodeInput;
    channelId: string;
    txId: string;
    creator: Uint8Array;
    nonce: Uint8Array;
    /** Fabric's proposal hash (transient map excluded) */
    proposalHash: Buffer;
}

function decode<T>(what: string, fn: () => T): T {
    try {
        return fn();
    } catch (err) {
        throw new BadRequestError(`failed to unmarshal ${what}: ${String(err)}`);
    }
}

/** ChaincodeProposalPayload bytes as they go into a transaction: without the transient map. */
export function proposalPayloadForTx(payload: peer.ChaincodeProposalPayload): Uint8Array {
    const copy = new peer.ChaincodeProposalPayload();
    copy.setInput(payload.getInput_asU8());
    return copy.serializeBinary();
}

export function proposalHash(header: common.Header, payloadForTx: Uint8Array): Buffer {
    return sha256(header.getChannelHeader_asU8(), header.getSignatureHeader_asU8(), payloadForTx);
}

export function computeTxId(nonce: Uint8Array, creator: Uint8Array): string {
    return sha256(nonce, creator).toString('hex');
}

export function parseSignedProposal(signedProposal: peer.SignedProposal | undefined): ParsedProposal {
    if (!signedProposal || signedProposal.getProposalBytes_asU8().length === 0) {
        throw new BadRequestError('a signed proposal is required');
    }
    const proposalBytes = signedProposal.getProposalBytes_asU8();
    const proposal = decode('proposal', () => peer.Proposal.deserializeBinary(proposalBytes));
    const header = decode('header', () => common.Header.deserializeBinary(proposal.getHeader_asU8()));
    const channelHeader = decode('channel header', () =>
        common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8()),
    );
    const signatureHeader = decode('signature header', () =>
        common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8()),
    );
    const payload = decode('chaincode proposal payload', () =>
        peer.ChaincodeProposalPayload.deserializeBinary(proposal.getPayload_asU8()),
    );
    const spec = decode('chaincode invocation spec', () =>
        peer.ChaincodeInvocationSpec.deserializeBinary(payload.getInput_asU8()),
    );
    const channelId = channelHeader.getChannelId();
    if (channelId === '') throw new BadRequestError('no channel id provided');
    const ccSpec = spec.getChaincodeSpec();
    if (!ccSpec) throw new BadRequestError(`no chaincode spec is provided, channel id [${channelId}]`);
    const ccId = ccSpec.getChaincodeId();
    if (!ccId) throw new BadRequestError(`no chaincode id is provided, channel id [${channelId}]`);
    if (ccId.getName() === '') throw new BadRequestError(`no chaincode name is provided, channel id [${channelId}]`);
    return {
        signedProposal,
        proposalBytes,
        signature: signedProposal.getSignature_asU8(),
        header,
        channelHeader,
        signatureHeader,
        payload,
        chaincodeName: ccId.getName(),
        input: ccSpec.getInput() ?? new peer.ChaincodeInput(),
        channelId,
        txId: channelHeader.getTxId(),
        creator: signatureHeader.getCreator_asU8(),
        nonce: signatureHeader.getNonce_asU8(),
        proposalHash: proposalHash(header, proposalPayloadForTx(payload)),
    };
}

export function chaincodeActionBytes(
    response: peer.Response,
    results: Uint8Array,
    event: peer.ChaincodeEvent | undefined,
    chaincodeName: string,
    chaincodeVersion: string,
): Uint8Array {
    const action = new peer.ChaincodeAction();
    action.setResults(results);
    if (event) action.setEvents(event.serializeBinary());
    action.setResponse(response);
    const id = new peer.ChaincodeID();
    id.setName(chaincodeName);
    id.setVersion(chaincodeVersion);
    action.setChaincodeId(id);
    return action.serializeBinary();
}

export function proposalResponsePayloadBytes(hash: Uint8Array, extension: Uint8Array): Uint8Array {
    const prp = new peer.ProposalResponsePayload();
    prp.setProposalHash(hash);
    prp.setExtension$(extension);
    return prp.serializeBinary();
}

/** Assembles the unsigned transaction envelope from a proposal and its endorsements (as Fabric's gateway does). */
export function prepareTransaction(
    proposal: ParsedProposal,
    prpBytes: Uint8Array,
    endorsements: peer.Endorsement[],
): common.Envelope {
    const endorsed = new peer.ChaincodeEndorsedAction();
    endorsed.setProposalResponsePayload(prpBytes);
    endorsed.setEndorsementsList(endorsements);
    const cap = new peer.ChaincodeActionPayload();
    cap.setChaincodeProposalPayload(proposalPayloadForTx(proposal.payload));
    cap.setAction(endorsed);
    const action = new peer.TransactionAction();
    action.setHeader(proposal.header.getSignatureHeader_asU8());
    action.setPayload(cap.serializeBinary());
    const tx = new peer.Transaction();
    tx.setActionsList([action]);
    const payload = new common.Payload();
    payload.setHeader(proposal.header);
    payload.setData(tx.serializeBinary());
    const env = new common.Envelope();
    env.setPayload(payload.serializeBinary());
    return env;
}

export interface ParsedTransaction {
    payloadBytes: Uint8Array;
    signature: Uint8Array;
    channelHeader: common.ChannelHeader;
    signatureHeader: common.SignatureHeader;
    header: common.Header;
    txId: string;
    channelId: string;
    type: number;
    /** present for endorser transactions */
    endorser?: {
        chaincodeProposalPayload: Uint8Array;
        prpBytes: Uint8Array;
        proposalHash: Uint8Array;
        action: peer.ChaincodeAction;
        endorsements: peer.Endorsement[];
    };
}

/** Parses an envelope as a committer would; throws BadRequestError on malformed content. */
export function parseTransaction(envelope: common.Envelope): ParsedTransaction {
    const payloadBytes = envelope.getPayload_asU8();
    const payload = decode('payload', () => common.Payload.deserializeBinary(payloadBytes));
    const header = payload.getHeader();
    if (!header) throw new BadRequestError('missing header');
    const channelHeader = decode('channel header', () =>
        common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8()),
    );
    const signatureHeader = decode('signature header', () =>
        common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8()),
    );
    const parsed: ParsedTransaction = {
        payloadBytes,
        signature: envelope.getSignature_asU8(),
        channelHeader,
        signatureHeader,
        header,
        txId: channelHeader.getTxId(),
        channelId: channelHeader.getChannelId(),
        type: channelHeader.getType(),
    };
    if (parsed.type !== common.HeaderType.ENDORSER_TRANSACTION) return parsed;
    const tx = decode('transaction', () => peer.Transaction.deserializeBinary(payload.getData_asU8()));
    const actions = tx.getActionsList();
    const first = actions[0];
    if (actions.length !== 1 || !first) throw new BadRequestError('only one action per transaction is supported');
    const cap = decode('chaincode action payload', () =>
        peer.ChaincodeActionPayload.deserializeBinary(first.getPayload_asU8()),
    );
    const endorsed = cap.getAction();
    if (!endorsed) throw new BadRequestError('missing endorsed action');
    const prpBytes = endorsed.getProposalResponsePayload_asU8();
    const prp = decode('proposal response payload', () => peer.ProposalResponsePayload.deserializeBinary(prpBytes));
    const action = decode('chaincode action', () => peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8()));
    parsed.endorser = {
        chaincodeProposalPayload: cap.getChaincodeProposalPayload_asU8(),
        prpBytes,
        proposalHash: prp.getProposalHash_asU8(),
        action,
        endorsements: endorsed.getEndorsementsList(),
    };
    return parsed;
}

// --- blocks ---

function derLength(n: number): Buffer {
    if (n < 0x80) return Buffer.from([n]);
    const bytes: number[] = [];
    while (n > 0) {
        bytes.unshift(n & 0xff);
        n >>= 8;
    }
    return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derTlv(tag: number, body: Buffer): Buffer {
    return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

function derUint(n: number): Buffer {
    let hex = BigInt(n).toString(16);
    if (hex.length % 2) hex = '0' + hex;
    let bytes = Buffer.from(hex, 'hex');
    if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return derTlv(0x02, bytes);
}

/** Fabric's block header hash: SHA-256 of the ASN.1 DER sequence (number, previous hash, data hash). */
export function blockHeaderHash(header: common.BlockHeader): Buffer {
    const seq = derTlv(
        0x30,
        Buffer.concat([
            derUint(header.getNumber()),
            derTlv(0x04, Buffer.from(header.getPreviousHash_asU8())),
            derTlv(0x04, Buffer.from(header.getDataHash_asU8())),
        ]),
    );
    return sha256(seq);
}

export function blockDataHash(data: Uint8Array[]): Buffer {
    return sha256(...data);
}

/** Builds a block with the transactions filter in its metadata (indexes as in common.BlockMetadataIndex). */
export function buildBlock(
    number: number,
    previousHash: Uint8Array,
    data: Uint8Array[],
    validationCodes: number[],
): common.Block {
    const header = new common.BlockHeader();
    header.setNumber(number);
    header.setPreviousHash(previousHash);
    header.setDataHash(blockDataHash(data));
    const blockData = new common.BlockData();
    blockData.setDataList(data);
    const metadata = new common.BlockMetadata();
    const emptyMeta = new common.Metadata().serializeBinary();
    const lastConfig = new common.LastConfig();
    lastConfig.setIndex(0);
    const lastConfigMeta = new common.Metadata();
    lastConfigMeta.setValue(lastConfig.serializeBinary());
    metadata.setMetadataList([
        emptyMeta, // SIGNATURES
        lastConfigMeta.serializeBinary(), // LAST_CONFIG
        Uint8Array.from(validationCodes), // TRANSACTIONS_FILTER
        new Uint8Array(0), // ORDERER
        new Uint8Array(0), // COMMIT_HASH
    ]);
    const block = new common.Block();
    block.setHeader(header);
    block.setData(blockData);
    block.setMetadata(metadata);
    return block;
}

/** A stand-in genesis block: one CONFIG envelope with an empty configuration. */
export function genesisEnvelope(channelId: string): Uint8Array {
    const chdr = new common.ChannelHeader();
    chdr.setType(common.HeaderType.CONFIG);
    chdr.setChannelId(channelId);
    chdr.setVersion(1);
    const hdr = new common.Header();
    hdr.setChannelHeader(chdr.serializeBinary());
    hdr.setSignatureHeader(new common.SignatureHeader().serializeBinary());
    const config = new common.Config();
    config.setSequence(0);
    config.setChannelGroup(new common.ConfigGroup());
    const cfgEnv = new common.ConfigEnvelope();
    cfgEnv.setConfig(config);
    const payload = new common.Payload();
    payload.setHeader(hdr);
    payload.setData(cfgEnv.serializeBinary());
    const env = new common.Envelope();
    env.setPayload(payload.serializeBinary());
    return env.serializeBinary();
}
