import { decodeEventBatch, orchestrator } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../src/service/events';

const TX = 'f'.repeat(64);
const TIME = { seconds: 1_800_000_000, nanos: 5 };

describe('event emission (behavior-assets §13.2)', () => {
    it('§13.2 rules 2-3 / §1.2 rule 5: id <txid>:<n> and the tx time replace caller values; channel is left empty', () => {
        const queue = new EventQueue(TX, TIME);
        queue.emit({
            id: 'caller-id',
            timestamp: { seconds: 1, nanos: 1 },
            channel: 'somechannel',
            asset_key: 'k',
            asset_kind: orchestrator.AssetKind.ASSET_ORGANIZATION,
            event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
        });
        const [event] = queue.events;
        expect(event!.id).toBe(`${TX}:0`);
        expect(event!.timestamp).toEqual(TIME);
        expect(event!.channel).toBe('');
    });

    it('§13.2 rule 4 / §1.2 rule 3: events keep their emission order, with consecutive indexes, in one batch', () => {
        const queue = new EventQueue(TX, TIME);
        for (const key of ['b', 'a', 'c']) {
            queue.emit({ asset_key: key, asset_kind: orchestrator.AssetKind.ASSET_DATA_SAMPLE });
        }
        const decoded = decodeEventBatch(queue.encode()!);
        expect(decoded.map((e) => [e.id, e.asset_key])).toEqual([
            [`${TX}:0`, 'b'],
            [`${TX}:1`, 'a'],
            [`${TX}:2`, 'c'],
        ]);
    });

    it('§13.2 rule 6: metadata is carried only when given (empty otherwise)', () => {
        const queue = new EventQueue(TX, TIME);
        queue.emit({ asset_key: 'a' });
        queue.emit({ asset_key: 'b', metadata: { reason: 'User action' } });
        expect(queue.events.map((e) => e.metadata)).toEqual([{}, { reason: 'User action' }]);
    });

    it('§1.2 rule 1: no payload when nothing was emitted', () => {
        expect(new EventQueue(TX, TIME).encode()).toBeUndefined();
    });
});
