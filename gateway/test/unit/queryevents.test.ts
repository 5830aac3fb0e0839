import { status } from '@grpc/grpc-js';
import { encodeEventBatch, orchestrator } from '@substra-fabric/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventIndex } from '../../src/eventindex';
import { MemoryEventStore } from '../../src/eventstore';
import { type Harness, ORG1, QUERY_EVENTS, event, headers, startHarness, unary, unaryError, waitFor } from './helpers';

const { AssetKind, EventKind, SortOrder } = orchestrator;

function buildIndex(): EventIndex {
    const index = new EventIndex(new MemoryEventStore());
    const add = (tx: string, block: bigint, events: orchestrator.IEvent[]): void => {
        index.append({ blockNumber: block, transactionId: tx, payload: encodeEventBatch(events) });
    };
    // committed out of timestamp order on purpose (tx2 is older than tx1)
    add('tx1', 1n, [
        event('tx1:0', { seconds: 200, asset_key: 'plan-1', asset_kind: AssetKind.ASSET_COMPUTE_PLAN }),
        event('tx1:1', { seconds: 200, asset_key: 'task-1', metadata: { reason: 'done', extra: 'x' } }),
    ]);
    add('tx2', 2n, [event('tx2:0', { seconds: 100, asset_key: 'task-1', event_kind: EventKind.EVENT_ASSET_UPDATED })]);
    add('tx3', 3n, [
        event('tx3:0', { seconds: 300, asset_key: 'task-2', event_kind: EventKind.EVENT_ASSET_DISABLED }),
        event('tx3:1', { seconds: 300, asset_key: 'task-1', metadata: { reason: 'done' } }),
    ]);
    return index;
}

const ids = (index: EventIndex, query: Parameters<EventIndex['query']>[0]): string[] =>
    index.query(query).events.map((e) => e.id);

describe('QueryEvents on the index', () => {
    const index = buildIndex();

    it('sorts by timestamp then id, ascending by default', () => {
        const expected = ['tx2:0', 'tx1:0', 'tx1:1', 'tx3:0', 'tx3:1'];
        expect(ids(index, {})).toEqual(expected);
        expect(ids(index, { sort: SortOrder.ASCENDING })).toEqual(expected);
        expect(ids(index, { sort: SortOrder.DESCENDING })).toEqual([...expected].reverse());
    });

    it('filters on asset key, asset kind and event kind', () => {
        expect(ids(index, { filter: { asset_key: 'task-1' } })).toEqual(['tx2:0', 'tx1:1', 'tx3:1']);
        expect(ids(index, { filter: { asset_kind: AssetKind.ASSET_COMPUTE_PLAN } })).toEqual(['tx1:0']);
        expect(ids(index, { filter: { event_kind: EventKind.EVENT_ASSET_DISABLED } })).toEqual(['tx3:0']);
        expect(ids(index, { filter: { asset_key: 'task-1', event_kind: EventKind.EVENT_ASSET_CREATED } })).toEqual([
            'tx1:1',
            'tx3:1',
        ]);
    });

    it('filters on metadata by containment', () => {
        expect(ids(index, { filter: { metadata: { reason: 'done' } } })).toEqual(['tx1:1', 'tx3:1']);
        expect(ids(index, { filter: { metadata: { reason: 'done', extra: 'x' } } })).toEqual(['tx1:1']);
        expect(ids(index, { filter: { metadata: { reason: 'other' } } })).toEqual([]);
    });

    it('filters on an inclusive time range', () => {
        expect(ids(index, { filter: { start: { seconds: 200 } } })).toEqual(['tx1:0', 'tx1:1', 'tx3:0', 'tx3:1']);
        expect(ids(index, { filter: { end: { seconds: 200 } } })).toEqual(['tx2:0', 'tx1:0', 'tx1:1']);
        expect(ids(index, { filter: { start: { seconds: 200 }, end: { seconds: 200 } } })).toEqual(['tx1:0', 'tx1:1']);
        expect(ids(index, { filter: { start: { seconds: 200, nanos: 1 } } })).toEqual(['tx3:0', 'tx3:1']);
    });

    it('pages with opaque tokens in both orders', () => {
        for (const sort of [SortOrder.ASCENDING, SortOrder.DESCENDING]) {
            const all = ids(index, { sort });
            const seen: string[] = [];
            let token = '';
            let pages = 0;
            do {
                const page = index.query({ sort, pageSize: 2, pageToken: token });
                seen.push(...page.events.map((e) => e.id));
                token = page.nextPageToken;
                pages++;
            } while (token !== '');
            expect(seen).toEqual(all);
            expect(pages).toBe(3);
        }
    });

    it('returns an empty token after an exactly full last page', () => {
        const page = index.query({ filter: { asset_key: 'task-1' }, pageSize: 3 });
        expect(page.events).toHaveLength(3);
        expect(page.nextPageToken).toBe('');
    });

    it('keeps pages stable when events are added between pages', () => {
        const local = buildIndex();
        const first = local.query({ pageSize: 2 });
        local.append({
            blockNumber: 4n,
            transactionId: 'tx0',
            payload: encodeEventBatch([event('tx0:0', { seconds: 50 })]),
        });
        const second = local.query({ pageSize: 2, pageToken: first.nextPageToken });
        expect(second.events.map((e) => e.id)).toEqual(['tx1:1', 'tx3:0']);
    });

    it('uses a page size of 50 by default', () => {
        const big = new EventIndex(new MemoryEventStore());
        for (let i = 0; i < 120; i++) {
            big.append({
                blockNumber: BigInt(i),
                transactionId: `t${i}`,
                payload: encodeEventBatch([event(`t${i}:0`, { seconds: i })]),
            });
        }
        const first = big.query({ pageSize: 0 });
        expect(first.events).toHaveLength(50);
        const second = big.query({ pageToken: first.nextPageToken });
        expect(second.events[0]?.id).toBe('t50:0');
        const third = big.query({ pageToken: second.nextPageToken });
        expect(third.events).toHaveLength(20);
        expect(third.nextPageToken).toBe('');
    });

    it('rejects a malformed token', () => {
        expect(() => index.query({ pageToken: 'garbage' })).toThrow('invalid page token "garbage"');
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
