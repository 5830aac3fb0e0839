import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { encodeEventBatch, orchestrator } from '@substra-fabric/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventIndex } from '../../src/eventindex';
import { streamEvents, type EventSink } from '../../src/eventservice';
import { FileEventStore, MemoryEventStore } from '../../src/eventstore';
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
            index.append({
                blockNumber: BigInt(i),
                transactionId: `t${i}`,
                payload: encodeEventBatch([event(`t${i}:0`)]),
            });
        }
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
        const done = streamEvents(index, 'ch', 0, sink, abort.signal);
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

    it('reloads the indexed transactions and the checkpoint after a restart', () => {
        const first = new EventIndex(new FileEventStore(dir));
        first.append(record(1));
        first.append(record(2, 4n));
        first.close();
        const second = new EventIndex(new FileEventStore(dir));
        expect(second.length).toBe(4);
        expect(second.checkpoint).toEqual({ blockNumber: 4n, transactionId: 'tx2' });
        expect(second.positionOf('tx2:1')).toBe(3);
        expect(second.hasTransaction('tx1')).toBe(true);
        second.close();
    });

    it('cuts bytes written after the last checkpoint', () => {
        const index = new EventIndex(new FileEventStore(dir));
        index.append(record(1));
        index.close();
        fs.appendFileSync(path.join(dir, 'index.bin'), Buffer.from([0, 0, 0, 99, 1, 2, 3]));
        const reloaded = new EventIndex(new FileEventStore(dir));
        expect(reloaded.length).toBe(2);
        reloaded.append(record(2));
        reloaded.close();
        const again = new EventIndex(new FileEventStore(dir));
        expect(again.length).toBe(4);
        again.close();
    });

    it('starts from scratch when the index file is deleted', () => {
        const index = new EventIndex(new FileEventStore(dir));
        index.append(record(1));
        index.close();
        fs.rmSync(path.join(dir, 'index.bin'));
        const rebuilt = new EventIndex(new FileEventStore(dir));
        expect(rebuilt.length).toBe(0);
        expect(rebuilt.checkpoint).toBeUndefined();
        rebuilt.close();
    });

    it('keeps only compact metadata in memory and reads event bytes from index.bin on demand (memory bound)', () => {
        const index = new EventIndex(new FileEventStore(dir));
        index.append(record(1));
        index.append(record(2));
        const expected = (id: string) => orchestrator.Event.encode(event(id)).finish();
        const third = index.at(2)!;
        expect(Object.keys(third).sort()).toEqual(
            ['assetKey', 'assetKind', 'eventKind', 'id', 'length', 'metadata', 'nanos', 'position', 'seconds'].sort(),
        );
        expect(Buffer.from(index.bytesOf(third))).toEqual(Buffer.from(expected('tx2:0')));
        // The bytes are read from the file: a change there shows through (nothing cached in memory).
        const file = path.join(dir, 'index.bin');
        const bytes = fs.readFileSync(file);
        const at = bytes.indexOf(Buffer.from('tx2:0'), third.position);
        expect(at).toBeGreaterThanOrEqual(third.position);
        fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, at), Buffer.from('TX2:0'), bytes.subarray(at + 5)]));
        expect(orchestrator.Event.decode(index.bytesOf(third)).id).toBe('TX2:0');
        index.close();
        const reloaded = new EventIndex(new FileEventStore(dir));
        const first = reloaded.at(0)!;
        expect(Buffer.from(reloaded.bytesOf(first))).toEqual(Buffer.from(expected('tx1:0')));
        expect(Buffer.from(reloaded.bytesOf(reloaded.at(1)!))).toEqual(Buffer.from(expected('tx1:1')));
        reloaded.close();
    });

    it('reads event bytes across payloads of the in-memory store', () => {
        const index = new EventIndex(new MemoryEventStore());
        for (let n = 1; n <= 3; n++) {
            index.append(record(n));
        }
        const ids = Array.from({ length: index.length }, (_, i) => {
            return orchestrator.Event.decode(index.bytesOf(index.at(i)!)).id;
        });
        expect(ids).toEqual(['tx1:0', 'tx1:1', 'tx2:0', 'tx2:1', 'tx3:0', 'tx3:1']);
    });

    it('loads an index larger than the read window record by record', () => {
        const index = new EventIndex(new FileEventStore(dir));
        const big = 'x'.repeat(300_000);
        for (let n = 1; n <= 8; n++) {
            index.append({
                blockNumber: BigInt(n),
                transactionId: `tx${n}`,
                payload: encodeEventBatch([event(`tx${n}:0`, { asset_key: big }), event(`tx${n}:1`)]),
            });
        }
        index.close();
        const reloaded = new EventIndex(new FileEventStore(dir));
        expect(reloaded.length).toBe(16);
        expect(reloaded.query({ filter: { asset_key: big } }).events).toHaveLength(8);
        expect(orchestrator.Event.decode(reloaded.bytesOf(reloaded.at(15)!)).id).toBe('tx8:1');
        reloaded.close();
    });

    it('ignores a transaction that is indexed already', () => {
        const index = new EventIndex(new MemoryEventStore());
        expect(index.append(record(1))).toBe(2);
        expect(index.append(record(1))).toBe(0);
        expect(index.length).toBe(2);
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
        const resumed = subscribe(h2.client, 'tx-c:1', headers(ORG1));
        await waitFor(() => resumed.events.length === 1);
        expect(resumed.events.map((e) => e.id)).toEqual(['tx-z:0']);
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
