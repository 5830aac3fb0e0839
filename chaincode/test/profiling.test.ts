import { beforeEach, describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import { newTestLedger, type TestLedger } from './support/ledger';
import { KEY1, ORG3, expectRejected } from './support/fixtures';
import { complete } from './support/messages';

let ledger: TestLedger;

beforeEach(() => {
    ledger = newTestLedger();
});

describe('RegisterProfilingStep (behavior-assets §11)', () => {
    it('§11 rules 2-3: no existence or owner check; nothing stored; one PROFILING_STEP CREATED event with the step', async () => {
        const step = { asset_key: KEY1, step: 'build_image', duration: 1234 };
        const res = await ledger.invoke(ORG3, (s) =>
            s.profiling.registerProfilingStep(complete(orchestrator.ProfilingStep, step)),
        );
        expect(res.writes).toEqual([]);
        expect(res.events).toHaveLength(1);
        const event = res.events[0]!;
        expect(event.asset_kind).toBe(orchestrator.AssetKind.ASSET_PROFILING_STEP);
        expect(event.event_kind).toBe(orchestrator.EventKind.EVENT_ASSET_CREATED);
        expect(event.asset_key).toBe(KEY1);
        expect(event.profiling_step).toEqual(orchestrator.ProfilingStep.create(step));
        expect(event.metadata).toEqual({});
    });

    it('§11 rule 1: asset_key required and uuid, step a name, duration non-zero → InvalidAsset(OE0101)', async () => {
        await expectRejected(
            ledger,
            ORG3,
            (s) => s.profiling.registerProfilingStep(complete(orchestrator.ProfilingStep, {})),
            'OE0101: profiling_step is not valid: asset_key: cannot be blank; duration: cannot be blank; step: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG3,
            (s) =>
                s.profiling.registerProfilingStep(
                    complete(orchestrator.ProfilingStep, { asset_key: 'X', step: 's'.repeat(101), duration: 1 }),
                ),
            'OE0101: profiling_step is not valid: asset_key: must be a valid UUID; step: the length must be between 1 and 100.',
        );
    });

    it('§11 rule 4 / api.md §2.11: the RPC answers google.protobuf.Empty and emits the event', async () => {
        const res = await ledger.submit(
            ORG3,
            'orchestrator.profiling:RegisterProfilingStep',
            orchestrator.ProfilingStep.encode({ asset_key: KEY1, step: 'x', duration: 5 }).finish(),
        );
        expect(res.status).toBe(200);
        expect(res.payload).toHaveLength(0);
        expect(res.events.map((e) => e.profiling_step?.duration)).toEqual([5]);
    });
});
