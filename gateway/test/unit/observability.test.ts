import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { orchestrator } from '@substra-fabric/api';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChannelConfig } from '../../src/ops/config';
import { type Harness, ORG1, chaincodeError, headers, startHarness, unary, unaryError, waitFor } from './helpers';

const GET_FUNCTION = '/orchestrator.FunctionService/GetFunction';
const identity = (value: Buffer): Buffer => value;

describe('health, reflection, metrics and logs', () => {
    let h: Harness;
    const lines: Record<string, unknown>[] = [];

    beforeAll(async () => {
        const sink = new Writable({
            write(chunk: Buffer, _encoding, callback) {
                for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
                    lines.push(JSON.parse(line) as Record<string, unknown>);
                }
                callback();
            },
        });
        h = await startHarness({
            logger: pino({ level: 'info' }, sink),
            config: {
                host: '127.0.0.1',
                port: 0,
                channelConfig: parseChannelConfig('channels: {mychannel: [Org1MSP]}'),
                defaultChaincode: 'mycc',
                maxReceiveMessageBytes: 4 * 1024 * 1024,
                metricsEnabled: true,
                metricsHost: '127.0.0.1',
                metricsPort: 0,
            },
        });
    });

    afterAll(async () => {
        await h.close();
    });

    it('answers grpc.health.v1 Check with SERVING and without headers', async () => {
        const reply = await unary(h.client, '/grpc.health.v1.Health/Check', Buffer.alloc(0), new grpc.Metadata());
        // HealthCheckResponse { status: SERVING (1) }
        expect([...reply]).toEqual([0x08, 0x01]);
    });

    it('answers server reflection without headers, listing the orchestrator services', async () => {
        const call = h.client.makeBidiStreamRequest(
            '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
            identity,
            identity,
            new grpc.Metadata(),
        );
        const reply = new Promise<Buffer>((resolve, reject) => {
            call.on('data', (data: Buffer) => {
                resolve(data);
            });
            call.on('error', reject);
        });
        // ServerReflectionRequest { list_services: "" } (field 7)
        call.write(Buffer.from([0x3a, 0x00]));
        call.end();
        const text = (await reply).toString('utf8');
        for (const service of [
            'orchestrator.EventService',
            'orchestrator.ComputeTaskService',
            'orchestrator.InfoService',
        ]) {
            expect(text).toContain(service);
        }
    });

    it('exposes go-grpc-prometheus metrics on the metrics port', async () => {
        h.fabric.handler = () => {
            throw chaincodeError('OE0002: function not found');
        };
        await unaryError(h.client, GET_FUNCTION, Buffer.alloc(0), headers(ORG1));
        h.fabric.handler = (_m, r) => r.argument;
        await unary(h.client, GET_FUNCTION, Buffer.alloc(0), headers(ORG1));
        const response = await fetch(`http://127.0.0.1:${h.metricsPort ?? 0}/metrics`);
        expect(response.status).toBe(200);
        const text = await response.text();
        const labels = 'grpc_type="unary",grpc_service="orchestrator.FunctionService",grpc_method="GetFunction"';
        expect(text).toContain(`grpc_server_started_total{${labels}} 2`);
        expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="NotFound"} 1`);
        expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="OK"} 1`);
        expect(text).toContain(`grpc_server_handling_seconds_count{${labels}} 2`);
        expect(text).toContain('process_cpu_seconds_total');
        const missing = await fetch(`http://127.0.0.1:${h.metricsPort ?? 0}/other`);
        expect(missing.status).toBe(404);
    });

    it('generates the request id when reqid is repeated or empty (api §7: reqid)', async () => {
        await unary(h.client, GET_FUNCTION, Buffer.alloc(0), headers({ ...ORG1, reqid: ['r1', 'r2'] }));
        await unary(h.client, GET_FUNCTION, Buffer.alloc(0), headers({ ...ORG1, reqid: '' }));
        await waitFor(() => lines.filter((l) => l.method === GET_FUNCTION && l.code === 'OK').length >= 2);
        const ids = lines.filter((l) => l.method === GET_FUNCTION && l.code === 'OK').map((l) => l.reqid);
        expect(ids.every((id) => typeof id === 'string' && /^[0-9a-f]{8}$/.test(id))).toBe(true);
    });

    it('logs each call as JSON with request id, mspid, channel and method', async () => {
        await unary(
            h.client,
            GET_FUNCTION,
            orchestrator.GetFunctionParam.encode({ key: 'k' }).finish(),
            headers({ ...ORG1, reqid: 'abc123' }),
        );
        await unary(h.client, GET_FUNCTION, Buffer.alloc(0), headers(ORG1));
        await waitFor(() => lines.filter((l) => l.method === GET_FUNCTION && l.code === 'OK').length >= 2);
        const calls = lines.filter((l) => l.method === GET_FUNCTION && l.code === 'OK');
        expect(calls.find((l) => l.reqid === 'abc123')).toMatchObject({ mspid: 'Org1MSP', channel: 'mychannel' });
        const generated = calls.map((l) => l.reqid).filter((id) => id !== 'abc123');
        expect(generated.some((id) => typeof id === 'string' && /^[0-9a-f]{8}$/.test(id))).toBe(true);
    });
});
