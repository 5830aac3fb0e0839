/**
 * Datasets (behavior-assets §7): a read-only view assembled on request, never stored.
 *
 * Storage: none of its own, hence no repository. It reads the data manager and the keys of the samples linked to
 * it through their services (repository/datamanager.ts, repository/datasample.ts: the manager index of the
 * samples already lists them by sample creation date then key).
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
