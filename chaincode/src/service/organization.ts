/**
 * Organizations (behavior-assets §2). Storage: repository/organization.ts.
 */
import { orchestrator } from '@substra-fabric/api';
import { ORGANIZATION_KIND, OrganizationRepository } from '../repository/organization';
import { conflict } from './errors';
import type { Complete } from './messages';
import { Service } from './service';
import { requestUrl } from './validation';

export { ORGANIZATION_KIND } from '../repository/organization';

export class OrganizationService extends Service {
    readonly #repository = new OrganizationRepository(this.ctx.store);

    /**
     * RegisterOrganization: the requester registers itself (§2.1). Not idempotent: a second call fails with
     * Conflict and leaves the stored address unchanged.
     */
    async registerOrganization(
        param: Complete<orchestrator.IRegisterOrganizationParam>,
    ): Promise<orchestrator.Organization> {
        const invalid = requestUrl(param.address);
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
            address: param.address,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
        });
        await this.#repository.add(organization);
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
        return orchestrator.GetAllOrganizationsResponse.create({ organizations: await this.#repository.all() });
    }

    /** The organization with this id, undefined when it is not registered (sees this transaction's writes). */
    getOrganization(id: string): Promise<orchestrator.Organization | undefined> {
        return this.#repository.find(id);
    }

    /** Like getOrganization, but NotFound(OE0002) `organization with key "<id>" not found` when absent. */
    mustGetOrganization(id: string): Promise<orchestrator.Organization> {
        return this.#repository.get(id);
    }

    exists(id: string): Promise<boolean> {
        return this.#repository.exists(id);
    }
}
