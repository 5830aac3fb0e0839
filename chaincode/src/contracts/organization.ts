import type { orchestrator } from '@substra-fabric/api';
import { defineHandlers } from './handlers';

export const organizationHandlers = defineHandlers('OrganizationService', {
    RegisterOrganization: (services, request: orchestrator.RegisterOrganizationParam) =>
        services.organizations.registerOrganization(request),
    GetAllOrganizations: (services) => services.organizations.getAllOrganizations(),
});
