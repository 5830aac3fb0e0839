/**
 * Organizations (behavior-assets §2).
 *
 * Ledger keys:
 * - `compositeKey('organization', [id])` -> binary `orchestrator.Organization`, id = MSP id.
 *   GetAllOrganizations scans this kind directly: composite-key order is id order, so no separate index.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import { conflict } from './errors';
import { Service } from './service';
import { requestUrl } from './validation';

/** Kind string of organizations: composite-key object type and resource name in error messages. */
export const ORGANIZATION_KIND = 'organization';

export class OrganizationService extends Service {
    readonly #records = new AssetRecords(this.ctx.store, ORGANIZATION_KIND, orchestrator.Organization);

    /**
     * RegisterOrganization: the requester registers itself (§2.1). Not idempotent: a second call fails with
     * Conflict and leaves the stored address unchanged.
     */
    async registerOrganization(param: orchestrator.IRegisterOrganizationParam): Promise<orchestrator.Organization> {
        const address = param.address ?? '';
        const invalid = requestUrl(address);
        if (invalid !== undefined) {
            // Deliberately a plain error (no OE code): the reference returns the raw validation error here.
            throw new Error(`address: ${invalid}.`);
        }
        const id = this.ctx.requester;
        if (await this.exists(id)) {
            throw conflict(ORGANIZATION_KIND, id);
        }
        const organization = orchestrator.Organization.create({
            id,
            address,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
        });
        await this.#records.put(id, organization);
        this.ctx.events.emit({
            asset_kind: orchestrator.AssetKind.ASSET_ORGANIZATION,
            event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
            asset_key: id,
            organization,
        });
        return organization;
    }

    /** GetAllOrganizations: every registered organization, ordered by id (§2.2, §1.8). */
    async getAllOrganizations(): Promise<orchestrator.GetAllOrganizationsResponse> {
        const organizations: orchestrator.Organization[] = [];
        for await (const record of this.ctx.store.scan(ORGANIZATION_KIND, [])) {
            organizations.push(orchestrator.Organization.decode(record.value));
        }
        return orchestrator.GetAllOrganizationsResponse.create({ organizations });
    }

    /** The organization with this id, undefined when it is not registered (sees this transaction's writes). */
    getOrganization(id: string): Promise<orchestrator.Organization | undefined> {
        return this.#records.find(id);
    }

    /** Like getOrganization, but NotFound(OE0002) `organization with key "<id>" not found` when absent. */
    mustGetOrganization(id: string): Promise<orchestrator.Organization> {
        return this.#records.get(id);
    }

    exists(id: string): Promise<boolean> {
        return this.#records.exists(id);
    }
}
