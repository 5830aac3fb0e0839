import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import {
    type Commit,
    type Gateway,
    type Status,
    type Transaction,
    CommitError,
    GatewayError,
    StatusCode,
    connect,
    hash,
    signers,
} from '@hyperledger/fabric-gateway';
import { common, orderer, peer as peerProtos } from '@hyperledger/fabric-protos';
import type { PeerConfig } from './config';
import {
    type ChaincodeEventRecord,
    type ChainHeightRequest,
    type ChaincodeEventsRequest,
    type LastEventBlockRequest,
    type CloseableAsyncIterable,
    type FabricClient,
    type InvokeRequest,
    type TransactionBlockRequest,
    type TransactionLocation,
    InvocationError,
} from './fabric';
import type { WalletIdentity } from './wallet';

export interface FabricGatewayClientOptions {
    /** Identities by MSP id. */
    readonly wallet: ReadonlyMap<string, WalletIdentity>;
    /** Peer of identities whose wallet entry names none. */
    readonly defaultPeer: PeerConfig;
    /** Deadline of evaluate, endorse, submit and commit-status calls. */
    readonly timeoutMs: number;
    /**
     * How long, from the end of its endorsement, a transaction's outcome is waited for (its submit repeated,
     * its commit status asked again) before it is reported as unknown; default `timeoutMs`.
     */
    readonly commitWaitMs?: number;
    /** Largest transaction sent for ordering; 0 or undefined: the channel's `AbsoluteMaxBytes`. */
    readonly maxTransactionBytes?: number;
    readonly maxMessageBytes?: number;
    /** Told when an identity's calls move to another peer because its peer cannot be reached. */
    readonly onPeerSwitch?: (switched: { mspid: string; from: string; to: string; reason: string }) => void;
}

/**
 * A transaction sent for ordering whose commit has not been seen for this long is sent again (same id): an
 * orderer killed before it cut its block loses the transactions it held.
 */
const QUIET_RESUBMIT_MS = 3000;

/** After this long on another peer, an identity tries its own peer first again. */
const PEER_PREFERENCE_MS = 30_000;

const MVCC_READ_CONFLICT = 11;
const PHANTOM_READ_CONFLICT = 12;

function pause(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Name of a TxValidationCode (fabric-protos' `peer.TxValidationCode`, as fabric-gateway's StatusCode mirrors it). */
function validationCodeName(code: number): string {
    return Object.entries(StatusCode).find(([, value]) => value === code)?.[0] ?? 'UNKNOWN_VALIDATION_CODE';
}

/**
 * Whether a failed submit of an endorsed transaction may send the same transaction again: the peer or the
 * orderer was unreachable or not ready (no Raft leader yet). A refusal for the transaction itself (too
 * large, bad signature) is final.
 */
function submitMayRepeat(err: unknown): boolean {
    if (!(err instanceof GatewayError)) {
        return false;
    }
    const text = [err.message, ...err.details.map((d) => d.message)].join('; ');
    if (/BAD_REQUEST|FORBIDDEN|exceeds|too large/i.test(text)) {
        return false;
    }
    const transient: number[] = [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED];
    return transient.includes(err.code) || /SERVICE_UNAVAILABLE|NOT_FOUND/.test(text);
}

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
        // Under AND, peers at different heights endorse different read sets: transient, retried like a conflict.
        if (/MVCC_READ_CONFLICT|PHANTOM_READ_CONFLICT|ProposalResponsePayloads do not match/.test(text)) {
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
        const code: number = err.code;
        const transport = transportCodes.includes(code);
        if (transport) {
            const sent = err.name === 'SubmitError' || err.name === 'CommitStatusError';
            if (!sent && code === (grpc.status.DEADLINE_EXCEEDED as number)) {
                // repeating work that did not finish in time would only fail again, later
                return new InvocationError(
                    'deadline',
                    `the peer did not finish executing the call within the gateway's timeout ` +
                        `(ORCHESTRATOR_FABRIC_GATEWAY_TIMEOUT); a smaller request (fewer items per call) may fit: ${text}`,
                    options,
                );
            }
            return new InvocationError(sent ? 'timeout' : 'unavailable', text, options);
        }
        if (/exceeds maximum|message payload is \d+ bytes/.test(text)) {
            return new InvocationError(
                'too_large',
                `the orderer refused the transaction as too large: ${text}`,
                options,
            );
        }
        return new InvocationError('other', text, options);
    }
    return new InvocationError('other', err instanceof Error ? err.message : String(err), { cause: err });
}

/** Number of an encoded `common.Block`. */
export function blockNumberOf(block: Uint8Array): bigint {
    const header = common.Block.deserializeBinary(block).getHeader();
    if (header === undefined) {
        throw new Error('block without header');
    }
    return BigInt(header.getNumber());
}

const TX_VALID = 0;

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
    const transaction = peerProtos.Transaction.deserializeBinary(payload.getData_asU8());
    return transaction.getActionsList().some((action) => {
        const endorsed = peerProtos.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8()).getAction();
        if (endorsed === undefined) {
            return false;
        }
        const response = peerProtos.ProposalResponsePayload.deserializeBinary(
            endorsed.getProposalResponsePayload_asU8(),
        );
        const event = peerProtos.ChaincodeEvent.deserializeBinary(
            peerProtos.ChaincodeAction.deserializeBinary(response.getExtension_asU8()).getEvents_asU8(),
        );
        return event.getChaincodeId() === chaincode && event.getEventName() === eventName;
    });
}

function gatewayKey(mspid: string, peer: PeerConfig): string {
    return `${mspid} ${peer.endpoint}`;
}

function readPem(file: string): Buffer | undefined {
    return file ? fs.readFileSync(file) : undefined;
}

/** The Fabric client over `@hyperledger/fabric-gateway`: one gRPC connection per peer, one gateway per identity. */
export class FabricGatewayClient implements FabricClient {
    readonly #options: FabricGatewayClientOptions;
    readonly #clients = new Map<string, grpc.Client>();
    /** by `<mspid> <peer endpoint>` */
    readonly #gateways = new Map<string, Gateway>();
    /** mspid → the peer its calls go to while its own is unreachable */
    readonly #preferred = new Map<string, { index: number; since: number }>();
    readonly #commitWaitMs: number;
    /** channel → AbsoluteMaxBytes */
    readonly #limits = new Map<string, number>();

    constructor(options: Readonly<FabricGatewayClientOptions>) {
        this.#options = options;
        this.#commitWaitMs = options.commitWaitMs ?? options.timeoutMs;
    }

    async evaluate(request: InvokeRequest): Promise<Uint8Array> {
        return this.#onAnyPeer(request.mspid, (gateway) =>
            this.#contract(gateway, request).evaluate(request.fn, { arguments: [request.argument] }),
        );
    }

    /**
     * Endorse, order and wait for the commit of one transaction. Once the transaction has been endorsed it is
     * never replaced by a new one here: a failed or interrupted submit sends the same signed transaction again
     * (a copy the orderer already took is invalidated as DUPLICATE_TXID at commit, and the first keeps its
     * status), and a lost commit-status answer is asked again, until the outcome is known or the commit
     * deadline passes. Only then does the failure leave as `timeout` (outcome unknown, never resubmitted).
     */
    async submit(request: InvokeRequest): Promise<Uint8Array> {
        // nothing is sent for ordering before the endorsement succeeds
        let gateway: Gateway | undefined;
        const transaction = await this.#onAnyPeer(request.mspid, (g) => {
            gateway = g;
            return this.#contract(g, request)
                .newProposal(request.fn, { arguments: [request.argument] })
                .endorse();
        });
        const transactionId = transaction.getTransactionId();
        const transactionBytes = transaction.getBytes().length;
        const limitBytes = await this.#transactionLimit(request);
        if (limitBytes > 0 && transactionBytes > limitBytes) {
            throw new InvocationError(
                'too_large',
                `the transaction is ${transactionBytes} bytes, over the channel's limit of ${limitBytes} bytes ` +
                    '(orderer BatchSize.AbsoluteMaxBytes)',
                { transactionId, size: { transactionBytes, limitBytes } },
            );
        }
        const deadline = Date.now() + this.#commitWaitMs;
        let commit: Commit | undefined;
        let current: Transaction = transaction;
        for (let attempt = 1; commit === undefined; attempt++) {
            try {
                commit = await current.submit();
            } catch (err) {
                if (!submitMayRepeat(err)) {
                    // refused by the orderer: nothing was ordered
                    const failure = classifyFabricError(err);
                    throw failure.kind === 'timeout'
                        ? new InvocationError('other', failure.message, { transactionId, cause: err })
                        : failure;
                }
                if (Date.now() >= deadline) {
                    throw new InvocationError(
                        'timeout',
                        `transaction ${transactionId} could not be handed to the orderer in ${this.#commitWaitMs} ms ` +
                            `(${err instanceof Error ? err.message : String(err)}); it may still commit`,
                        { transactionId, cause: err },
                    );
                }
                await pause(Math.min(100 * attempt, 1000));
                // the same signed transaction, through another peer when this one cannot be reached
                const next = this.#otherGateway(request.mspid, gateway, err);
                if (next) {
                    gateway = next.gateway;
                    current = gateway.newSignedTransaction(
                        transaction.getBytes(),
                        await next.sign(transaction.getDigest()),
                    );
                }
            }
        }
        let status: Status | undefined;
        let currentCommit: Commit = commit;
        for (let attempt = 1; status === undefined; attempt++) {
            try {
                status = await currentCommit.getStatus({
                    deadline: Math.min(deadline, Date.now() + QUIET_RESUBMIT_MS),
                });
            } catch (err) {
                if (Date.now() >= deadline) {
                    throw new InvocationError(
                        'timeout',
                        `transaction ${transactionId} was sent for ordering, but whether it committed is not known ` +
                            `after ${this.#commitWaitMs} ms (${err instanceof Error ? err.message : String(err)}); ` +
                            'it may still commit',
                        { transactionId, cause: err },
                    );
                }
                await pause(Math.min(100 * attempt, 1000));
                const next = this.#otherGateway(request.mspid, gateway, err);
                if (next) {
                    gateway = next.gateway;
                    currentCommit = gateway.newSignedCommit(commit.getBytes(), await next.sign(commit.getDigest()));
                    current = gateway.newSignedTransaction(
                        transaction.getBytes(),
                        await next.sign(transaction.getDigest()),
                    );
                }
                if (err instanceof GatewayError && err.code === (grpc.status.DEADLINE_EXCEEDED as number)) {
                    // No commit yet: an orderer that crashed may have lost it before cutting its block. The
                    // same transaction again is harmless (a second copy is invalidated as DUPLICATE_TXID and
                    // the transaction id keeps the first copy's status).
                    await current.submit().catch(() => undefined);
                }
            }
        }
        if (!status.successful) {
            const conflict = status.code === MVCC_READ_CONFLICT || status.code === PHANTOM_READ_CONFLICT;
            throw new InvocationError(
                conflict ? 'conflict' : 'other',
                `transaction ${transactionId} was invalidated at commit with status ${validationCodeName(status.code)} (${status.code})`,
                { transactionId },
            );
        }
        return transaction.getResult();
    }

    async chaincodeEvents(request: ChaincodeEventsRequest): Promise<CloseableAsyncIterable<ChaincodeEventRecord>> {
        let peer = '';
        const source = await this.#onAnyPeer(request.mspid, (gateway, endpoint) => {
            peer = endpoint;
            return gateway
                .getNetwork(request.channel)
                .getChaincodeEvents(request.chaincode, { startBlock: request.startBlock });
        });
        // a stream cut by its peer moves the next listener to another peer
        const failed = (failure: InvocationError) => {
            if (failure.kind === 'unavailable' || failure.kind === 'timeout') {
                this.#avoid(request.mspid, peer, failure.message);
            }
        };
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
                    const failure = classifyFabricError(err);
                    failed(failure);
                    throw failure;
                }
            },
            close: () => {
                source.close();
            },
        };
    }

    async transactionBlock(request: TransactionBlockRequest): Promise<TransactionLocation | undefined> {
        let block: Uint8Array;
        try {
            block = await this.#onAnyPeer(request.mspid, (gateway) =>
                gateway
                    .getNetwork(request.channel)
                    .getContract('qscc')
                    .evaluateTransaction('GetBlockByTxID', request.channel, request.transactionId),
            );
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

    async chainHeight(request: ChainHeightRequest): Promise<bigint> {
        const info = await this.#onAnyPeer(request.mspid, (gateway) =>
            gateway
                .getNetwork(request.channel)
                .getContract('qscc')
                .evaluateTransaction('GetChainInfo', request.channel),
        );
        return BigInt(common.BlockchainInfo.deserializeBinary(info).getHeight());
    }

    async lastEventBlock(request: LastEventBlockRequest): Promise<bigint | undefined> {
        // usually the newest block already holds one: one call
        for (let n = request.toBlock; n >= request.fromBlock; n--) {
            const block = await this.#onAnyPeer(request.mspid, (gateway) =>
                gateway
                    .getNetwork(request.channel)
                    .getContract('qscc')
                    .evaluateTransaction('GetBlockByNumber', request.channel, n.toString()),
            );
            if (blockEmits(block, request.chaincode, request.eventName)) {
                return n;
            }
        }
        return undefined;
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

    /**
     * The largest transaction the channel's orderer accepts: the configured limit, else the channel's
     * `BatchSize.AbsoluteMaxBytes` read once from its configuration (cscc); 0 when it cannot be read.
     */
    async #transactionLimit(request: InvokeRequest): Promise<number> {
        if (this.#options.maxTransactionBytes !== undefined && this.#options.maxTransactionBytes > 0) {
            return this.#options.maxTransactionBytes;
        }
        const known = this.#limits.get(request.channel);
        if (known !== undefined) {
            return known;
        }
        try {
            const bytes = await this.#onAnyPeer(request.mspid, (gateway) =>
                gateway
                    .getNetwork(request.channel)
                    .getContract('cscc')
                    .evaluateTransaction('GetChannelConfig', request.channel),
            );
            const batchSize = common.Config.deserializeBinary(bytes)
                .getChannelGroup()
                ?.getGroupsMap()
                .get('Orderer')
                ?.getValuesMap()
                .get('BatchSize')
                ?.getValue_asU8();
            const limit = batchSize ? orderer.BatchSize.deserializeBinary(batchSize).getAbsoluteMaxBytes() : 0;
            this.#limits.set(request.channel, limit);
            return limit;
        } catch {
            return 0; // the orderer's own refusal is still classified as too_large
        }
    }

    #contract(gateway: Gateway, request: InvokeRequest) {
        return gateway.getNetwork(request.channel).getContract(request.chaincode, request.contract);
    }

    #identity(mspid: string): WalletIdentity {
        const identity = this.#options.wallet.get(mspid);
        if (identity === undefined) {
            throw new InvocationError('other', `no identity of organization "${mspid}" in the wallet`);
        }
        return identity;
    }

    /**
     * The peers an identity may call: its own first, then every other peer the wallet knows (any peer of the
     * channel serves any member's calls; under OR it endorses them itself).
     */
    #peersOf(mspid: string): PeerConfig[] {
        const own = this.#identity(mspid).peer ?? this.#options.defaultPeer;
        const peers = [own];
        for (const identity of this.#options.wallet.values()) {
            const peer = identity.peer ?? this.#options.defaultPeer;
            if (!peers.some((p) => p.endpoint === peer.endpoint)) {
                peers.push(peer);
            }
        }
        return peers;
    }

    /** Index in {@link #peersOf} of the peer to try first. */
    #firstPeer(mspid: string, count: number): number {
        const preferred = this.#preferred.get(mspid);
        if (preferred === undefined || Date.now() - preferred.since > PEER_PREFERENCE_MS) {
            this.#preferred.delete(mspid);
            return 0;
        }
        return preferred.index % count;
    }

    #prefer(mspid: string, peers: PeerConfig[], from: number, to: number, reason: string): void {
        if (from === to) {
            return;
        }
        this.#preferred.set(mspid, { index: to, since: Date.now() });
        this.#options.onPeerSwitch?.({
            mspid,
            from: peers[from]?.endpoint ?? '',
            to: peers[to]?.endpoint ?? '',
            reason,
        });
    }

    /** Moves `mspid`'s next calls off `endpoint` (its stream or calls failed there). */
    #avoid(mspid: string, endpoint: string, reason: string): void {
        const peers = this.#peersOf(mspid);
        const index = peers.findIndex((p) => p.endpoint === endpoint);
        if (index >= 0 && peers.length > 1) {
            this.#prefer(mspid, peers, index, (index + 1) % peers.length, reason);
        }
    }

    /**
     * Runs `call` on the identity's preferred peer, then on each other peer while the failure says the peer
     * (or its chaincode) could not be reached: nothing was executed there, so the next peer may serve it.
     */
    async #onAnyPeer<T>(mspid: string, call: (gateway: Gateway, endpoint: string) => Promise<T>): Promise<T> {
        const peers = this.#peersOf(mspid);
        const start = this.#firstPeer(mspid, peers.length);
        for (let i = 0; ; i++) {
            const index = (start + i) % peers.length;
            const peer = peers[index] ?? this.#options.defaultPeer;
            try {
                const result = await call(this.#gateway(mspid, peer), peer.endpoint);
                if (i > 0) {
                    this.#prefer(mspid, peers, start, index, 'unreachable');
                }
                return result;
            } catch (err) {
                const failure = classifyFabricError(err);
                if (failure.kind !== 'unavailable' || i + 1 >= peers.length) {
                    throw failure;
                }
            }
        }
    }

    /**
     * When a submit or commit-status call failed on `current` for want of a reachable peer, the gateway of the
     * next peer for the same identity, with a signer to sign the same transaction or commit request for it.
     */
    #otherGateway(
        mspid: string,
        current: Gateway | undefined,
        err: unknown,
    ): { gateway: Gateway; sign: (digest: Uint8Array) => Promise<Uint8Array> } | undefined {
        // only a peer that cannot be reached at all (no peer-side details) is left for another
        const unreachable =
            err instanceof GatewayError && err.code === (grpc.status.UNAVAILABLE as number) && !err.details.length;
        if (!unreachable) {
            return undefined;
        }
        const reason = err.message;
        const peers = this.#peersOf(mspid);
        if (peers.length < 2) {
            return undefined;
        }
        const index = peers.findIndex((p) => this.#gateways.get(gatewayKey(mspid, p)) === current);
        const next = (Math.max(index, 0) + 1) % peers.length;
        this.#prefer(mspid, peers, Math.max(index, 0), next, reason);
        const peer = peers[next] ?? this.#options.defaultPeer;
        const signer = signers.newPrivateKeySigner(this.#identity(mspid).privateKey);
        return { gateway: this.#gateway(mspid, peer), sign: (digest) => signer(digest) };
    }

    #gateway(mspid: string, peer: PeerConfig): Gateway {
        const key = gatewayKey(mspid, peer);
        const existing = this.#gateways.get(key);
        if (existing) {
            return existing;
        }
        const identity = this.#identity(mspid);
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
        this.#gateways.set(key, gateway);
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
