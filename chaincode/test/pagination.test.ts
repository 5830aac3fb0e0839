/**
 * The one page-token format (repository/pagination.ts): base64url of the composite key the next page starts at,
 * for listings read from an index and for listings ordered in memory alike.
 */
import { orchestrator } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { DATA_SAMPLE_INDEX } from '../src/repository/datasample';
import { FUNCTION_INDEX, PLAN_FUNCTION_TASK_INDEX } from '../src/repository/function';
import { sortableCreation } from '../src/repository/keys';
import {
    DEFAULT_PAGE_SIZE,
    decodePageToken,
    effectivePageSize,
    encodePageToken,
    pageInMemory,
} from '../src/repository/pagination';
import { StubStore } from '../src/repository/stub-store';
import { FakeStub, FakeWorldState } from './support/fake-stub';
import {
    CHECKSUM,
    KEY1,
    KEY2,
    KEY3,
    KEY4,
    ORG1,
    key,
    newDataManager,
    newFunction,
    newOrgsLedger,
    registerDataManager,
} from './support/fixtures';
import { complete } from './support/messages';

function newStore(): StubStore {
    return new StubStore(
        new FakeStub(new FakeWorldState(), { txId: 'tx', timestamp: { seconds: 1, nanos: 0 }, mspid: ORG1 }),
    );
}

const decodeToken = (token: string): string => Buffer.from(token, 'base64url').toString('utf8');

describe('page tokens', () => {
    it('encode the start key as base64url; decoding gives it back, an empty token is the first page', () => {
        const store = newStore();
        const start = store.compositeKey('idx~x~all', ['2026', 'é\u{10000}']);
        const token = encodePageToken(start);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodePageToken(store, 'idx~x~all', [], token)).toBe(start);
        expect(decodePageToken(store, 'idx~x~all', ['2026'], token)).toBe(start);
        expect(decodePageToken(store, 'idx~x~all', [], '')).toBe('');
    });

    it('a token outside the listing, of its bare prefix, or not base64url is refused with the plain error', () => {
        const store = newStore();
        const other = encodePageToken(store.compositeKey('idx~y~all', ['a']));
        const bare = encodePageToken(store.compositeKey('idx~x~all', []));
        const wrongAttribute = encodePageToken(store.compositeKey('idx~x~all', ['b', 'k']));
        for (const token of [other, bare, 'abc!', '1', 'AAAA', '=']) {
            expect(() => decodePageToken(store, 'idx~x~all', [], token)).toThrow(`invalid page token "${token}"`);
        }
        expect(() => decodePageToken(store, 'idx~x~all', ['a'], wrongAttribute)).toThrow(/^invalid page token "/);
    });

    it('page size 0 means 50', () => {
        expect(DEFAULT_PAGE_SIZE).toBe(50);
        expect(effectivePageSize(0)).toBe(50);
        expect(effectivePageSize(7)).toBe(7);
    });
});

describe('pageInMemory: in-memory listings with the same tokens', () => {
    const store = newStore();
    const entry = (attribute: string) => ({ key: store.compositeKey('idx~x~all', [attribute]), value: attribute });
    // Inserted out of order; '\uE000' sorts before '\u{10000}' in UTF-8 bytes (the ledger's order) but not in UTF-16.
    const entries = ['c', '\u{10000}', 'a', '\uE000', 'b'].map(entry);

    it('orders by key bytes and pages with tokens of the next key, "" after the last page', () => {
        const first = pageInMemory(store, 'idx~x~all', [], entries, '', 2);
        expect(first.items).toEqual(['a', 'b']);
        expect(decodeToken(first.nextPageToken)).toBe(entry('c').key);
        const second = pageInMemory(store, 'idx~x~all', [], entries, first.nextPageToken, 2);
        expect(second.items).toEqual(['c', '\uE000']);
        const third = pageInMemory(store, 'idx~x~all', [], entries, second.nextPageToken, 2);
        expect(third.items).toEqual(['\u{10000}']);
        expect(third.nextPageToken).toBe('');
        expect(pageInMemory(store, 'idx~x~all', [], entries, '', 0).items).toHaveLength(5);
    });

    it('a token between two keys starts at the next one; a malformed token is refused even with no entries', () => {
        const between = encodePageToken(store.compositeKey('idx~x~all', ['bb']));
        expect(pageInMemory(store, 'idx~x~all', [], entries, between, 10).items).toEqual(['c', '\uE000', '\u{10000}']);
        expect(() => pageInMemory(store, 'idx~x~all', [], [], '7', 10)).toThrow('invalid page token "7"');
    });
});

describe('listings ordered in memory use the index key of their order as token', () => {
    it('QueryFunctions by plan: the token is the idx~function~all key of the next function', async () => {
        const ledger = await newOrgsLedger(ORG1);
        const plain = { inputs: {}, outputs: {} };
        for (const k of [KEY2, KEY1, KEY3]) {
            await ledger.invoke(ORG1, (s) =>
                s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(k, plain))),
            );
        }
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: KEY4, name: 'plan' })),
        );
        const task = (taskKey: string, functionKey: string) => ({
            key: taskKey,
            function_key: functionKey,
            compute_plan_key: KEY4,
            worker: ORG1,
        });
        await ledger.invoke(ORG1, (s) =>
            s.computeTasks.registerTasks(
                complete(orchestrator.RegisterTasksParam, {
                    tasks: [task(key(0xaa, 1), KEY3), task(key(0xaa, 2), KEY1), task(key(0xaa, 3), KEY3)],
                }),
            ),
        );
        const query = async (pageToken: string) =>
            (
                await ledger.evaluate(ORG1, (s) =>
                    s.functions.queryFunctions(
                        complete(orchestrator.QueryFunctionsParam, {
                            page_size: 1,
                            page_token: pageToken,
                            filter: { compute_plan_key: KEY4 },
                        }),
                    ),
                )
            ).result;
        const first = await query('');
        expect(first.Functions.map((f) => f.key)).toEqual([KEY1]);
        const next = (await ledger.evaluate(ORG1, (s) => s.functions.getFunction(KEY3))).result;
        const store = newStore();
        expect(decodeToken(first.next_page_token)).toBe(
            store.compositeKey(FUNCTION_INDEX, [sortableCreation(next), KEY3]),
        );
        const second = await query(first.next_page_token);
        expect(second.Functions.map((f) => f.key)).toEqual([KEY3]);
        expect(second.next_page_token).toBe('');
        // The decimal offsets of before are no tokens any more.
        await expect(query('1')).rejects.toThrow(/^invalid page token "1"$/);
    });

    it('QueryDataSamples by keys: the token is the idx~datasample~all key of the next sample', async () => {
        const ledger = await newOrgsLedger(ORG1);
        const manager = key(0xd, 1);
        await registerDataManager(ledger, ORG1, newDataManager(manager));
        const samples = [key(0x5, 1), key(0x5, 2)];
        for (const k of samples) {
            await ledger.invoke(ORG1, (s) =>
                s.dataSamples.registerDataSamples(
                    complete(orchestrator.RegisterDataSamplesParam, {
                        samples: [{ key: k, data_manager_keys: [manager], checksum: CHECKSUM }],
                    }),
                ),
            );
        }
        const query = async (pageToken: string) =>
            (
                await ledger.evaluate(ORG1, (s) =>
                    s.dataSamples.queryDataSamples(
                        complete(orchestrator.QueryDataSamplesParam, {
                            page_size: 1,
                            page_token: pageToken,
                            filter: { keys: [samples[1]!, samples[0]!, key(0x5, 9)] },
                        }),
                    ),
                )
            ).result;
        const first = await query('');
        expect(first.data_samples.map((d) => d.key)).toEqual([samples[0]]);
        const next = (await ledger.evaluate(ORG1, (s) => s.dataSamples.getDataSample(samples[1]!))).result;
        expect(decodeToken(first.next_page_token)).toBe(
            newStore().compositeKey(DATA_SAMPLE_INDEX, [sortableCreation(next), samples[1]!]),
        );
        const second = await query(first.next_page_token);
        expect(second.data_samples.map((d) => d.key)).toEqual([samples[1]]);
        expect(second.next_page_token).toBe('');
        await expect(query('1')).rejects.toThrow(/^invalid page token "1"$/);
    });

    it('the plan listing reads the task index by its name in the task repository', () => {
        expect(PLAN_FUNCTION_TASK_INDEX).toBe('idx~computetask~plan_function');
    });
});
