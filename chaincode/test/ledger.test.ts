import { decodeEventBatch, orchestrator } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { StubStore } from '../src/repository/stub-store';
import { openTransaction, runTransaction } from '../src/ledger/transaction';
import { FakeStub, FakeWorldState } from './support/fake-stub';

const bytes = (text: string): Uint8Array => Buffer.from(text);
const text = (value: Uint8Array | undefined): string | undefined =>
    value === undefined ? undefined : Buffer.from(value).toString();

let counter = 0;
function tx(world: FakeWorldState, mspid = 'Org1MSP'): FakeStub {
    counter++;
    return new FakeStub(world, { txId: `tx-${counter}`, timestamp: { seconds: 1_767_225_600, nanos: 42 }, mspid });
}

async function committed(world: FakeWorldState, entries: Record<string, string>): Promise<void> {
    const stub = tx(world);
    const store = new StubStore(stub);
    for (const [key, value] of Object.entries(entries)) {
        await store.put(key, bytes(value));
    }
    await store.flush();
    world.commit(stub);
}

describe('ledger Store on the stub (read-your-writes overlay)', () => {
    it("get sees the transaction's own puts and deletes; the committed state does not change before commit", async () => {
        const world = new FakeWorldState();
        await committed(world, { a: 'committed-a', b: 'committed-b' });
        const store = new StubStore(tx(world));
        await store.put('a', bytes('mine'));
        await store.delete('b');
        await store.put('c', bytes('new'));
        expect(text(await store.get('a'))).toBe('mine');
        expect(await store.get('b')).toBeUndefined();
        expect(text(await store.get('c'))).toBe('new');
        expect(text(world.get('a'))).toBe('committed-a');
        expect(text(world.get('b'))).toBe('committed-b');
    });

    it('get answers a key read twice from the overlay (one state read), and absent keys as undefined', async () => {
        const world = new FakeWorldState();
        await committed(world, { a: 'x' });
        const stub = tx(world);
        const store = new StubStore(stub);
        expect(text(await store.get('a'))).toBe('x');
        expect(text(await store.get('a'))).toBe('x');
        expect(await store.get('missing')).toBeUndefined();
        expect(await store.get('missing')).toBeUndefined();
        expect(stub.reads).toBe(2);
    });

    it('scan sees committed state only, in key order, and stops reading when the caller breaks', async () => {
        const world = new FakeWorldState();
        const setupStub = tx(world);
        const setup = new StubStore(setupStub);
        for (const k of ['3', '1', '2']) {
            await setup.put(setup.compositeKey('kind', [k]), bytes(k));
        }
        await setup.flush();
        world.commit(setupStub);
        const stub = tx(world);
        const store = new StubStore(stub);
        await store.put(store.compositeKey('kind', ['0']), bytes('uncommitted'));
        const seen: string[] = [];
        for await (const { key } of store.scan('kind', [])) {
            seen.push(store.splitCompositeKey(key).attributes[0]!);
        }
        expect(seen).toEqual(['1', '2', '3']);
        const readsBefore = stub.reads;
        for await (const _ of store.scan('kind', [])) {
            break;
        }
        expect(stub.reads - readsBefore).toBe(1);
    });

    it('page returns at most pageSize committed records from the inclusive start key', async () => {
        const world = new FakeWorldState();
        const setupStub = tx(world);
        const setup = new StubStore(setupStub);
        const keys = ['a', 'b', 'c', 'd'].map((k) => setup.compositeKey('kind', [k]));
        for (const key of keys) {
            await setup.put(key, bytes(key));
        }
        await setup.flush();
        world.commit(setupStub);
        const store = new StubStore(tx(world));
        expect((await store.page('kind', [], 2, '')).records.map((r) => r.key)).toEqual(keys.slice(0, 2));
        expect((await store.page('kind', [], 3, keys[2]!)).records.map((r) => r.key)).toEqual(keys.slice(2));
        await expect(store.page('kind', [], 0, '')).rejects.toThrow('invalid page size 0');
    });

    it('writes are buffered: the stub sees them only at flush, so a failed transaction has an empty write set', async () => {
        const world = new FakeWorldState();
        await committed(world, { b: 'committed-b' });
        const stub = tx(world);
        const store = new StubStore(stub);
        await store.put('a', bytes('new'));
        await store.delete('b');
        expect(stub.writeSet()).toEqual([]);
        await store.flush();
        expect(stub.writeSet()).toEqual([
            { key: 'a', value: Uint8Array.from(bytes('new')) },
            { key: 'b', value: null },
        ]);
        await expect(store.put('c', bytes('late'))).rejects.toThrow(/after the transaction finished/);
        await expect(store.flush()).rejects.toThrow(/already flushed/);
    });

    it('Fabric rule kept at the call that breaks it: no paginated query after a write, no write after one', async () => {
        const world = new FakeWorldState();
        const writer = new StubStore(tx(world));
        await writer.put('a', bytes('x'));
        await expect(writer.page('kind', [], 2, '')).rejects.toThrow(
            'paginated queries are not supported in a transaction that writes',
        );
        const reader = new StubStore(tx(world));
        await reader.page('kind', [], 2, '');
        await expect(reader.put('a', bytes('x'))).rejects.toThrow(
            'writes are not supported in a transaction that ran a paginated query',
        );
        await expect(reader.delete('a')).rejects.toThrow(/paginated query/);
    });

    it('put refuses an empty value (Fabric would record a delete)', async () => {
        const store = new StubStore(tx(new FakeWorldState()));
        await expect(store.put('a', new Uint8Array(0))).rejects.toThrow(/empty value/);
    });
});

describe('transaction context and event flush', () => {
    it('the context carries the creator MSP id, the stub tx id and the proposal timestamp with nanoseconds', () => {
        const stub = new FakeStub(new FakeWorldState(), {
            txId: 'f00d',
            timestamp: { seconds: 1_767_225_600, nanos: 123_456_789 },
            mspid: 'MyOrg2MSP',
        });
        const { ctx } = openTransaction(stub, 'MyOrg2MSP');
        expect(ctx.requester).toBe('MyOrg2MSP');
        expect(ctx.txId).toBe('f00d');
        expect(ctx.timestamp).toEqual({ seconds: 1_767_225_600, nanos: 123_456_789 });
    });

    it('finish sets exactly one chaincode-updates event holding every emitted event, in emission order', async () => {
        const stub = tx(new FakeWorldState());
        const transaction = openTransaction(stub, 'Org1MSP');
        transaction.ctx.events.emit({ asset_key: 'k1', asset_kind: orchestrator.AssetKind.ASSET_FUNCTION });
        transaction.ctx.events.emit({ asset_key: 'k2', asset_kind: orchestrator.AssetKind.ASSET_MODEL });
        await transaction.finish();
        expect(stub.chaincodeEvent?.name).toBe('chaincode-updates');
        const events = decodeEventBatch(stub.chaincodeEvent!.payload);
        expect(events.map((e) => [e.id, e.asset_key])).toEqual([
            [`${stub.getTxID()}:0`, 'k1'],
            [`${stub.getTxID()}:1`, 'k2'],
        ]);
        expect(events[0]!.timestamp).toEqual({ seconds: 1_767_225_600, nanos: 42 });
        await expect(transaction.finish()).rejects.toThrow('already finished');
    });

    it('no chaincode event is set when the transaction emitted nothing', async () => {
        const stub = tx(new FakeWorldState());
        await openTransaction(stub, 'Org1MSP').finish();
        expect(stub.chaincodeEvent).toBeUndefined();
    });

    it('runTransaction sets no event when the body fails, and propagates the error', async () => {
        const stub = tx(new FakeWorldState());
        await expect(
            runTransaction(stub, 'Org1MSP', (_services, ctx) => {
                ctx.events.emit({ asset_key: 'k' });
                return Promise.reject(new Error('OE0002: nope'));
            }),
        ).rejects.toThrow('OE0002: nope');
        expect(stub.chaincodeEvent).toBeUndefined();
    });

    it('runTransaction leaves an empty write set when the body fails after writing (bad input writes nothing)', async () => {
        const stub = tx(new FakeWorldState());
        await expect(
            runTransaction(stub, 'Org1MSP', async (_services, ctx) => {
                await ctx.store.put('a', bytes('x'));
                throw new Error('OE0003: second half invalid');
            }),
        ).rejects.toThrow('OE0003: second half invalid');
        expect(stub.writeSet()).toEqual([]);
        const ok = tx(new FakeWorldState());
        await runTransaction(ok, 'Org1MSP', async (_services, ctx) => {
            await ctx.store.put('a', bytes('x'));
        });
        expect(ok.writeSet()).toEqual([{ key: 'a', value: Uint8Array.from(bytes('x')) }]);
    });
});
