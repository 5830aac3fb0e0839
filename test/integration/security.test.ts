// The requester check end to end, with TLS on: a gateway with mutual TLS and ORCHESTRATOR_VERIFY_CLIENT_MSP_ID on
// the shared real network. A backend presenting org 1's client certificate may act as MyOrg1MSP only; claiming
// MyOrg2MSP in the `mspid` header is refused before anything reaches Fabric, and nothing is written.

import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { orchestrator } from '@substra-fabric/api';
import { startGatewayProcess } from '@substra-fabric/network';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Pki } from '../../gateway/test/pki';
import { OrgClient, closeClients, expectGrpcError, grpc } from './support/client';

const network = inject('network');
const ORG1 = 'MyOrg1MSP';
const ORG2 = 'MyOrg2MSP';
const pki = new Pki();
let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;
let address: string;

function credentialsOf(client: string): grpc.ChannelCredentials {
    return grpc.credentials.createSsl(pki.read('serverca.pem'), pki.read(`${client}.key`), pki.read(`${client}.pem`));
}

beforeAll(async () => {
    pki.ca('serverca');
    for (const org of ['org1ca', 'org2ca']) pki.ca(org);
    pki.leaf(
        'server',
        '/CN=localhost',
        'serverca',
        'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
    );
    pki.leaf('backend1', `/O=${ORG1}/CN=backend-org-1`, 'org1ca', 'extendedKeyUsage=clientAuth\n');
    pki.leaf('backend2', `/O=${ORG2}/CN=backend-org-2`, 'org2ca', 'extendedKeyUsage=clientAuth\n');
    for (const [msp, ca] of [
        [ORG1, 'org1ca'],
        [ORG2, 'org2ca'],
    ] as const) {
        mkdirSync(pki.file(`clients/${msp}`), { recursive: true });
        copyFileSync(pki.file(`${ca}.pem`), pki.file(`clients/${msp}/ca.pem`));
    }
    const root = path.join(network.root, 'security');
    gateway = await startGatewayProcess({
        env: {
            ...network.gatewayEnv,
            ORCHESTRATOR_STATE_DIR: path.join(root, 'events'),
            ORCHESTRATOR_TLS_ENABLED: 'true',
            ORCHESTRATOR_TLS_CERT_PATH: pki.file('server.pem'),
            ORCHESTRATOR_TLS_KEY_PATH: pki.file('server.key'),
            ORCHESTRATOR_MTLS_ENABLED: 'true',
            ORCHESTRATOR_TLS_SERVER_CA_CERT: pki.file('serverca.pem'),
            ORCHESTRATOR_TLS_CLIENT_CA_CERT_DIR: pki.file('clients'),
            ORCHESTRATOR_VERIFY_CLIENT_MSP_ID: 'true',
        },
        logFile: path.join(root, 'gateway.log'),
    });
    address = `127.0.0.1:${String(gateway.port)}`;
});

afterAll(async () => {
    closeClients();
    await gateway.stop();
});

describe('requester verification with mutual TLS', () => {
    it("org 1's certificate with `mspid: MyOrg2MSP` gets PERMISSION_DENIED and writes nothing", async () => {
        const org1 = new OrgClient(address, ORG1, 'mychannel', credentialsOf('backend1'));
        const posing = new OrgClient(address, ORG2, 'mychannel', credentialsOf('backend1'));
        const key = randomUUID();
        await expectGrpcError(
            posing.call('ComputePlanService/RegisterPlan', { key, name: 'posing as org 2' }),
            grpc.status.PERMISSION_DENIED,
            `"${ORG2}"`,
        );
        await expectGrpcError(org1.call('ComputePlanService/GetPlan', { key }), grpc.status.NOT_FOUND);
        // the same certificate with its own MSP id is served, and org 2's backend with its own
        const plan = await org1.call<orchestrator.IComputePlan>('ComputePlanService/RegisterPlan', {
            key,
            name: 'org 1',
        });
        expect(plan.owner).toBe(ORG1);
        const org2 = new OrgClient(address, ORG2, 'mychannel', credentialsOf('backend2'));
        expect((await org2.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key })).owner).toBe(ORG1);
    });

    it('a connection without a client certificate is refused', async () => {
        const anonymous = new OrgClient(
            address,
            ORG1,
            'mychannel',
            grpc.credentials.createSsl(pki.read('serverca.pem')),
        );
        let err: grpc.ServiceError | undefined;
        try {
            await anonymous.call('OrganizationService/GetAllOrganizations', {});
        } catch (e) {
            err = e as grpc.ServiceError;
        }
        expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    });
});
