/**
 * Data samples (behavior-assets §6). Storage: repository/datasample.ts.
 */
import { orchestrator } from '@substra-fabric/api';
import { DATA_SAMPLE_KIND, DataSampleRepository } from '../repository/datasample';
import { ErrorCode, OrchestrationError, conflict, notFound, permissionDenied } from './errors';
import type { Complete } from './messages';
import { Service } from './service';
import { Failures, each, hex, length, required, uuid } from './validation';

export { DATA_SAMPLE_INDEX, DATA_SAMPLE_KIND, DATA_SAMPLE_MANAGER_INDEX } from '../repository/datasample';

export class DataSampleService extends Service {
    readonly #repository = new DataSampleRepository(this.ctx.store);

    /** RegisterDataSamples (§6.1): all or nothing, checked and built in request order. */
    async registerDataSamples(
        param: Complete<orchestrator.IRegisterDataSamplesParam>,
    ): Promise<orchestrator.DataSample[]> {
        // Stored bytes of each sample: the events and the response each decode their own copy.
        const registered: Uint8Array[] = [];
        for (const input of param.samples) {
            new Failures()
                .field('key', input.key, required, uuid)
                .field('data_manager_keys', input.data_manager_keys, each(uuid))
                .field('checksum', input.checksum, required, length(64, 64), hex)
                .throwIfAny(DATA_SAMPLE_KIND);
            const managerKeys = [...input.data_manager_keys];
            await this.#checkOwnedManagers(managerKeys);
            // The repository sees this batch's own writes, so a key repeated in the batch is a Conflict too.
            if (await this.#repository.exists(input.key)) {
                throw conflict(DATA_SAMPLE_KIND, input.key);
            }
            const sample = orchestrator.DataSample.create({
                key: input.key,
                data_manager_keys: managerKeys,
                owner: this.ctx.requester,
                checksum: input.checksum,
                creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
                test_only: false,
            });
            registered.push(await this.#repository.add(sample));
        }
        for (const bytes of registered) {
            this.#emit(bytes, orchestrator.EventKind.EVENT_ASSET_CREATED);
        }
        return registered.map((bytes) => orchestrator.DataSample.decode(bytes));
    }

    /** UpdateDataSamples (§6.2): appends manager keys to samples the requester owns. */
    async updateDataSamples(param: Complete<orchestrator.IUpdateDataSamplesParam>): Promise<void> {
        const { keys, data_manager_keys: managerKeys } = param;
        new Failures()
            .field('keys', keys, required, each(uuid))
            .field('data_manager_keys', managerKeys, each(uuid))
            .throwIfAny(DATA_SAMPLE_KIND);
        await this.#checkOwnedManagers(managerKeys);
        for (const key of keys) {
            const sample = await this.findDataSample(key).catch(() => undefined);
            if (sample === undefined) {
                throw notFound(DATA_SAMPLE_KIND, key);
            }
            if (sample.owner !== this.ctx.requester) {
                throw permissionDenied('requester does not own the datasample');
            }
            // Only the existing list decides what is new: a new key repeated in the request is appended each time.
            const existing = [...sample.data_manager_keys];
            const added = managerKeys.filter((managerKey) => !existing.includes(managerKey));
            sample.data_manager_keys = [...existing, ...added];
            this.#emit(await this.#repository.addManagers(sample, added), orchestrator.EventKind.EVENT_ASSET_UPDATED);
        }
    }

    /** GetDataSample (§6.3); also a read helper: NotFound `datasample` when absent. */
    getDataSample(key: string): Promise<orchestrator.DataSample> {
        return this.#repository.get(key);
    }

    /** The samples of `keys`, in the given order; NotFound `datasample` for the first missing one. */
    async getDataSamples(keys: readonly string[]): Promise<orchestrator.DataSample[]> {
        const samples: orchestrator.DataSample[] = [];
        for (const key of keys) {
            samples.push(await this.getDataSample(key));
        }
        return samples;
    }

    /** The sample, or undefined when no sample has this key. */
    findDataSample(key: string): Promise<orchestrator.DataSample | undefined> {
        return this.#repository.find(key);
    }

    /**
     * Task registration check (§6.5): every sample exists (NotFound `datasample`) and lists `managerKey`,
     * otherwise `InvalidAsset(OE0101) "datasamples do not share a common manager"`.
     */
    async checkSameManager(managerKey: string, sampleKeys: readonly string[]): Promise<void> {
        for (const sample of await this.getDataSamples(sampleKeys)) {
            if (!sample.data_manager_keys.includes(managerKey)) {
                throw new OrchestrationError(ErrorCode.InvalidAsset, 'datasamples do not share a common manager');
            }
        }
    }

    /** QueryDataSamples (§6.4): creation date then key; `filter.keys` restricts to those keys. */
    async queryDataSamples(
        param: Complete<orchestrator.IQueryDataSamplesParam>,
    ): Promise<orchestrator.QueryDataSamplesResponse> {
        const filterKeys = param.filter?.keys ?? [];
        const page =
            filterKeys.length > 0
                ? await this.#repository.pageOfKeys(filterKeys, param.page_token, param.page_size)
                : await this.#repository.page(param.page_token, param.page_size);
        return orchestrator.QueryDataSamplesResponse.create({
            data_samples: page.dataSamples,
            next_page_token: page.nextPageToken,
        });
    }

    /** Keys of the samples linked to a manager, by sample creation date then key (GetDataset, §7). */
    sampleKeysOfManager(managerKey: string): Promise<string[]> {
        return this.#repository.keysOfManager(managerKey);
    }

    /** §6.1 step 2.2, in order: each manager exists and is owned by the requester. */
    async #checkOwnedManagers(managerKeys: readonly string[]): Promise<void> {
        for (const managerKey of managerKeys) {
            await this.services.dataManagers.getOwnedDataManager(managerKey);
        }
    }

    /** Emits the event of a sample from its stored bytes. */
    #emit(bytes: Uint8Array, eventKind: orchestrator.EventKind): void {
        const sample = orchestrator.DataSample.decode(bytes);
        this.ctx.events.emit({
            asset_key: sample.key,
            asset_kind: orchestrator.AssetKind.ASSET_DATA_SAMPLE,
            event_kind: eventKind,
            data_sample: sample,
        });
    }
}
