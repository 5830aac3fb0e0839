import { orchestrator } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { newTestLedger } from './support/ledger';
import { ORG1, ORG2 } from './support/fixtures';

describe('organization service (behavior-assets §2)', () => {
    it('§2.1 rules 3, 5 / §1.1 rule 3 / §1.3: RegisterOrganization registers the requester itself, with the transaction time as creation date', async () => {
        const ledger = newTestLedger();
        const res = await ledger.invoke(
            ORG1,
            (s) => s.organizations.registerOrganization({ address: 'https://org1.example' }),
            {
                timestamp: { seconds: 1_800_000_000, nanos: 987_654_321 },
            },
        );
        expect(res.result.id).toBe(ORG1);
        expect(res.result.address).toBe('https://org1.example');
        expect(res.result.creation_date).toEqual({ seconds: 1_800_000_000, nanos: 987_654_321 });
        const stored = await ledger.evaluate(ORG2, (s) => s.organizations.getOrganization(ORG1));
        expect(stored.result?.toJSON()).toEqual(res.result.toJSON());
    });

    it('§2.1 rule 4 / §13.3: RegisterOrganization emits one ORGANIZATION CREATED event keyed by the organization id', async () => {
        const ledger = newTestLedger();
        const res = await ledger.invoke(ORG1, (s) => s.organizations.registerOrganization({ address: '' }));
        expect(res.events).toHaveLength(1);
        const [event] = res.events;
        expect(event!.asset_kind).toBe(orchestrator.AssetKind.ASSET_ORGANIZATION);
        expect(event!.event_kind).toBe(orchestrator.EventKind.EVENT_ASSET_CREATED);
        expect(event!.asset_key).toBe(ORG1);
        expect(event!.id).toBe(`${res.txId}:0`);
        expect(event!.organization?.id).toBe(ORG1);
        expect(event!.timestamp).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
    });

    it('§2.1 rule 2 / api.md §8.4: RegisterOrganization twice fails with Conflict OE0006 and keeps the first address', async () => {
        const ledger = newTestLedger();
        await ledger.invoke(ORG1, (s) => s.organizations.registerOrganization({ address: 'https://first.example' }));
        await expect(
            ledger.invoke(ORG1, (s) => s.organizations.registerOrganization({ address: 'https://second.example' })),
        ).rejects.toThrow(`OE0006: organization with key "${ORG1}" already exists`);
        const stored = await ledger.evaluate(ORG1, (s) => s.organizations.mustGetOrganization(ORG1));
        expect(stored.result.address).toBe('https://first.example');
    });

    it('§2.1 rule 1 / §1.5 rule 4: RegisterOrganization with an invalid address fails with the raw validation error (no OE code) and writes nothing', async () => {
        const ledger = newTestLedger();
        await expect(
            ledger.invoke(ORG1, (s) => s.organizations.registerOrganization({ address: 'org-1.com' })),
        ).rejects.toThrow(/^address: must be a valid request URL\.$/);
        expect(ledger.world.size).toBe(0);
        expect(ledger.world.transactions).toHaveLength(0);
    });

    it('§2.2 / §1.8: GetAllOrganizations lists every organization ordered by id, and an empty list on an empty channel', async () => {
        const ledger = newTestLedger();
        expect(
            (await ledger.evaluate(ORG1, (s) => s.organizations.getAllOrganizations())).result.organizations,
        ).toEqual([]);
        for (const id of ['OrgC', 'OrgA', 'OrgB']) {
            await ledger.invoke(id, (s) => s.organizations.registerOrganization({ address: '' }));
        }
        const all = await ledger.evaluate(ORG1, (s) => s.organizations.getAllOrganizations());
        expect(all.result.organizations.map((o) => o.id)).toEqual(['OrgA', 'OrgB', 'OrgC']);
    });

    it('§2.3 / §1.2 rule 2: getOrganization sees an organization registered earlier in the same transaction; mustGetOrganization fails with NotFound OE0002', async () => {
        const ledger = newTestLedger();
        const res = await ledger.invoke(ORG1, async (s) => {
            const before = await s.organizations.exists(ORG1);
            await s.organizations.registerOrganization({ address: '' });
            return { before, after: await s.organizations.exists(ORG1) };
        });
        expect(res.result).toEqual({ before: false, after: true });
        await expect(ledger.evaluate(ORG1, (s) => s.organizations.mustGetOrganization('Unknown'))).rejects.toThrow(
            'OE0002: organization with key "Unknown" not found',
        );
        expect((await ledger.evaluate(ORG1, (s) => s.organizations.getOrganization(''))).result).toBeUndefined();
    });

    it('§2 / §1.10: RegisterOrganization and GetAllOrganizations work end to end through the contract', async () => {
        const ledger = newTestLedger();
        const org = await ledger.rpc<orchestrator.Organization>(ORG2, 'RegisterOrganization', {
            address: 'http://org2.example:8000',
        });
        expect(org.id).toBe(ORG2);
        const all = await ledger.rpc<orchestrator.GetAllOrganizationsResponse>(ORG1, 'GetAllOrganizations');
        expect(all.organizations.map((o) => o.address)).toEqual(['http://org2.example:8000']);
        await expect(ledger.rpc(ORG2, 'RegisterOrganization', { address: '' })).rejects.toThrow(/^OE0006: /);
    });
});
