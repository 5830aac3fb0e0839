import { status } from '@grpc/grpc-js';
import { RPCS, orchestrator } from '@substra-fabric/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { orchestratorServices } from '../../src/rpc/services';
import { type Harness, ORG1, chaincodeError, headers, startHarness, unary, unaryError } from './helpers';

describe('service registration', () => {
    it('defines the 13 services and 40 RPCs of the orchestrator API', () => {
        const services = orchestratorServices();
        expect(services.size).toBe(13);
        const methods = [...services.values()].flatMap((s) => Object.values(s));
        expect(methods).toHaveLength(40);
        expect(methods.map((m) => m.path).sort()).toEqual(RPCS.map((r) => r.path).sort());
        const stream = methods.filter((m) => m.responseStream).map((m) => m.path);
        expect(stream).toEqual(['/orchestrator.EventService/SubscribeToEvents']);
    });

    it('serializes with identity functions (bytes are not re-encoded)', () => {
        const [definition] = orchestratorServices().values();
        const [method] = Object.values(definition ?? {});
        const bytes = Buffer.from([1, 2, 3]);
        expect(method?.requestDeserialize(bytes)).toBe(bytes);
        expect(method?.responseSerialize(bytes)).toBe(bytes);
    });
});

describe('routing to the chaincode', () => {
    let h: Harness;

    beforeAll(async () => {
        h = await startHarness();
    });

    afterAll(async () => {
        await h.close();
    });

    beforeEach(() => {
        h.fabric.calls.length = 0;
        h.fabric.handler = (_mode, request) => request.argument;
    });

    const chaincodeRpcs = RPCS.filter(
        (r) => !r.responseStream && r.method !== 'QueryEvents' && r.method !== 'QueryVersion',
    );

    it.each(chaincodeRpcs.map((r) => [r.path, r] as const))('%s goes to its contract function', async (_path, rpc) => {
        const argument = Buffer.from(`request of ${rpc.method}`);
        const reply = await unary(h.client, rpc.path, argument, headers(ORG1));
        expect(reply.equals(argument)).toBe(true);
        expect(h.fabric.calls).toHaveLength(1);
        const [call] = h.fabric.calls;
        expect(call?.mode).toBe(rpc.readOnly ? 'evaluate' : 'submit');
        expect(call?.request.contract).toBe(rpc.contract);
        expect(call?.request.fn).toBe(rpc.method);
        expect(Buffer.from(call?.request.argument ?? []).equals(argument)).toBe(true);
    });

    it('evaluates the read-only RPCs and submits the others', () => {
        const readOnly = chaincodeRpcs.filter((r) => r.readOnly).map((r) => r.method);
        expect(readOnly).toContain('GetTask');
        expect(readOnly).toContain('IsPlanRunning');
        expect(readOnly).not.toContain('RegisterTasks');
    });

    it('forwards request and response bytes unchanged, unknown fields included', async () => {
        // field 99 (unknown to the schema) must survive both ways
        const request = Buffer.concat([
            Buffer.from(orchestrator.GetTaskParam.encode({ key: 'k' }).finish()),
            Buffer.from([0x9a, 0x06, 0x02, 0x68, 0x69]),
        ]);
        const response = Buffer.from([0x0a, 0x01, 0x78, 0xfa, 0x07, 0x00]);
        h.fabric.handler = () => response;
        const reply = await unary(h.client, '/orchestrator.ComputeTaskService/GetTask', request, headers(ORG1));
        expect(reply.equals(response)).toBe(true);
        expect(Buffer.from(h.fabric.calls[0]?.request.argument ?? []).equals(request)).toBe(true);
    });

    it('answers QueryVersion with the gateway version and the chaincode version', async () => {
        h.fabric.handler = () =>
            orchestrator.QueryVersionResponse.encode({ orchestrator: 'cc', chaincode: '1.2.3' }).finish();
        const reply = await unary(
            h.client,
            '/orchestrator.InfoService/QueryVersion',
            orchestrator.QueryVersionParam.encode({}).finish(),
            headers(ORG1),
        );
        const version = orchestrator.QueryVersionResponse.decode(reply);
        expect(version.orchestrator).toBe('9.9.9-test');
        expect(version.chaincode).toBe('1.2.3');
        expect(h.fabric.calls[0]?.mode).toBe('evaluate');
        expect(h.fabric.calls[0]?.request.contract).toBe('orchestrator.info');
    });

    it('maps chaincode errors to their gRPC status, keeping the message', async () => {
        h.fabric.handler = () => {
            throw chaincodeError('OE0002: function not found');
        };
        const err = await unaryError(
            h.client,
            '/orchestrator.FunctionService/GetFunction',
            Buffer.alloc(0),
            headers(ORG1),
        );
        expect(err.code).toBe(status.NOT_FOUND);
        expect(err.details).toBe('OE0002: function not found');
    });

    it('returns state-machine refusals as UNKNOWN with their text', async () => {
        const text = 'event transitionDone inappropriate in current state STATUS_DONE';
        h.fabric.handler = () => {
            throw chaincodeError(text);
        };
        const err = await unaryError(
            h.client,
            '/orchestrator.ComputeTaskService/ApplyTaskAction',
            Buffer.alloc(0),
            headers(ORG1),
        );
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe(text);
    });

    it('answers unknown methods with UNIMPLEMENTED', async () => {
        const err = await unaryError(h.client, '/orchestrator.InfoService/Nope', Buffer.alloc(0), headers(ORG1));
        expect(err.code).toBe(status.UNIMPLEMENTED);
    });
});
