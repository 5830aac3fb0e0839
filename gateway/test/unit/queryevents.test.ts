import { status } from '@grpc/grpc-js';
import { encodeEventBatch, orchestrator } from '@substra-fabric/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventHub } from '../../src/events/hub';
import { EventIndex } from '../../src/events/eventindex';
import type { EventQuery } from '../../src/events/query';
import { queryEvents } from '../../src/events/service';
import { MemoryEventStore } from '../../src/events/store';
import {
    FakeFabric,
    GatedFabric,
    type Harness,
    ORG1,
    QUERY_EVENTS,
    event,
    headers,
    silentLogger,
    startHarness,
    unary,
    unaryError,
    waitFor,
} from './helpers';

const { AssetKind, EventKind, SortOrder } = orchestrator;

const opened: EventIndex[] = [];

afterAll(async () => {
    await Promise.all(opened.map((index) => index.close()));
});

function newIndex(): EventIndex {
    const index = new EventIndex(new MemoryEventStore());
    opened.push(index);
    return index;
}

async function add(index: EventIndex, tx: string, block: bigint, events: orchestrator.IEvent[]): Promise<number> {
    return index.append({ blockNumber: block, transactionId: tx, payload: encodeEventBatch(events) });
}

async function buildIndex(): Promise<EventIndex> {
    const index = newIndex();
    // committed out of timestamp order on purpose (tx2 is older than tx1)
    await add(index, 'tx1', 1n, [
        event('tx1:0', { seconds: 200, asset_key: 'plan-1', asset_kind: AssetKind.ASSET_COMPUTE_PLAN }),
        event('tx1:1', { seconds: 200, asset_key: 'task-1', metadata: { reason: 'done', extra: 'x' } }),
    ]);
    await add(index, 'tx2', 2n, [
        event('tx2:0', { seconds: 100, asset_key: 'task-1', event_kind: EventKind.EVENT_ASSET_UPDATED }),
    ]);
    await add(index, 'tx3', 3n, [
        event('tx3:0', { seconds: 300, asset_key: 'task-2', event_kind: EventKind.EVENT_ASSET_DISABLED }),
        event('tx3:1', { seconds: 300, asset_key: 'task-1', metadata: { reason: 'done' } }),
    ]);
    return index;
}

const idOf = (bytes: Uint8Array): string => orchestrator.Event.decode(bytes).id;

async function ids(index: EventIndex, query: EventQuery): Promise<string[]> {
    return (await index.query(query)).events.map((e) => idOf(e.bytes));
}

describe('QueryEvents on the index', () => {
    let index: EventIndex;

    beforeAll(async () => {
        index = await buildIndex();
    });

    it('sorts by timestamp then chain position, ascending by default', async () => {
        const expected = ['tx2:0', 'tx1:0', 'tx1:1', 'tx3:0', 'tx3:1'];
        expect(await ids(index, {})).toEqual(expected);
        expect(await ids(index, { sort: SortOrder.ASCENDING })).toEqual(expected);
        expect(await ids(index, { sort: SortOrder.DESCENDING })).toEqual([...expected].reverse());
    });

    it('orders the events of one transaction by their rank, so :2 comes before :10 (not by string)', async () => {
        const local = newIndex();
        const twelve = Array.from({ length: 12 }, (_, n) => event(`tx:${n}`, { seconds: 5 }));
        await add(local, 'tx', 1n, twelve);
        const ascending = twelve.map((e) => e.id);
        expect(await ids(local, {})).toEqual(ascending);
        expect(await ids(local, { sort: SortOrder.DESCENDING })).toEqual([...ascending].reverse());
        // pages cut in the middle keep that order
        const first = await local.query({ pageSize: 3 });
        const second = await local.query({ pageSize: 3, pageToken: first.nextPageToken });
        expect(second.events.map((e) => idOf(e.bytes))).toEqual(['tx:3', 'tx:4', 'tx:5']);
    });

    it('orders transactions of one timestamp by block, then by rank in the block', async () => {
        const local = newIndex();
        await add(local, 'b', 8n, [event('b:0', { seconds: 1 })]);
        await add(local, 'a', 8n, [event('a:0', { seconds: 1 })]);
        await add(local, 'c', 9n, [event('c:0', { seconds: 1 })]);
        expect(await ids(local, {})).toEqual(['b:0', 'a:0', 'c:0']);
    });

    it('filters on asset key, asset kind and event kind', async () => {
        expect(await ids(index, { filter: { asset_key: 'task-1' } })).toEqual(['tx2:0', 'tx1:1', 'tx3:1']);
        expect(await ids(index, { filter: { asset_kind: AssetKind.ASSET_COMPUTE_PLAN } })).toEqual(['tx1:0']);
        expect(await ids(index, { filter: { event_kind: EventKind.EVENT_ASSET_DISABLED } })).toEqual(['tx3:0']);
        expect(
            await ids(index, { filter: { asset_key: 'task-1', event_kind: EventKind.EVENT_ASSET_CREATED } }),
        ).toEqual(['tx1:1', 'tx3:1']);
        expect(
            await ids(index, {
                filter: { asset_kind: AssetKind.ASSET_COMPUTE_TASK, event_kind: EventKind.EVENT_ASSET_UPDATED },
            }),
        ).toEqual(['tx2:0']);
        expect(await ids(index, { filter: { asset_key: 'task' } })).toEqual([]);
        expect(await ids(index, { filter: { asset_key: 'task-10' } })).toEqual([]);
    });

    it('filters on metadata by containment', async () => {
        expect(await ids(index, { filter: { metadata: { reason: 'done' } } })).toEqual(['tx1:1', 'tx3:1']);
        expect(await ids(index, { filter: { metadata: { reason: 'done', extra: 'x' } } })).toEqual(['tx1:1']);
        expect(await ids(index, { filter: { metadata: { extra: 'x', reason: 'done' } } })).toEqual(['tx1:1']);
        expect(await ids(index, { filter: { metadata: { reason: 'other' } } })).toEqual([]);
        expect(
            await ids(index, { filter: { metadata: { reason: 'done' }, asset_kind: AssetKind.ASSET_COMPUTE_PLAN } }),
        ).toEqual([]);
    });

    it('filters on an inclusive time range', async () => {
        expect(await ids(index, { filter: { start: { seconds: 200 } } })).toEqual(['tx1:0', 'tx1:1', 'tx3:0', 'tx3:1']);
        expect(await ids(index, { filter: { end: { seconds: 200 } } })).toEqual(['tx2:0', 'tx1:0', 'tx1:1']);
        expect(await ids(index, { filter: { start: { seconds: 200 }, end: { seconds: 200 } } })).toEqual([
            'tx1:0',
            'tx1:1',
        ]);
        expect(await ids(index, { filter: { start: { seconds: 200, nanos: 1 } } })).toEqual(['tx3:0', 'tx3:1']);
        expect(await ids(index, { filter: { start: { seconds: 200 }, asset_key: 'task-1' } })).toEqual([
            'tx1:1',
            'tx3:1',
        ]);
        expect(
            await ids(index, { filter: { end: { seconds: 200 } }, sort: SortOrder.DESCENDING, pageSize: 2 }),
        ).toEqual(['tx1:1', 'tx1:0']);
    });

    it('pages with opaque tokens in both orders, with and without filters', async () => {
        const filters: EventQuery['filter'][] = [undefined, { asset_key: 'task-1' }, { start: { seconds: 150 } }];
        for (const filter of filters) {
            for (const sort of [SortOrder.ASCENDING, SortOrder.DESCENDING]) {
                const all = await ids(index, { sort, filter });
                const seen: string[] = [];
                let token = '';
                do {
                    const page = await index.query({ sort, filter, pageSize: 2, pageToken: token });
                    seen.push(...page.events.map((e) => idOf(e.bytes)));
                    token = page.nextPageToken;
                } while (token !== '');
                expect(seen).toEqual(all);
            }
        }
        const pages: number[] = [];
        let token = '';
        do {
            const page = await index.query({ pageSize: 2, pageToken: token });
            pages.push(page.events.length);
            token = page.nextPageToken;
        } while (token !== '');
        expect(pages).toEqual([2, 2, 1]);
    });

    it('returns an empty token after an exactly full last page', async () => {
        const page = await index.query({ filter: { asset_key: 'task-1' }, pageSize: 3 });
        expect(page.events).toHaveLength(3);
        expect(page.nextPageToken).toBe('');
    });

    it('keeps pages stable when events are added between pages', async () => {
        const local = await buildIndex();
        const first = await local.query({ pageSize: 2 });
        await add(local, 'tx0', 4n, [event('tx0:0', { seconds: 50 })]);
        const second = await local.query({ pageSize: 2, pageToken: first.nextPageToken });
        expect(second.events.map((e) => idOf(e.bytes))).toEqual(['tx1:1', 'tx3:0']);
    });

    it('accepts a page token of the previous gateway ([seconds, nanos, id] JSON)', async () => {
        const legacy = Buffer.from(JSON.stringify([200, 0, 'tx1:0']), 'utf8').toString('base64url');
        expect(await ids(index, { pageToken: legacy })).toEqual(['tx1:1', 'tx3:0', 'tx3:1']);
    });

    it('uses a page size of 50 by default', async () => {
        const big = newIndex();
        for (let i = 0; i < 120; i++) {
            void add(big, `t${i}`, BigInt(i), [event(`t${i}:0`, { seconds: i })]);
        }
        await big.drain();
        expect(big.length).toBe(120);
        const first = await big.query({ pageSize: 0 });
        expect(first.events).toHaveLength(50);
        const second = await big.query({ pageToken: first.nextPageToken });
        expect(idOf(second.events[0]!.bytes)).toBe('t50:0');
        const third = await big.query({ pageToken: second.nextPageToken });
        expect(third.events).toHaveLength(20);
        expect(third.nextPageToken).toBe('');
    });

    it('rejects a malformed token', async () => {
        await expect(index.query({ pageToken: 'garbage' })).rejects.toThrow('invalid page token "garbage"');
        const unknownId = Buffer.from(JSON.stringify([1, 0, 'nowhere:0']), 'utf8').toString('base64url');
        await expect(index.query({ pageToken: unknownId })).rejects.toThrow(`invalid page token "${unknownId}"`);
    });
});

describe('QueryEvents while the index catches up', () => {
    let hub: EventHub | undefined;

    afterEach(async () => {
        await hub?.shutdown();
        hub = undefined;
    });

    const param = orchestrator.QueryEventsParam.encode({}).finish();

    function commitThree(fabric: FakeFabric): void {
        fabric.commit('tx1', [event('tx1:0', { seconds: 1 })], 1n);
        fabric.commit('tx2', [event('tx2:0', { seconds: 2 })], 2n);
        fabric.commit('tx3', [event('tx3:0', { seconds: 3 })], 3n);
    }

    it('answers UNAVAILABLE, naming the channel and the blocks, when the index does not catch up in time', async () => {
        const fabric = new GatedFabric();
        commitThree(fabric);
        fabric.allow(1);
        hub = new EventHub({ fabric, logger: silentLogger, catchUpWaitMs: 100, quietMs: 60_000 });
        const index = hub.index({ mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' });
        await waitFor(() => index.length === 1);
        const started = Date.now();
        const err = await queryEvents(index, 'mychannel', param).catch((e: unknown) => e);
        expect(Date.now() - started).toBeGreaterThanOrEqual(90);
        expect(err).toMatchObject({
            code: status.UNAVAILABLE,
            message: 'the gateway is still indexing channel mychannel: block 1 of 3',
        });
        expect(hub.caughtUp('mychannel', 'mycc')).toBe(false);
    });

    it('waits for the index to catch up, then answers with every event of the chain', async () => {
        const fabric = new GatedFabric();
        commitThree(fabric);
        fabric.allow(1);
        hub = new EventHub({ fabric, logger: silentLogger, catchUpWaitMs: 5000, quietMs: 60_000 });
        const index = hub.index({ mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' });
        await waitFor(() => index.length === 1);
        const answer = queryEvents(index, 'mychannel', param);
        await new Promise((resolve) => setTimeout(resolve, 30));
        fabric.allow(2);
        const response = orchestrator.QueryEventsResponse.decode(await answer);
        expect(response.events.map((e) => e.id)).toEqual(['tx1:0', 'tx2:0', 'tx3:0']);
        expect(hub.caughtUp('mychannel', 'mycc')).toBe(true);
    });

    it('knows it has caught up when the last blocks of the chain hold no event of the chaincode', async () => {
        const fabric = new FakeFabric();
        commitThree(fabric);
        fabric.height = 10n; // blocks 4 to 9 have no event of the chaincode
        hub = new EventHub({ fabric, logger: silentLogger, catchUpWaitMs: 5000, quietMs: 60_000 });
        const index = hub.index({ mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' });
        const response = orchestrator.QueryEventsResponse.decode(await queryEvents(index, 'mychannel', param));
        expect(response.events).toHaveLength(3);
        expect(index.progress()).toEqual({ block: 3n, target: 9n, caughtUp: true });
        expect(fabric.lastEventBlockRequests).toEqual([
            expect.objectContaining({ channel: 'mychannel', chaincode: 'mycc', fromBlock: 0n, toBlock: 9n }),
        ]);
    });

    it('without lastEventBlock, counts an index as caught up once its stream stays quiet', async () => {
        const fabric = new FakeFabric();
        fabric.lastEventBlock = undefined;
        commitThree(fabric);
        fabric.height = 10n; // blocks 4 to 9 have no event of the chaincode
        hub = new EventHub({ fabric, logger: silentLogger, catchUpWaitMs: 5000, quietMs: 100 });
        const index = hub.index({ mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' });
        await waitFor(() => index.length === 3);
        expect(index.caughtUp).toBe(false);
        const response = orchestrator.QueryEventsResponse.decode(await queryEvents(index, 'mychannel', param));
        expect(response.events).toHaveLength(3);
        expect(index.progress()).toEqual({ block: 3n, target: 9n, caughtUp: true });
    });
});

describe('QueryEvents over gRPC', () => {
    let h: Harness;

    beforeAll(async () => {
        h = await startHarness();
        h.fabric.commit('tx1', [event('tx1:0', { seconds: 10 }), event('tx1:1', { seconds: 10 })]);
        h.fabric.commit('tx2', [event('tx2:0', { seconds: 20, asset_key: 'other' })]);
        // start the listener, then wait for it to index the chain
        const request = orchestrator.QueryEventsParam.encode({}).finish();
        await unary(h.client, QUERY_EVENTS, request, headers(ORG1));
        await waitFor(() => h.fabric.eventRequests.length === 1);
    });

    afterAll(async () => {
        await h.close();
    });

    async function query(param: orchestrator.IQueryEventsParam): Promise<orchestrator.QueryEventsResponse> {
        const reply = await unary(
            h.client,
            QUERY_EVENTS,
            orchestrator.QueryEventsParam.encode(param).finish(),
            headers(ORG1),
        );
        return orchestrator.QueryEventsResponse.decode(reply);
    }

    it('answers from the chaincode events without calling the chaincode, with the channel set', async () => {
        h.fabric.calls.length = 0;
        let response = await query({ sort: SortOrder.DESCENDING });
        for (let i = 0; i < 50 && response.events.length < 3; i++) {
            await new Promise((resolve) => setTimeout(resolve, 10));
            response = await query({ sort: SortOrder.DESCENDING });
        }
        expect(response.events.map((e) => e.id)).toEqual(['tx2:0', 'tx1:1', 'tx1:0']);
        expect(response.events.every((e) => e.channel === 'mychannel')).toBe(true);
        expect(response.next_page_token).toBe('');
        expect(h.fabric.calls).toHaveLength(0);
    });

    it('pages and filters over gRPC', async () => {
        const first = await query({ page_size: 1, filter: { asset_key: 'key-1' } });
        expect(first.events.map((e) => e.id)).toEqual(['tx1:0']);
        const second = await query({ page_size: 1, page_token: first.next_page_token, filter: { asset_key: 'key-1' } });
        expect(second.events.map((e) => e.id)).toEqual(['tx1:1']);
        expect(second.next_page_token).toBe('');
    });

    it('fails a bad page token with UNKNOWN', async () => {
        const err = await unaryError(
            h.client,
            QUERY_EVENTS,
            orchestrator.QueryEventsParam.encode({ page_token: '%%%' }).finish(),
            headers(ORG1),
        );
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('invalid page token "%%%"');
    });
});

describe('QueryEvents over gRPC while the index catches up', () => {
    it('fails with UNAVAILABLE and a clear message after waiting a few seconds', async () => {
        const fabric = new GatedFabric();
        fabric.commit('tx1', [event('tx1:0')], 1n);
        fabric.commit('tx2', [event('tx2:0')], 4n);
        fabric.allow(1);
        const h = await startHarness({ fabric });
        try {
            const started = Date.now();
            const err = await unaryError(
                h.client,
                QUERY_EVENTS,
                orchestrator.QueryEventsParam.encode({}).finish(),
                headers(ORG1),
            );
            expect(err.code).toBe(status.UNAVAILABLE);
            expect(err.details).toBe('the gateway is still indexing channel mychannel: block 1 of 4');
            expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
            fabric.allow(1);
            const reply = await unary(
                h.client,
                QUERY_EVENTS,
                orchestrator.QueryEventsParam.encode({}).finish(),
                headers(ORG1),
            );
            expect(orchestrator.QueryEventsResponse.decode(reply).events.map((e) => e.id)).toEqual(['tx1:0', 'tx2:0']);
        } finally {
            await h.close();
        }
    });
});
