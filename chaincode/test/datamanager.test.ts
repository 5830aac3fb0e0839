import { beforeEach, describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import type { TestLedger } from './support/ledger';
import {
    E,
    K,
    KEY1,
    KEY2,
    KEY3,
    ORG1,
    ORG2,
    ORG3,
    addressable,
    expectRejected,
    newDataManager,
    newOrgsLedger,
} from './support/fixtures';
import { complete } from './support/messages';

let ledger: TestLedger;

beforeEach(async () => {
    ledger = await newOrgsLedger(ORG1, ORG2);
});

async function register(key: string, overrides: orchestrator.INewDataManager = {}, owner = ORG1) {
    return ledger.invoke(owner, (s) =>
        s.dataManagers.registerDataManager(complete(orchestrator.NewDataManager, newDataManager(key, overrides))),
    );
}

async function getManager(key: string): Promise<orchestrator.DataManager> {
    return (await ledger.evaluate(ORG1, (s) => s.dataManagers.getDataManager(key))).result;
}

describe('RegisterDataManager (behavior-assets §5.1)', () => {
    it('§5.1 rules 2, 5: builds, stores and returns the manager; type is neither stored nor returned', async () => {
        const res = await register(KEY1);
        const manager = res.result;
        expect(manager.key).toBe(KEY1);
        expect(manager.name).toBe('my manager');
        expect(manager.owner).toBe(ORG1);
        expect(manager.description).toEqual(addressable());
        expect(manager.opener).toEqual(addressable());
        expect(manager.metadata).toEqual({ m: 'v' });
        expect(manager.type).toBe('');
        expect(manager.creation_date).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
        const stored = await getManager(KEY1);
        expect(orchestrator.DataManager.toObject(stored)).toEqual(orchestrator.DataManager.toObject(manager));
    });

    it('§5.1 rule 5 / §13.3: emits one DATA_MANAGER CREATED event with the manager', async () => {
        const res = await register(KEY1);
        expect(res.events).toHaveLength(1);
        expect(res.events[0]!.asset_kind).toBe(K.ASSET_DATA_MANAGER);
        expect(res.events[0]!.event_kind).toBe(E.EVENT_ASSET_CREATED);
        expect(res.events[0]!.asset_key).toBe(KEY1);
        expect(res.events[0]!.data_manager?.key).toBe(KEY1);
        expect(res.events[0]!.metadata).toEqual({});
    });

    it('§5.1 rules 3-4: logs_permission = CreatePermission, permissions = CreatePermissions (owner appended)', async () => {
        const manager = (
            await register(KEY1, {
                logs_permission: { public: false, authorized_ids: [ORG2] },
                new_permissions: { public: true, authorized_ids: [ORG3] },
            })
        ).result;
        expect(manager.logs_permission).toEqual({ public: false, authorized_ids: [ORG2, ORG1] });
        expect(manager.permissions?.process).toEqual({ public: true, authorized_ids: [ORG3, ORG1] });
        expect(manager.permissions?.download).toEqual({ public: true, authorized_ids: [ORG3, ORG1] });
    });

    it('§5.1 rules 3-4: an unregistered id in either permission → BadRequest(OE0003), nothing written', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataManagers.registerDataManager(
                    complete(
                        orchestrator.NewDataManager,
                        newDataManager(KEY1, { logs_permission: { authorized_ids: [ORG3] } }),
                    ),
                ),
            'OE0003: invalid permission input values',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataManagers.registerDataManager(
                    complete(
                        orchestrator.NewDataManager,
                        newDataManager(KEY1, { new_permissions: { public: false, authorized_ids: [ORG3] } }),
                    ),
                ),
            'OE0003: invalid permission input values',
        );
    });

    it('§5.1 rule 1: existing key → Conflict(OE0006)', async () => {
        await register(KEY1);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.dataManagers.registerDataManager(complete(orchestrator.NewDataManager, newDataManager(KEY1))),
            `OE0006: datamanager with key "${KEY1}" already exists`,
        );
    });

    it('§5.1 validation: key, name, new_permissions, description, opener, logs_permission required → InvalidAsset(OE0101)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataManagers.registerDataManager(
                    complete(orchestrator.NewDataManager, { key: 'AAAAAAAA-1111-4111-8111-111111111111' }),
                ),
            'OE0101: datamanager is not valid: description: cannot be blank; key: must be a valid UUID; logs_permission: cannot be blank; name: cannot be blank; new_permissions: cannot be blank; opener: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataManagers.registerDataManager(
                    complete(
                        orchestrator.NewDataManager,
                        newDataManager('', { opener: addressable('test/storage/address') }),
                    ),
                ),
            'OE0101: datamanager is not valid: key: cannot be blank; opener: (storage_address: must be a valid URL.)',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataManagers.registerDataManager(
                    complete(
                        orchestrator.NewDataManager,
                        newDataManager(KEY1, { name: 'n'.repeat(101), metadata: { ['k'.repeat(101)]: '' } }),
                    ),
                ),
            /^OE0101: datamanager is not valid: metadata: .*; name: the length must be between 1 and 100\.$/,
        );
    });

    it('§5.1 validation: a present but empty permission message is accepted; type is ignored', async () => {
        const manager = (await register(KEY1, { new_permissions: {}, logs_permission: {}, type: '' })).result;
        expect(manager.logs_permission).toEqual({ public: false, authorized_ids: [ORG1] });
    });
});

describe('GetDataManager, QueryDataManagers (behavior-assets §5.2, §5.3, §1.8)', () => {
    it('§5.2: unknown key → NotFound(OE0002)', async () => {
        await expect(getManager(KEY1)).rejects.toThrow(`OE0002: datamanager with key "${KEY1}" not found`);
    });

    it('§5.3 / §1.8: creation date then key, paginated, "" after the last page', async () => {
        await ledger.invoke(ORG1, async (s) => {
            await s.dataManagers.registerDataManager(complete(orchestrator.NewDataManager, newDataManager(KEY3)));
            await s.dataManagers.registerDataManager(complete(orchestrator.NewDataManager, newDataManager(KEY2)));
        });
        await register(KEY1);
        const first = (
            await ledger.evaluate(ORG1, (s) =>
                s.dataManagers.queryDataManagers(complete(orchestrator.QueryDataManagersParam, { page_size: 2 })),
            )
        ).result;
        expect(first.data_managers.map((m) => m.key)).toEqual([KEY2, KEY3]);
        const second = (
            await ledger.evaluate(ORG2, (s) =>
                s.dataManagers.queryDataManagers(
                    complete(orchestrator.QueryDataManagersParam, { page_size: 2, page_token: first.next_page_token }),
                ),
            )
        ).result;
        expect(second.data_managers.map((m) => m.key)).toEqual([KEY1]);
        expect(second.next_page_token).toBe('');
        const all = (
            await ledger.evaluate(ORG1, (s) =>
                s.dataManagers.queryDataManagers(complete(orchestrator.QueryDataManagersParam, {})),
            )
        ).result;
        expect(all.data_managers).toHaveLength(3);
        expect(all.next_page_token).toBe('');
    });

    it('§1.8: a foreign page token is a plain error', async () => {
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.dataManagers.queryDataManagers(complete(orchestrator.QueryDataManagersParam, { page_token: 'AAAA' })),
            ),
        ).rejects.toThrow(/^invalid page token/);
    });
});

describe('UpdateDataManager (behavior-assets §5.4)', () => {
    beforeEach(async () => {
        await register(KEY1);
    });

    it('§5.4 rules 4-5: renames the manager only, emits UPDATED without metadata', async () => {
        const before = await getManager(KEY1);
        const res = await ledger.invoke(ORG1, (s) =>
            s.dataManagers.updateDataManager(
                complete(orchestrator.UpdateDataManagerParam, { key: KEY1, name: 'renamed' }),
            ),
        );
        expect(res.events).toHaveLength(1);
        expect(res.events[0]!.event_kind).toBe(E.EVENT_ASSET_UPDATED);
        expect(res.events[0]!.asset_kind).toBe(K.ASSET_DATA_MANAGER);
        expect(res.events[0]!.data_manager?.name).toBe('renamed');
        expect(res.events[0]!.metadata).toEqual({});
        const after = await getManager(KEY1);
        expect(orchestrator.DataManager.toObject(after)).toEqual({
            ...orchestrator.DataManager.toObject(before),
            name: 'renamed',
        });
    });

    it('§5.4 rule 1: key and name validated → InvalidAsset(OE0101)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataManagers.updateDataManager(complete(orchestrator.UpdateDataManagerParam, { key: 'x', name: '' })),
            'OE0101: datamanager is not valid: key: must be a valid UUID; name: cannot be blank.',
        );
    });

    it('§5.4 rule 2: unknown manager → NotFound(OE0002)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.dataManagers.updateDataManager(
                    complete(orchestrator.UpdateDataManagerParam, { key: KEY2, name: 'x' }),
                ),
            `OE0002: datamanager with key "${KEY2}" not found`,
        );
    });

    it('§5.4 rule 3: requester not the owner → PermissionDenied(OE0102)', async () => {
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.dataManagers.updateDataManager(
                    complete(orchestrator.UpdateDataManagerParam, { key: KEY1, name: 'x' }),
                ),
            'OE0102: requester does not own the data manager',
        );
    });
});

describe('Read helpers (behavior-assets §5.5, §6.1 step 2.2)', () => {
    it('§6.1 step 2.2: getOwnedDataManager answers NotFound, then PermissionDenied for another owner', async () => {
        await register(KEY1);
        await expect(ledger.evaluate(ORG1, (s) => s.dataManagers.getOwnedDataManager(KEY2))).rejects.toThrow(
            `OE0002: datamanager with key "${KEY2}" not found`,
        );
        await expect(ledger.evaluate(ORG2, (s) => s.dataManagers.getOwnedDataManager(KEY1))).rejects.toThrow(
            `OE0102: requester does not own the datamanager "${KEY1}"`,
        );
        expect((await ledger.evaluate(ORG1, (s) => s.dataManagers.getOwnedDataManager(KEY1))).result.key).toBe(KEY1);
    });

    it('§5.5 / §3.6: canProcess follows the process permission', async () => {
        await register(KEY1, { new_permissions: { public: false, authorized_ids: [ORG2] } });
        const manager = await getManager(KEY1);
        const s = (await ledger.evaluate(ORG1, (services) => services)).result;
        expect(s.dataManagers.canProcess(manager, ORG1)).toBe(true);
        expect(s.dataManagers.canProcess(manager, ORG2)).toBe(true);
        expect(s.dataManagers.canProcess(manager, ORG3)).toBe(false);
    });
});
