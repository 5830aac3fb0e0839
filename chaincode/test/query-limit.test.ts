/**
 * The peers' totalQueryLimit (repository/store.ts): the fake peer caps range queries like Fabric 2.5, and the
 * store keeps listings (`page`) and rules that scan (`scan`, used in write transactions) complete past the cap.
 * A limit of 5 stands for the 100000 of a real peer.
 */
import { orchestrator } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { openTransaction } from '../src/ledger/transaction';
import { configFromEnv } from '../src/main';
import { INDEX_VALUE } from '../src/repository/keys';
import { readPage } from '../src/repository/pagination';
import { DEFAULT_TOTAL_QUERY_LIMIT, parseTotalQueryLimit, processTotalQueryLimit } from '../src/repository/query-limit';
import { StubStore } from '../src/repository/stub-store';
import type { Services } from '../src/service/provider';
import { FABRIC_TOTAL_QUERY_LIMIT, FakeStub, FakeWorldState, fakeTxId } from './support/fake-stub';
import { ChaincodeStub } from 'fabric-shim';
import type { StubIterator, StubKV } from '../src/ledger/stub';
import { compareKeys } from '../src/repository/keys';
import {
    ORG1,
    T1,
    addressable,
    key,
    newExecutingTaskLedger,
    newFunction,
    newModel,
    registerModels,
} from './support/fixtures';
import { complete } from './support/messages';

const LIMIT = 5;

let counter = 0;
function tx(world: FakeWorldState, mspid = ORG1): FakeStub {
    counter++;
    return new FakeStub(world, {
        txId: fakeTxId(`query-limit-${counter}`),
        timestamp: { seconds: 1_767_225_600 + counter, nanos: 0 },
        mspid,
    });
}

/** A peer with totalQueryLimit LIMIT holding `count` records `kind` [000..] (and a record of another kind). */
function seededWorld(count: number, limit = LIMIT): { world: FakeWorldState; keys: string[] } {
    const world = new FakeWorldState({ totalQueryLimit: limit });
    const stub = tx(world);
    const keys = Array.from({ length: count }, (_, i) => stub.createCompositeKey('kind', [String(i).padStart(3, '0')]));
    for (const k of keys) {
        world.seed(k, Buffer.from(k));
    }
    world.seed(stub.createCompositeKey('kinds', ['after']), INDEX_VALUE);
    return { world, keys };
}

async function drain(iterator: StubIterator): Promise<string[]> {
    const keys: string[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        keys.push(next.value.key);
    }
    await iterator.close();
    return keys;
}

async function collect(iterable: AsyncIterable<{ key: string }>): Promise<string[]> {
    const keys: string[] = [];
    for await (const { key: k } of iterable) {
        keys.push(k);
    }
    return keys;
}

/** Runs `fn` as one transaction on `world` through the real ledger layer, the store told the peer's limit. */
async function run<T>(
    world: FakeWorldState,
    mspid: string,
    fn: (services: Services) => Promise<T>,
    commit = true,
): Promise<{ result: T; reads: number }> {
    const stub = tx(world, mspid);
    const transaction = openTransaction(stub, mspid, { totalQueryLimit: world.totalQueryLimit });
    const result = await fn(transaction.services);
    await transaction.finish();
    if (commit) {
        world.commit(stub);
    }
    return { result, reads: stub.reads };
}

/** The committed state of a test ledger, served by a peer with totalQueryLimit `limit`. */
function rehost(source: FakeWorldState, limit = LIMIT): FakeWorldState {
    const world = new FakeWorldState({ totalQueryLimit: limit });
    for (const k of source.keys()) {
        world.seed(k, source.get(k)!);
    }
    return world;
}

describe('fake peer: totalQueryLimit with Fabric 2.5 semantics', () => {
    it('defaults to 100000, like core.yaml', () => {
        expect(new FakeWorldState().totalQueryLimit).toBe(100_000);
        expect(FABRIC_TOTAL_QUERY_LIMIT).toBe(DEFAULT_TOTAL_QUERY_LIMIT);
    });

    it('an unpaginated range query silently stops after `limit` records', async () => {
        const { world, keys } = seededWorld(12);
        expect(await collect(tx(world).getStateByPartialCompositeKey('kind', []))).toEqual(keys.slice(0, LIMIT));
        const empty = await tx(world).getStateByPartialCompositeKeyWithPagination('kind', [], 0, '');
        expect(await drain(empty.iterator)).toEqual(keys.slice(0, LIMIT));
    });

    it('a paginated query returns min(pageSize, limit) records and the next key as bookmark', async () => {
        const { world, keys } = seededWorld(12);
        const big = await tx(world).getStateByPartialCompositeKeyWithPagination('kind', [], 10, '');
        expect(big.metadata).toEqual({ fetchedRecordsCount: LIMIT, bookmark: keys[LIMIT] });
        expect(await drain(big.iterator)).toEqual(keys.slice(0, LIMIT));
        const small = await tx(world).getStateByPartialCompositeKeyWithPagination('kind', [], 3, keys[9]);
        expect(small.metadata).toEqual({ fetchedRecordsCount: 3, bookmark: '' });
        const zero = await tx(world).getStateByPartialCompositeKeyWithPagination('kind', [], 0, keys[2]);
        expect(zero.metadata).toEqual({ fetchedRecordsCount: LIMIT, bookmark: keys[2 + LIMIT] });
    });

    it("the shim handler's range query starts at any key, composite namespace included, and is capped too", async () => {
        const { world, keys } = seededWorld(12);
        const stub = tx(world);
        const { iterator } = await stub.handler.handleGetStateByRange(
            '',
            `${keys[3]!}\u0000`,
            `${stub.createCompositeKey('kind', [])}\u{10ffff}`,
            stub.getChannelID(),
            stub.getTxID(),
        );
        expect(await drain(iterator)).toEqual(keys.slice(4, 4 + LIMIT));
        // Unpaginated: writes stay allowed.
        await stub.putState('a', Buffer.from('x'));
    });
});

describe('store: range queries past the limit', () => {
    it('scan yields every record, in key order, with one more range query per `limit` records', async () => {
        for (const count of [0, 4, LIMIT, LIMIT + 1, 12, 3 * LIMIT]) {
            const { world, keys } = seededWorld(count);
            const stub = tx(world);
            const store = new StubStore(stub, { queryLimit: LIMIT });
            expect(await collect(store.scan('kind', []))).toEqual(keys);
            expect(stub.reads).toBe(count);
        }
    });

    it('scan continues in a write transaction (no paginated query involved) and still sees committed state only', async () => {
        const { world, keys } = seededWorld(12);
        const store = new StubStore(tx(world), { queryLimit: LIMIT });
        await store.put(store.compositeKey('kind', ['999']), Buffer.from('uncommitted'));
        expect(await collect(store.scan('kind', []))).toEqual(keys);
        await store.put(store.compositeKey('kind', ['998']), Buffer.from('still writable'));
    });

    it('scan under a partial key stays inside it, and breaking stops reading', async () => {
        const world = new FakeWorldState({ totalQueryLimit: LIMIT });
        const stub = tx(world);
        const inside = Array.from({ length: 11 }, (_, i) =>
            stub.createCompositeKey('idx', ['a', String(i).padStart(2, '0')]),
        );
        for (const k of [
            ...inside,
            stub.createCompositeKey('idx', ['ab', '00']),
            stub.createCompositeKey('idx', ['b', '00']),
        ]) {
            world.seed(k, INDEX_VALUE);
        }
        const store = new StubStore(stub, { queryLimit: LIMIT });
        expect(await collect(store.scan('idx', ['a']))).toEqual(inside);
        const before = stub.reads;
        let seen = 0;
        for await (const _ of store.scan('idx', ['a'])) {
            if (++seen === LIMIT + 2) {
                break;
            }
        }
        expect(stub.reads - before).toBe(LIMIT + 2);
    });

    it("on fabric-shim's own ChaincodeStub, the scan continues through the stub's peer connection", async () => {
        const { world, keys } = seededWorld(12);
        const sorted = world.keys();
        const calls: string[][] = [];
        // The peer side of fabric-shim's handler: GetStateByRange, capped at the limit.
        const peer = {
            handleGetStateByRange: (collection: string, start: string, end: string, channel: string, txId: string) => {
                calls.push([collection, start, end, channel, txId]);
                const inRange = sorted.filter((k) => compareKeys(k, start) >= 0 && compareKeys(k, end) < 0);
                let position = 0;
                const iterator: StubIterator = {
                    next: () => {
                        const k = inRange.slice(0, LIMIT)[position++];
                        return Promise.resolve(
                            k === undefined
                                ? { value: undefined as unknown as StubKV, done: true }
                                : { value: { key: k, value: world.get(k)! }, done: false },
                        );
                    },
                    close: () => Promise.resolve(),
                };
                return Promise.resolve({ iterator });
            },
        };
        // fabric-shim hides the constructor from its types: (peer connection, channel, tx id, chaincode input, proposal).
        const Stub = ChaincodeStub as unknown as new (...args: unknown[]) => ChaincodeStub;
        const stub = new Stub(peer, 'mychannel', 'tx-1', { getArgsList_asU8: () => [] }, undefined);
        const store = new StubStore(stub, { queryLimit: LIMIT });
        expect(await collect(store.scan('kind', []))).toEqual(keys);
        const end = `${stub.createCompositeKey('kind', [])}\u{10ffff}`;
        expect(calls).toEqual([
            ['', stub.createCompositeKey('kind', []), end, 'mychannel', 'tx-1'],
            ['', `${keys[LIMIT - 1]!}\u0000`, end, 'mychannel', 'tx-1'],
            ['', `${keys[2 * LIMIT - 1]!}\u0000`, end, 'mychannel', 'tx-1'],
        ]);
    });

    it('a store limit below the peer one is safe (it only continues earlier)', async () => {
        const { world, keys } = seededWorld(12, 8);
        expect(await collect(new StubStore(tx(world), { queryLimit: 3 }).scan('kind', []))).toEqual(keys);
    });

    it('page never asks the peer for more than the limit', async () => {
        const { world, keys } = seededWorld(12);
        const store = new StubStore(tx(world), { queryLimit: LIMIT });
        const page = await store.page('kind', [], 100, '');
        expect(page.records.map((r) => r.key)).toEqual(keys.slice(0, LIMIT));
        expect(store.queryLimit).toBe(LIMIT);
        expect(() => new StubStore(tx(world), { queryLimit: 1 })).toThrow('invalid query limit 1');
    });

    it('readPage with page_size at or above the limit returns limit - 1 records and a token that continues', async () => {
        const { world, keys } = seededWorld(12);
        for (const pageSize of [LIMIT - 1, LIMIT, LIMIT + 1, 10, 0]) {
            const seen: string[] = [];
            let token = '';
            let pages = 0;
            do {
                const store = new StubStore(tx(world), { queryLimit: LIMIT });
                const page = await readPage(store, 'kind', [], token, pageSize);
                expect(page.records.length).toBeLessThanOrEqual(LIMIT - 1);
                seen.push(...page.records.map((r) => r.key));
                token = page.nextPageToken;
                pages++;
            } while (token !== '');
            expect(seen).toEqual(keys);
            expect(pages).toBe(Math.ceil(keys.length / (LIMIT - 1)));
        }
    });

    it('readPage below the limit is unchanged: page size + 1 records read, an empty token after the last page', async () => {
        const { world, keys } = seededWorld(6, 100);
        const first = await readPage(new StubStore(tx(world), { queryLimit: 100 }), 'kind', [], '', 4);
        expect(first.records.map((r) => r.key)).toEqual(keys.slice(0, 4));
        const last = await readPage(new StubStore(tx(world), { queryLimit: 100 }), 'kind', [], first.nextPageToken, 4);
        expect(last.records.map((r) => r.key)).toEqual(keys.slice(4));
        expect(last.nextPageToken).toBe('');
    });
});

describe('services on a peer with a small totalQueryLimit', () => {
    it('QueryFunctions with page_size >= limit reaches every function through its tokens', async () => {
        const world = new FakeWorldState({ totalQueryLimit: LIMIT });
        await run(world, ORG1, (s) =>
            s.organizations.registerOrganization(complete(orchestrator.RegisterOrganizationParam, { address: '' })),
        );
        const all = Array.from({ length: 12 }, (_, i) => key(0xf0, i + 1));
        for (const k of all) {
            await run(world, ORG1, (s) =>
                s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(k))),
            );
        }
        for (const pageSize of [LIMIT, 50, 0]) {
            const seen: (string | null | undefined)[] = [];
            let token = '';
            do {
                const { result } = await run(
                    world,
                    ORG1,
                    (s) =>
                        s.functions.queryFunctions(
                            complete(orchestrator.QueryFunctionsParam, { page_size: pageSize, page_token: token }),
                        ),
                    false,
                );
                expect(result.Functions.length).toBe(Math.min(LIMIT - 1, all.length - seen.length));
                seen.push(...result.Functions.map((f) => f.key));
                token = result.next_page_token;
            } while (token !== '');
            expect(seen).toEqual(all);
        }
    });

    it('GetAllOrganizations (a scan) lists more organizations than the limit, also inside a write transaction', async () => {
        const world = new FakeWorldState({ totalQueryLimit: LIMIT });
        const ids = Array.from({ length: 2 * LIMIT + 2 }, (_, i) => `Org${String(i).padStart(2, '0')}MSP`);
        for (const id of ids) {
            await run(world, id, (s) =>
                s.organizations.registerOrganization(complete(orchestrator.RegisterOrganizationParam, { address: '' })),
            );
        }
        const listed = await run(world, ORG1, (s) => s.organizations.getAllOrganizations(), false);
        expect(listed.result.organizations.map((o) => o.id)).toEqual(ids);
        const inWrite = await run(
            world,
            'LateMSP',
            async (s) => {
                await s.organizations.registerOrganization(
                    complete(orchestrator.RegisterOrganizationParam, { address: '' }),
                );
                return s.organizations.getAllOrganizations();
            },
            false,
        );
        expect(inWrite.result.organizations.map((o) => o.id)).toEqual(ids);
    });

    it('GetComputeTaskOutputModels (a scan of the task index) lists more models than the limit', async () => {
        const ledger = await newExecutingTaskLedger();
        const modelKeys = Array.from({ length: LIMIT + 3 }, (_, i) => key(0xb0, i + 1));
        await registerModels(
            ledger,
            modelKeys.map((k) => ({ ...newModel(k, 'models'), address: addressable() })),
        );
        const world = rehost(ledger.world);
        const stub = tx(world);
        expect(await collect(stub.getStateByPartialCompositeKey('idx~model~task', [T1]))).toHaveLength(LIMIT);
        const { result } = await run(
            world,
            ORG1,
            (s) =>
                s.models.getComputeTaskOutputModels(
                    complete(orchestrator.GetComputeTaskModelsParam, { compute_task_key: T1 }),
                ),
            false,
        );
        expect(result.models.map((m) => m.key)).toEqual(modelKeys);
    });
});

describe('ORCHESTRATOR_TOTAL_QUERY_LIMIT', () => {
    it('unset or blank means 100000; otherwise an integer of at least 2', () => {
        expect(parseTotalQueryLimit(undefined)).toBe(100_000);
        expect(parseTotalQueryLimit(' ')).toBe(100_000);
        expect(parseTotalQueryLimit('2')).toBe(2);
        expect(parseTotalQueryLimit(' 250000 ')).toBe(250_000);
        for (const bad of ['0', '1', '-5', '1.5', '1e5', 'many', '9'.repeat(16)]) {
            expect(() => parseTotalQueryLimit(bad)).toThrow(
                `ORCHESTRATOR_TOTAL_QUERY_LIMIT must be an integer of at least 2, got ${JSON.stringify(bad)}`,
            );
        }
        // The test process does not set it.
        expect(processTotalQueryLimit()).toBe(100_000);
        expect(new StubStore(tx(new FakeWorldState())).queryLimit).toBe(100_000);
    });

    it('an invalid value stops the chaincode at startup', () => {
        const env = { CHAINCODE_CCID: 'cc:1', CHAINCODE_ADDRESS: '127.0.0.1:7052' };
        expect(() => configFromEnv({ ...env, ORCHESTRATOR_TOTAL_QUERY_LIMIT: '1' })).toThrow(
            /^ORCHESTRATOR_TOTAL_QUERY_LIMIT must be an integer of at least 2/,
        );
        expect(() => configFromEnv({ ...env, ORCHESTRATOR_TOTAL_QUERY_LIMIT: '500' })).not.toThrow();
    });
});
