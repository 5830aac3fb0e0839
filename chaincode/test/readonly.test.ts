import { describe, expect, it } from 'vitest';
import { findRpc, newTestLedger } from './support/ledger';
import { messageClass } from '../src/contracts/codec';
import type { DeterminismFlow } from './support/determinism';
import { flow as dataFlow } from './flows/data.flow';
import { flow as failuresFlow } from './flows/failures.flow';
import { flow as functionsFlow } from './flows/functions.flow';
import { flow as outputsFlow } from './flows/outputs.flow';

const DM = '0000000d-0000-4000-8000-000000000001';
const SAMPLE = '0000000e-0000-4000-8000-000000000001';
const FUNCTION = '0000000f-0000-4000-8000-000000000001';
const TASK = '00000001-0000-4000-8000-000000000001';
const MODEL = '0000000b-0000-4000-8000-000000000001';

/** Every read-only RPC of behavior-assets §1.10 (events excepted: the gateway serves them), with a request. */
const READ_ONLY: readonly [string, object][] = [
    ['GetAllOrganizations', {}],
    ['GetFunction', { key: FUNCTION }],
    ['QueryFunctions', {}],
    ['QueryFunctions', { filter: { compute_plan_key: '0000000a-0000-4000-8000-000000000001' } }],
    ['GetDataManager', { key: DM }],
    ['QueryDataManagers', {}],
    ['GetDataSample', { key: SAMPLE }],
    ['QueryDataSamples', { filter: { keys: [SAMPLE] } }],
    ['QueryDataSamples', {}],
    ['GetDataset', { key: DM }],
    ['GetModel', { key: MODEL }],
    ['GetComputeTaskOutputModels', { compute_task_key: TASK }],
    ['QueryPerformances', {}],
    ['QueryPerformances', { filter: { compute_task_key: TASK } }],
    ['GetFailureReport', { asset_key: FUNCTION }],
    ['QueryVersion', {}],
];

describe('read-only RPCs (behavior-assets §1.2 rule 4, §1.10)', () => {
    for (const flow of [functionsFlow, dataFlow, outputsFlow, failuresFlow] as DeterminismFlow[]) {
        it(`§1.2 rule 4: after the "${flow.name}" flow, every read-only RPC is marked evaluate, writes nothing and emits nothing`, async () => {
            const ledger = newTestLedger();
            await flow.run(ledger);
            for (const [method, request] of READ_ONLY) {
                const rpc = findRpc(method);
                expect(rpc.readOnly, method).toBe(true);
                const arg = messageClass(rpc.requestType).encode(request).finish();
                const res = await ledger.submit('MyOrg3MSP', `${rpc.contract}:${rpc.fn}`, arg);
                expect(res.writes, method).toEqual([]);
                expect(res.chaincodeEvent, method).toBeUndefined();
            }
        });
    }
});
