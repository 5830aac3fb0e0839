/**
 * Data samples (behavior-assets §6).
 *
 * Ledger keys:
 * - `compositeKey('datasample', [key])` → binary `orchestrator.DataSample`.
 * - `compositeKey('idx~datasample~all', [sortableTimestamp(creation_date), key])` → INDEX_VALUE: every sample
 *   in QueryDataSamples order (creation date, then key). Written once, at registration.
 * - `compositeKey('idx~datasample~manager', [managerKey, sortableTimestamp(creation_date), key])` → INDEX_VALUE:
 *   the samples linked to a manager, in GetDataset order. Written at registration for each manager key and by
 *   UpdateDataSamples for each key it appends (links are never removed).
 *
 * QueryDataSamples with `filter.keys` loads the listed samples by key (cost: the number of keys listed),
 * orders them by (creation date, key) and pages them with decimal-offset tokens.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords, lastAttribute } from './assets';
import { INDEX_VALUE, compareStrings, sortableCreation, sortableTimestamp } from './codec';
import { ErrorCode, OrchestrationError, conflict, notFound, permissionDenied } from './errors';
import { DEFAULT_PAGE_SIZE, readPage } from './pagination';
import { Service } from './service';
import { Failures, each, hex, length, required, uuid } from './validation';

export const DATA_SAMPLE_KIND = 'datasample';
export const DATA_SAMPLE_INDEX = 'idx~datasample~all';
export const DATA_SAMPLE_MANAGER_INDEX = 'idx~datasample~manager';

export class DataSampleService extends Service {
    readonly #records = new AssetRecords(this.ctx.store, DATA_SAMPLE_KIND, orchestrator.DataSample);

    /** RegisterDataSamples (§6.1): all or nothing, checked and built in request order. */
    async registerDataSamples(param: orchestrator.IRegisterDataSamplesParam): Promise<orchestrator.DataSample[]> {
        const { store } = this.ctx;
        const created = sortableTimestamp(this.ctx.timestamp);
        // Stored bytes of each sample: the events and the response each decode their own copy.
        const registered: Uint8Array[] = [];
        for (const input of param.samples ?? []) {
            new Failures()
                .field('key', input.key ?? '', required, uuid)
                .field('data_manager_keys', input.data_manager_keys, each(uuid))
                .field('checksum', input.checksum ?? '', required, length(64, 64), hex)
                .throwIfAny(DATA_SAMPLE_KIND);
            const managerKeys = [...(input.data_manager_keys ?? [])];
            await this.#checkOwnedManagers(managerKeys);
            const key = input.key ?? '';
            // The store sees this batch's own writes, so a key repeated in the batch is a Conflict too.
            if (await this.#records.exists(key)) {
                throw conflict(DATA_SAMPLE_KIND, key);
            }
            const sample = orchestrator.DataSample.create({
                key,
                data_manager_keys: managerKeys,
                owner: this.ctx.requester,
                checksum: input.checksum ?? '',
                creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
                test_only: false,
            });
            const bytes = await this.#records.put(key, sample);
            await store.put(store.compositeKey(DATA_SAMPLE_INDEX, [created, key]), INDEX_VALUE);
            for (const managerKey of new Set(managerKeys)) {
                await store.put(store.compositeKey(DATA_SAMPLE_MANAGER_INDEX, [managerKey, created, key]), INDEX_VALUE);
            }
            registered.push(bytes);
        }
        for (const bytes of registered) {
            this.#emit(bytes, orchestrator.EventKind.EVENT_ASSET_CREATED);
        }
        return registered.map((bytes) => orchestrator.DataSample.decode(bytes));
    }

    /** UpdateDataSamples (§6.2): appends manager keys to samples the requester owns. */
    async updateDataSamples(param: orchestrator.IUpdateDataSamplesParam): Promise<void> {
        const keys = param.keys ?? [];
        const managerKeys = param.data_manager_keys ?? [];
        new Failures()
            .field('keys', keys, required, each(uuid))
            .field('data_manager_keys', managerKeys, each(uuid))
            .throwIfAny(DATA_SAMPLE_KIND);
        await this.#checkOwnedManagers(managerKeys);
        const { store } = this.ctx;
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
            const bytes = await this.#records.put(key, sample);
            const created = sortableCreation(sample);
            for (const managerKey of new Set(added)) {
                await store.put(store.compositeKey(DATA_SAMPLE_MANAGER_INDEX, [managerKey, created, key]), INDEX_VALUE);
            }
            this.#emit(bytes, orchestrator.EventKind.EVENT_ASSET_UPDATED);
        }
    }

    /** GetDataSample (§6.3); also a read helper: NotFound `datasample` when absent. */
    getDataSample(key: string): Promise<orchestrator.DataSample> {
        return this.#records.get(key);
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
        return this.#records.find(key);
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
    async queryDataSamples(param: orchestrator.IQueryDataSamplesParam): Promise<orchestrator.QueryDataSamplesResponse> {
        const filterKeys = param.filter?.keys ?? [];
        if (filterKeys.length > 0) {
            return this.#queryByKeys(filterKeys, param.page_token ?? '', param.page_size ?? 0);
        }
        const page = await readPage(
            this.ctx.store,
            DATA_SAMPLE_INDEX,
            [],
            param.page_token ?? '',
            param.page_size ?? 0,
        );
        return orchestrator.QueryDataSamplesResponse.create({
            data_samples: await this.#records.loadIndexed(page.records),
            next_page_token: page.nextPageToken,
        });
    }

    /** Keys of the samples linked to a manager, by sample creation date then key (GetDataset, §7). */
    async sampleKeysOfManager(managerKey: string): Promise<string[]> {
        const { store } = this.ctx;
        const keys: string[] = [];
        for await (const record of store.scan(DATA_SAMPLE_MANAGER_INDEX, [managerKey])) {
            keys.push(lastAttribute(store, record.key));
        }
        return keys;
    }

    async #queryByKeys(
        keys: readonly string[],
        pageToken: string,
        pageSize: number,
    ): Promise<orchestrator.QueryDataSamplesResponse> {
        const offset = parseOffsetToken(pageToken);
        const size = pageSize > 0 ? pageSize : DEFAULT_PAGE_SIZE;
        const samples: { order: string; sample: orchestrator.DataSample }[] = [];
        for (const key of new Set(keys)) {
            const sample = await this.findDataSample(key);
            if (sample !== undefined) {
                samples.push({ order: `${sortableCreation(sample)}\u0000${key}`, sample });
            }
        }
        samples.sort((a, b) => compareStrings(a.order, b.order));
        const next = offset + size < samples.length ? String(offset + size) : '';
        return orchestrator.QueryDataSamplesResponse.create({
            data_samples: samples.slice(offset, offset + size).map(({ sample }) => sample),
            next_page_token: next,
        });
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

/** Decimal offset tokens ('' = 0); anything else is refused with a plain error, like the reference. */
export function parseOffsetToken(token: string): number {
    if (token === '') {
        return 0;
    }
    if (!/^[0-9]{1,15}$/.test(token)) {
        throw new Error(`invalid page token "${token}"`);
    }
    return Number(token);
}
