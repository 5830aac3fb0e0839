// One org's peer as an endorser: checks a signed proposal (header type, creator signature against the channel's
// MSPs, transaction id, duplicates), simulates it on its chaincode process and returns a ProposalResponse with
// this peer's endorsement. Also answers the query system chaincode (qscc) from the ledger.

import { common, peer } from '@hyperledger/fabric-protos';
import { ChaincodeConnection, ExecutionError } from './chaincode';
import { ChannelLedger } from './ledger';
import { claimedMspId, MspRegistry, Signer } from './msp';
import {
    blockHeaderHash as blockHash,
    chaincodeActionBytes,
    computeTxId,
    ParsedProposal,
    proposalResponsePayloadBytes,
} from './protoutil';

export const CHAINCODE_VERSION = '1.0';

export interface PeerOptions {
    mspId: string;
    /** address advertised in error details */
    address: string;
    signer: Signer;
    msps: MspRegistry;
    ledgers: Map<string, ChannelLedger>;
    /** chaincode connections keyed by `${channel}/${chaincode}` */
    chaincodes: Map<string, ChaincodeConnection>;
    executeTimeoutMs: number;
    channelOrgs: Map<string, string[]>;
}

/**
 * What ProcessProposal gives back: a response, and for failures of the pre-simulation checks (signature, ACL,
 * transaction id) also an error, which the gateway reports as FAILED_PRECONDITION.
 */
export interface ProposalResult {
    response: peer.ProposalResponse;
    error?: string;
}

function rejected(message: string): ProposalResult {
    return { response: errorResponse(message), error: message };
}

function failure(message: string): peer.Response {
    const r = new peer.Response();
    r.setStatus(500);
    r.setMessage(message);
    return r;
}

function proposalResponse(r: peer.Response): peer.ProposalResponse {
    const pr = new peer.ProposalResponse();
    pr.setVersion(1);
    pr.setResponse(r);
    return pr;
}

function errorResponse(message: string): peer.ProposalResponse {
    return proposalResponse(failure(message));
}

export class Peer {
    readonly mspId: string;
    readonly address: string;
    readonly #o: PeerOptions;

    constructor(options: PeerOptions) {
        this.#o = options;
        this.mspId = options.mspId;
        this.address = options.address;
    }

    /**
     * Mirrors the endorser: failed checks before simulation are rejections (an error besides the 500 response);
     * failures during simulation are status 500 responses without payload; chaincode errors carry a payload.
     */
    async processProposal(p: ParsedProposal, lockHeld = false): Promise<ProposalResult> {
        const ledger = this.#o.ledgers.get(p.channelId);
        if (!ledger) return rejected(`access denied: channel [${p.channelId}] not found`);
        if (p.channelHeader.getType() !== common.HeaderType.ENDORSER_TRANSACTION) {
            return rejected(`error validating proposal: invalid header type ${p.channelHeader.getType()}`);
        }
        const creatorOrg = claimedMspId(p.creator);
        try {
            const creator = this.#o.msps.verify(p.creator, p.proposalBytes, p.signature);
            if (!(this.#o.channelOrgs.get(p.channelId) ?? []).includes(creator.mspId)) {
                throw new Error(`MSP ${creator.mspId} is not a member of channel ${p.channelId}`);
            }
            if (creator.ou !== 'client' && creator.ou !== 'admin' && creator.ou !== 'peer') {
                throw new Error('the creator is neither a client, an admin nor a peer');
            }
        } catch (err) {
            const org = creatorOrg === '' ? 'unknown, creator is malformed' : `[${creatorOrg}]`;
            return rejected(
                `error validating proposal: access denied: channel [${p.channelId}] creator org ${org}: ${(err as Error).message}`,
            );
        }
        const expected = computeTxId(p.nonce, p.creator);
        if (p.txId !== expected) {
            return rejected(`error validating proposal: incorrectly formed txid [${p.txId}], expected [${expected}]`);
        }
        if (ledger.txRecord(p.txId)) {
            return rejected(
                `duplicate transaction found [${p.txId}]. Creator [${Buffer.from(p.creator).toString('hex')}]`,
            );
        }
        return { response: await this.#simulate(p, ledger, lockHeld) };
    }

    async #simulate(p: ParsedProposal, ledger: ChannelLedger, lockHeld: boolean): Promise<peer.ProposalResponse> {
        if (p.chaincodeName === 'qscc') return this.#qscc(p, ledger);
        const conn = this.#o.chaincodes.get(`${p.channelId}/${p.chaincodeName}`);
        if (!ledger.hasChaincode(p.chaincodeName) || !conn) {
            return errorResponse(
                `make sure the chaincode ${p.chaincodeName} has been successfully defined on channel ${p.channelId} and try again: chaincode ${p.chaincodeName} not found`,
            );
        }

        const sim = await ledger.newSimulator(p.chaincodeName, p.txId, lockHeld);
        let result: Awaited<ReturnType<ChaincodeConnection['execute']>>;
        let rwset: Uint8Array;
        try {
            result = await conn.execute(p.channelId, p.txId, p.input, p.signedProposal, sim, this.#o.executeTimeoutMs);
            rwset = sim.results();
        } catch (err) {
            const msg = err instanceof ExecutionError ? err.message : String(err);
            return errorResponse(`error in simulation: ${msg}`);
        } finally {
            sim.finish();
        }

        const res = result.response;
        const pr = proposalResponse(res);
        if (res.getStatus() >= 400) {
            // Chaincode error: no simulation results, no event, no endorsement, but a payload.
            const ext = chaincodeActionBytes(res, new Uint8Array(0), undefined, p.chaincodeName, CHAINCODE_VERSION);
            pr.setPayload(proposalResponsePayloadBytes(p.proposalHash, ext));
            return pr;
        }
        const ext = chaincodeActionBytes(res, rwset, result.event, p.chaincodeName, CHAINCODE_VERSION);
        const prp = proposalResponsePayloadBytes(p.proposalHash, ext);
        pr.setPayload(prp);
        pr.setEndorsement(this.endorse(prp));
        return pr;
    }

    endorse(prpBytes: Uint8Array): peer.Endorsement {
        const e = new peer.Endorsement();
        e.setEndorser(this.#o.signer.serialized);
        e.setSignature(this.#o.signer.sign(Buffer.concat([prpBytes, this.#o.signer.serialized])));
        return e;
    }

    #qscc(p: ParsedProposal, ledger: ChannelLedger): peer.ProposalResponse {
        const args = p.input.getArgsList_asU8().map((a) => Buffer.from(a).toString());
        const [fn = '', channel = ''] = args;
        const ok = (payload: Uint8Array) => {
            const r = new peer.Response();
            r.setStatus(200);
            r.setPayload(payload);
            const ext = chaincodeActionBytes(r, new Uint8Array(0), undefined, 'qscc', '');
            const pr = proposalResponse(r);
            const prp = proposalResponsePayloadBytes(p.proposalHash, ext);
            pr.setPayload(prp);
            pr.setEndorsement(this.endorse(prp));
            return pr;
        };
        const fail = (message: string) => {
            const r = failure(message);
            const pr = proposalResponse(r);
            pr.setPayload(
                proposalResponsePayloadBytes(
                    p.proposalHash,
                    chaincodeActionBytes(r, new Uint8Array(0), undefined, 'qscc', ''),
                ),
            );
            return pr;
        };
        const target = this.#o.ledgers.get(channel);
        if (!target || channel !== ledger.channelId) {
            return fail(`Invalid chain ID, ${channel}`);
        }
        switch (fn) {
            case 'GetChainInfo': {
                const info = new common.BlockchainInfo();
                const height = target.height;
                info.setHeight(height);
                const last = target.block(height - 1)?.block.getHeader();
                if (last) {
                    info.setCurrentblockhash(blockHash(last));
                    info.setPreviousblockhash(last.getPreviousHash_asU8());
                }
                return ok(info.serializeBinary());
            }
            case 'GetBlockByNumber': {
                const n = Number(args[2] ?? 'x');
                const b = Number.isInteger(n) ? target.block(n) : undefined;
                if (!b) return fail(`Failed to get block number ${args[2] ?? ''}, error Entry not found in index`);
                return ok(b.block.serializeBinary());
            }
            case 'GetBlockByTxID': {
                const txId = args[2] ?? '';
                const rec = target.txRecord(txId);
                const b = rec ? target.block(rec.blockNum) : undefined;
                if (!b) {
                    return fail(
                        `Failed to get block for txID ${txId}, error no such transaction ID [${txId}] in index`,
                    );
                }
                return ok(b.block.serializeBinary());
            }
            case 'GetTransactionByID': {
                const txId = args[2] ?? '';
                const rec = target.txRecord(txId);
                const b = rec ? target.block(rec.blockNum) : undefined;
                const data = rec ? b?.block.getData()?.getDataList_asU8()[rec.txNum] : undefined;
                if (!rec || !data) {
                    return fail(
                        `Failed to get transaction with id ${txId}, error no such transaction ID [${txId}] in index`,
                    );
                }
                const pt = new peer.ProcessedTransaction();
                pt.setTransactionenvelope(common.Envelope.deserializeBinary(data));
                pt.setValidationcode(rec.code);
                return ok(pt.serializeBinary());
            }
            default:
                return fail(`Requested function ${fn} not found.`);
        }
    }
}
