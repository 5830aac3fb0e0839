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
import { INDEX_VALUE, encodeMessage, sortableTimestamp } from './codec';
import type { Timestamp, TxContext } from './context';
import { ErrorCode, OrchestrationError, conflict, notFound, permissionDenied } from './errors';
import { DEFAULT_PAGE_SIZE, readPage } from './pagination';
import type { Services } from './provider';
import { Failures, each, hex, length, required, uuid } from './validation';

export const DATA_SAMPLE_KIND = 'datasample';
export const DATA_SAMPLE_INDEX = 'idx~datasample~all';
export const DATA_SAMPLE_MANAGER_INDEX = 'idx~datasample~manager';

function creationOf(sample: orchestrator.IDataSample): Timestamp {
    return { seconds: sample.creation_date?.seconds ?? 0, nanos: sample.creation_date?.nanos ?? 0 };
}

export class DataSampleService {
    constructor(
        protected readonly ctx: TxContext,
        protected readonly services: Services,
    ) {}

    /** RegisterDataSamples (§6.1): all or nothing, checked and built in request order. */
    async registerDataSamples(param: orchestrator.IRegisterDataSamplesParam): Promise<orchestrator.DataSample[]> {
        const { store } = this.ctx;
        const registered: orchestrator.DataSample[] = [];
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
            if ((await store.get(store.compositeKey(DATA_SAMPLE_KIND, [key]))) !== undefined) {
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
            const stored = await this.#save(sample);
            const created = sortableTimestamp(this.ctx.timestamp);
            await store.put(store.compositeKey(DATA_SAMPLE_INDEX, [created, key]), INDEX_VALUE);
            for (const managerKey of new Set(managerKeys)) {
                await store.put(store.compositeKey(DATA_SAMPLE_MANAGER_INDEX, [managerKey, created, key]), INDEX_VALUE);
            }
            registered.push(stored);
        }
        for (const sample of registered) {
            this.#emit(sample, orchestrator.EventKind.EVENT_ASSET_CREATED);
        }
        return registered;
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
            const stored = await this.#save(sample);
            const created = sortableTimestamp(creationOf(sample));
            for (const managerKey of new Set(added)) {
                await store.put(store.compositeKey(DATA_SAMPLE_MANAGER_INDEX, [managerKey, created, key]), INDEX_VALUE);
            }
            this.#emit(stored, orchestrator.EventKind.EVENT_ASSET_UPDATED);
        }
    }

    /** GetDataSample (§6.3); also a read helper: NotFound `datasample` when absent. */
    async getDataSample(key: string): Promise<orchestrator.DataSample> {
        const found = await this.findDataSample(key);
        if (found === undefined) {
            throw notFound(DATA_SAMPLE_KIND, key);
        }
        return found;
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
    async findDataSample(key: string): Promise<orchestrator.DataSample | undefined> {
        if (key === '') {
            // Composite keys refuse empty attributes: no asset has an empty key.
            return undefined;
        }
        const { store } = this.ctx;
        const bytes = await store.get(store.compositeKey(DATA_SAMPLE_KIND, [key]));
        return bytes === undefined ? undefined : orchestrator.DataSample.decode(bytes);
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
        const { store } = this.ctx;
        const page = await readPage(store, DATA_SAMPLE_INDEX, [], param.page_token ?? '', param.page_size ?? 0);
        const samples: orchestrator.DataSample[] = [];
        for (const record of page.records) {
            samples.push(await this.#loadIndexed(record.key));
        }
        return orchestrator.QueryDataSamplesResponse.create({
            data_samples: samples,
            next_page_token: page.nextPageToken,
        });
    }

    /** Keys of the samples linked to a manager, by sample creation date then key (GetDataset, §7). */
    async sampleKeysOfManager(managerKey: string): Promise<string[]> {
        const { store } = this.ctx;
        const keys: string[] = [];
        for await (const record of store.scan(DATA_SAMPLE_MANAGER_INDEX, [managerKey])) {
            const { attributes } = store.splitCompositeKey(record.key);
            keys.push(attributes[attributes.length - 1] ?? '');
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
                samples.push({ order: `${sortableTimestamp(creationOf(sample))}\u0000${key}`, sample });
            }
        }
        samples.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
        const next = offset + size < samples.length ? String(offset + size) : '';
        return orchestrator.QueryDataSamplesResponse.create({
            data_samples: samples.slice(offset, offset + size).map(({ sample }) => sample),
            next_page_token: next,
        });
    }

    async #loadIndexed(indexKey: string): Promise<orchestrator.DataSample> {
        const { attributes } = this.ctx.store.splitCompositeKey(indexKey);
        const key = attributes[attributes.length - 1] ?? '';
        const found = await this.findDataSample(key);
        if (found === undefined) {
            throw new OrchestrationError(ErrorCode.Internal, `indexed datasample "${key}" is missing`);
        }
        return found;
    }

    /** §6.1 step 2.2, in order: each manager exists and is owned by the requester. */
    async #checkOwnedManagers(managerKeys: readonly string[]): Promise<void> {
        for (const managerKey of managerKeys) {
            await this.services.dataManagers.getOwnedDataManager(managerKey);
        }
    }

    async #save(sample: orchestrator.DataSample): Promise<orchestrator.DataSample> {
        const bytes = encodeMessage(orchestrator.DataSample, sample);
        await this.ctx.store.put(this.ctx.store.compositeKey(DATA_SAMPLE_KIND, [sample.key]), bytes);
        return orchestrator.DataSample.decode(bytes);
    }

    #emit(sample: orchestrator.DataSample, eventKind: orchestrator.EventKind): void {
        this.ctx.events.emit({
            asset_key: sample.key,
            asset_kind: orchestrator.AssetKind.ASSET_DATA_SAMPLE,
            event_kind: eventKind,
            data_sample: orchestrator.DataSample.decode(encodeMessage(orchestrator.DataSample, sample)),
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
