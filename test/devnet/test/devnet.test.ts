import * as grpc from '@grpc/grpc-js';
import {
    ChaincodeEvent,
    checkpointers,
    CommitError,
    connect,
    Contract,
    EndorseError,
    GatewayError,
    hash,
    signers,
    StatusCode,
} from '@hyperledger/fabric-gateway';
import { common, gateway, msp, peer } from '@hyperledger/fabric-protos';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCrypto } from '../src/crypto';
import { Devnet } from '../src/network';
import { Connection, connectGateway, startTestDevnet, testStateDir, text, uniqueKey } from './helpers';

afterAll(() => {
    rmSync(testStateDir, { recursive: true, force: true });
});

async function firstEvents(
    iterable: AsyncIterable<ChaincodeEvent>,
    count: number,
    timeoutMs = 10_000,
): Promise<ChaincodeEvent[]> {
    const events: ChaincodeEvent[] = [];
    const it = iterable[Symbol.asyncIterator]();
    const deadline = Date.now() + timeoutMs;
    while (events.length < count) {
        const next = await Promise.race([
            it.next(),
            new Promise<never>((_, reject) =>
                setTimeout(() => {
                    reject(new Error(`timed out after ${events.length} events`));
                }, deadline - Date.now()),
            ),
        ]);
        if (next.done) break;
        events.push(next.value);
    }
    return events;
}

describe('devnet with the OR endorsement policy', () => {
    let devnet: Devnet;
    let org1: Connection;
    let org2: Connection;
    let mycc: Contract;

    beforeAll(async () => {
        devnet = await startTestDevnet('or');
        org1 = connectGateway(devnet.orgs[0]!);
        org2 = connectGateway(devnet.orgs[1]!);
        mycc = org1.gateway.getNetwork('mychannel').getContract('mycc');
    }, 60_000);

    afterAll(async () => {
        org1.close();
        org2.close();
        await devnet.stop();
    });

    it('evaluates a transaction and passes the creator to the chaincode', async () => {
        const who = JSON.parse(text(await mycc.evaluateTransaction('whoami'))) as Record<string, string>;
        expect(who).toMatchObject({ mspId: 'MyOrg1MSP', channel: 'mychannel' });
        expect(who.txId).toMatch(/^[0-9a-f]{64}$/);
    });

    it('submits, commits in a block and reports the commit status', async () => {
        const key = uniqueKey('submit');
        const submitted = await mycc.submitAsync('put', { arguments: [key, 'v1'] });
        expect(text(submitted.getResult())).toBe('v1');
        const status = await submitted.getStatus();
        expect(status).toMatchObject({ code: StatusCode.VALID, successful: true });
        expect(status.blockNumber).toBeGreaterThan(0n);
        expect(text(await mycc.evaluateTransaction('get', key))).toBe('v1');
        // the other org's peer has the same ledger
        const viaOrg2 = org2.gateway.getNetwork('mychannel').getContract('mycc');
        expect(text(await viaOrg2.evaluateTransaction('get', key))).toBe('v1');
    });

    it('gives no read-your-writes inside a transaction (Fabric semantics)', async () => {
        const key = uniqueKey('ryw');
        expect(text(await mycc.submitTransaction('putThenGet', key, 'new'))).toBe('');
        expect(text(await mycc.evaluateTransaction('get', key))).toBe('new');
    });

    it('keeps channels apart and serves yourchannel/yourcc through the MyOrg2MSP peer', async () => {
        const key = uniqueKey('yours');
        const yourcc = org2.gateway.getNetwork('yourchannel').getContract('yourcc');
        await yourcc.submitTransaction('put', key, 'here');
        expect(text(await yourcc.evaluateTransaction('get', key))).toBe('here');
        expect(text(await mycc.evaluateTransaction('get', key))).toBe('');
    });

    it('replays chaincode events from a start block, then delivers live ones', async () => {
        const key = uniqueKey('ev');
        const first = await mycc.submitAsync('put', { arguments: [key, 'one'] });
        const { blockNumber } = await first.getStatus();
        const events = await org1.gateway
            .getNetwork('mychannel')
            .getChaincodeEvents('mycc', { startBlock: blockNumber });
        try {
            const received = firstEvents(events, 2);
            await mycc.submitTransaction('put', key, 'two');
            const [e1, e2] = await received;
            expect(e1).toMatchObject({
                blockNumber,
                transactionId: first.getTransactionId(),
                chaincodeName: 'mycc',
                eventName: 'put',
            });
            expect(text(e1!.payload)).toBe(`${key}=one`);
            expect(text(e2!.payload)).toBe(`${key}=two`);
            expect(e2!.blockNumber).toBeGreaterThan(blockNumber);
        } finally {
            events.close();
        }
    });

    it('resumes chaincode events after a checkpointed transaction, within the same block', async () => {
        const key = uniqueKey('ckpt');
        // Submitted together, both transactions land in the same block (batch timeout 100 ms).
        const [a, b] = await Promise.all([
            mycc.submitAsync('put', { arguments: [`${key}-a`, 'a'] }),
            mycc.submitAsync('put', { arguments: [`${key}-b`, 'b'] }),
        ]);
        const [sa, sb] = await Promise.all([a.getStatus(), b.getStatus()]);
        expect(sa.blockNumber).toBe(sb.blockNumber);
        const network = org1.gateway.getNetwork('mychannel');

        // Find which of the two comes first in the block.
        const replay = await network.getChaincodeEvents('mycc', { startBlock: sa.blockNumber });
        let ordered: ChaincodeEvent[];
        try {
            ordered = await firstEvents(replay, 2);
        } finally {
            replay.close();
        }
        const ids = [a.getTransactionId(), b.getTransactionId()];
        expect(ordered.map((e) => e.transactionId).sort()).toEqual([...ids].sort());

        const checkpointer = checkpointers.inMemory();
        await checkpointer.checkpointChaincodeEvent(ordered[0]!);
        const resumed = await network.getChaincodeEvents('mycc', { checkpoint: checkpointer });
        try {
            const [next] = await firstEvents(resumed, 1);
            expect(next!.transactionId).toBe(ordered[1]!.transactionId);
        } finally {
            resumed.close();
        }
    });

    it('fails a chaincode events stream for an unknown channel (access denied, as the ACL check comes first)', async () => {
        const events = await org1.gateway.getNetwork('nochannel').getChaincodeEvents('mycc');
        try {
            await expect(events[Symbol.asyncIterator]().next()).rejects.toMatchObject({
                code: grpc.status.PERMISSION_DENIED,
            });
        } finally {
            events.close();
        }
    });

    it('invalidates the second of two transactions that read and wrote the same key (MVCC_READ_CONFLICT)', async () => {
        const key = uniqueKey('mvcc');
        await mycc.submitTransaction('put', key, '10');
        const t1 = await mycc.newProposal('incr', { arguments: [key] }).endorse();
        const t2 = await mycc.newProposal('incr', { arguments: [key] }).endorse();
        expect(text(t1.getResult())).toBe('11');
        expect(text(t2.getResult())).toBe('11');
        const [s1, s2] = [await t1.submit(), await t2.submit()];
        const [st1, st2] = await Promise.all([s1.getStatus(), s2.getStatus()]);
        expect(st1.code).toBe(StatusCode.VALID);
        expect(st2).toMatchObject({ code: StatusCode.MVCC_READ_CONFLICT, successful: false });
        expect(text(await mycc.evaluateTransaction('get', key))).toBe('11');

        // submitTransaction raises CommitError for a conflicting transaction
        const t3 = await mycc.newProposal('incr', { arguments: [key] }).endorse();
        await mycc.submitTransaction('incr', key);
        const s3 = await t3.submit();
        expect((await s3.getStatus()).code).toBe(StatusCode.MVCC_READ_CONFLICT);
    });

    it('raises CommitError from submitTransaction when concurrent submits conflict', async () => {
        const key = uniqueKey('race');
        await mycc.submitTransaction('put', key, '0');
        const results = await Promise.allSettled([
            mycc.submitTransaction('incr', key),
            mycc.submitTransaction('incr', key),
        ]);
        const failures = results.filter((r) => r.status === 'rejected');
        // Both endorse before the block is cut (100 ms), so exactly one wins.
        expect(failures).toHaveLength(1);
        const reason = (failures[0] as PromiseRejectedResult).reason as CommitError;
        expect(reason).toBeInstanceOf(CommitError);
        expect(reason.code).toBe(StatusCode.MVCC_READ_CONFLICT);
        expect(text(await mycc.evaluateTransaction('get', key))).toBe('1');
    });

    it('detects phantom reads in range queries (PHANTOM_READ_CONFLICT)', async () => {
        const prefix = uniqueKey('phantom');
        await mycc.submitTransaction('put', `${prefix}-1`, 'x');
        const scan = await mycc
            .newProposal('rangeThenPut', { arguments: [`${prefix}-`, `${prefix}-~`, `${prefix}-sum`, 'n'] })
            .endorse();
        expect(JSON.parse(text(scan.getResult()))).toEqual([`${prefix}-1`]);
        await mycc.submitTransaction('put', `${prefix}-2`, 'y');
        const status = await (await scan.submit()).getStatus();
        expect(status.code).toBe(StatusCode.PHANTOM_READ_CONFLICT);
        expect(text(await mycc.evaluateTransaction('get', `${prefix}-sum`))).toBe('');
    });

    it('pages range queries with a bookmark and refuses them in a transaction that writes', async () => {
        const prefix = uniqueKey('page');
        for (const k of ['a', 'b', 'c']) await mycc.submitTransaction('put', `${prefix}-${k}`, k);
        const page1 = JSON.parse(
            text(await mycc.evaluateTransaction('page', `${prefix}-`, `${prefix}-~`, '2', '')),
        ) as { keys: string[]; bookmark: string; count: number };
        expect(page1).toEqual({ keys: [`${prefix}-a`, `${prefix}-b`], bookmark: `${prefix}-c`, count: 2 });
        const page2 = JSON.parse(
            text(await mycc.evaluateTransaction('page', `${prefix}-`, `${prefix}-~`, '2', page1.bookmark)),
        ) as { keys: string[]; bookmark: string; count: number };
        expect(page2).toEqual({ keys: [`${prefix}-c`], bookmark: '', count: 1 });

        await expect(
            mycc.evaluateTransaction('putThenPage', `${prefix}-z`, `${prefix}-`, `${prefix}-~`),
        ).rejects.toThrow(/paginated queries are not supported in transactions that write/);
    });

    it('streams range results beyond one batch (QUERY_STATE_NEXT) and pages larger than a batch', async () => {
        const prefix = uniqueKey('many');
        await mycc.submitTransaction('putMany', prefix, '205');
        const all = JSON.parse(text(await mycc.evaluateTransaction('range', `${prefix}-`, `${prefix}-~`))) as string[];
        expect(all).toHaveLength(205);
        expect(all[204]).toBe(`${prefix}-0204`);
        const page = JSON.parse(
            text(await mycc.evaluateTransaction('page', `${prefix}-`, `${prefix}-~`, '150', '')),
        ) as { keys: string[]; bookmark: string; count: number };
        expect(page.keys).toHaveLength(150);
        expect(page).toMatchObject({ bookmark: `${prefix}-0150`, count: 150 });
    });

    it('reports chaincode errors like a peer: EndorseError / GatewayError with details', async () => {
        const err = await mycc.submitTransaction('fail', 'OE0002: boom').then(
            () => undefined,
            (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(EndorseError);
        const endorseError = err as EndorseError;
        expect(endorseError.code).toBe(grpc.status.ABORTED);
        expect(endorseError.message).toContain('failed to endorse transaction, see attached details for more info');
        expect(endorseError.details).toEqual([
            { address: devnet.orgs[0]!.endpoint, mspId: 'MyOrg1MSP', message: 'chaincode response 500, OE0002: boom' },
        ]);
        expect(endorseError.transactionId).toMatch(/^[0-9a-f]{64}$/);

        const evalErr = await mycc.evaluateTransaction('fail', 'OE0002: nope').then(
            () => undefined,
            (e: unknown) => e,
        );
        expect(evalErr).toBeInstanceOf(GatewayError);
        expect((evalErr as GatewayError).code).toBe(grpc.status.UNKNOWN);
        expect((evalErr as GatewayError).message).toContain(
            'evaluate call to endorser returned error: chaincode response 500, OE0002: nope',
        );
        expect((evalErr as GatewayError).details[0]?.message).toBe('chaincode response 500, OE0002: nope');
    });

    it('rejects identities of unknown MSPs and certificates from a foreign CA', async () => {
        const foreignDir = mkdtempSync(path.join(os.tmpdir(), 'devnet-foreign-'));
        const foreign = ensureCrypto(foreignDir, [{ mspId: 'UnknownMSP', name: 'evil' }]).crypto.orgs[0]!;
        const org = devnet.orgs[0]!;
        const unknown = connectGateway(org, {
            mspId: 'UnknownMSP',
            certFile: foreign.client.certFile,
            keyFile: foreign.client.keyFile,
        });
        const impostor = connectGateway(org, {
            mspId: 'MyOrg1MSP',
            certFile: foreign.client.certFile,
            keyFile: foreign.client.keyFile,
        });
        try {
            const c1 = unknown.gateway.getNetwork('mychannel').getContract('mycc');
            await expect(c1.evaluateTransaction('get', 'x')).rejects.toMatchObject({
                code: grpc.status.FAILED_PRECONDITION,
                message: expect.stringMatching(
                    /evaluate call to endorser returned error: error validating proposal: access denied: channel \[mychannel\] creator org \[UnknownMSP\]/,
                ) as unknown,
            });
            const c2 = impostor.gateway.getNetwork('mychannel').getContract('mycc');
            const err = await c2.submitTransaction('put', 'x', 'y').then(
                () => undefined,
                (e: unknown) => e,
            );
            expect(err).toBeInstanceOf(EndorseError);
            expect((err as EndorseError).details[0]?.message).toMatch(/certificate signed by unknown authority/);
        } finally {
            unknown.close();
            impostor.close();
            rmSync(foreignDir, { recursive: true, force: true });
        }
    });

    it('requires a TLS client certificate on the peer endpoint', async () => {
        const org = devnet.orgs[0]!;
        const client = new grpc.Client(org.endpoint, grpc.credentials.createSsl(readFileSync(org.tlsCaFile)), {
            'grpc.ssl_target_name_override': 'localhost',
        });
        const gateway = connect({
            client,
            identity: { mspId: org.mspId, credentials: readFileSync(org.certFile) },
            signer: signers.newPrivateKeySigner(createPrivateKey(readFileSync(org.keyFile))),
            hash: hash.sha256,
            evaluateOptions: () => ({ deadline: Date.now() + 3000 }),
        });
        try {
            await expect(
                gateway.getNetwork('mychannel').getContract('mycc').evaluateTransaction('get', 'x'),
            ).rejects.toBeInstanceOf(GatewayError);
        } finally {
            gateway.close();
            client.close();
        }
    });

    it('answers qscc GetBlockByTxID and GetTransactionByID', async () => {
        const submitted = await mycc.submitAsync('put', { arguments: [uniqueKey('qscc'), 'q'] });
        const { blockNumber } = await submitted.getStatus();
        const qscc = org1.gateway.getNetwork('mychannel').getContract('qscc');
        const block = common.Block.deserializeBinary(
            await qscc.evaluateTransaction('GetBlockByTxID', 'mychannel', submitted.getTransactionId()),
        );
        expect(BigInt(block.getHeader()!.getNumber())).toBe(blockNumber);
        const processed = peer.ProcessedTransaction.deserializeBinary(
            await qscc.evaluateTransaction('GetTransactionByID', 'mychannel', submitted.getTransactionId()),
        );
        expect(processed.getValidationcode()).toBe(StatusCode.VALID);
        const info = common.BlockchainInfo.deserializeBinary(
            await qscc.evaluateTransaction('GetChainInfo', 'mychannel'),
        );
        expect(BigInt(info.getHeight())).toBeGreaterThan(blockNumber);
    });
});

describe('devnet with the AND endorsement policy', () => {
    let devnet: Devnet;
    let org1: Connection;
    let mycc: Contract;

    beforeAll(async () => {
        devnet = await startTestDevnet('and');
        org1 = connectGateway(devnet.orgs[0]!);
        mycc = org1.gateway.getNetwork('mychannel').getContract('mycc');
    }, 60_000);

    afterAll(async () => {
        org1.close();
        await devnet.stop();
    });

    it('endorses with both orgs chaincode processes and commits', async () => {
        const key = uniqueKey('and');
        const tx = await mycc.newProposal('put', { arguments: [key, 'both'] }).endorse();
        const env = gateway.PreparedTransaction.deserializeBinary(tx.getBytes()).getEnvelope()!;
        const payload = common.Payload.deserializeBinary(env.getPayload_asU8());
        const action = peer.Transaction.deserializeBinary(payload.getData_asU8()).getActionsList()[0]!;
        const cap = peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8());
        const endorsers = cap
            .getAction()!
            .getEndorsementsList()
            .map((e) => msp.SerializedIdentity.deserializeBinary(e.getEndorser_asU8()).getMspid());
        expect(endorsers.sort()).toEqual(['MyOrg1MSP', 'MyOrg2MSP']);
        const status = await (await tx.submit()).getStatus();
        expect(status.code).toBe(StatusCode.VALID);
        expect(text(await mycc.evaluateTransaction('get', key))).toBe('both');
    });

    it('refuses a transaction whose endorsements differ between orgs', async () => {
        const err = await mycc.submitTransaction('nondeterministic', uniqueKey('nd')).then(
            () => undefined,
            (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(EndorseError);
        expect((err as EndorseError).message).toContain('failed to collect enough transaction endorsements');
        expect((err as EndorseError).details).toEqual([
            expect.objectContaining({ mspId: 'MyOrg2MSP', message: 'ProposalResponsePayloads do not match' }),
        ]);
    });
});

describe('devnet restarted with keepLedger', () => {
    it('rebuilds blocks, world state, transaction index and events from the block files', async () => {
        const key = uniqueKey('persist');
        let txId: string;
        let blockNumber: bigint;
        const first = await startTestDevnet('or');
        try {
            const conn = connectGateway(first.orgs[0]!);
            const contract = conn.gateway.getNetwork('yourchannel').getContract('yourcc');
            await contract.submitTransaction('put', key, '5');
            const t = await contract.newProposal('incr', { arguments: [key] }).endorse();
            const stale = await contract.newProposal('incr', { arguments: [key] }).endorse();
            const st = await (await t.submit()).getStatus();
            expect((await (await stale.submit()).getStatus()).code).toBe(StatusCode.MVCC_READ_CONFLICT);
            txId = t.getTransactionId();
            blockNumber = st.blockNumber;
            conn.close();
        } finally {
            await first.stop();
        }

        const second = await startTestDevnet('or', true);
        const conn = connectGateway(second.orgs[1]!);
        try {
            const network = conn.gateway.getNetwork('yourchannel');
            const contract = network.getContract('yourcc');
            expect(text(await contract.evaluateTransaction('get', key))).toBe('6');
            const events = await network.getChaincodeEvents('yourcc', { startBlock: blockNumber });
            try {
                const [ev] = await firstEvents(events, 1);
                expect(ev).toMatchObject({ transactionId: txId, blockNumber, eventName: 'incr' });
            } finally {
                events.close();
            }
            // versions survive: a new increment reads the restored version and commits
            expect(text(await contract.submitTransaction('incr', key))).toBe('7');
        } finally {
            conn.close();
            await second.stop();
        }
    }, 60_000);
});
