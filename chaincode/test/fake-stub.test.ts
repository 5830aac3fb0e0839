import { ChaincodeStub } from 'fabric-shim';
import { describe, expect, it } from 'vitest';
import { FakeStub, FakeWorldState, compareKeys } from './support/fake-stub';
import type { FakeTxOptions } from './support/fake-stub';

const bytes = (text: string): Uint8Array => Buffer.from(text);
const text = (value: Uint8Array): string => Buffer.from(value).toString();

let counter = 0;
function tx(world: FakeWorldState, options: Partial<FakeTxOptions> = {}): FakeStub {
    counter++;
    return new FakeStub(world, {
        txId: `tx${counter}`,
        timestamp: { seconds: 1, nanos: 2 },
        mspid: 'Org1MSP',
        ...options,
    });
}

async function collect(iterable: AsyncIterable<{ key: string; value: Uint8Array }>): Promise<string[]> {
    const keys: string[] = [];
    for await (const { key } of iterable) {
        keys.push(key);
    }
    return keys;
}

function seeded(keys: readonly string[]): FakeWorldState {
    const world = new FakeWorldState();
    for (const key of keys) {
        world.seed(key, bytes(`v:${key}`));
    }
    return world;
}

describe('fake stub: Fabric semantics', () => {
    it('composite keys are encoded exactly like fabric-shim (\\u0000 type \\u0000 attr \\u0000 ...) and split back', () => {
        const stub = tx(new FakeWorldState());
        const key = stub.createCompositeKey('idx~function', ['a', 'b']);
        expect(key).toBe('\u0000idx~function\u0000a\u0000b\u0000');
        expect(key).toBe(ChaincodeStub.prototype.createCompositeKey.call(null, 'idx~function', ['a', 'b']));
        expect(stub.splitCompositeKey(key)).toEqual({ objectType: 'idx~function', attributes: ['a', 'b'] });
        expect(() => stub.createCompositeKey('kind', ['a', ''])).toThrow(
            'object type or attribute not a non-zero length string',
        );
    });

    it('writes are invisible to getState and range reads until the transaction is committed', async () => {
        const world = new FakeWorldState();
        const writer = tx(world);
        const key = writer.createCompositeKey('kind', ['k1']);
        await writer.putState(key, bytes('one'));
        expect((await writer.getState(key)).length).toBe(0);
        expect(await collect(writer.getStateByPartialCompositeKey('kind', []))).toEqual([]);
        const reader = tx(world);
        expect((await reader.getState(key)).length).toBe(0);
        world.commit(writer);
        expect(text(await tx(world).getState(key))).toBe('one');
        expect(await collect(tx(world).getStateByPartialCompositeKey('kind', []))).toEqual([key]);
    });

    it('a transaction that is not committed leaves the state unchanged (discard on error)', async () => {
        const world = seeded(['a']);
        const stub = tx(world);
        await stub.putState('b', bytes('x'));
        await stub.deleteState('a');
        expect(world.keys()).toEqual(['a']);
        expect(world.transactions).toHaveLength(0);
    });

    it('range reads iterate in UTF-8 byte order (LevelDB), not UTF-16 order, within the partial key only', async () => {
        const world = new FakeWorldState();
        const setup = tx(world);
        const inside = ['\u{10000}', '\uE000', 'b', 'a', 'a\u0001'].map((a) => setup.createCompositeKey('kind', [a]));
        for (const key of [
            ...inside,
            setup.createCompositeKey('kine', ['a']),
            setup.createCompositeKey('kin', ['z']),
        ]) {
            await setup.putState(key, bytes('v'));
        }
        world.commit(setup);
        const keys = await collect(tx(world).getStateByPartialCompositeKey('kind', []));
        expect(keys.map((k) => tx(world).splitCompositeKey(k).attributes[0])).toEqual([
            'a',
            'a\u0001',
            'b',
            '\uE000',
            '\u{10000}',
        ]);
        expect(compareKeys('\uE000', '\u{10000}')).toBeLessThan(0);
        const [privateUse, supplementary]: string[] = ['\uE000', '\u{10000}'];
        expect(privateUse! < supplementary!).toBe(false); // JavaScript's own (UTF-16) order differs
    });

    it('paginated queries: bookmark = inclusive start key, returned bookmark = next key, empty at the end', async () => {
        const world = new FakeWorldState();
        const setup = tx(world);
        const keys = ['1', '2', '3', '4', '5'].map((a) => setup.createCompositeKey('kind', [a]));
        for (const key of keys) {
            await setup.putState(key, bytes(key));
        }
        world.commit(setup);
        const first = await tx(world).getStateByPartialCompositeKeyWithPagination('kind', [], 2, '');
        expect(first.metadata).toEqual({ fetchedRecordsCount: 2, bookmark: keys[2] });
        const second = await tx(world).getStateByPartialCompositeKeyWithPagination('kind', [], 2, keys[2]);
        const page: string[] = [];
        for (let next = await second.iterator.next(); !next.done; next = await second.iterator.next()) {
            page.push(next.value.key);
        }
        expect(page).toEqual([keys[2], keys[3]]);
        const last = await tx(world).getStateByPartialCompositeKeyWithPagination('kind', [], 2, keys[4]);
        expect(last.metadata).toEqual({ fetchedRecordsCount: 1, bookmark: '' });
    });

    it('a paginated query is refused after a write, and a write after a paginated query (Fabric rule)', async () => {
        const world = seeded([]);
        const writer = tx(world);
        await writer.putState('a', bytes('x'));
        await expect(writer.getStateByPartialCompositeKeyWithPagination('kind', [], 1, '')).rejects.toThrow(
            /paginated queries are not supported in a transaction that writes/,
        );
        const deleter = tx(world);
        await deleter.deleteState('a');
        await expect(deleter.getStateByPartialCompositeKeyWithPagination('kind', [], 1, '')).rejects.toThrow(/writes/);
        const reader = tx(world);
        await reader.getStateByPartialCompositeKeyWithPagination('kind', [], 1, '');
        await expect(reader.putState('a', bytes('x'))).rejects.toThrow(/paginated query/);
        await expect(reader.deleteState('a')).rejects.toThrow(/paginated query/);
        // Non-paginated range reads do not forbid writes.
        const scanner = tx(world);
        await collect(scanner.getStateByPartialCompositeKey('kind', []));
        await scanner.putState('b', bytes('y'));
    });

    it('an empty value written counts as a delete', async () => {
        const world = seeded(['a']);
        const stub = tx(world);
        await stub.putState('a', new Uint8Array(0));
        expect(stub.writeSet()).toEqual([{ key: 'a', value: null }]);
        world.commit(stub);
        expect(world.get('a')).toBeUndefined();
    });

    it('records each committed write set in key order with the last chaincode event', async () => {
        const world = new FakeWorldState();
        const stub = tx(world, { txId: 'abc' });
        await stub.putState('b', bytes('2'));
        await stub.putState('a', bytes('1'));
        await stub.putState('b', bytes('3'));
        stub.setEvent('first', bytes('x'));
        stub.setEvent('chaincode-updates', bytes('y'));
        const record = world.commit(stub);
        expect(record.txId).toBe('abc');
        expect(record.writes.map((w) => [w.key, text(w.value!)])).toEqual([
            ['a', '1'],
            ['b', '3'],
        ]);
        expect(record.event?.name).toBe('chaincode-updates');
        expect(text(record.event!.payload)).toBe('y');
        expect(world.transactions).toEqual([record]);
    });

    it('counts one state read per getState and per record consumed from an iterator', async () => {
        const world = new FakeWorldState();
        const setup = tx(world);
        for (const a of ['1', '2', '3', '4']) {
            await setup.putState(setup.createCompositeKey('kind', [a]), bytes(a));
        }
        world.commit(setup);
        const stub = tx(world);
        await stub.getState('missing');
        for await (const _ of stub.getStateByPartialCompositeKey('kind', [])) {
            break; // stop after the first record
        }
        expect(stub.reads).toBe(2);
        expect(world.reads).toBe(2);
    });

    it('exposes the transaction id, the timestamp (Long-like seconds, nanos kept), arguments and creator', () => {
        const stub = tx(new FakeWorldState(), {
            txId: 'id1',
            timestamp: { seconds: 1_767_225_601, nanos: 999_999_999 },
            args: ['orchestrator.info:QueryVersion', Uint8Array.of(1, 2)],
        });
        expect(stub.getTxID()).toBe('id1');
        expect(stub.getTxTimestamp().seconds.toNumber()).toBe(1_767_225_601);
        expect(stub.getTxTimestamp().nanos).toBe(999_999_999);
        expect(stub.getFunctionAndParameters().fcn).toBe('orchestrator.info:QueryVersion');
        expect([...stub.getBufferArgs()[1]!]).toEqual([1, 2]);
        expect(stub.getCreator().mspid).toBe('Org1MSP');
    });
});
