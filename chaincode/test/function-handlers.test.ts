import { beforeEach, describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import type { TestLedger } from './support/ledger';
import { CHECKSUM, KEY1, KEY2, ORG1, ORG2, addressable, newFunction, newOrgsLedger } from './support/fixtures';

let ledger: TestLedger;

beforeEach(async () => {
    ledger = await newOrgsLedger(ORG1, ORG2);
});

describe('FunctionService handlers (api.md §2.5)', () => {
    it('§4.1 / api.md: RegisterFunction answers the Function; GetFunction reads it back', async () => {
        const func = await ledger.rpc<orchestrator.Function>(ORG1, 'RegisterFunction', newFunction(KEY1));
        expect(func.key).toBe(KEY1);
        expect(func.status).toBe(orchestrator.FunctionStatus.FUNCTION_STATUS_WAITING);
        expect(func.image).toBeTruthy();
        const read = await ledger.rpc<orchestrator.Function>(ORG2, 'GetFunction', { key: KEY1 });
        expect(read.owner).toBe(ORG1);
        expect(read.image).toBeTruthy();
    });

    it('§4.1 / §4.4 / §4.7: UpdateFunction and ApplyFunctionAction answer empty responses; QueryFunctions pages', async () => {
        await ledger.rpc(ORG1, 'RegisterFunction', newFunction(KEY1));
        await ledger.rpc(ORG1, 'RegisterFunction', newFunction(KEY2));
        const action = await ledger.rpc(ORG1, 'ApplyFunctionAction', {
            function_key: KEY1,
            action: orchestrator.FunctionAction.FUNCTION_ACTION_BUILDING,
        });
        expect(
            orchestrator.ApplyFunctionActionResponse.toObject(action as orchestrator.ApplyFunctionActionResponse),
        ).toEqual({});
        const update = await ledger.rpc(ORG1, 'UpdateFunction', {
            key: KEY1,
            name: 'built',
            image: addressable('http://registry/image', CHECKSUM),
        });
        expect(orchestrator.UpdateFunctionResponse.toObject(update as orchestrator.UpdateFunctionResponse)).toEqual({});
        const page = await ledger.rpc<orchestrator.QueryFunctionsResponse>(ORG2, 'QueryFunctions', { page_size: 1 });
        expect(page.Functions.map((f) => f.key)).toEqual([KEY1]);
        expect(page.Functions[0]?.name).toBe('built');
        expect(page.next_page_token).not.toBe('');
    });

    it('§1.6 / §4.7 rule 5: errors cross the contract with their text (OE code, or none for transitions)', async () => {
        await expect(ledger.rpc(ORG1, 'GetFunction', { key: KEY1 })).rejects.toThrow(
            `OE0002: function with key "${KEY1}" not found`,
        );
        await ledger.rpc(ORG1, 'RegisterFunction', newFunction(KEY1));
        await expect(
            ledger.rpc(ORG1, 'ApplyFunctionAction', {
                function_key: KEY1,
                action: orchestrator.FunctionAction.FUNCTION_ACTION_READY,
            }),
        ).rejects.toThrow('event transitionReady inappropriate in current state FUNCTION_STATUS_WAITING');
    });
});
