import type { orchestrator } from '@substra-fabric/api';
import type { DeterminismFlow } from '../support/determinism';
import { DM1, DM2, ORG1, ORG2, key } from '../support/fixtures';
const CHECKSUM = 'B'.repeat(64);

function newDataManager(dmKey: string, logsPublic: boolean): orchestrator.INewDataManager {
    return {
        key: dmKey,
        name: `manager ${dmKey.slice(-1)}`,
        new_permissions: { public: false, authorized_ids: [ORG2] },
        description: { checksum: CHECKSUM, storage_address: 'https://org1.example/description' },
        opener: { checksum: CHECKSUM, storage_address: 'https://org1.example/opener' },
        type: 'ignored',
        logs_permission: { public: logsPublic, authorized_ids: logsPublic ? ['unchecked'] : [] },
        metadata: { b: '1', a: '2' },
    };
}

function sample(n: number, managers: string[]): orchestrator.INewDataSample {
    return {
        key: key(0xe, n),
        data_manager_keys: managers,
        checksum: CHECKSUM,
        test_only: true,
    };
}

/** Data managers, data samples (batches, updates, refused batches) and datasets. */
export const flow: DeterminismFlow = {
    name: 'data managers and samples',
    async run(ledger) {
        await ledger.rpc(ORG1, 'RegisterOrganization', { address: '' });
        await ledger.rpc(ORG2, 'RegisterOrganization', { address: '' });
        await ledger.rpc(ORG1, 'RegisterDataManager', newDataManager(DM2, true));
        await ledger.rpc(ORG1, 'RegisterDataManager', newDataManager(DM1, false));
        await ledger.rpc(ORG1, 'UpdateDataManager', { key: DM1, name: 'renamed' });
        // One batch, keys in non-sorted order, several managers (one repeated), and a sample with none.
        await ledger.rpc(ORG1, 'RegisterDataSamples', {
            samples: [sample(3, [DM2, DM1, DM2]), sample(1, [DM1]), sample(2, [])],
        });
        await ledger.rpc(ORG1, 'RegisterDataSamples', { samples: [sample(4, [DM1])] });
        await ledger.rpc(ORG1, 'RegisterDataSamples', { samples: [] });
        // Refused: a duplicate key inside a batch, a manager of another organization.
        await ledger
            .rpc(ORG1, 'RegisterDataSamples', { samples: [sample(5, [DM1]), sample(5, [DM1])] })
            .catch(() => undefined);
        await ledger.rpc(ORG2, 'RegisterDataSamples', { samples: [sample(6, [DM1])] }).catch(() => undefined);
        await ledger.rpc(ORG1, 'UpdateDataSamples', {
            keys: [sample(2, []).key, sample(1, []).key, sample(2, []).key],
            data_manager_keys: [DM2, DM1, DM2],
        });
        await ledger.rpc(ORG2, 'GetDataset', { key: DM1 });
        await ledger.rpc(ORG2, 'QueryDataSamples', { page_size: 2 });
        await ledger.rpc(ORG2, 'QueryDataSamples', { filter: { keys: [sample(4, []).key, sample(1, []).key] } });
        await ledger.rpc(ORG2, 'QueryDataManagers', {});
    },
};
