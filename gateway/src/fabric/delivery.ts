import * as grpc from '@grpc/grpc-js';
import { type Commit, type Gateway, type Status, type Transaction, GatewayError } from '@hyperledger/fabric-gateway';
import { outcomeUnknown, submitMayRepeat, submitRefused } from '../errors';
import type { PeerConnections } from './peers';

/**
 * A transaction sent for ordering whose commit has not been seen for this long is sent again (same id): an
 * orderer killed before it cut its block loses the transactions it held.
 */
const QUIET_RESUBMIT_MS = 3000;

function pause(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An endorsed transaction, and its copy (and commit request) signed for the gateway it now goes through. */
class SignedCopies {
    readonly #peers: PeerConnections;
    readonly #mspid: string;
    readonly #endorsed: Transaction;
    #gateway: Gateway | undefined;
    #transaction: Transaction;
    #commit: Commit | undefined;
    #signedCommit: Commit | undefined;

    constructor(peers: PeerConnections, mspid: string, gateway: Gateway | undefined, endorsed: Transaction) {
        this.#peers = peers;
        this.#mspid = mspid;
        this.#gateway = gateway;
        this.#endorsed = endorsed;
        this.#transaction = endorsed;
    }

    get transactionId(): string {
        return this.#endorsed.getTransactionId();
    }

    /** Send the transaction for ordering; resolves once the orderer took it. */
    async submit(): Promise<void> {
        this.#commit = await this.#transaction.submit();
        this.#signedCommit = this.#commit;
    }

    /** Send the transaction again, ignoring the outcome (a second copy is invalidated as DUPLICATE_TXID). */
    async resubmit(): Promise<void> {
        await this.#transaction.submit().catch(() => undefined);
    }

    status(deadline: number): Promise<Status> {
        if (this.#signedCommit === undefined) {
            throw new Error('the transaction was not submitted');
        }
        return this.#signedCommit.getStatus({ deadline });
    }

    /** When `err` says the current peer cannot be reached: the same transaction, signed for the next peer. */
    async failOver(err: unknown): Promise<void> {
        const next = this.#peers.otherGateway(this.#mspid, this.#gateway, err);
        if (next === undefined) {
            return;
        }
        const gateway = next.gateway;
        this.#gateway = gateway;
        if (this.#commit !== undefined) {
            this.#signedCommit = gateway.newSignedCommit(
                this.#commit.getBytes(),
                await next.sign(this.#commit.getDigest()),
            );
        }
        this.#transaction = gateway.newSignedTransaction(
            this.#endorsed.getBytes(),
            await next.sign(this.#endorsed.getDigest()),
        );
    }
}

/**
 * Order an endorsed transaction and wait for its commit status, never replacing it by a new one: a failed or
 * interrupted submit sends the same signed transaction again (through another peer when its own cannot be
 * reached), a lost commit-status answer is asked again, and a transaction whose commit has not been seen for
 * {@link QUIET_RESUBMIT_MS} is sent again, until the status is known or `waitMs` has passed (then the outcome
 * is unknown). `gateway` is the one that endorsed it.
 */
export async function deliver(
    peers: PeerConnections,
    mspid: string,
    gateway: Gateway | undefined,
    transaction: Transaction,
    waitMs: number,
): Promise<Status> {
    const copies = new SignedCopies(peers, mspid, gateway, transaction);
    const deadline = Date.now() + waitMs;
    await order(copies, deadline, waitMs);
    return commitStatus(copies, deadline, waitMs);
}

async function order(copies: SignedCopies, deadline: number, waitMs: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
        try {
            await copies.submit();
            return;
        } catch (err) {
            if (!submitMayRepeat(err)) {
                // refused by the orderer: nothing was ordered
                throw submitRefused(err, copies.transactionId);
            }
            if (Date.now() >= deadline) {
                throw outcomeUnknown('submit', copies.transactionId, waitMs, err);
            }
            await pause(Math.min(100 * attempt, 1000));
            await copies.failOver(err);
        }
    }
}

async function commitStatus(copies: SignedCopies, deadline: number, waitMs: number): Promise<Status> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await copies.status(Math.min(deadline, Date.now() + QUIET_RESUBMIT_MS));
        } catch (err) {
            if (Date.now() >= deadline) {
                throw outcomeUnknown('commit', copies.transactionId, waitMs, err);
            }
            await pause(Math.min(100 * attempt, 1000));
            await copies.failOver(err);
            if (err instanceof GatewayError && err.code === (grpc.status.DEADLINE_EXCEEDED as number)) {
                // No commit yet: an orderer that crashed may have lost it before cutting its block. The
                // same transaction again is harmless (a second copy is invalidated as DUPLICATE_TXID and
                // the transaction id keeps the first copy's status).
                await copies.resubmit();
            }
        }
    }
}
