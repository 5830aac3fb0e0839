/**
 * Datasets (behavior-assets §7): a read-only view assembled on request, never stored.
 *
 * Ledger keys: none of its own. It reads the data manager (`compositeKey('datamanager', [key])`) and the
 * manager index of the data samples (`idx~datasample~manager`, see datasample.ts), which already lists the
 * sample keys by sample creation date then key.
 */
import { orchestrator } from '@substra-fabric/api';
import { Service } from './service';

export class DatasetService extends Service {
    /** GetDataset (§7): the manager (NotFound `datamanager`) and the keys of every sample linked to it. */
    async getDataset(key: string): Promise<orchestrator.Dataset> {
        const manager = await this.services.dataManagers.getDataManager(key);
        const sampleKeys = await this.services.dataSamples.sampleKeysOfManager(key);
        return orchestrator.Dataset.create({ data_manager: manager, data_sample_keys: sampleKeys });
    }
}
