import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChannelConfig } from '../../src/ops/config';
import { MspVerifier, serverCredentials, subjectOrganizations } from '../../src/rpc/tls';
import { Pki, hasOpenssl } from '../pki';
import { type Harness, headers, startHarness, testConfig, unary, unaryError } from './helpers';

describe.skipIf(!hasOpenssl())('client MSP id verification', () => {
    const pki = new Pki();
    let h: Harness;
    let insecure: Harness;

    beforeAll(async () => {
        pki.ca('serverca');
        pki.ca('org1ca');
        pki.ca('org2ca');
        pki.leaf(
            'server',
            '/CN=localhost',
            'serverca',
            'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
        );
        pki.leaf('user1', '/O=Org1MSP/CN=user1', 'org1ca', 'extendedKeyUsage=clientAuth\n');
        pki.leaf('fake1', '/O=Org1MSP/CN=fake', 'org2ca', 'extendedKeyUsage=clientAuth\n');
        fs.mkdirSync(pki.file('clients/Org1MSP'), { recursive: true });
        fs.mkdirSync(pki.file('clients/Org2MSP'), { recursive: true });
        fs.copyFileSync(pki.file('org1ca.pem'), pki.file('clients/Org1MSP/ca.pem'));
        fs.copyFileSync(pki.file('org2ca.pem'), pki.file('clients/Org2MSP/ca.pem'));
        const config = testConfig({ channelConfig: parseChannelConfig('channels: {mychannel: [Org1MSP, Org2MSP]}') });
        const verifier = MspVerifier.fromDirectory(pki.file('clients'));
        h = await startHarness({
            config,
            mspVerifier: verifier,
            credentials: serverCredentials({
                enabled: true,
                certPath: pki.file('server.pem'),
                keyPath: pki.file('server.key'),
                mtlsEnabled: true,
                serverCaCertPath: pki.file('serverca.pem'),
                clientCaCertDir: pki.file('clients'),
            }),
        });
        insecure = await startHarness({ config, mspVerifier: verifier });
    });

    afterAll(async () => {
        await h.close();
        await insecure.close();
        fs.rmSync(pki.dir, { recursive: true, force: true });
    });

    function tlsClient(user: string): grpc.Client {
        const credentials = grpc.credentials.createSsl(
            pki.read('serverca.pem'),
            pki.read(`${user}.key`),
            pki.read(`${user}.pem`),
        );
        return new grpc.Client(`localhost:${h.port}`, credentials);
    }

    const GET_TASK = '/orchestrator.ComputeTaskService/GetTask';

    /** GetTask on mychannel as `mspid`, expected to fail: the error. */
    function getTaskError(client: grpc.Client, mspid: string): Promise<grpc.ServiceError> {
        return unaryError(client, GET_TASK, Buffer.alloc(0), headers({ mspid, channel: 'mychannel' }));
    }

    it('accepts an mspid that is an O of a client certificate issued by that organization', async () => {
        const client = tlsClient('user1');
        const reply = await unary(
            client,
            GET_TASK,
            Buffer.from('x'),
            headers({ mspid: 'Org1MSP', channel: 'mychannel' }),
        );
        expect(reply.toString()).toBe('x');
        client.close();
    });

    it('denies an mspid that is not an O of the client certificate', async () => {
        const client = tlsClient('user1');
        const err = await getTaskError(client, 'Org2MSP');
        expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
        expect(err.details).toBe(
            'OE0102: invalid MSPID: cannot find MSPID "Org2MSP" in client TLS certificate Subject Organizations',
        );
        client.close();
    });

    it('denies a certificate that claims the organization but was issued by another CA', async () => {
        const client = tlsClient('fake1');
        const err = await getTaskError(client, 'Org1MSP');
        expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
        expect(err.details).toBe('OE0102: invalid MSPID: invalid issuer for MSPID "Org1MSP"');
        client.close();
    });

    it('answers INTERNAL when there is no TLS client certificate to check', async () => {
        const err = await getTaskError(insecure.client, 'Org1MSP');
        expect(err.code).toBe(grpc.status.INTERNAL);
        expect(err.details).toBe('OE0007: invalid MSPID: failed to extract MSP ID from TLS context');
    });

    it('denies (OE0102), not INTERNAL, a TLS connection without client certificate (Substra mspid.go)', () => {
        const tlsOnly = new MspVerifier(new Map([['Org1MSP', [pki.read('org1ca.pem')]]]), { tls: true });
        expect(tlsOnly.check('Org1MSP', undefined)).toEqual({
            code: 'denied',
            message:
                'OE0102: invalid MSPID: cannot find MSPID "Org1MSP" in client TLS certificate Subject Organizations',
        });
        const plaintext = new MspVerifier(new Map());
        expect(plaintext.check('Org1MSP', undefined)?.code).toBe('no-tls');
    });

    it('checks organizations without a configured CA', () => {
        const verifier = new MspVerifier(new Map([['Org1MSP', [pki.read('org1ca.pem')]]]));
        const cert = new crypto.X509Certificate(pki.read('user1.pem'));
        expect(subjectOrganizations(cert)).toEqual(['Org1MSP']);
        const peer = { raw: cert.raw, fingerprint256: cert.fingerprint256 } as unknown as Parameters<
            MspVerifier['check']
        >[1];
        expect(verifier.check('Org1MSP', peer)).toBeUndefined();
        const other = new MspVerifier(new Map());
        expect(other.check('Org1MSP', peer)?.message).toBe(
            'OE0102: invalid MSPID: cannot find MSPID "Org1MSP" in allowed organizations',
        );
    });
});
