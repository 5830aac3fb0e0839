import type { Gateway } from '@hyperledger/fabric-gateway';
import {
    type InvocationError,
    classifyFabricError,
    invalidatedAtCommit,
    isUnknownTransaction,
    transactionTooLarge,
} from '../errors';
import { absoluteMaxBytes, blockEmits, blockNumberOf, chainHeightOf, transactionEmitted } from './blocks';
import type {
    ChaincodeEventRecord,
    ChainHeightRequest,
    ChaincodeEventsRequest,
    LastEventBlockRequest,
    CloseableAsyncIterable,
    FabricClient,
    InvokeRequest,
    TransactionBlockRequest,
    TransactionLocation,
} from './client';
import { deliver } from './delivery';
import { PeerConnections, type PeerConnectionsOptions } from './peers';

export interface FabricGatewayClientOptions extends PeerConnectionsOptions {
    /**
     * How long, from the end of its endorsement, a transaction's outcome is waited for (its submit repeated,
     * its commit status asked again) before it is reported as unknown; default `timeoutMs`.
     */
    readonly commitWaitMs?: number;
    /** Largest transaction sent for ordering; 0 or undefined: the channel's `AbsoluteMaxBytes`. */
    readonly maxTransactionBytes?: number;
    /**
     * The organizations that endorse a write on a channel, all at once; undefined (or a function answering
     * undefined): the peer's Gateway service chooses from the policy, its own organization first.
     */
    readonly endorsingOrganizations?: (channel: string) => string[] | undefined;
}

/** The Fabric client over `@hyperledger/fabric-gateway`: one gRPC connection per peer, one gateway per identity. */
export class FabricGatewayClient implements FabricClient {
    readonly #options: FabricGatewayClientOptions;
    readonly #peers: PeerConnections;
    readonly #commitWaitMs: number;
    /** channel → AbsoluteMaxBytes */
    readonly #limits = new Map<string, number>();

    constructor(options: Readonly<FabricGatewayClientOptions>) {
        this.#options = options;
        this.#peers = new PeerConnections(options);
        this.#commitWaitMs = options.commitWaitMs ?? options.timeoutMs;
    }

    async evaluate(request: InvokeRequest): Promise<Uint8Array> {
        return this.#peers.onAnyPeer(request.mspid, (gateway) =>
            contract(gateway, request).evaluate(request.fn, { arguments: [request.argument] }),
        );
    }

    /**
     * Endorse, order and wait for the commit of one transaction. Once the transaction has been endorsed it is
     * never replaced by a new one here: a failed or interrupted submit sends the same signed transaction again
     * (a copy the orderer already took is invalidated as DUPLICATE_TXID at commit, and the first keeps its
     * status), and a lost commit-status answer is asked again, until the outcome is known or the commit
     * deadline passes ({@link deliver}). Only then does the failure leave as `timeout` (outcome unknown, never
     * resubmitted).
     */
    async submit(request: InvokeRequest): Promise<Uint8Array> {
        // nothing is sent for ordering before the endorsement succeeds
        let gateway: Gateway | undefined;
        const transaction = await this.#peers.onAnyPeer(request.mspid, (g) => {
            gateway = g;
            const endorsingOrganizations = this.#options.endorsingOrganizations?.(request.channel);
            return contract(g, request)
                .newProposal(request.fn, {
                    arguments: [request.argument],
                    ...(endorsingOrganizations === undefined ? {} : { endorsingOrganizations }),
                })
                .endorse();
        });
        const transactionId = transaction.getTransactionId();
        const transactionBytes = transaction.getBytes().length;
        const limitBytes = await this.#transactionLimit(request);
        if (limitBytes > 0 && transactionBytes > limitBytes) {
            throw transactionTooLarge(transactionId, { transactionBytes, limitBytes });
        }
        const status = await deliver(this.#peers, request.mspid, gateway, transaction, this.#commitWaitMs);
        if (!status.successful) {
            throw invalidatedAtCommit(transactionId, status.code);
        }
        return transaction.getResult();
    }

    async chaincodeEvents(request: ChaincodeEventsRequest): Promise<CloseableAsyncIterable<ChaincodeEventRecord>> {
        let peer = '';
        const source = await this.#peers.onAnyPeer(request.mspid, (gateway, endpoint) => {
            peer = endpoint;
            return gateway
                .getNetwork(request.channel)
                .getChaincodeEvents(request.chaincode, { startBlock: request.startBlock });
        });
        // a stream cut by its peer moves the next listener to another peer
        const failed = (failure: InvocationError) => {
            if (failure.kind === 'unavailable' || failure.kind === 'timeout') {
                this.#peers.avoid(request.mspid, peer, failure.message);
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
            block = await this.#query(request, 'qscc', 'GetBlockByTxID', request.transactionId);
        } catch (err) {
            const failure = classifyFabricError(err);
            if (isUnknownTransaction(failure)) {
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
        return chainHeightOf(await this.#query(request, 'qscc', 'GetChainInfo'));
    }

    async lastEventBlock(request: LastEventBlockRequest): Promise<bigint | undefined> {
        // usually the newest block already holds one: one call
        for (let n = request.toBlock; n >= request.fromBlock; n--) {
            const block = await this.#query(request, 'qscc', 'GetBlockByNumber', n.toString());
            if (blockEmits(block, request.chaincode, request.eventName)) {
                return n;
            }
        }
        return undefined;
    }

    close(): void {
        this.#peers.close();
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
            const limit = absoluteMaxBytes(await this.#query(request, 'cscc', 'GetChannelConfig'));
            this.#limits.set(request.channel, limit);
            return limit;
        } catch {
            return 0; // the orderer's own refusal is still classified as too_large
        }
    }

    /** Evaluate a system chaincode function on the channel (its first argument), on any peer. */
    #query(
        target: { readonly mspid: string; readonly channel: string },
        chaincode: 'qscc' | 'cscc',
        fn: string,
        ...args: string[]
    ): Promise<Uint8Array> {
        return this.#peers.onAnyPeer(target.mspid, (gateway) =>
            gateway
                .getNetwork(target.channel)
                .getContract(chaincode)
                .evaluateTransaction(fn, target.channel, ...args),
        );
    }
}

function contract(gateway: Gateway, request: InvokeRequest) {
    return gateway.getNetwork(request.channel).getContract(request.chaincode, request.contract);
}
