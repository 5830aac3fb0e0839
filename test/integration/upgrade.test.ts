// Chaincode upgrade with the data kept, on a network of its own: assets of every kind are registered and a page token
// and a subscriber are taken, then the chaincode is upgraded (new ccaas packages, new version, sequence + 1, the
// chaincode processes switched over: test/network/src/upgrade.ts) while a steady write load runs. After it, every
// asset and listing reads the same, the page token continues, the subscriber resuming from its last event id sees
// no gap and no duplicate, and every write acknowledged during the switch is on the ledger.

import { createHash, randomUUID } from 'node:crypto';
import { orchestrator } from '@substra-fabric/api';
import { type ChaincodeUpgrade, upgradeChaincodes } from '@substra-fabric/network';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrgClient, closeClients, grpc } from './support/client';
import { ResumingSubscriber, allEventIds } from './support/events';
import { type LocalNetwork, startLocalNetwork } from './support/network';

const { AssetKind } = orchestrator;
const ORG1 = 'MyOrg1MSP';
const ORG2 = 'MyOrg2MSP';
const CHANNEL = 'mychannel';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const key = (): string => randomUUID();
const checksum = (s: string): string => createHash('sha256').update(s).digest('hex');
const addressable = (name: string) => ({ checksum: checksum(name), storage_address: `http://backend-org.com/${name}` });
const everyone = { public: true, authorized_ids: [] };
const both = { public: false, authorized_ids: [ORG1, ORG2] };

let local: LocalNetwork;
let o1: OrgClient;
let o2: OrgClient;

beforeAll(async () => {
    local = await startLocalNetwork({
        prefix: 'substra-it-upgrade-',
        channels: [{ name: CHANNEL, chaincode: 'mycc' }],
    });
    o1 = new OrgClient(local.address, ORG1, CHANNEL);
    o2 = new OrgClient(local.address, ORG2, CHANNEL);
});

afterAll(async () => {
    closeClients();
    await local.stop();
});

/** Every item of a paged listing. */
async function listAll(
    client: OrgClient,
    rpc: `${string}Service/${string}`,
    field: string,
    request: object = {},
): Promise<unknown[]> {
    const items: unknown[] = [];
    let token = '';
    do {
        const page = await client.call<Record<string, unknown>>(rpc, { ...request, page_token: token, page_size: 50 });
        items.push(...((page[field] as unknown[] | undefined) ?? []));
        token = (page.next_page_token as string | undefined) ?? '';
    } while (token);
    return items;
}

describe('chaincode upgrade with the data kept', () => {
    it('assets, listings, page tokens, event resumption and acknowledged writes survive the switch', async () => {
        // --- assets of every kind ---
        const K = {
            fn: key(),
            dm: key(),
            samples: [key(), key(), key(), key(), key()],
            plan: key(),
            tasks: [key(), key()],
        };
        await o1.call('OrganizationService/RegisterOrganization', { address: 'http://org-1.com' });
        await o2.call('OrganizationService/RegisterOrganization', { address: 'http://org-2.com' });
        await o1.call('FunctionService/RegisterFunction', {
            key: K.fn,
            name: 'train function',
            description: addressable('train/description.md'),
            archive: addressable('train/archive.tar.gz'),
            new_permissions: everyone,
            metadata: { framework: 'torch' },
            inputs: {
                datasamples: { kind: AssetKind.ASSET_DATA_SAMPLE, multiple: true, optional: false },
                opener: { kind: AssetKind.ASSET_DATA_MANAGER, multiple: false, optional: false },
                models: { kind: AssetKind.ASSET_MODEL, multiple: true, optional: true },
            },
            outputs: { model: { kind: AssetKind.ASSET_MODEL, multiple: false } },
        });
        await o2.call('DataManagerService/RegisterDataManager', {
            key: K.dm,
            name: 'dm of org2',
            new_permissions: everyone,
            description: addressable('dm/description.md'),
            opener: addressable('dm/opener.py'),
            logs_permission: { public: false, authorized_ids: [ORG1] },
        });
        await o2.call('DataSampleService/RegisterDataSamples', {
            samples: K.samples.map((k, i) => ({ key: k, data_manager_keys: [K.dm], checksum: checksum(`s${i}`) })),
        });
        await o1.call('ComputePlanService/RegisterPlan', { key: K.plan, name: 'plan before the upgrade' });
        await o1.call('ComputeTaskService/RegisterTasks', {
            tasks: K.tasks.map((k, i) => ({
                key: k,
                function_key: K.fn,
                compute_plan_key: K.plan,
                inputs: [
                    { identifier: 'datasamples', asset_key: K.samples[i] },
                    { identifier: 'opener', asset_key: K.dm },
                ],
                outputs: { model: { permissions: both, transient: false } },
            })),
        });

        const reads = async () => ({
            organizations: await o1.call('OrganizationService/GetAllOrganizations', {}),
            function: await o1.call('FunctionService/GetFunction', { key: K.fn }),
            dataManager: await o1.call('DataManagerService/GetDataManager', { key: K.dm }),
            samples: await Promise.all(K.samples.map((k) => o1.call('DataSampleService/GetDataSample', { key: k }))),
            plan: await o1.call('ComputePlanService/GetPlan', { key: K.plan }),
            tasks: await Promise.all(K.tasks.map((k) => o2.call('ComputeTaskService/GetTask', { key: k }))),
            dataset: await o1.call('DatasetService/GetDataset', { key: K.dm }),
            functions: await listAll(o1, 'FunctionService/QueryFunctions', 'Functions'),
            dataManagers: await listAll(o1, 'DataManagerService/QueryDataManagers', 'data_managers'),
            dataSamples: await listAll(o1, 'DataSampleService/QueryDataSamples', 'data_samples'),
            planTasks: await listAll(o1, 'ComputeTaskService/QueryTasks', 'tasks', {
                filter: { compute_plan_key: K.plan },
            }),
        });
        const before = await reads();
        expect(before.dataSamples).toHaveLength(K.samples.length);
        // a page token of the samples listing (no write of the load touches samples)
        const firstPage = await o1.call<orchestrator.IQueryDataSamplesResponse>('DataSampleService/QueryDataSamples', {
            page_size: 2,
        });
        const token = firstPage.next_page_token ?? '';
        expect(token).not.toBe('');

        // --- a subscriber, then the load, then the upgrade ---
        const subscriber = new ResumingSubscriber(o2);
        const acknowledged: { key: string; sentAt: number; at: number }[] = [];
        const failures: { code: number; details: string }[] = [];
        let running = true;
        const loops = Array.from({ length: 4 }, async (_, w) => {
            while (running) {
                const k = key();
                const sentAt = Date.now();
                try {
                    await o1.call('ComputePlanService/RegisterPlan', { key: k, name: `load ${String(w)}` });
                    acknowledged.push({ key: k, sentAt, at: Date.now() });
                } catch (err) {
                    const e = err as grpc.ServiceError;
                    failures.push({ code: e.code, details: e.details });
                    await sleep(200);
                }
                await sleep(20);
            }
        });
        await sleep(2000);
        // the subscriber goes away during the switch and comes back from its last event id
        subscriber.pause();
        const pausedAt = subscriber.ids.length;
        const lines: string[] = [];
        const t0 = Date.now();
        const upgrades: ChaincodeUpgrade[] = await upgradeChaincodes(local.network, {
            log: (l) => lines.push(l.replace(/^\[upgrade\] /, '')),
        });
        const upgradeMs = Date.now() - t0;
        subscriber.resume();
        await sleep(3000);
        running = false;
        await Promise.all(loops);

        const u = upgrades[0];
        expect(u).toMatchObject({ channel: CHANNEL, chaincode: 'mycc', fromVersion: '1.0', version: '2.0' });
        expect(u?.sequence).toBe((u?.fromSequence ?? 0) + 1);
        // the new processes run, the old ones are down
        for (const p of u?.packages ?? []) expect(local.network.process(p.process)?.pid).toBeDefined();
        for (const m of [ORG1, ORG2]) expect(local.network.process(`mycc/${m}`)?.pid).toBeUndefined();
        const committedAt = u?.committedAt ?? 0;
        const firstAfter = acknowledged.find((a) => a.sentAt > committedAt);
        expect(firstAfter, 'a write sent after the commit was acknowledged').toBeDefined();

        // --- everything reads the same ---
        const after = await reads();
        expect(after).toEqual(before);
        const rest = await o1.call<orchestrator.IQueryDataSamplesResponse>('DataSampleService/QueryDataSamples', {
            page_size: 50,
            page_token: token,
        });
        expect([...(firstPage.data_samples ?? []), ...(rest.data_samples ?? [])]).toEqual(before.dataSamples);

        // --- every acknowledged write is on the ledger ---
        const found: boolean[] = [];
        for (let i = 0; i < acknowledged.length; i += 20) {
            found.push(
                ...(await Promise.all(
                    acknowledged.slice(i, i + 20).map((a) =>
                        o1.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: a.key }).then(
                            (plan) => plan.key === a.key,
                            () => false,
                        ),
                    ),
                )),
            );
        }
        // --- the subscriber: no gap, no duplicate ---
        const expected = await allEventIds(o1);
        const deadline = Date.now() + 30_000;
        while (expected.some((id) => !subscriber.has(id)) && Date.now() < deadline) await sleep(200);
        subscriber.pause();
        const missing = expected.filter((id) => !subscriber.has(id));

        console.log(
            `[upgrade] ${lines.join('\n[upgrade] ')}\n` +
                `[upgrade] mycc ${u?.fromVersion ?? ''}/${String(u?.fromSequence)} → ${u?.version ?? ''}/${String(u?.sequence)}: ` +
                `switch-over (commit → first endorsement by the new processes on both peers) ${String(u?.switchMs)} ms; ` +
                `first load write sent after the commit acknowledged ${String((firstAfter?.at ?? 0) - committedAt)} ms after it; ` +
                `whole upgrade ${String(upgradeMs)} ms; writes acknowledged ${String(acknowledged.length)}, ` +
                `on the ledger ${String(found.filter(Boolean).length)}, failed calls ${String(failures.length)}; ` +
                `events ${String(expected.length)}, subscriber received ${String(subscriber.ids.length)} ` +
                `(${String(pausedAt)} before the pause), duplicates ${String(subscriber.duplicates)}, missing ${String(missing.length)}`,
        );
        expect(acknowledged.length).toBeGreaterThan(20);
        expect(found.every(Boolean)).toBe(true);
        expect(subscriber.duplicates).toBe(0);
        expect(missing).toEqual([]);
        expect(subscriber.ids.filter((id) => !expected.includes(id))).toEqual([]);
        for (const f of failures) {
            expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED], f.details).toContain(f.code);
        }
    });
});
