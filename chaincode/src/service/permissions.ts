/**
 * Permissions (behavior-assets §3): creation from registration input, union, intersection and the checks.
 *
 * Pure functions except `createPermission(s)`, which must check the authorized ids against the organizations
 * registered on the channel (§3.2 rule 2).
 */
import { orchestrator } from '@substra-fabric/api';
import { compareStrings } from './codec';
import { badRequest } from './errors';
import type { Services } from './provider';

type PermissionInput = orchestrator.INewPermissions | null | undefined;

/**
 * CreatePermission(owner, newPerms) (§3.2):
 * 1. an absent input is `{public: false, authorized_ids: []}`;
 * 2. when private, every authorized id must be a registered organization, else
 *    `BadRequest(OE0003) "invalid permission input values"` (ids are not checked when public);
 * 3. the ids are kept as given (order, duplicates) and the owner is appended when absent, even when public.
 */
export async function createPermission(
    services: Services,
    owner: string,
    newPerms: PermissionInput,
): Promise<orchestrator.Permission> {
    const isPublic = newPerms?.public === true;
    const ids = [...(newPerms?.authorized_ids ?? [])];
    if (!isPublic) {
        for (const id of ids) {
            if (id === '' || !(await services.organizations.exists(id))) {
                throw badRequest('invalid permission input values');
            }
        }
    }
    if (!ids.includes(owner)) {
        ids.push(owner);
    }
    return orchestrator.Permission.create({ public: isPublic, authorized_ids: ids });
}

/** CreatePermissions (§3.3): one CreatePermission, copied to `process` and `download`. */
export async function createPermissions(
    services: Services,
    owner: string,
    newPerms: PermissionInput,
): Promise<orchestrator.Permissions> {
    const permission = await createPermission(services, owner, newPerms);
    return orchestrator.Permissions.create({
        process: clonePermission(permission),
        download: clonePermission(permission),
    });
}

function clonePermission(permission: orchestrator.IPermission | null | undefined): orchestrator.Permission {
    return orchestrator.Permission.create({
        public: permission?.public === true,
        authorized_ids: [...(permission?.authorized_ids ?? [])],
    });
}

function ascendingUnique(ids: Iterable<string>): string[] {
    return [...new Set(ids)].sort(compareStrings);
}

/**
 * UnionPermission (§3.5): public if either is; a public result has no ids; otherwise the union of the ids.
 * The reference order is random (hash map); ours is ascending, duplicates removed (behavior-tasks §0.5).
 */
export function unionPermission(
    x: orchestrator.IPermission | null | undefined,
    y: orchestrator.IPermission | null | undefined,
): orchestrator.Permission {
    const isPublic = x?.public === true || y?.public === true;
    const ids = isPublic ? [] : ascendingUnique([...(x?.authorized_ids ?? []), ...(y?.authorized_ids ?? [])]);
    return orchestrator.Permission.create({ public: isPublic, authorized_ids: ids });
}

/**
 * IntersectPermission (§3.5, unused by the 1.0.0 RPCs): public if both are; a private side alone gives its
 * ids; otherwise x's ids that y also lists, in x's order.
 */
export function intersectPermission(
    x: orchestrator.IPermission | null | undefined,
    y: orchestrator.IPermission | null | undefined,
): orchestrator.Permission {
    const xPublic = x?.public === true;
    const yPublic = y?.public === true;
    const xIds = x?.authorized_ids ?? [];
    const yIds = y?.authorized_ids ?? [];
    let ids: string[];
    if (!xPublic && yPublic) {
        ids = [...xIds];
    } else if (xPublic && !yPublic) {
        ids = [...yIds];
    } else {
        ids = xIds.filter((id) => yIds.includes(id));
    }
    return orchestrator.Permission.create({ public: xPublic && yPublic, authorized_ids: ids });
}

/** UnionPermissions: the union of `process` and of `download`, separately. */
export function unionPermissions(
    x: orchestrator.IPermissions | null | undefined,
    y: orchestrator.IPermissions | null | undefined,
): orchestrator.Permissions {
    return orchestrator.Permissions.create({
        process: unionPermission(x?.process, y?.process),
        download: unionPermission(x?.download, y?.download),
    });
}

/** IntersectPermissions: the intersection of `process` and of `download`, separately. */
export function intersectPermissions(
    x: orchestrator.IPermissions | null | undefined,
    y: orchestrator.IPermissions | null | undefined,
): orchestrator.Permissions {
    return orchestrator.Permissions.create({
        process: intersectPermission(x?.process, y?.process),
        download: intersectPermission(x?.download, y?.download),
    });
}

/** A permission is satisfied by `org` when it is public or lists `org` (§3.1). */
export function isAuthorized(permission: orchestrator.IPermission | null | undefined, org: string): boolean {
    return permission?.public === true || (permission?.authorized_ids ?? []).includes(org);
}

/** CanProcess(perms, org) (§3.6). */
export function canProcess(permissions: orchestrator.IPermissions | null | undefined, org: string): boolean {
    return isAuthorized(permissions?.process, org);
}

/** CanDownload(perms, org) (§3.6). */
export function canDownload(permissions: orchestrator.IPermissions | null | undefined, org: string): boolean {
    return isAuthorized(permissions?.download, org);
}
