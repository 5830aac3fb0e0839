import { describe, expect, it } from 'vitest';
import { findRpc, newTestLedger } from './support/ledger';
import { messageClass } from '../src/contracts/codec';
import { ORG3, PLAN, key } from './support/fixtures';
import type { DeterminismFlow } from './support/determinism';
import { flow as dataFlow } from './flows/data.flow';
import { flow as failuresFlow } from './flows/failures.flow';
import { flow as functionsFlow } from './flows/functions.flow';
import { flow as outputsFlow } from './flows/outputs.flow';

const DM = key(0xd, 1);
const SAMPLE = key(0xe, 1);
const FUNCTION = key(0xf, 1);
const TASK = key(1, 1);
const MODEL = key(0xb, 1);

/** Every read-only RPC of behavior-assets §1.10 (events excepted: the gateway serves them), with a request. */
const READ_ONLY: readonly [string, object][] = [
    ['GetAllOrganizations', {}],
    ['GetFunction', { key: FUNCTION }],
    ['QueryFunctions', {}],
    ['QueryFunctions', { filter: { compute_plan_key: PLAN } }],
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
                const res = await ledger.submit(ORG3, `${rpc.contract}:${rpc.fn}`, arg);
                expect(res.writes, method).toEqual([]);
                expect(res.chaincodeEvent, method).toBeUndefined();
            }
        });
    }
});
