/**
 * Determinism check support. A flow is a sequence of transactions on a fresh TestLedger; the determinism
 * test runs every flow twice, on two fresh ledgers, and requires identical committed write sets and chaincode
 * event payloads, byte for byte (what endorsing peers must agree on).
 *
 * To add a flow: create `chaincode/test/flows/<name>.flow.ts` exporting `flow: DeterminismFlow`; the test
 * picks up every `*.flow.ts` file of that directory. Use only fixed inputs (no random keys, no clock).
 */
import type { TestLedger } from './ledger';

export interface DeterminismFlow {
    readonly name: string;
    run(ledger: TestLedger): Promise<void>;
}

/** A byte-exact, printable record of everything a ledger committed. */
export function commitLog(ledger: TestLedger): string[] {
    return ledger.world.transactions.map((tx) =>
        JSON.stringify({
            txId: tx.txId,
            writes: tx.writes.map((w) => [w.key, w.value === null ? null : Buffer.from(w.value).toString('hex')]),
            event: tx.event === undefined ? null : [tx.event.name, Buffer.from(tx.event.payload).toString('hex')],
        }),
    );
}
