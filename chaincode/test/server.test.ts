/**
 * The `chaincode` executable as hlf-k8s runs it (distributed.md §5.1): configured only through the environment,
 * it listens as a chaincode server. Each test spawns the real executable on 127.0.0.1 and a free port, opens the
 * chaincode shim stream the way a peer does (ChaincodeService/Connect) and expects the REGISTER message with
 * the configured package id; then kills the process.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { peer } from '@hyperledger/fabric-protos';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../src/main';

const CHAINCODE_DIR = path.join(__dirname, '..');
const EXECUTABLE = path.join(CHAINCODE_DIR, 'chaincode');
const CCID = 'orchestrator:0123456789abcdef';

let certs: string;
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            server.close(() => {
                if (address === null || typeof address === 'string') {
                    reject(new Error('no port'));
                } else {
                    resolve(address.port);
                }
            });
        });
    });
}

function openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: certs, stdio: 'ignore' });
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(): void {
    certs = mkdtempSync(path.join(tmpdir(), 'chaincode-tls-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
    writeFileSync(path.join(certs, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    for (const name of ['server', 'client']) {
        openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
        openssl(
            'x509',
            '-req',
            '-in',
            `${name}.csr`,
            '-CA',
            'ca.crt',
            '-CAkey',
            'ca.key',
            '-CAcreateserial',
            '-out',
            `${name}.crt`,
            '-days',
            '1',
            ...(name === 'server' ? ['-extfile', 'server.ext'] : []),
        );
    }
}

async function startChaincode(env: Record<string, string>): Promise<{ address: string; output: () => string }> {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const child = spawn(EXECUTABLE, [], {
        cwd: CHAINCODE_DIR,
        env: { PATH: process.env.PATH, CHAINCODE_CCID: CCID, CHAINCODE_ADDRESS: address, LOG_LEVEL: 'INFO', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
            reject(new Error(`chaincode did not start:\n${output}`));
        }, 15_000);
        const check = setInterval(() => {
            if (output.includes('listening on')) {
                clearInterval(check);
                clearTimeout(timer);
                resolve();
            }
        }, 50);
        child.on('exit', (code) => {
            clearInterval(check);
            clearTimeout(timer);
            reject(new Error(`chaincode exited with ${code}:\n${output}`));
        });
    });
    return { address, output: () => output };
}

/** Opens ChaincodeService/Connect like a peer and returns the name in the chaincode's REGISTER message. */
function registeredName(address: string, credentials: grpc.ChannelCredentials): Promise<string> {
    const client = new peer.ChaincodeClient(address, credentials, { 'grpc.ssl_target_name_override': 'localhost' });
    return new Promise<string>((resolve, reject) => {
        const stream = client.connect();
        const timer = setTimeout(() => {
            reject(new Error('no REGISTER message'));
        }, 10_000);
        stream.on('data', (message: peer.ChaincodeMessage) => {
            clearTimeout(timer);
            if (message.getType() !== peer.ChaincodeMessage.Type.REGISTER) {
                reject(new Error(`unexpected message type ${message.getType()}`));
                return;
            }
            resolve(peer.ChaincodeID.deserializeBinary(message.getPayload_asU8()).getName());
            stream.cancel();
        });
        stream.on('error', (error: grpc.ServiceError) => {
            clearTimeout(timer);
            if (error.code !== grpc.status.CANCELLED) {
                reject(error);
            }
        });
    }).finally(() => {
        client.close();
    });
}

describe('chaincode executable (chaincode as a service)', () => {
    beforeAll(() => {
        // The executable runs the build output: build it from the current sources. Type errors elsewhere in the
        // tree do not stop tsc from emitting, so only a missing entry point is fatal here.
        try {
            execFileSync('npx', ['tsc', '-b', CHAINCODE_DIR], { cwd: CHAINCODE_DIR, stdio: 'pipe' });
        } catch (error) {
            if (!existsSync(path.join(CHAINCODE_DIR, 'dist', 'src', 'main.js'))) {
                throw error;
            }
        }
        makeCertificates();
    }, 120_000);

    afterEach(() => {
        for (const child of children.splice(0)) {
            child.kill('SIGKILL');
        }
    });

    afterAll(() => {
        rmSync(certs, { recursive: true, force: true });
    });

    it('without TLS variables it serves plaintext on CHAINCODE_ADDRESS and registers with CHAINCODE_CCID', async () => {
        const { address } = await startChaincode({});
        expect(await registeredName(address, grpc.credentials.createInsecure())).toBe(CCID);
    });

    it('with TLS_CERT_FILE, TLS_KEY_FILE and TLS_ROOTCERT_FILE it requires mutual TLS', async () => {
        const { address, output } = await startChaincode({
            TLS_CERT_FILE: path.join(certs, 'server.crt'),
            TLS_KEY_FILE: path.join(certs, 'server.key'),
            TLS_ROOTCERT_FILE: path.join(certs, 'ca.crt'),
        });
        expect(output()).toContain('(mutual TLS)');
        const ca = readFileSync(path.join(certs, 'ca.crt'));
        const withClientCert = grpc.credentials.createSsl(
            ca,
            readFileSync(path.join(certs, 'client.key')),
            readFileSync(path.join(certs, 'client.crt')),
        );
        expect(await registeredName(address, withClientCert)).toBe(CCID);
        await expect(registeredName(address, grpc.credentials.createSsl(ca))).rejects.toThrow();
        await expect(registeredName(address, grpc.credentials.createInsecure())).rejects.toThrow();
    });

    it('refuses to start without CHAINCODE_CCID and CHAINCODE_ADDRESS, or with half a TLS configuration', () => {
        expect(() => configFromEnv({ CHAINCODE_ADDRESS: '0.0.0.0:7052' })).toThrow(
            'CHAINCODE_CCID and CHAINCODE_ADDRESS must be set',
        );
        expect(() => configFromEnv({ CHAINCODE_CCID: 'x', CHAINCODE_ADDRESS: 'a:1', TLS_CERT_FILE: '/c' })).toThrow(
            'TLS_CERT_FILE and TLS_KEY_FILE must be set together',
        );
        expect(() => configFromEnv({ CHAINCODE_CCID: 'x', CHAINCODE_ADDRESS: 'a:1', LOG_LEVEL: 'LOUD' })).toThrow(
            'unknown LOG_LEVEL',
        );
        expect(configFromEnv({ CHAINCODE_CCID: 'x', CHAINCODE_ADDRESS: 'a:1', LOG_LEVEL: 'warn' }).logLevel).toBe(
            'WARNING',
        );
    });
});
