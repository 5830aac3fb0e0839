import * as grpc from '@grpc/grpc-js';
import { connect, Gateway, hash, signers } from '@hyperledger/fabric-gateway';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Devnet, DevnetOrg, startDevnet } from '../src/network';
import { EndorsementPolicy } from '../src/ledger';

export const FIXTURE_CHAINCODE = path.join(__dirname, 'fixtures', 'chaincode', 'chaincode');

/** One state dir per test process; crypto is generated once and reused by every devnet started here. */
export const testStateDir = mkdtempSync(path.join(os.tmpdir(), 'devnet-test-'));

export function startTestDevnet(policy: EndorsementPolicy = 'or', keepLedger = false): Promise<Devnet> {
    return startDevnet({
        keepLedger,
        stateDir: testStateDir,
        policy,
        ports: 'auto',
        chaincodeExecutable: FIXTURE_CHAINCODE,
        batchTimeoutMs: 100,
        log: () => undefined,
    });
}

export interface Connection {
    gateway: Gateway;
    client: grpc.Client;
    close(): void;
}

export interface IdentityFiles {
    mspId: string;
    certFile: string;
    keyFile: string;
}

/** Connects an unmodified @hyperledger/fabric-gateway client to an org's peer, with mutual TLS. */
export function connectGateway(org: DevnetOrg, identity: IdentityFiles = org): Connection {
    const client = new grpc.Client(
        org.endpoint,
        grpc.credentials.createSsl(
            readFileSync(org.tlsCaFile),
            readFileSync(org.tlsClientKeyFile),
            readFileSync(org.tlsClientCertFile),
        ),
        { 'grpc.ssl_target_name_override': 'localhost' },
    );
    const gateway = connect({
        client,
        identity: { mspId: identity.mspId, credentials: readFileSync(identity.certFile) },
        signer: signers.newPrivateKeySigner(createPrivateKey(readFileSync(identity.keyFile))),
        hash: hash.sha256,
        evaluateOptions: () => ({ deadline: Date.now() + 10_000 }),
        endorseOptions: () => ({ deadline: Date.now() + 15_000 }),
        submitOptions: () => ({ deadline: Date.now() + 10_000 }),
        commitStatusOptions: () => ({ deadline: Date.now() + 20_000 }),
    });
    return {
        gateway,
        client,
        close: () => {
            gateway.close();
            client.close();
        },
    };
}

export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

export function uniqueKey(prefix: string): string {
    return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
