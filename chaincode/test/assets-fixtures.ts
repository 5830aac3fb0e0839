/**
 * Request builders and assertions shared by the tests of functions, data managers, data samples, datasets,
 * permissions and profiling.
 */
import { expect } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import type { TestLedger } from './support/ledger';
import type { Services } from '../src/service/provider';
import type { TxContext } from '../src/service/context';

export const ORG1 = 'MyOrg1MSP';
export const ORG2 = 'MyOrg2MSP';
export const ORG3 = 'MyOrg3MSP';

export const CHECKSUM = 'f'.repeat(64);
export const ADDRESS = 'http://backend-org-1.com:8000/api/file/';

export const KEY1 = '11111111-1111-4111-8111-111111111111';
export const KEY2 = '22222222-2222-4222-8222-222222222222';
export const KEY3 = '33333333-3333-4333-8333-333333333333';
export const KEY4 = '44444444-4444-4444-8444-444444444444';
export const KEY5 = '55555555-5555-4555-8555-555555555555';

export function addressable(storage = ADDRESS, checksum = CHECKSUM): orchestrator.IAddressable {
    return { checksum, storage_address: storage };
}

export function newFunction(key: string, overrides: orchestrator.INewFunction = {}): orchestrator.INewFunction {
    return {
        key,
        name: 'my function',
        description: addressable(),
        archive: addressable(),
        new_permissions: { public: false, authorized_ids: [] },
        metadata: { a: 'b' },
        inputs: {
            model: { kind: orchestrator.AssetKind.ASSET_MODEL, multiple: true, optional: true },
        },
        outputs: {
            model: { kind: orchestrator.AssetKind.ASSET_MODEL },
        },
        ...overrides,
    };
}

export function newDataManager(
    key: string,
    overrides: orchestrator.INewDataManager = {},
): orchestrator.INewDataManager {
    return {
        key,
        name: 'my manager',
        new_permissions: { public: true, authorized_ids: [] },
        description: addressable(),
        opener: addressable(),
        type: 'ignored',
        logs_permission: { public: false, authorized_ids: [] },
        metadata: { m: 'v' },
        ...overrides,
    };
}

export async function registerOrganizations(ledger: TestLedger, ...orgs: string[]): Promise<void> {
    for (const org of orgs) {
        await ledger.invoke(org, (s) => s.organizations.registerOrganization({ address: '' }));
    }
}

/**
 * Runs `fn` as a submitted transaction that must fail with a message matching `pattern`, and checks that the
 * committed state did not change (behavior-assets §1.2 rule 1: nothing persisted, no event).
 */
export async function expectRejected(
    ledger: TestLedger,
    mspid: string,
    fn: (services: Services, ctx: TxContext) => Promise<unknown>,
    pattern: RegExp | string,
): Promise<void> {
    const before = ledger.world.keys();
    const committed = ledger.world.transactions.length;
    await expect(ledger.invoke(mspid, fn)).rejects.toThrow(pattern);
    expect(ledger.world.keys()).toEqual(before);
    expect(ledger.world.transactions.length).toBe(committed);
}
