import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RPCS, orchestrator } from '@substra-fabric/api';
import { describe, expect, it } from 'vitest';
import { encodeResponse } from '../src/contracts/codec';
import { buildContracts, contracts } from '../src/contracts';
import { HANDLERS } from '../src/contracts/handlers';
import { ProtobufSerializer } from '../src/contracts/serializer';
import { CHAINCODE_VERSION } from '../src/version';
import { findRpc, newTestLedger } from './support/ledger';
import { ORG1 } from './support/fixtures';

function wrapper(msg: object, requestId = 'abcd1234'): string {
    return JSON.stringify({ msg: JSON.stringify(msg), request_id: requestId });
}

describe('contract surface', () => {
    it('one contract orchestrator.<asset> per service, organization first (default), streaming RPCs excluded', () => {
        const names = contracts.map((C) => new C().getName());
        expect(names[0]).toBe('orchestrator.organization');
        expect(names).toEqual([...new Set(RPCS.filter((r) => !r.responseStream).map((r) => r.contract))]);
        expect(names).toContain('orchestrator.event');
        expect(names).toContain('orchestrator.info');
    });

    it('the handler table has exactly one handler per unary RPC (run-time view of what its type requires)', () => {
        const handled = Object.entries(HANDLERS).flatMap(([service, methods]) =>
            Object.keys(methods).map((method) => `${service}.${method}`),
        );
        expect(handled).toEqual(RPCS.filter((r) => !r.responseStream).map((r) => `${r.service}.${r.method}`));
    });

    it('GetMetadata lists every unary RPC as a function of its contract, with one parameter', async () => {
        const ledger = newTestLedger();
        const res = await ledger.evaluateCall(ORG1, 'org.hyperledger.fabric:GetMetadata');
        expect(res.status).toBe(200);
        const metadata = JSON.parse(Buffer.from(res.payload).toString()) as {
            contracts: Record<string, { transactions: { name: string; parameters?: unknown[] }[] }>;
        };
        for (const rpc of RPCS.filter((r) => !r.responseStream)) {
            const tx = metadata.contracts[rpc.contract]?.transactions.find((t) => t.name === rpc.fn);
            expect(tx, `${rpc.contract}:${rpc.fn}`).toBeDefined();
            expect(tx!.parameters).toHaveLength(1);
        }
        expect(metadata.contracts['orchestrator.event']!.transactions.map((t) => t.name)).toEqual(['QueryEvents']);
    });

    it('Init with a single empty-string argument succeeds (hlf-k8s initialisation) and writes nothing', async () => {
        const ledger = newTestLedger();
        const res = await ledger.init(ORG1, ['']);
        expect(res.status).toBe(200);
        expect(res.writes).toEqual([]);
        expect(res.chaincodeEvent).toBeUndefined();
    });

    it('an unknown function of a contract fails with a message naming it', async () => {
        const ledger = newTestLedger();
        const res = await ledger.submit(ORG1, 'orchestrator.organization:NoSuchFunction', '');
        expect(res.status).toBe(500);
        expect(res.message).toBe(
            'function "orchestrator.organization:NoSuchFunction" not found in contract "orchestrator.organization"',
        );
    });

    it('binary protobuf in, binary protobuf of the response message out (raw bytes, no JSON mangling)', async () => {
        const ledger = newTestLedger();
        const arg = orchestrator.RegisterOrganizationParam.encode({ address: 'https://org1.example' }).finish();
        const res = await ledger.submit(ORG1, 'orchestrator.organization:RegisterOrganization', arg);
        expect(res.status).toBe(200);
        const expected = orchestrator.Organization.encode({
            id: ORG1,
            address: 'https://org1.example',
            creation_date: res.timestamp,
        }).finish();
        expect(Buffer.from(res.payload).equals(Buffer.from(expected))).toBe(true);
        expect(res.events).toHaveLength(1);
    });

    it('a JSON argument (the 0.37.0 wrapper {"msg": "<protojson>", "request_id"}) is refused with OE0001 and writes nothing', async () => {
        const ledger = newTestLedger();
        for (const arg of [wrapper({ address: 'http://a.example' }), '{not json']) {
            const res = await ledger.submit(ORG1, 'orchestrator.organization:RegisterOrganization', arg);
            expect(res.status).toBe(500);
            expect(res.message).toBe(
                'OE0001: invalid RegisterOrganizationParam message: JSON arguments are not accepted, send the binary protobuf of the request',
            );
            expect(res.writes).toEqual([]);
            expect(res.chaincodeEvent).toBeUndefined();
        }
        expect(ledger.world.size).toBe(0);
    });

    it('a function name without contract goes to the default contract orchestrator.organization', async () => {
        const ledger = newTestLedger();
        await ledger.submit(ORG1, 'RegisterOrganization', orchestrator.RegisterOrganizationParam.encode({}).finish());
        const res = await ledger.evaluateCall(ORG1, 'GetAllOrganizations', new Uint8Array(0));
        expect(res.status).toBe(200);
        expect(orchestrator.GetAllOrganizationsResponse.decode(res.payload).organizations.map((o) => o.id)).toEqual([
            ORG1,
        ]);
    });

    it('errors propagate as the error message with its OE code, and a failed transaction commits nothing', async () => {
        const ledger = newTestLedger();
        const arg = orchestrator.RegisterOrganizationParam.encode({}).finish();
        expect((await ledger.submit(ORG1, 'orchestrator.organization:RegisterOrganization', arg)).status).toBe(200);
        const size = ledger.world.size;
        const res = await ledger.submit(ORG1, 'orchestrator.organization:RegisterOrganization', arg);
        expect(res.status).toBe(500);
        expect(res.message).toBe(`OE0006: organization with key "${ORG1}" already exists`);
        expect(res.chaincodeEvent).toBeUndefined();
        expect(ledger.world.size).toBe(size);
        expect(ledger.world.transactions).toHaveLength(1);
    });

    it('an RPC without handler answers OE0010 "... not implemented"', async () => {
        const ledger = newTestLedger({ contracts: buildContracts({}) });
        const res = await ledger.submit(ORG1, 'orchestrator.function:RegisterFunction', new Uint8Array(0));
        expect(res.status).toBe(500);
        expect(res.message).toBe('OE0010: FunctionService.RegisterFunction is not implemented');
    });

    it('orchestrator.event:QueryEvents answers OE0010 saying the gateway serves it from chaincode events', async () => {
        const ledger = newTestLedger();
        const res = await ledger.evaluateCall(ORG1, 'orchestrator.event:QueryEvents', new Uint8Array(0));
        expect(res.status).toBe(500);
        expect(res.message).toMatch(/^OE0010: .*gateway.*chaincode events/);
    });

    it('a malformed binary argument fails with OE0001', async () => {
        const ledger = newTestLedger();
        const res = await ledger.submit(
            ORG1,
            'orchestrator.organization:RegisterOrganization',
            Uint8Array.of(0x0a, 0x05, 0x41),
        );
        expect(res.status).toBe(500);
        expect(res.message).toMatch(/^OE0001: invalid RegisterOrganizationParam message/);
    });

    it('QueryVersion returns the chaincode version (= package.json version) in `chaincode`, `orchestrator` left empty', async () => {
        const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
        expect(CHAINCODE_VERSION).toBe(pkg.version);
        const ledger = newTestLedger();
        const res = await ledger.rpc<orchestrator.QueryVersionResponse>(ORG1, 'QueryVersion');
        expect(res.chaincode).toBe(pkg.version);
        expect(res.orchestrator).toBe('');
    });
});

describe('response encoding and serializer', () => {
    it('encodes a plain-object response through the generated fromObject (enum names allowed)', () => {
        const bytes = encodeResponse(findRpc('IsPlanRunning'), { is_running: true });
        expect(orchestrator.IsPlanRunningResponse.decode(bytes).is_running).toBe(true);
    });

    it('the serializer passes bytes through in both directions and JSON-encodes anything else', () => {
        const serializer = new ProtobufSerializer();
        const bytes = Buffer.from([0, 1, 2, 255]);
        expect(serializer.fromBuffer(bytes).value).toBe(bytes);
        expect(serializer.toBuffer(Uint8Array.of(0, 255))).toEqual(Buffer.from([0, 255]));
        expect(serializer.toBuffer({ a: 1 })?.toString()).toBe('{"a":1}');
        expect(serializer.toBuffer(undefined)).toBeUndefined();
    });
});
