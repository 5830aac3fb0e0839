import type { DeterminismFlow } from '../support/determinism';

/** Organizations: registrations (including a refused duplicate), end to end and at service level. */
export const flow: DeterminismFlow = {
    name: 'organizations',
    async run(ledger) {
        await ledger.rpc('MyOrg1MSP', 'RegisterOrganization', { address: 'https://org1.example' });
        await ledger.invoke('MyOrg2MSP', (s) => s.organizations.registerOrganization({ address: '' }));
        await ledger.rpc('MyOrg1MSP', 'RegisterOrganization', { address: '' }).catch(() => undefined);
        await ledger.rpc('MyOrg2MSP', 'GetAllOrganizations');
    },
};
