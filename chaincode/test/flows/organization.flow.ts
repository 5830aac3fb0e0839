import type { DeterminismFlow } from '../support/determinism';
import { ORG1, ORG2 } from '../support/fixtures';

/** Organizations: registrations (including a refused duplicate), end to end and at service level. */
export const flow: DeterminismFlow = {
    name: 'organizations',
    async run(ledger) {
        await ledger.rpc(ORG1, 'RegisterOrganization', { address: 'https://org1.example' });
        await ledger.invoke(ORG2, (s) => s.organizations.registerOrganization({ address: '' }));
        await ledger.rpc(ORG1, 'RegisterOrganization', { address: '' }).catch(() => undefined);
        await ledger.rpc(ORG2, 'GetAllOrganizations');
    },
};
