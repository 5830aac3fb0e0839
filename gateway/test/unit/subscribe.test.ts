import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { encodeEventBatch, orchestrator } from '@substra-fabric/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventIndex } from '../../src/events/eventindex';
import { streamEvents, type EventSink } from '../../src/events/service';
import { FileEventStore, MemoryEventStore } from '../../src/events/store';
import { type Harness, ORG1, event, headers, startHarness, subscribe, waitFor } from './helpers';

/** Three transactions over two blocks: tx-a (3 events) and tx-b (1) in block 5, tx-c (2) in block 6. */
function seed(h: Harness): void {
    h.fabric.commit('tx-a', [event('tx-a:0'), event('tx-a:1'), event('tx-a:2')], 5n);
    h.fabric.commit('tx-b', [event('tx-b:0')], 5n);
    h.fabric.commit('tx-c', [event('tx-c:0'), event('tx-c:1')], 6n);
}

const ALL = ['tx-a:0', 'tx-a:1', 'tx-a:2', 'tx-b:0', 'tx-c:0', 'tx-c:1'];

describe('SubscribeToEvents', () => {
    let h: Harness;

    beforeEach(async () => {
        h = await startHarness();
        seed(h);
    });

    afterEach(async () => {
        await h.close();
    });

    it('replays every event from the start when start_event_id is empty, each with its channel', async () => {
        const sub = subscribe(h.client, '', headers(ORG1));
        await waitFor(() => sub.events.length === ALL.length);
        expect(sub.events.map((e) => e.id)).toEqual(ALL);
        expect(sub.events.every((e) => e.channel === 'mychannel')).toBe(true);
        sub.stream.cancel();
    });

    it('resumes in the middle of a transaction, excluding the start event', async () => {
        const sub = subscribe(h.client, 'tx-a:1', headers(ORG1));
        await waitFor(() => sub.events.length === 4);
        expect(sub.events.map((e) => e.id)).toEqual(['tx-a:2', 'tx-b:0', 'tx-c:0', 'tx-c:1']);
        sub.stream.cancel();
    });

    it('resumes after the last event of a transaction and of a block', async () => {
        const afterTx = subscribe(h.client, 'tx-a:2', headers(ORG1));
        const afterBlock = subscribe(h.client, 'tx-b:0', headers(ORG1));
        await waitFor(() => afterTx.events.length === 3 && afterBlock.events.length === 2);
        expect(afterTx.events.map((e) => e.id)).toEqual(['tx-b:0', 'tx-c:0', 'tx-c:1']);
        expect(afterBlock.events.map((e) => e.id)).toEqual(['tx-c:0', 'tx-c:1']);
        afterTx.stream.cancel();
        afterBlock.stream.cancel();
    });

    it('continues with live events after the replay, in commit order', async () => {
        const sub = subscribe(h.client, 'tx-c:0', headers(ORG1));
        await waitFor(() => sub.events.length === 1);
        h.fabric.commit('tx-d', [event('tx-d:0'), event('tx-d:1')]);
        h.fabric.commit('tx-e', [event('tx-e:0')]);
        await waitFor(() => sub.events.length === 4);
        expect(sub.events.map((e) => e.id)).toEqual(['tx-c:1', 'tx-d:0', 'tx-d:1', 'tx-e:0']);
        sub.stream.cancel();
    });

    it('waits for the listener when the start transaction is on the chain but not indexed yet', async () => {
        // tx-f is unknown to the ledger at first: that stream fails
        const early = subscribe(h.client, 'tx-f:0', headers(ORG1));
        const err = await early.error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('event "tx-f:0" not found');
        const fabric = h.fabric;
        const original = fabric.transactionBlock.bind(fabric);
        fabric.transactionBlock = (request) =>
            request.transactionId === 'tx-f' ? Promise.resolve({ blockNumber: 7n, emitted: true }) : original(request);
        const late = subscribe(h.client, 'tx-f:0', headers(ORG1));
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(late.events).toHaveLength(0);
        fabric.commit('tx-f', [event('tx-f:0'), event('tx-f:1')], 7n);
        await waitFor(() => late.events.length === 1);
        expect(late.events.map((e) => e.id)).toEqual(['tx-f:1']);
        late.stream.cancel();
    });

    it('fails the stream when the transaction is in a block already indexed but has no such event', async () => {
        h.fabric.otherTransactions.set('tx-invalid', 5n);
        const sub = subscribe(h.client, 'tx-invalid:0', headers(ORG1));
        await waitFor(() => h.fabric.eventRequests.length > 0);
        const err = await sub.error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('event "tx-invalid:0" not found');
    });

    it('fails an unknown start_event_id with UNKNOWN (behavior-assets §13.5.4)', async () => {
        const { error } = subscribe(h.client, 'tx-nowhere:0', headers(ORG1));
        const err = await error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('event "tx-nowhere:0" not found');
        expect(h.fabric.blockRequests).toEqual([
            expect.objectContaining({
                channel: 'mychannel',
                transactionId: 'tx-nowhere',
                chaincode: 'mycc',
                eventName: 'chaincode-updates',
            }),
        ]);
    });

    it('fails at once when the start transaction is on the ledger, ahead of the listener, without events', async () => {
        // block 99 is far past the listener (block 6): the old rule waited for a later event
        h.fabric.otherTransactions.set('tx-quiet', 99n);
        const { error } = subscribe(h.client, 'tx-quiet:0', headers(ORG1));
        const err = await error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('event "tx-quiet:0" not found');
    });

    it('waits for the listener to pass the block when Fabric cannot tell whether the transaction emitted', async () => {
        h.fabric.opaqueTransactions.set('tx-o', 7n);
        const sub = subscribe(h.client, 'tx-o:0', headers(ORG1));
        let failed = false;
        void sub.error.then(() => {
            failed = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(failed).toBe(false);
        h.fabric.commit('tx-p', [event('tx-p:0')], 8n);
        const err = await sub.error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('event "tx-o:0" not found');
    });

    it('fails the stream for an id without exactly one colon', async () => {
        const { error } = subscribe(h.client, 'not-an-id', headers(ORG1));
        const err = await error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('invalid event id "not-an-id"');
    });

    it('fails the stream when the transaction exists but not that event', async () => {
        const { error } = subscribe(h.client, 'tx-b:7', headers(ORG1));
        const err = await error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('event "tx-b:7" not found');
    });

    it('ignores chaincode events of other names', async () => {
        h.fabric.chain.push({
            blockNumber: 9n,
            transactionId: 'tx-x',
            eventName: 'something-else',
            payload: encodeEventBatch([event('tx-x:0')]),
        });
        h.fabric.commit('tx-y', [event('tx-y:0')], 10n);
        const sub = subscribe(h.client, 'tx-c:1', headers(ORG1));
        await waitFor(() => sub.events.length === 1);
        expect(sub.events.map((e) => e.id)).toEqual(['tx-y:0']);
        sub.stream.cancel();
    });
});

describe('backpressure', () => {
    it('waits for drain whenever the sink is full, and sends every event once', async () => {
        const index = new EventIndex(new MemoryEventStore());
        for (let i = 0; i < 10; i++) {
            void index.append({
                blockNumber: BigInt(i),
                transactionId: `t${i}`,
                payload: encodeEventBatch([event(`t${i}:0`)]),
            });
        }
        await index.drain();
        const written: string[] = [];
        let drainListener: (() => void) | undefined;
        const sink: EventSink = {
            write: (chunk) => {
                written.push(chunk.toString('hex'));
                return false; // always full
            },
            once: (_event, listener) => {
                drainListener = listener;
            },
            removeListener: () => {
                drainListener = undefined;
            },
        };
        const abort = new AbortController();
        const done = streamEvents(index, 'ch', undefined, sink, abort.signal);
        await new Promise((resolve) => setTimeout(resolve, 20));
        // one write, then blocked until drain
        expect(written).toHaveLength(1);
        for (let i = 1; i < 10; i++) {
            const drain = drainListener;
            expect(drain).toBeDefined();
            drain?.();
            await waitFor(() => written.length === i + 1);
        }
        expect(new Set(written).size).toBe(10);
        abort.abort();
        await done;
        await index.close();
    });

    it('delivers everything to a client that reads slowly', async () => {
        const h = await startHarness();
        const payload = 'x'.repeat(20_000);
        for (let i = 0; i < 200; i++) {
            h.fabric.commit(`t${i}`, [event(`t${i}:0`, { asset_key: payload })]);
        }
        const sub = subscribe(h.client, '', headers(ORG1));
        sub.stream.pause();
        await new Promise((resolve) => setTimeout(resolve, 200));
        sub.stream.resume();
        await waitFor(() => sub.events.length === 200);
        expect(sub.events.map((e) => e.id)).toEqual(Array.from({ length: 200 }, (_, i) => `t${i}:0`));
        sub.stream.cancel();
        await h.close();
    });
});

describe('durable event index', () => {
    let dir: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-index-'));
    });

    afterEach(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    const record = (n: number, block = BigInt(n)) => ({
        blockNumber: block,
        transactionId: `tx${n}`,
        payload: encodeEventBatch([event(`tx${n}:0`), event(`tx${n}:1`)]),
    });

    const idsAfter = async (index: EventIndex, after?: Parameters<EventIndex['eventsAfter']>[0]) =>
        (await index.eventsAfter(after, 1000)).map((e) => orchestrator.Event.decode(e.bytes).id);

    it('reloads the indexed events and the checkpoint after a restart', async () => {
        const first = new EventIndex(new FileEventStore(dir));
        await first.append(record(1));
        await first.append(record(2, 4n));
        await first.close();
        const second = new EventIndex(new FileEventStore(dir));
        expect(await second.beginStream()).toBe(4n);
        expect(second.length).toBe(4);
        expect(second.checkpoint).toEqual({ blockNumber: 4n, transactions: 1, transactionId: 'tx2', events: 4 });
        expect(await second.positionOf('tx2:1')).toEqual({ block: 4n, transaction: 0, event: 1 });
        expect(await second.hasTransaction('tx1')).toBe(true);
        expect(await second.hasTransaction('tx3')).toBe(false);
        expect(await idsAfter(second)).toEqual(['tx1:0', 'tx1:1', 'tx2:0', 'tx2:1']);
        await second.close();
    });

    it('keeps the events of a transaction in their order, :2 before :10, for the stream', async () => {
        const index = new EventIndex(new MemoryEventStore());
        const ids = Array.from({ length: 12 }, (_, n) => `tx:${n}`);
        await index.append({
            blockNumber: 3n,
            transactionId: 'tx',
            payload: encodeEventBatch(ids.map((id) => event(id))),
        });
        expect(await idsAfter(index)).toEqual(ids);
        const second = await index.positionOf('tx:2');
        expect(await idsAfter(index, second)).toEqual(ids.slice(3));
        await index.close();
    });

    it('resumes from the checkpoint after a restart in the middle of a block, without duplicates or losses', async () => {
        // block 5 holds three transactions; the first gateway indexes the first two, then stops
        const block5 = [record(1, 5n), record(2, 5n), record(3, 5n)];
        const first = new EventIndex(new FileEventStore(dir));
        expect(await first.beginStream()).toBe(0n);
        await Promise.all(block5.slice(0, 2).map((r) => first.append(r)));
        await first.close();
        // the second one reads block 5 again from its first transaction, as the peer sends it
        const second = new EventIndex(new FileEventStore(dir));
        expect(await second.beginStream()).toBe(5n);
        const counts = await Promise.all([...block5, record(4, 6n)].map((r) => second.append(r)));
        expect(counts).toEqual([0, 0, 2, 2]);
        expect(second.length).toBe(8);
        expect(await idsAfter(second)).toEqual([
            'tx1:0',
            'tx1:1',
            'tx2:0',
            'tx2:1',
            'tx3:0',
            'tx3:1',
            'tx4:0',
            'tx4:1',
        ]);
        // and a reconnection in the same process (stream read again from its block) adds nothing
        expect(await second.beginStream()).toBe(6n);
        expect(await second.append(record(4, 6n))).toBe(0);
        expect(second.length).toBe(8);
        await second.close();
    });

    it('starts from scratch when the directory is deleted, and removes the files of the old format', async () => {
        const index = new EventIndex(new FileEventStore(dir));
        await index.append(record(1));
        await index.close();
        fs.rmSync(dir, { recursive: true });
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'index.bin'), 'old');
        fs.writeFileSync(path.join(dir, 'checkpoint.json'), '{}');
        const rebuilt = new EventIndex(new FileEventStore(dir));
        expect(await rebuilt.beginStream()).toBe(0n);
        expect(rebuilt.length).toBe(0);
        expect(rebuilt.checkpoint).toBeUndefined();
        expect(fs.existsSync(path.join(dir, 'index.bin'))).toBe(false);
        expect(fs.existsSync(path.join(dir, 'checkpoint.json'))).toBe(false);
        await rebuilt.close();
    });

    it('skips an unreadable payload but moves the checkpoint past it', async () => {
        const index = new EventIndex(new MemoryEventStore());
        const bad = index.append({ blockNumber: 1n, transactionId: 'bad', payload: Uint8Array.from([0xff, 0xff]) });
        await expect(bad).rejects.toThrow('transaction bad: malformed event payload');
        expect(await index.append(record(2, 1n))).toBe(2);
        expect(index.checkpoint).toEqual({ blockNumber: 1n, transactions: 2, transactionId: 'tx2', events: 2 });
        await index.close();
    });

    it('ignores a transaction that is indexed already', async () => {
        const index = new EventIndex(new MemoryEventStore());
        expect(await index.append(record(1))).toBe(2);
        expect(await index.append(record(1))).toBe(0);
        expect(index.length).toBe(2);
        await index.close();
    });

    it('writes many transactions in few batches, each with its checkpoint', async () => {
        const index = new EventIndex(new MemoryEventStore());
        const appended = Array.from({ length: 500 }, (_, n) => index.append(record(n, BigInt(n >> 2))));
        await index.drain();
        expect((await Promise.all(appended)).every((count) => count === 2)).toBe(true);
        expect(index.version).toBeLessThan(20);
        expect(index.checkpoint).toEqual({ blockNumber: 124n, transactions: 4, transactionId: 'tx499', events: 1000 });
        await index.close();
    });

    it('lets the gateway resume listening from its checkpoint block after a restart', async () => {
        const h1 = await startHarness({ stateDir: dir });
        seed(h1);
        const sub = subscribe(h1.client, '', headers(ORG1));
        await waitFor(() => sub.events.length === ALL.length);
        sub.stream.cancel();
        await h1.close();

        const h2 = await startHarness({ stateDir: dir });
        seed(h2);
        h2.fabric.commit('tx-z', [event('tx-z:0')], 8n);
        const resumed = subscribe(h2.client, '', headers(ORG1));
        await waitFor(() => resumed.events.length === ALL.length + 1);
        await new Promise((resolve) => setTimeout(resolve, 50));
        // every event exactly once, in chain order
        expect(resumed.events.map((e) => e.id)).toEqual([...ALL, 'tx-z:0']);
        expect(h2.fabric.eventRequests[0]?.startBlock).toBe(6n);
        resumed.stream.cancel();
        await h2.close();
    });
});

describe('listener identities', () => {
    it('starts one listener per configured channel with an identity of the wallet', async () => {
        const h = await startHarness({ hasIdentity: (mspid) => mspid === 'Org2MSP' || mspid === 'Org3MSP' });
        h.server.startListeners();
        await waitFor(() => h.fabric.eventRequests.length === 2);
        const targets = h.fabric.eventRequests.map((r) => `${r.channel}/${r.chaincode}/${r.mspid}`).sort();
        // yourchannel has only Org1MSP, which the wallet lacks
        expect(targets).toEqual(['mychannel/mycc/Org2MSP', 'otherchannel/mycc/Org3MSP']);
        await h.close();
    });

    it('reads events of a caller without identity through another member of the channel', async () => {
        const h = await startHarness({ hasIdentity: (mspid) => mspid === 'Org2MSP' });
        h.fabric.commit('tx1', [event('tx1:0')]);
        const sub = subscribe(h.client, '', headers(ORG1));
        await waitFor(() => sub.events.length === 1);
        expect(h.fabric.eventRequests.map((r) => r.mspid)).toEqual(['Org2MSP']);
        sub.stream.cancel();
        await h.close();
    });
});

describe('shutdown', () => {
    it('turns health NOT_SERVING when stopping, without headers (distributed §4.10)', async () => {
        const h = await startHarness();
        const statuses: number[] = [];
        const watch = h.client.makeServerStreamRequest(
            '/grpc.health.v1.Health/Watch',
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.alloc(0),
            new grpc.Metadata(),
        );
        watch.on('data', (data: Buffer) => {
            statuses.push(data[1] ?? 0);
        });
        watch.on('error', () => undefined);
        await waitFor(() => statuses.length === 1);
        const stopped = h.server.stop(300);
        await waitFor(() => statuses.length === 2);
        expect(statuses).toEqual([1, 2]); // SERVING, then NOT_SERVING
        await stopped;
        h.client.close();
    });

    it('ends open event streams with UNAVAILABLE and closes the Fabric client', async () => {
        const h = await startHarness();
        h.fabric.commit('tx1', [event('tx1:0')]);
        const sub = subscribe(h.client, '', headers(ORG1));
        await waitFor(() => sub.events.length === 1);
        const stopped = h.server.stop(5000);
        const err = await sub.error;
        expect(err.code).toBe(status.UNAVAILABLE);
        expect(err.details).toBe('server is shutting down');
        await stopped;
        expect(h.fabric.closed).toBe(true);
        h.client.close();
    });
});
