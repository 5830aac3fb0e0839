/**
 * Data managers (behavior-assets §5). Storage: repository/datamanager.ts.
 */
import { orchestrator } from '@substra-fabric/api';
import { DATA_MANAGER_KIND, DataManagerRepository } from '../repository/datamanager';
import { conflict, notFound, permissionDenied } from './errors';
import type { Complete } from './messages';
import { canProcess, createPermission, createPermissions } from './permissions';
import { Service } from './service';
import { Failures, addressable, metadata, name, required, uuid } from './validation';

export { DATA_MANAGER_INDEX, DATA_MANAGER_KIND } from '../repository/datamanager';

export class DataManagerService extends Service {
    readonly #repository = new DataManagerRepository(this.ctx.store);

    /** RegisterDataManager (§5.1). `type` is ignored: neither validated nor stored. */
    async registerDataManager(input: Complete<orchestrator.INewDataManager>): Promise<orchestrator.DataManager> {
        new Failures()
            .field('key', input.key, required, uuid)
            .field('name', input.name, name)
            .field('new_permissions', input.new_permissions, required)
            .field('description', input.description, required, addressable)
            .field('opener', input.opener, required, addressable)
            .field('metadata', input.metadata, metadata)
            .field('logs_permission', input.logs_permission, required)
            .throwIfAny(DATA_MANAGER_KIND);
        const key = input.key;
        if (await this.#repository.exists(key)) {
            throw conflict(DATA_MANAGER_KIND, key);
        }
        const owner = this.ctx.requester;
        const manager = orchestrator.DataManager.create({
            key,
            name: input.name,
            owner,
            description: input.description,
            opener: input.opener,
            metadata: { ...input.metadata },
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
        });
        // The logs permission is checked first (§5.1 rules 3-4).
        manager.logs_permission = await createPermission(this.services, owner, input.logs_permission);
        manager.permissions = await createPermissions(this.services, owner, input.new_permissions);
        const bytes = await this.#repository.add(manager);
        this.#emit(bytes, orchestrator.EventKind.EVENT_ASSET_CREATED);
        return orchestrator.DataManager.decode(bytes);
    }

    /** GetDataManager (§5.2); also the read helper of the other services: NotFound `datamanager`. */
    getDataManager(key: string): Promise<orchestrator.DataManager> {
        return this.#repository.get(key);
    }

    /** The manager, or undefined when no manager has this key. */
    findDataManager(key: string): Promise<orchestrator.DataManager | undefined> {
        return this.#repository.find(key);
    }

    /** QueryDataManagers (§5.3): no filter, creation date then key. */
    async queryDataManagers(
        param: Complete<orchestrator.IQueryDataManagersParam>,
    ): Promise<orchestrator.QueryDataManagersResponse> {
        const page = await this.#repository.page(param.page_token, param.page_size);
        return orchestrator.QueryDataManagersResponse.create({
            data_managers: page.dataManagers,
            next_page_token: page.nextPageToken,
        });
    }

    /** UpdateDataManager (§5.4): the owner renames the manager. */
    async updateDataManager(param: Complete<orchestrator.IUpdateDataManagerParam>): Promise<void> {
        const key = param.key;
        new Failures().field('key', key, required, uuid).field('name', param.name, name).throwIfAny(DATA_MANAGER_KIND);
        const manager = await this.findDataManager(key).catch(() => undefined);
        if (manager === undefined) {
            throw notFound(DATA_MANAGER_KIND, key);
        }
        if (manager.owner !== this.ctx.requester) {
            throw permissionDenied('requester does not own the data manager');
        }
        manager.name = param.name;
        this.#emit(await this.#repository.update(manager), orchestrator.EventKind.EVENT_ASSET_UPDATED);
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

    /** Emits the event of a manager from its stored bytes (the event gets its own copy). */
    #emit(bytes: Uint8Array, eventKind: orchestrator.EventKind): void {
        const manager = orchestrator.DataManager.decode(bytes);
        this.ctx.events.emit({
            asset_key: manager.key,
            asset_kind: orchestrator.AssetKind.ASSET_DATA_MANAGER,
            event_kind: eventKind,
            data_manager: manager,
        });
    }
}
