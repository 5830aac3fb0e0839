import { beforeEach, describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import type { TestLedger } from './support/ledger';
import { CHECKSUM, KEY1, KEY2, ORG1, ORG2, newDataManager, key, newOrgsLedger } from './support/fixtures';

const SAMPLE = key(0xa0000000, 1);

let ledger: TestLedger;

beforeEach(async () => {
    ledger = await newOrgsLedger(ORG1, ORG2);
});

describe('DataManagerService, DataSampleService and DatasetService handlers (api.md §2.2-§2.4)', () => {
    it('§5 / api.md §2.3: Register, Get, Query and Update data managers through the contract', async () => {
        const manager = await ledger.rpc<orchestrator.DataManager>(ORG1, 'RegisterDataManager', newDataManager(KEY1));
        expect(manager.key).toBe(KEY1);
        expect((await ledger.rpc<orchestrator.DataManager>(ORG2, 'GetDataManager', { key: KEY1 })).owner).toBe(ORG1);
        const update = await ledger.rpc(ORG1, 'UpdateDataManager', { key: KEY1, name: 'renamed' });
        expect(
            orchestrator.UpdateDataManagerResponse.toObject(update as orchestrator.UpdateDataManagerResponse),
        ).toEqual({});
        const page = await ledger.rpc<orchestrator.QueryDataManagersResponse>(ORG2, 'QueryDataManagers', {});
        expect(page.data_managers.map((m) => m.name)).toEqual(['renamed']);
        expect(page.next_page_token).toBe('');
    });

    it('§6 / §7 / api.md §2.2, §2.4: RegisterDataSamples answers the samples; Update, Get, Query and GetDataset', async () => {
        await ledger.rpc(ORG1, 'RegisterDataManager', newDataManager(KEY1));
        await ledger.rpc(ORG1, 'RegisterDataManager', newDataManager(KEY2));
        const registered = await ledger.rpc<orchestrator.RegisterDataSamplesResponse>(ORG1, 'RegisterDataSamples', {
            samples: [{ key: SAMPLE, data_manager_keys: [KEY1], checksum: CHECKSUM }],
        });
        expect(registered.data_samples.map((d) => d.key)).toEqual([SAMPLE]);
        const update = await ledger.rpc(ORG1, 'UpdateDataSamples', { keys: [SAMPLE], data_manager_keys: [KEY2] });
        expect(
            orchestrator.UpdateDataSamplesResponse.toObject(update as orchestrator.UpdateDataSamplesResponse),
        ).toEqual({});
        const sample = await ledger.rpc<orchestrator.DataSample>(ORG2, 'GetDataSample', { key: SAMPLE });
        expect(sample.data_manager_keys).toEqual([KEY1, KEY2]);
        const page = await ledger.rpc<orchestrator.QueryDataSamplesResponse>(ORG2, 'QueryDataSamples', {
            filter: { keys: [SAMPLE] },
        });
        expect(page.data_samples.map((d) => d.key)).toEqual([SAMPLE]);
        const dataset = await ledger.rpc<orchestrator.Dataset>(ORG2, 'GetDataset', { key: KEY2 });
        expect(dataset.data_manager?.key).toBe(KEY2);
        expect(dataset.data_sample_keys).toEqual([SAMPLE]);
    });

    it('§1.6: an unknown data sample crosses the contract as NotFound(OE0002)', async () => {
        await expect(ledger.rpc(ORG1, 'GetDataSample', { key: SAMPLE })).rejects.toThrow(
            `OE0002: datasample with key "${SAMPLE}" not found`,
        );
        await expect(ledger.rpc(ORG1, 'GetDataset', { key: '' })).rejects.toThrow(
            'OE0002: datamanager with key "" not found',
        );
    });
});
