import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { type Gateway, CommitError, GatewayError, connect, hash, signers } from '@hyperledger/fabric-gateway';
import type { PeerConfig } from './config';
import {
    type ChaincodeEventRecord,
    type ChaincodeEventsRequest,
    type CloseableAsyncIterable,
    type FabricClient,
    type InvokeRequest,
    type TransactionBlockRequest,
    type TransactionLocation,
    InvocationError,
} from './fabric';
import type { WalletIdentity } from './wallet';
import { bytesFields, readVarint } from './wire';

export interface FabricGatewayClientOptions {
    /** Identities by MSP id. */
    readonly wallet: ReadonlyMap<string, WalletIdentity>;
    /** Peer of identities whose wallet entry names none. */
    readonly defaultPeer: PeerConfig;
    /** Deadline of evaluate, endorse, submit and commit-status calls. */
    readonly timeoutMs: number;
    readonly maxMessageBytes?: number;
}

const MVCC_READ_CONFLICT = 11;
const PHANTOM_READ_CONFLICT = 12;

/** The chaincode's own message inside a Fabric error text, when there is one. */
function chaincodeMessage(text: string): string | undefined {
    const match = /chaincode response \d+, ([\s\S]*)$/.exec(text);
    if (match?.[1] !== undefined) {
        return match[1];
    }
    return /OE\d{4}/.test(text) ? text : undefined;
}

/**
 * Classify an error of `@hyperledger/fabric-gateway`: chaincode refusals (found in the status message
 * or in any endorser's detail), commit conflicts, and transport failures before (unavailable) or after
 * (timeout: outcome unknown) the transaction was sent for ordering.
 */
/**
 * Endorsement failures that mean the peer could not run the chaincode at all (process down, restarting,
 * stream cut): nothing was endorsed, so the call is safe to retry and is reported as UNAVAILABLE.
 */
const CHAINCODE_UNREACHABLE =
    /could not launch chaincode|error trying to connect to chaincode|chaincode stream terminated|error cannot create connection/;

export function classifyFabricError(err: unknown): InvocationError {
    if (err instanceof InvocationError) {
        return err;
    }
    if (err instanceof CommitError) {
        const kind = err.code === MVCC_READ_CONFLICT || err.code === PHANTOM_READ_CONFLICT ? 'conflict' : 'other';
        return new InvocationError(kind, err.message, { transactionId: err.transactionId, cause: err });
    }
    if (err instanceof GatewayError) {
        const transactionId = (err as Partial<{ transactionId: string }>).transactionId;
        const texts = [...err.details.map((d) => d.message), err.message];
        const text = [err.message, ...err.details.map((d) => `${d.address} (${d.mspId}): ${d.message}`)].join('; ');
        const options = { ...(transactionId ? { transactionId } : {}), cause: err };
        for (const candidate of texts) {
            const message = chaincodeMessage(candidate);
            if (message !== undefined) {
                return new InvocationError('chaincode', message, options);
            }
        }
        if (/MVCC_READ_CONFLICT|PHANTOM_READ_CONFLICT/.test(text)) {
            return new InvocationError('conflict', text, options);
        }
        if (CHAINCODE_UNREACHABLE.test(text)) {
            return new InvocationError('unavailable', text, options);
        }
        const transportCodes: number[] = [
            grpc.status.UNAVAILABLE,
            grpc.status.DEADLINE_EXCEEDED,
            grpc.status.CANCELLED,
        ];
        const transport = transportCodes.includes(err.code);
        if (transport) {
            const sent = err.name === 'SubmitError' || err.name === 'CommitStatusError';
            return new InvocationError(sent ? 'timeout' : 'unavailable', text, options);
        }
        return new InvocationError('other', text, options);
    }
    return new InvocationError('other', err instanceof Error ? err.message : String(err), { cause: err });
}

/** Number of a block encoded as `common.Block` (header = field 1, number = its field 1). */
export function blockNumberOf(block: Uint8Array): bigint {
    const [tag, afterTag] = readVarint(block, 0);
    if (tag !== 0x0a) {
        throw new Error('block without header');
    }
    const [length, start] = readVarint(block, afterTag);
    const header = block.subarray(start, start + length);
    // proto3 leaves a zero number out
    return header[0] === 0x08 ? BigInt(readVarint(header, 1)[0]) : 0n;
}

const TRANSACTIONS_FILTER = 2;
const TX_VALID = 0;

function first(bytes: Uint8Array | undefined, ...path: number[]): Uint8Array | undefined {
    let current = bytes;
    for (const field of path) {
        current = current === undefined ? undefined : bytesFields(current, field)[0];
    }
    return current;
}

function text(bytes: Uint8Array | undefined): string {
    return bytes === undefined ? '' : Buffer.from(bytes).toString('utf8');
}

/**
 * Whether transaction `transactionId` of an encoded `common.Block` is valid and set a chaincode event
 * named `eventName` for `chaincode` (what the chaincode-events service delivers); undefined when the
 * block does not hold the transaction or lacks its validation flags.
 *
 * Paths (field numbers): Block.data(2).data(1)[i] = Envelope; Envelope.payload(1) → Payload.header(1) →
 * Header.channel_header(1) → ChannelHeader.tx_id(5); Payload.data(2) → Transaction.actions(1)[] →
 * TransactionAction.payload(2) → ChaincodeActionPayload.action(2) → ChaincodeEndorsedAction
 * .proposal_response_payload(1) → ProposalResponsePayload.extension(2) → ChaincodeAction.events(2) →
 * ChaincodeEvent{chaincode_id(1), tx_id(2), event_name(3)}; Block.metadata(3).metadata(1)[2] = one
 * validation code per transaction.
 */
export function transactionEmitted(
    block: Uint8Array,
    transactionId: string,
    chaincode: string,
    eventName: string,
): boolean | undefined {
    const envelopes = bytesFields(first(block, 2) ?? new Uint8Array(0), 1);
    const filter = bytesFields(first(block, 3) ?? new Uint8Array(0), 1)[TRANSACTIONS_FILTER];
    for (const [i, envelope] of envelopes.entries()) {
        const payload = first(envelope, 1);
        if (text(first(payload, 1, 1, 5)) !== transactionId) {
            continue;
        }
        const code = filter?.[i];
        if (code === undefined) {
            return undefined;
        }
        if (code !== TX_VALID) {
            return false;
        }
        const actions = bytesFields(first(payload, 2) ?? new Uint8Array(0), 1);
        return actions.some((action) => {
            const event = first(action, 2, 2, 1, 2, 2);
            return event !== undefined && text(first(event, 1)) === chaincode && text(first(event, 3)) === eventName;
        });
    }
    return undefined;
}

function readPem(file: string): Buffer | undefined {
    return file ? fs.readFileSync(file) : undefined;
}

/** The Fabric client over `@hyperledger/fabric-gateway`: one gRPC connection per peer, one gateway per identity. */
export class FabricGatewayClient implements FabricClient {
    readonly #options: FabricGatewayClientOptions;
    readonly #clients = new Map<string, grpc.Client>();
    readonly #gateways = new Map<string, Gateway>();

    constructor(options: Readonly<FabricGatewayClientOptions>) {
        this.#options = options;
    }

    async evaluate(request: InvokeRequest): Promise<Uint8Array> {
        try {
            return await this.#contract(request).evaluate(request.fn, { arguments: [request.argument] });
        } catch (err) {
            throw classifyFabricError(err);
        }
    }

    async submit(request: InvokeRequest): Promise<Uint8Array> {
        try {
            const submitted = await this.#contract(request).submitAsync(request.fn, { arguments: [request.argument] });
            const commit = await submitted.getStatus();
            if (!commit.successful) {
                const kind =
                    commit.code === MVCC_READ_CONFLICT || commit.code === PHANTOM_READ_CONFLICT ? 'conflict' : 'other';
                throw new InvocationError(
                    kind,
                    `transaction ${commit.transactionId} failed to commit with status code ${commit.code}`,
                    { transactionId: commit.transactionId },
                );
            }
            return submitted.getResult();
        } catch (err) {
            throw classifyFabricError(err);
        }
    }

    async chaincodeEvents(request: ChaincodeEventsRequest): Promise<CloseableAsyncIterable<ChaincodeEventRecord>> {
        const network = this.#gateway(request.mspid).getNetwork(request.channel);
        let events;
        try {
            events = await network.getChaincodeEvents(request.chaincode, { startBlock: request.startBlock });
        } catch (err) {
            throw classifyFabricError(err);
        }
        const source = events;
        return {
            async *[Symbol.asyncIterator]() {
                try {
                    for await (const event of source) {
                        yield {
                            blockNumber: event.blockNumber,
                            transactionId: event.transactionId,
                            eventName: event.eventName,
                            payload: event.payload,
                        };
                    }
                } catch (err) {
                    throw classifyFabricError(err);
                }
            },
            close: () => {
                source.close();
            },
        };
    }

    async transactionBlock(request: TransactionBlockRequest): Promise<TransactionLocation | undefined> {
        const qscc = this.#gateway(request.mspid).getNetwork(request.channel).getContract('qscc');
        let block: Uint8Array;
        try {
            block = await qscc.evaluateTransaction('GetBlockByTxID', request.channel, request.transactionId);
        } catch (err) {
            const failure = classifyFabricError(err);
            if (failure.kind === 'chaincode' || /not found|no such transaction/i.test(failure.message)) {
                return undefined;
            }
            throw failure;
        }
        let emitted: boolean | undefined;
        try {
            emitted = transactionEmitted(block, request.transactionId, request.chaincode, request.eventName);
        } catch {
            emitted = undefined;
        }
        return { blockNumber: blockNumberOf(block), emitted };
    }

    close(): void {
        for (const gateway of this.#gateways.values()) {
            gateway.close();
        }
        for (const client of this.#clients.values()) {
            client.close();
        }
        this.#gateways.clear();
        this.#clients.clear();
    }

    #contract(request: InvokeRequest) {
        return this.#gateway(request.mspid)
            .getNetwork(request.channel)
            .getContract(request.chaincode, request.contract);
    }

    #gateway(mspid: string): Gateway {
        const existing = this.#gateways.get(mspid);
        if (existing) {
            return existing;
        }
        const identity = this.#options.wallet.get(mspid);
        if (identity === undefined) {
            throw new InvocationError('other', `no identity of organization "${mspid}" in the wallet`);
        }
        const peer = identity.peer ?? this.#options.defaultPeer;
        const deadline = (): grpc.CallOptions => ({ deadline: Date.now() + this.#options.timeoutMs });
        const clientCert = readPem(peer.tlsClientCertPath);
        const gateway = connect({
            client: this.#client(peer),
            identity: { mspId: mspid, credentials: identity.certificate },
            signer: signers.newPrivateKeySigner(identity.privateKey),
            hash: hash.sha256,
            ...(clientCert
                ? {
                      tlsClientCertificateHash: crypto
                          .createHash('sha256')
                          .update(new crypto.X509Certificate(clientCert).raw)
                          .digest(),
                  }
                : {}),
            evaluateOptions: deadline,
            endorseOptions: deadline,
            submitOptions: deadline,
            commitStatusOptions: deadline,
        });
        this.#gateways.set(mspid, gateway);
        return gateway;
    }

    #client(peer: PeerConfig): grpc.Client {
        const key = JSON.stringify(peer);
        const existing = this.#clients.get(key);
        if (existing) {
            return existing;
        }
        const ca = readPem(peer.tlsCaCertPath);
        const credentials = ca
            ? grpc.credentials.createSsl(
                  ca,
                  readPem(peer.tlsClientKeyPath) ?? null,
                  readPem(peer.tlsClientCertPath) ?? null,
              )
            : grpc.credentials.createInsecure();
        const max = this.#options.maxMessageBytes ?? 100 * 1024 * 1024;
        const client = new grpc.Client(peer.endpoint, credentials, {
            ...(peer.hostAlias ? { 'grpc.ssl_target_name_override': peer.hostAlias } : {}),
            'grpc.max_receive_message_length': max,
            'grpc.max_send_message_length': max,
            // Fabric peers refuse pings more often than every 60 s.
            'grpc.keepalive_time_ms': 120_000,
        });
        this.#clients.set(key, client);
        return client;
    }
}
