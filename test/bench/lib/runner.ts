/**
 * Timed transactions on the in-memory ledger of the chaincode tests (chaincode/test/support/ledger.ts).
 *
 * Setup and contract-level calls go through `TestLedger` itself. Measured service-level transactions are run
 * here with the same building blocks TestLedger.invoke uses (FakeStub on the ledger's world state +
 * openTransaction from chaincode/src/ledger), so that the clock covers exactly the chaincode's work: building
 * the context, the service call and the encoding of the transaction's chaincode event (`finish`). Not timed:
 * the commit into the fake world state (the peer's job in Fabric). Time spent by the fake in range queries
 * (it materializes the whole key range and re-sorts all keys after a commit) is measured and subtracted, and
 * reported separately as harness time.
 */
import { FakeStub, newTestLedger, type TestLedger } from '../../../chaincode/test/support/ledger';
import { fakeTxId } from '../../../chaincode/test/support/fake-stub';
import { openTransaction } from '../../../chaincode/src/ledger/transaction';
import type { Services } from '../../../chaincode/src/service/provider';
import { cpuMs, nowMs } from './stats';

export interface TxMeasure<T> {
    readonly result: T;
    /** Chaincode time: context, service call, event encoding; harness range-query time excluded. */
    readonly ms: number;
    /** Time the fake world state spent in range queries during the call. */
    readonly harnessMs: number;
    /** CPU time of the same span (harness range-query time subtracted too). */
    readonly cpuMs: number;
    readonly reads: number;
    readonly writes: number;
    readonly eventBytes: number;
    readonly events: number;
    /** heapUsed right after the transaction, garbage included (an upper bound of the transaction's peak). */
    readonly heapAfterMb: number;
}

/** Seconds from 2026-01-01; the runner's transactions come after any TestLedger transaction. */
const BASE_SECONDS = 1_767_225_600 + 10_000_000;

export class BenchLedger {
    readonly ledger: TestLedger;
    #count = 0;
    #harnessMs = 0;

    constructor() {
        this.ledger = newTestLedger();
        const world = this.ledger.world;
        const keysInRange = world.keysInRange.bind(world);
        world.keysInRange = (start: string, end: string): string[] => {
            const t0 = nowMs();
            try {
                return keysInRange(start, end);
            } finally {
                this.#harnessMs += nowMs() - t0;
            }
        };
    }

    /** A submitted transaction (committed when `fn` resolves). */
    submit<T>(mspid: string, fn: (services: Services) => Promise<T>): Promise<TxMeasure<T>> {
        return this.#run(mspid, fn, true);
    }

    /** An evaluated transaction (never committed). */
    evaluate<T>(mspid: string, fn: (services: Services) => Promise<T>): Promise<TxMeasure<T>> {
        return this.#run(mspid, fn, false);
    }

    async #run<T>(mspid: string, fn: (services: Services) => Promise<T>, commit: boolean): Promise<TxMeasure<T>> {
        this.#count++;
        const harness0 = this.#harnessMs;
        const t0 = nowMs();
        const cpu0 = cpuMs();
        const stub = new FakeStub(this.ledger.world, {
            txId: fakeTxId(`bench-${this.#count}`),
            timestamp: { seconds: BASE_SECONDS + this.#count, nanos: 123_456_789 },
            mspid,
            channelId: 'mychannel',
        });
        const tx = openTransaction(stub, mspid);
        const result = await fn(tx.services);
        await tx.finish();
        const elapsed = nowMs() - t0;
        const cpu = cpuMs() - cpu0;
        const heapAfterMb = process.memoryUsage().heapUsed / 2 ** 20;
        const harnessMs = this.#harnessMs - harness0;
        const writes = stub.writeSet().length;
        if (commit) {
            this.ledger.world.commit(stub);
        }
        return {
            result,
            ms: elapsed - harnessMs,
            harnessMs,
            cpuMs: Math.max(0, cpu - harnessMs),
            reads: stub.reads,
            writes,
            eventBytes: stub.chaincodeEvent?.payload.length ?? 0,
            events: tx.events.events.length,
            heapAfterMb,
        };
    }
}
