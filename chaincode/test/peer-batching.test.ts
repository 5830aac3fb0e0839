import { peer } from '@hyperledger/fabric-protos';
import { describe, expect, it } from 'vitest';
import { getStatesBatched, readOffer, sendWriteBatches } from '../src/ledger/peer-batching';

interface SentMessage {
    getType(): number;
    getPayload_asU8(): Uint8Array;
    getTxid(): string;
    getChannelId(): string;
}

/** A peer connection that records what it is asked and answers reads from `state`. */
function fakeConnection(state: Map<string, Uint8Array> = new Map()) {
    const sent: { method: string; message: SentMessage }[] = [];
    return {
        sent,
        _askPeerAndListen(message: SentMessage, method: string): Promise<unknown> {
            sent.push({ method, message });
            if (message.getType() === peer.ChaincodeMessage.Type.GET_STATE_MULTIPLE) {
                const keys = peer.GetStateMultiple.deserializeBinary(message.getPayload_asU8()).getKeysList();
                const result = new peer.GetStateMultipleResult();
                if (keys.some((k) => state.has(k))) {
                    result.setValuesList(keys.map((k) => state.get(k) ?? new Uint8Array(0)));
                }
                return Promise.resolve(Buffer.from(result.serializeBinary()));
            }
            return Promise.resolve(Buffer.alloc(0));
        },
    };
}

describe('peer batching (Fabric 3.1 WRITE_BATCH_STATE / GET_STATE_MULTIPLE)', () => {
    it('reads what the READY payload offers; a 2.5 peer (no payload) offers nothing', () => {
        expect(readOffer(new Uint8Array(0))).toEqual({ maxWriteBatch: 0, maxGetMultiple: 0 });
        const params = new peer.ChaincodeAdditionalParams();
        params.setUseWriteBatch(true);
        params.setMaxSizeWriteBatch(3);
        params.setUseGetMultipleKeys(false);
        params.setMaxSizeGetMultipleKeys(500);
        expect(readOffer(params.serializeBinary())).toEqual({ maxWriteBatch: 3, maxGetMultiple: 0 });
        params.setMaxSizeWriteBatch(0);
        params.setUseGetMultipleKeys(true);
        expect(readOffer(params.serializeBinary())).toEqual({ maxWriteBatch: 1000, maxGetMultiple: 500 });
    });

    it('sends the writes in order, in messages of at most the offered size, deletes as DEL_STATE', async () => {
        const connection = fakeConnection();
        const writes = [
            { key: 'a', value: Buffer.from('1') },
            { key: 'b', value: null },
            { key: 'c', value: Buffer.from('3') },
            { key: 'd', value: Buffer.from('4') },
            { key: 'e', value: Buffer.from('5') },
        ];
        await sendWriteBatches(connection, { maxWriteBatch: 2, maxGetMultiple: 0 }, 'ch', 'tx1', writes);
        expect(connection.sent.map((s) => s.method)).toEqual(['WriteBatchState', 'WriteBatchState', 'WriteBatchState']);
        const records = connection.sent.flatMap(({ message }) => {
            expect(message.getType()).toBe(peer.ChaincodeMessage.Type.WRITE_BATCH_STATE);
            expect(message.getTxid()).toBe('tx1');
            expect(message.getChannelId()).toBe('ch');
            return peer.WriteBatchState.deserializeBinary(message.getPayload_asU8()).getRecList();
        });
        expect(records.map((r) => [r.getKey(), r.getType(), Buffer.from(r.getValue_asU8()).toString()])).toEqual([
            ['a', peer.WriteRecord.Type.PUT_STATE, '1'],
            ['b', peer.WriteRecord.Type.DEL_STATE, ''],
            ['c', peer.WriteRecord.Type.PUT_STATE, '3'],
            ['d', peer.WriteRecord.Type.PUT_STATE, '4'],
            ['e', peer.WriteRecord.Type.PUT_STATE, '5'],
        ]);
    });

    it('reads keys in chunks, in request order, absent keys as empty values', async () => {
        const state = new Map([
            ['k1', Buffer.from('v1')],
            ['k4', Buffer.from('v4')],
        ]);
        const connection = fakeConnection(state);
        const offer = { maxWriteBatch: 0, maxGetMultiple: 2 };
        const values = await getStatesBatched(connection, offer, 'ch', 'tx2', ['k1', 'k2', 'k3', 'k4', 'k5']);
        expect(values.map((v) => Buffer.from(v).toString())).toEqual(['v1', '', '', 'v4', '']);
        // 3 messages: [k1 k2] [k3 k4] [k5]; the middle chunk's absent k3 and the last chunk (no value at all)
        expect(connection.sent).toHaveLength(3);
        expect(
            connection.sent.map(({ message }) =>
                peer.GetStateMultiple.deserializeBinary(message.getPayload_asU8()).getKeysList(),
            ),
        ).toEqual([['k1', 'k2'], ['k3', 'k4'], ['k5']]);
    });
});
