// Size limits on the real network: requests over grpc-js's 4 MiB default between peer and chaincode (the peer
// sends a proposal's arguments twice), transactions over the channel's AbsoluteMaxBytes (refused before ordering
// with the limit and a safe batch size named), on the shared network.

import { startGatewayProcess } from '@substra-fabric/network';
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { orchestrator } from '@substra-fabric/api';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { OrgClient, closeClients, grpc } from './support/client';

const network = inject('network');
const ORG1 = 'MyOrg1MSP';
const o1 = new OrgClient(network.address, ORG1, 'mychannel');

afterAll(() => {
    closeClients();
});

/** `entries` metadata entries of 100 bytes (the most a value may hold): about 110 bytes each on the wire. */
function bigMetadata(entries: number): Record<string, string> {
    const value = 'v'.repeat(100);
    return Object.fromEntries(Array.from({ length: entries }, (_, i) => [`k${i}`, value]));
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
    try {
        await p;
    } catch (err) {
        return err as grpc.ServiceError;
    }
    throw new Error('the call succeeded');
}

describe('size limits', () => {
    it('a 2.4 MB request commits (the chaincode accepts what the peer sends it)', async () => {
        const key = randomUUID();
        const metadata = bigMetadata(22_000);
        const t0 = Date.now();
        const plan = await o1.call<orchestrator.IComputePlan>('ComputePlanService/RegisterPlan', {
            key,
            name: 'big',
            metadata,
        });
        console.log(
            `[limits] RegisterPlan with ${JSON.stringify(metadata).length} bytes of metadata in ${Date.now() - t0} ms`,
        );
        expect(Object.keys(plan.metadata ?? {})).toHaveLength(22_000);
        const read = await o1.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key });
        expect(read.metadata?.k21999).toBe(metadata.k21999);
    });

    it("a transaction over the channel's AbsoluteMaxBytes gets RESOURCE_EXHAUSTED naming the limit", async () => {
        // ~3.7 MB of metadata: request, stored plan and event each carry it, over 10 MiB in all
        const err = await failure(
            o1.call('ComputePlanService/RegisterPlan', {
                key: randomUUID(),
                name: 'too big',
                metadata: bigMetadata(34_000),
            }),
        );
        expect(err.code, err.details).toBe(grpc.status.RESOURCE_EXHAUSTED);
        expect(err.details).toMatch(/the transaction is \d+ bytes, over the channel's limit of 10485760 bytes/);
    });

    it('a batch over a configured limit is refused with a batch size that fits, and that size commits', async () => {
        const root = path.join(network.root, 'small-limit');
        const gateway = await startGatewayProcess({
            env: {
                ...network.gatewayEnv,
                ORCHESTRATOR_STATE_DIR: path.join(root, 'events'),
                ORCHESTRATOR_MAX_TRANSACTION_BYTES: '100000',
            },
            logFile: path.join(root, 'gateway.log'),
        });
        try {
            const client = new OrgClient(`127.0.0.1:${gateway.port}`, ORG1, 'mychannel');
            await client
                .call('OrganizationService/RegisterOrganization', { address: 'http://org-1.com' })
                .catch((e: unknown) => {
                    if ((e as grpc.ServiceError).code !== grpc.status.ALREADY_EXISTS) throw e;
                });
            const dm = randomUUID();
            const addr = (s: string) => ({
                checksum: createHash('sha256').update(s).digest('hex'),
                storage_address: `http://org.com/${s}`,
            });
            await client.call('DataManagerService/RegisterDataManager', {
                key: dm,
                name: 'limits',
                new_permissions: { public: true, authorized_ids: [] },
                description: addr('d'),
                opener: addr('o'),
                logs_permission: { public: true, authorized_ids: [] },
            });
            const samples = (n: number) =>
                Array.from({ length: n }, (_, i) => ({
                    key: randomUUID(),
                    data_manager_keys: [dm],
                    test_only: false,
                    checksum: createHash('sha256').update(`s${i}`).digest('hex'),
                }));
            const err = await failure(client.call('DataSampleService/RegisterDataSamples', { samples: samples(400) }));
            expect(err.code, err.details).toBe(grpc.status.RESOURCE_EXHAUSTED);
            const m = /over the channel's limit of 100000 bytes[\s\S]*send at most (\d+) data samples per call/.exec(
                err.details,
            );
            expect(m, err.details).not.toBeNull();
            const fits = Number(m?.[1]);
            expect(fits).toBeGreaterThan(0);
            expect(fits).toBeLessThan(400);
            const ok = await client.call<orchestrator.IRegisterDataSamplesResponse>(
                'DataSampleService/RegisterDataSamples',
                { samples: samples(fits) },
            );
            expect(ok.data_samples).toHaveLength(fits);
        } finally {
            await gateway.stop();
        }
    });
    it('an endorsement past the deadline is DEADLINE_EXCEEDED at once, not repeated, and writes nothing', async () => {
        const root = path.join(network.root, 'short-timeout');
        const gateway = await startGatewayProcess({
            env: {
                ...network.gatewayEnv,
                ORCHESTRATOR_STATE_DIR: path.join(root, 'events'),
                ORCHESTRATOR_FABRIC_GATEWAY_TIMEOUT: '300ms',
            },
            logFile: path.join(root, 'gateway.log'),
        });
        try {
            const client = new OrgClient(`127.0.0.1:${gateway.port}`, ORG1, 'mychannel');
            const key = randomUUID();
            const t0 = Date.now();
            // ~2 s of chaincode work (see the 2.4 MB test above) against a 300 ms deadline
            const err = await failure(
                client.call('ComputePlanService/RegisterPlan', { key, name: 'slow', metadata: bigMetadata(22_000) }),
            );
            const elapsed = Date.now() - t0;
            console.log(`[limits] endorsement over a 300 ms deadline: ${grpc.status[err.code]} after ${elapsed} ms`);
            expect(err.code, err.details).toBe(grpc.status.DEADLINE_EXCEEDED);
            expect(err.details).toMatch(/fewer items per call/);
            expect(elapsed).toBeLessThan(2500); // five attempts would take over 4 s
            await new Promise((r) => setTimeout(r, 3000)); // the peer finishes its simulation meanwhile
            const read = await failure(o1.call('ComputePlanService/GetPlan', { key }));
            expect(read.code).toBe(grpc.status.NOT_FOUND);
        } finally {
            await gateway.stop();
        }
    });
});
