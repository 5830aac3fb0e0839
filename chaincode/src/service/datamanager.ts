/**
 * Data managers (behavior-assets §5).
 *
 * Ledger keys:
 * - `compositeKey('datamanager', [key])` → binary `orchestrator.DataManager`.
 * - `compositeKey('idx~datamanager~all', [sortableTimestamp(creation_date), key])` → INDEX_VALUE: every
 *   manager in QueryDataManagers order (creation date, then key). Written once, at registration.
 */
import { orchestrator } from '@substra-fabric/api';
import { INDEX_VALUE, encodeMessage, sortableTimestamp } from './codec';
import type { TxContext } from './context';
import { ErrorCode, OrchestrationError, conflict, notFound, permissionDenied } from './errors';
import { readPage } from './pagination';
import { canProcess, createPermission, createPermissions } from './permissions';
import type { Services } from './provider';
import { Failures, addressable, metadata, name, required, uuid } from './validation';

export const DATA_MANAGER_KIND = 'datamanager';
export const DATA_MANAGER_INDEX = 'idx~datamanager~all';

export class DataManagerService {
    constructor(
        protected readonly ctx: TxContext,
        protected readonly services: Services,
    ) {}

    /** RegisterDataManager (§5.1). `type` is ignored: neither validated nor stored. */
    async registerDataManager(input: orchestrator.INewDataManager): Promise<orchestrator.DataManager> {
        new Failures()
            .field('key', input.key ?? '', required, uuid)
            .field('name', input.name ?? '', name)
            .field('new_permissions', input.new_permissions, required)
            .field('description', input.description, required, addressable)
            .field('opener', input.opener, required, addressable)
            .field('metadata', input.metadata, metadata)
            .field('logs_permission', input.logs_permission, required)
            .throwIfAny(DATA_MANAGER_KIND);
        const key = input.key ?? '';
        const { store } = this.ctx;
        if ((await store.get(store.compositeKey(DATA_MANAGER_KIND, [key]))) !== undefined) {
            throw conflict(DATA_MANAGER_KIND, key);
        }
        const owner = this.ctx.requester;
        const manager = orchestrator.DataManager.create({
            key,
            name: input.name ?? '',
            owner,
            description: input.description ?? null,
            opener: input.opener ?? null,
            metadata: { ...(input.metadata ?? {}) },
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
        });
        // The logs permission is checked first (§5.1 rules 3-4).
        manager.logs_permission = await createPermission(this.services, owner, input.logs_permission);
        manager.permissions = await createPermissions(this.services, owner, input.new_permissions);
        const stored = await this.#save(manager);
        this.#emit(stored, orchestrator.EventKind.EVENT_ASSET_CREATED);
        await store.put(
            store.compositeKey(DATA_MANAGER_INDEX, [sortableTimestamp(this.ctx.timestamp), key]),
            INDEX_VALUE,
        );
        return stored;
    }

    /** GetDataManager (§5.2); also the read helper of the other services: NotFound `datamanager`. */
    async getDataManager(key: string): Promise<orchestrator.DataManager> {
        const found = await this.findDataManager(key);
        if (found === undefined) {
            throw notFound(DATA_MANAGER_KIND, key);
        }
        return found;
    }

    /** The manager, or undefined when no manager has this key. */
    async findDataManager(key: string): Promise<orchestrator.DataManager | undefined> {
        if (key === '') {
            // Composite keys refuse empty attributes: no asset has an empty key.
            return undefined;
        }
        const { store } = this.ctx;
        const bytes = await store.get(store.compositeKey(DATA_MANAGER_KIND, [key]));
        return bytes === undefined ? undefined : orchestrator.DataManager.decode(bytes);
    }

    /** QueryDataManagers (§5.3): no filter, creation date then key. */
    async queryDataManagers(
        param: orchestrator.IQueryDataManagersParam,
    ): Promise<orchestrator.QueryDataManagersResponse> {
        const { store } = this.ctx;
        const page = await readPage(store, DATA_MANAGER_INDEX, [], param.page_token ?? '', param.page_size ?? 0);
        const managers: orchestrator.DataManager[] = [];
        for (const record of page.records) {
            const { attributes } = store.splitCompositeKey(record.key);
            const key = attributes[attributes.length - 1] ?? '';
            const found = await this.findDataManager(key);
            if (found === undefined) {
                throw new OrchestrationError(ErrorCode.Internal, `indexed datamanager "${key}" is missing`);
            }
            managers.push(found);
        }
        return orchestrator.QueryDataManagersResponse.create({
            data_managers: managers,
            next_page_token: page.nextPageToken,
        });
    }

    /** UpdateDataManager (§5.4): the owner renames the manager. */
    async updateDataManager(param: orchestrator.IUpdateDataManagerParam): Promise<void> {
        const key = param.key ?? '';
        new Failures()
            .field('key', key, required, uuid)
            .field('name', param.name ?? '', name)
            .throwIfAny(DATA_MANAGER_KIND);
        const manager = await this.findDataManager(key).catch(() => undefined);
        if (manager === undefined) {
            throw notFound(DATA_MANAGER_KIND, key);
        }
        if (manager.owner !== this.ctx.requester) {
            throw permissionDenied('requester does not own the data manager');
        }
        manager.name = param.name ?? '';
        const stored = await this.#save(manager);
        this.#emit(stored, orchestrator.EventKind.EVENT_ASSET_UPDATED);
    }

    /**
     * The manager `key`, which the requester must own (data-sample registration and update, §6.1 step 2.2):
     * NotFound `datamanager` when absent, PermissionDenied `requester does not own the datamanager "<k>"`.
     */
    async getOwnedDataManager(key: string): Promise<orchestrator.DataManager> {
        const manager = await this.findDataManager(key);
        if (manager === undefined) {
            throw notFound(DATA_MANAGER_KIND, key);
        }
        if (manager.owner !== this.ctx.requester) {
            throw permissionDenied(`requester does not own the datamanager "${key}"`);
        }
        return manager;
    }

    /** Whether `org` may process the manager (§5.5, CanProcess of §3.6). */
    canProcess(manager: orchestrator.IDataManager, org: string): boolean {
        return canProcess(manager.permissions, org);
    }

    async #save(manager: orchestrator.DataManager): Promise<orchestrator.DataManager> {
        const bytes = encodeMessage(orchestrator.DataManager, manager);
        await this.ctx.store.put(this.ctx.store.compositeKey(DATA_MANAGER_KIND, [manager.key]), bytes);
        return orchestrator.DataManager.decode(bytes);
    }

    #emit(manager: orchestrator.DataManager, eventKind: orchestrator.EventKind): void {
        this.ctx.events.emit({
            asset_key: manager.key,
            asset_kind: orchestrator.AssetKind.ASSET_DATA_MANAGER,
            event_kind: eventKind,
            data_manager: orchestrator.DataManager.decode(encodeMessage(orchestrator.DataManager, manager)),
        });
    }
}
