// Supervision of the chaincode processes: one that dies while the network runs is started again (bounded,
// doubling delay) and the peer reconnects, so calls work again without restarting the devnet; pid files follow.

import { Contract } from '@hyperledger/fabric-gateway';
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Devnet, DevnetChaincodeProcess, startDevnet } from '../src/network';
import { devnetPidFiles, readPidRecords } from '../src/pids';
import { Connection, connectGateway, FIXTURE_CHAINCODE, testStateDir, text, uniqueKey } from './helpers';

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
    }
}

function gone(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return false;
    } catch {
        return true;
    }
}

describe('devnet supervision of the chaincode processes', () => {
    const lines: string[] = [];
    let devnet: Devnet;
    let org1: Connection;
    let mycc: Contract;
    let proc: DevnetChaincodeProcess;

    beforeAll(async () => {
        devnet = await startDevnet({
            stateDir: testStateDir,
            ports: 'auto',
            chaincodeExecutable: FIXTURE_CHAINCODE,
            chaincodeRestart: { initialDelayMs: 100, maxDelayMs: 400 },
            pidFiles: true,
            log: (line) => {
                lines.push(line);
            },
        });
        org1 = connectGateway(devnet.orgs[0]!);
        mycc = org1.gateway.getNetwork('mychannel').getContract('mycc');
        proc = devnet.chaincodes.find((c) => c.chaincode === 'mycc' && c.mspId === 'MyOrg1MSP')!;
    }, 60_000);

    afterAll(async () => {
        org1.close();
        await devnet.stop();
        rmSync(testStateDir, { recursive: true, force: true });
    });

    it('records the devnet and chaincode pids and refuses a second devnet on the same state dir', async () => {
        const files = devnetPidFiles(testStateDir);
        expect(readPidRecords(files.main).map((r) => r.pid)).toEqual([process.pid]);
        expect(
            readPidRecords(files.children)
                .map((r) => r.pid)
                .sort(),
        ).toEqual(devnet.chaincodes.map((c) => c.pid).sort());
        await expect(
            startDevnet({ stateDir: testStateDir, ports: 'auto', pidFiles: true, log: () => undefined }),
        ).rejects.toThrow(/a devnet is already up on .* \(pid \d+\)/);
    });

    it('restarts a killed chaincode process, reconnects, and calls work again', async () => {
        expect(JSON.parse(text(await mycc.evaluateTransaction('whoami')))).toMatchObject({ mspId: 'MyOrg1MSP' });
        const oldPid = proc.pid!;
        const t0 = Date.now();
        process.kill(oldPid, 'SIGKILL');
        await waitFor('the restart', () => lines.some((l) => l.includes('chaincode mycc/MyOrg1MSP restarted')));
        const restartMs = Date.now() - t0;
        expect(lines.join('\n')).toMatch(
            /chaincode mycc\/MyOrg1MSP \(pid \d+\) died \(SIGKILL\) while the network runs; restarting it in 100 ms \(attempt 1\)/,
        );
        expect(gone(oldPid)).toBe(true);
        expect(proc.pid).not.toBe(oldPid);
        expect(proc.restarts).toBe(1);
        const pids = readPidRecords(devnetPidFiles(testStateDir).children).map((r) => r.pid);
        expect(pids).toContain(proc.pid);
        expect(pids).not.toContain(oldPid);

        // Reads and a committed write go through the restarted process.
        expect(JSON.parse(text(await mycc.evaluateTransaction('whoami')))).toMatchObject({ mspId: 'MyOrg1MSP' });
        const key = uniqueKey('after-restart');
        await mycc.submitTransaction('put', key, 'v');
        expect(text(await mycc.evaluateTransaction('get', key))).toBe('v');
        console.log(`chaincode killed → restarted and registered in ${restartMs} ms`);
    });

    it('doubles the delay for a process that dies again soon, up to the bound', async () => {
        for (const [attempt, delay] of [
            [2, 200],
            [3, 400],
            [4, 400],
        ] as const) {
            const before = lines.length;
            const pid = proc.pid!;
            process.kill(pid, 'SIGKILL');
            await waitFor(`restart ${attempt}`, () =>
                lines.slice(before).some((l) => l.includes('chaincode mycc/MyOrg1MSP restarted')),
            );
            expect(lines.slice(before).join('\n')).toContain(`restarting it in ${delay} ms (attempt ${attempt})`);
        }
        expect(proc.restarts).toBe(4);
        expect(text(await mycc.evaluateTransaction('get', 'missing-key'))).toBe('');
    });

    it('stops every process it started and removes the pid files', async () => {
        const pids = devnet.chaincodes.map((c) => c.pid!);
        await devnet.stop();
        for (const pid of pids) expect(gone(pid)).toBe(true);
        const files = devnetPidFiles(testStateDir);
        expect(existsSync(files.main) || existsSync(files.children)).toBe(false);
    });
});
