import { decodeEventBatch, orchestrator } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { StubStore } from '../src/ledger/store';
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
        world.commit(setupStub);
        const store = new StubStore(tx(world));
        expect((await store.page('kind', [], 2, '')).records.map((r) => r.key)).toEqual(keys.slice(0, 2));
        expect((await store.page('kind', [], 3, keys[2]!)).records.map((r) => r.key)).toEqual(keys.slice(2));
        await expect(store.page('kind', [], 0, '')).rejects.toThrow('invalid page size 0');
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

    it('finish sets exactly one chaincode-updates event holding every emitted event, in emission order', () => {
        const stub = tx(new FakeWorldState());
        const transaction = openTransaction(stub, 'Org1MSP');
        transaction.ctx.events.emit({ asset_key: 'k1', asset_kind: orchestrator.AssetKind.ASSET_FUNCTION });
        transaction.ctx.events.emit({ asset_key: 'k2', asset_kind: orchestrator.AssetKind.ASSET_MODEL });
        transaction.finish();
        expect(stub.chaincodeEvent?.name).toBe('chaincode-updates');
        const events = decodeEventBatch(stub.chaincodeEvent!.payload);
        expect(events.map((e) => [e.id, e.asset_key])).toEqual([
            [`${stub.getTxID()}:0`, 'k1'],
            [`${stub.getTxID()}:1`, 'k2'],
        ]);
        expect(events[0]!.timestamp).toEqual({ seconds: 1_767_225_600, nanos: 42 });
        expect(() => {
            transaction.finish();
        }).toThrow('already finished');
    });

    it('no chaincode event is set when the transaction emitted nothing', () => {
        const stub = tx(new FakeWorldState());
        openTransaction(stub, 'Org1MSP').finish();
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
});
