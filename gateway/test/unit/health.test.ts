import * as grpc from '@grpc/grpc-js';
import { orchestrator } from '@substra-fabric/api';
import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../src/events/hub';
import { InvocationError } from '../../src/errors';
import type { InvokeRequest } from '../../src/fabric/client';
import { FABRIC_HEALTH_SERVICE, FabricHealth, type ServingStatus, channelHealthService } from '../../src/ops/health';
import type { ServerConfig } from '../../src/rpc/server';
import {
    FakeFabric,
    GatedFabric,
    type Harness,
    type Mode,
    event,
    silentLogger,
    startHarness,
    testConfig,
    unary,
    waitFor,
} from './helpers';

const CHECK = '/grpc.health.v1.Health/Check';

function serverConfig(health: ServerConfig['health'], metricsEnabled = false): ServerConfig {
    return testConfig({ metricsEnabled, ...(health === undefined ? {} : { health }) });
}

/** grpc.health.v1 Check of a service name: 'SERVING', 'NOT_SERVING', ... or the error code's name. */
async function check(client: grpc.Client, service: string): Promise<string> {
    const name = Buffer.from(service, 'utf8');
    // HealthCheckRequest { service = 1 }
    const request = service === '' ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
    try {
        const reply = await unary(client, CHECK, request, new grpc.Metadata());
        // HealthCheckResponse { status = 1 }: absent = UNKNOWN (0)
        return ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][reply[1] ?? 0] ?? 'invalid';
    } catch (err) {
        return grpc.status[(err as grpc.ServiceError).code];
    }
}

async function eventually(client: grpc.Client, service: string, expected: string): Promise<void> {
    const deadline = Date.now() + 5000;
    let last: string;
    while ((last = await check(client, service)) !== expected) {
        if (Date.now() > deadline) {
            throw new Error(`health of "${service}" is ${last}, not ${expected}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}

const isProbe = (request: InvokeRequest): boolean =>
    request.contract === 'orchestrator.info' && request.fn === 'QueryVersion';

const versionReply = (): Uint8Array =>
    orchestrator.QueryVersionResponse.encode({ orchestrator: '', chaincode: '1.0.0' }).finish();

describe('health service backed by peer probes', () => {
    let h: Harness | undefined;

    afterEach(async () => {
        await h?.close();
        h = undefined;
    });

    /** Start a gateway whose fake Fabric answers probes with `probe` (other calls echo their argument). */
    async function start(
        probe: (request: InvokeRequest) => Uint8Array | Promise<Uint8Array>,
        options: { intervalMs?: number; startupGraceMs?: number; metrics?: boolean; wallet?: string[] } = {},
    ): Promise<Harness> {
        const fabric = new FakeFabric();
        fabric.handler = (_mode: Mode, request: InvokeRequest) =>
            isProbe(request) ? probe(request) : request.argument;
        const wallet = options.wallet;
        h = await startHarness({
            fabric,
            config: serverConfig(
                { intervalMs: options.intervalMs ?? 20, startupGraceMs: options.startupGraceMs ?? 60_000 },
                options.metrics ?? false,
            ),
            ...(wallet === undefined ? {} : { hasIdentity: (mspid: string) => wallet.includes(mspid) }),
        });
        return h;
    }

    it('keeps the overall status and orchestrator.fabric NOT_SERVING until the first probe succeeds', async () => {
        let release: () => void = () => undefined;
        const answered = new Promise<void>((resolve) => {
            release = resolve;
        });
        const { client } = await start(async () => {
            await answered;
            return versionReply();
        });
        expect(await check(client, '')).toBe('NOT_SERVING');
        expect(await check(client, FABRIC_HEALTH_SERVICE)).toBe('NOT_SERVING');
        release();
        await eventually(client, '', 'SERVING');
        await eventually(client, FABRIC_HEALTH_SERVICE, 'SERVING');
        expect(await check(client, channelHealthService('mychannel'))).toBe('SERVING');
    });

    it('probes each configured channel and chaincode with an evaluate of orchestrator.info QueryVersion signed by the first member identity of the wallet', async () => {
        const { client, fabric } = await start(() => versionReply(), { wallet: ['Org2MSP', 'Org3MSP'] });
        await eventually(client, channelHealthService('otherchannel'), 'SERVING');
        const probes = fabric.calls.filter((c) => isProbe(c.request));
        expect(probes.every((c) => c.mode === 'evaluate')).toBe(true);
        const targets = new Set(probes.map((c) => `${c.request.channel}/${c.request.chaincode}/${c.request.mspid}`));
        // yourchannel's only member (Org1MSP) has no identity in the wallet: it is never probed, and down.
        expect([...targets].sort()).toEqual(['mychannel/mycc/Org2MSP', 'otherchannel/mycc/Org3MSP']);
        expect(orchestrator.QueryVersionParam.decode(probes[0]?.request.argument ?? new Uint8Array())).toEqual(
            orchestrator.QueryVersionParam.create(),
        );
        expect(await check(client, channelHealthService('yourchannel'))).toBe('NOT_SERVING');
        expect(await check(client, FABRIC_HEALTH_SERVICE)).toBe('SERVING');
    });

    it('reports orchestrator.fabric NOT_SERVING while every probe fails, and SERVING again once one succeeds, without the overall status (liveness) flapping', async () => {
        let peerUp = true;
        const { client } = await start(() => {
            if (!peerUp) {
                throw new InvocationError('unavailable', 'peer unreachable');
            }
            return versionReply();
        });
        await eventually(client, FABRIC_HEALTH_SERVICE, 'SERVING');
        peerUp = false;
        await eventually(client, FABRIC_HEALTH_SERVICE, 'NOT_SERVING');
        expect(await check(client, channelHealthService('mychannel'))).toBe('NOT_SERVING');
        expect(await check(client, '')).toBe('SERVING');
        peerUp = true;
        await eventually(client, FABRIC_HEALTH_SERVICE, 'SERVING');
        expect(await check(client, '')).toBe('SERVING');
    });

    it('keeps orchestrator.fabric SERVING while one channel answers, and marks only the failing channel NOT_SERVING', async () => {
        const { client } = await start((request) => {
            if (request.channel === 'yourchannel') {
                throw new InvocationError('chaincode', 'chaincode yourcc not found');
            }
            return versionReply();
        });
        await eventually(client, channelHealthService('yourchannel'), 'NOT_SERVING');
        await eventually(client, FABRIC_HEALTH_SERVICE, 'SERVING');
        expect(await check(client, channelHealthService('mychannel'))).toBe('SERVING');
    });

    it('reports the overall status SERVING after the start-up grace period when the peer never answers', async () => {
        const { client } = await start(() => new Promise<Uint8Array>(() => undefined), {
            intervalMs: 50,
            startupGraceMs: 200,
        });
        expect(await check(client, '')).toBe('NOT_SERVING');
        await eventually(client, '', 'SERVING');
        // A probe without an answer within the interval counts as failed.
        expect(await check(client, FABRIC_HEALTH_SERVICE)).toBe('NOT_SERVING');
    });

    it('turns probing off with interval 0: every name SERVING from the start and no probe sent', async () => {
        const { client, fabric } = await start(() => versionReply(), { intervalMs: 0 });
        expect(await check(client, '')).toBe('SERVING');
        expect(await check(client, FABRIC_HEALTH_SERVICE)).toBe('SERVING');
        expect(await check(client, channelHealthService('mychannel'))).toBe('SERVING');
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(fabric.calls.filter((c) => isProbe(c.request))).toHaveLength(0);
    });

    it('answers NOT_FOUND for a name it does not know, as the standard health service does', async () => {
        const { client } = await start(() => versionReply());
        expect(await check(client, 'orchestrator.fabric/nochannel')).toBe('NOT_FOUND');
    });

    it('exports the probe results as the orchestrator_fabric_up gauge per channel and chaincode', async () => {
        const harness = await start(
            (request) => {
                if (request.channel === 'yourchannel') {
                    throw new InvocationError('unavailable', 'peer unreachable');
                }
                return versionReply();
            },
            { metrics: true },
        );
        await eventually(harness.client, FABRIC_HEALTH_SERVICE, 'SERVING');
        const text = await (await fetch(`http://127.0.0.1:${harness.metricsPort ?? 0}/metrics`)).text();
        expect(text).toContain('orchestrator_fabric_up{channel="mychannel",chaincode="mycc"} 1');
        expect(text).toContain('orchestrator_fabric_up{channel="yourchannel",chaincode="yourcc"} 0');
    });
});

describe('FabricHealth', () => {
    it('reports NOT_SERVING under every name on shutdown', async () => {
        const fabric = new FakeFabric();
        fabric.handler = () => versionReply();
        const statuses = new Map<string, ServingStatus>();
        const health = new FabricHealth({
            fabric,
            targets: [{ mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' }],
            intervalMs: 1000,
            startupGraceMs: 1000,
            setStatus: (service, status) => statuses.set(service, status),
            logger: silentLogger,
        });
        await health.probeAll();
        expect([...statuses.values()]).toEqual(['SERVING', 'SERVING', 'SERVING']);
        health.stop();
        expect(Object.fromEntries(statuses)).toEqual({
            '': 'NOT_SERVING',
            [FABRIC_HEALTH_SERVICE]: 'NOT_SERVING',
            [channelHealthService('mychannel')]: 'NOT_SERVING',
        });
    });

    it('tells the health service of status changes only, so Watch streams are not sent a message per probe', async () => {
        const fabric = new FakeFabric();
        let up = true;
        fabric.handler = () => {
            if (!up) {
                throw new InvocationError('timeout', 'deadline exceeded');
            }
            return versionReply();
        };
        const statuses: [string, ServingStatus][] = [];
        const health = new FabricHealth({
            fabric,
            targets: [{ mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' }],
            intervalMs: 1000,
            startupGraceMs: 1000,
            setStatus: (service, status) => statuses.push([service, status]),
            logger: silentLogger,
        });
        await health.probeAll();
        await health.probeAll();
        up = false;
        await health.probeAll();
        await health.probeAll();
        health.stop();
        expect(statuses).toEqual([
            ['', 'NOT_SERVING'],
            [FABRIC_HEALTH_SERVICE, 'NOT_SERVING'],
            [channelHealthService('mychannel'), 'NOT_SERVING'],
            [channelHealthService('mychannel'), 'SERVING'],
            [FABRIC_HEALTH_SERVICE, 'SERVING'],
            ['', 'SERVING'],
            [channelHealthService('mychannel'), 'NOT_SERVING'],
            [FABRIC_HEALTH_SERVICE, 'NOT_SERVING'],
            ['', 'NOT_SERVING'],
        ]);
    });

    it('reports every name SERVING and sends no probe when the interval is 0', async () => {
        const fabric = new FakeFabric();
        const statuses = new Map<string, ServingStatus>();
        const health = new FabricHealth({
            fabric,
            targets: [{ mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' }],
            intervalMs: 0,
            startupGraceMs: 0,
            setStatus: (service, status) => statuses.set(service, status),
            logger: silentLogger,
        });
        health.start();
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(Object.fromEntries(statuses)).toEqual({
            '': 'SERVING',
            [FABRIC_HEALTH_SERVICE]: 'SERVING',
            [channelHealthService('mychannel')]: 'SERVING',
        });
        expect(fabric.calls).toHaveLength(0);
        health.stop();
    });
});

describe('readiness and the event indexes', () => {
    const MYCHANNEL = { mspid: 'Org1MSP', channel: 'mychannel', chaincode: 'mycc' };
    const YOURCHANNEL = { mspid: 'Org1MSP', channel: 'yourchannel', chaincode: 'yourcc' };

    function setup(probeUp: (request: InvokeRequest) => boolean = () => true) {
        const fabric = new GatedFabric();
        fabric.handler = (_mode, request) => {
            if (!probeUp(request)) {
                throw new InvocationError('unavailable', 'peer unreachable');
            }
            return versionReply();
        };
        fabric.commit('tx1', [event('tx1:0')], 1n);
        fabric.commit('tx2', [event('tx2:0')], 2n);
        fabric.commit('tx3', [event('tx3:0')], 3n);
        fabric.allow(1);
        const hub = new EventHub({ fabric, logger: silentLogger, quietMs: 60_000 });
        const statuses = new Map<string, ServingStatus>();
        const health = new FabricHealth({
            fabric,
            targets: [MYCHANNEL, YOURCHANNEL],
            intervalMs: 1000,
            startupGraceMs: 60_000,
            setStatus: (service, status) => statuses.set(service, status),
            logger: silentLogger,
            indexing: hub,
        });
        return { fabric, hub, health, statuses };
    }

    it('keeps a channel and orchestrator.fabric NOT_SERVING while its index catches up, liveness SERVING', async () => {
        const { fabric, hub, health, statuses } = setup();
        const index = hub.index(MYCHANNEL); // yourchannel has no listener: it holds nothing back
        await waitFor(() => index.length === 1);
        await health.probeAll();
        expect(Object.fromEntries(statuses)).toEqual({
            '': 'SERVING',
            [FABRIC_HEALTH_SERVICE]: 'NOT_SERVING',
            [channelHealthService('mychannel')]: 'NOT_SERVING',
            [channelHealthService('yourchannel')]: 'SERVING',
        });
        fabric.allow(2);
        // no new probe round needed: the index tells health when it has caught up
        await waitFor(() => statuses.get(channelHealthService('mychannel')) === 'SERVING');
        expect(statuses.get(FABRIC_HEALTH_SERVICE)).toBe('SERVING');
        expect(index.length).toBe(3);
        health.stop();
        await hub.shutdown();
    });

    it('does not let a channel whose probe fails hold readiness back while its index catches up', async () => {
        const { hub, health, statuses } = setup((request) => request.channel !== 'mychannel');
        const index = hub.index(MYCHANNEL);
        await waitFor(() => index.length === 1);
        await health.probeAll();
        expect(statuses.get(channelHealthService('mychannel'))).toBe('NOT_SERVING');
        expect(statuses.get(channelHealthService('yourchannel'))).toBe('SERVING');
        expect(statuses.get(FABRIC_HEALTH_SERVICE)).toBe('SERVING');
        health.stop();
        await hub.shutdown();
    });
});
