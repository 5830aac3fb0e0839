import { beforeEach, describe, expect, it } from 'vitest';
import type { TestLedger } from './support/ledger';
import { ORG1, ORG2, ORG3, newOrgsLedger } from './support/fixtures';
import {
    canDownload,
    canProcess,
    createPermission,
    createPermissions,
    intersectPermission,
    intersectPermissions,
    isAuthorized,
    unionPermission,
    unionPermissions,
} from '../src/service/permissions';

let ledger: TestLedger;

beforeEach(async () => {
    ledger = await newOrgsLedger(ORG1, ORG2);
});

function create(owner: string, input: Parameters<typeof createPermission>[2]) {
    return ledger.evaluate(ORG1, (s) => createPermission(s, owner, input)).then((r) => r.result);
}

describe('CreatePermission(s) (behavior-assets §3.2, §3.3)', () => {
    it('§3.2 rule 1: an absent input is private with only the owner', async () => {
        expect(await create(ORG1, null)).toEqual({ public: false, authorized_ids: [ORG1] });
        expect(await create(ORG1, undefined)).toEqual({ public: false, authorized_ids: [ORG1] });
    });

    it('§3.2 rule 2: private ids must be registered organizations → BadRequest(OE0003) otherwise', async () => {
        await expect(create(ORG1, { public: false, authorized_ids: [ORG2, ORG3] })).rejects.toThrow(
            /^OE0003: invalid permission input values$/,
        );
        await expect(create(ORG1, { authorized_ids: [''] })).rejects.toThrow('OE0003: invalid permission input values');
        expect(await create(ORG1, { public: false, authorized_ids: [] })).toEqual({
            public: false,
            authorized_ids: [ORG1],
        });
    });

    it('§3.2 rule 2: when public, the ids are not checked', async () => {
        expect(await create(ORG1, { public: true, authorized_ids: [ORG3] })).toEqual({
            public: true,
            authorized_ids: [ORG3, ORG1],
        });
    });

    it('§3.2 rule 3: ids kept as given (order, duplicates), owner appended when absent, even when public', async () => {
        expect(await create(ORG1, { authorized_ids: [ORG2, ORG2] })).toEqual({
            public: false,
            authorized_ids: [ORG2, ORG2, ORG1],
        });
        expect(await create(ORG1, { authorized_ids: [ORG2, ORG1] })).toEqual({
            public: false,
            authorized_ids: [ORG2, ORG1],
        });
        expect(await create(ORG1, { public: true })).toEqual({ public: true, authorized_ids: [ORG1] });
    });

    it('§3.2 rule 3: the owner itself need not be a registered organization', async () => {
        expect(await create(ORG3, { authorized_ids: [ORG1] })).toEqual({ public: false, authorized_ids: [ORG1, ORG3] });
    });

    it('§3.3: CreatePermissions copies one CreatePermission to process and download (separate copies)', async () => {
        const perms = (await ledger.evaluate(ORG1, (s) => createPermissions(s, ORG1, { authorized_ids: [ORG2] })))
            .result;
        expect(perms.process).toEqual({ public: false, authorized_ids: [ORG2, ORG1] });
        expect(perms.download).toEqual(perms.process);
        expect(perms.download).not.toBe(perms.process);
        expect(perms.download?.authorized_ids).not.toBe(perms.process?.authorized_ids);
    });
});

describe('Union and intersection (behavior-assets §3.5, behavior-tasks §0.5)', () => {
    it('§3.5 union rules 1-2: public if either is public, and then no ids', () => {
        expect(
            unionPermission({ public: true, authorized_ids: [ORG1] }, { public: false, authorized_ids: [ORG2] }),
        ).toEqual({
            public: true,
            authorized_ids: [],
        });
        expect(unionPermission({ public: false, authorized_ids: [ORG1] }, { public: true })).toEqual({
            public: true,
            authorized_ids: [],
        });
    });

    it('§3.5 union rule 3 / §0.5: private union = ascending ids, duplicates removed', () => {
        expect(
            unionPermission({ public: false, authorized_ids: [ORG3, ORG1, ORG3] }, { authorized_ids: [ORG2, ORG1] }),
        ).toEqual({ public: false, authorized_ids: [ORG1, ORG2, ORG3] });
        expect(unionPermission(null, undefined)).toEqual({ public: false, authorized_ids: [] });
    });

    it('§3.5 intersection: public only if both; a private side alone gives its ids; else x ids also in y, x order', () => {
        expect(intersectPermission({ public: true }, { public: true, authorized_ids: [ORG1] })).toEqual({
            public: true,
            authorized_ids: [],
        });
        expect(intersectPermission({ authorized_ids: [ORG2, ORG1] }, { public: true, authorized_ids: [ORG3] })).toEqual(
            {
                public: false,
                authorized_ids: [ORG2, ORG1],
            },
        );
        expect(intersectPermission({ public: true, authorized_ids: [ORG3] }, { authorized_ids: [ORG2] })).toEqual({
            public: false,
            authorized_ids: [ORG2],
        });
        expect(intersectPermission({ authorized_ids: [ORG3, ORG2, ORG1] }, { authorized_ids: [ORG1, ORG3] })).toEqual({
            public: false,
            authorized_ids: [ORG3, ORG1],
        });
        expect(
            intersectPermission(
                { public: true, authorized_ids: [ORG2, ORG1] },
                { public: true, authorized_ids: [ORG1] },
            ),
        ).toEqual({ public: true, authorized_ids: [ORG1] });
    });

    it('§3.5: UnionPermissions and IntersectPermissions apply to process and download separately', () => {
        const x = { process: { public: true }, download: { authorized_ids: [ORG2] } };
        const y = { process: { authorized_ids: [ORG1] }, download: { authorized_ids: [ORG1] } };
        expect(unionPermissions(x, y)).toEqual({
            process: { public: true, authorized_ids: [] },
            download: { public: false, authorized_ids: [ORG1, ORG2] },
        });
        expect(intersectPermissions(x, y)).toEqual({
            process: { public: false, authorized_ids: [ORG1] },
            download: { public: false, authorized_ids: [] },
        });
    });
});

describe('Checks (behavior-assets §3.1, §3.6)', () => {
    const perms = {
        process: { public: false, authorized_ids: [ORG1, ORG2] },
        download: { public: true, authorized_ids: [] },
    };

    it('§3.1: satisfied when public (ids ignored) or when the org is listed', () => {
        expect(isAuthorized({ public: true, authorized_ids: [] }, ORG3)).toBe(true);
        expect(isAuthorized({ public: false, authorized_ids: [ORG2] }, ORG2)).toBe(true);
        expect(isAuthorized({ public: false, authorized_ids: [ORG2] }, ORG3)).toBe(false);
        expect(isAuthorized(null, ORG1)).toBe(false);
    });

    it('§3.6: CanProcess uses process, CanDownload uses download', () => {
        expect(canProcess(perms, ORG2)).toBe(true);
        expect(canProcess(perms, ORG3)).toBe(false);
        expect(canDownload(perms, ORG3)).toBe(true);
        expect(canDownload({ download: { authorized_ids: [ORG1] } }, ORG2)).toBe(false);
        expect(canProcess(undefined, ORG1)).toBe(false);
    });
});
