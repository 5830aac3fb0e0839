/**
 * Storage of organizations.
 *
 * Keys:
 * - `organization` [id] → Organization (binary protobuf), id = MSP id. The listing scans this kind directly:
 *   composite-key order is id order, so no separate index.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import type { Store } from './store';

/** Kind string of organizations: composite-key object type and resource name in error messages. */
export const ORGANIZATION_KIND = 'organization';

export class OrganizationRepository {
    readonly #store: Store;
    readonly #records: AssetRecords<orchestrator.Organization>;

    constructor(store: Store) {
        this.#store = store;
        this.#records = new AssetRecords(store, ORGANIZATION_KIND, orchestrator.Organization);
    }

    exists(id: string): Promise<boolean> {
        return this.#records.exists(id);
    }

    /** The organization, or undefined when it is not registered (sees this transaction's writes). */
    find(id: string): Promise<orchestrator.Organization | undefined> {
        return this.#records.find(id);
    }

    /** The organization, or NotFound `organization with key "<id>" not found`. */
    get(id: string): Promise<orchestrator.Organization> {
        return this.#records.get(id);
    }

    /** Stores a new organization; returns the stored bytes. */
    add(organization: orchestrator.Organization): Promise<Uint8Array> {
        return this.#records.put(organization.id, organization);
    }

    /** Every committed organization, ordered by id (a scan: complete whatever the peer's query limit). */
    async all(): Promise<orchestrator.Organization[]> {
        const organizations: orchestrator.Organization[] = [];
        for await (const record of this.#store.scan(ORGANIZATION_KIND, [])) {
            organizations.push(orchestrator.Organization.decode(record.value));
        }
        return organizations;
    }
}
