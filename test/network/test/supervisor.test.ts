// The supervisor restarts a process that dies while the network runs (with a log line and a new pid in the pid
// file) and stops exactly its processes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, type PidRecord } from '../src/pids';
import { Supervisor } from '../src/supervisor';

const dir = mkdtempSync(path.join(os.tmpdir(), 'supervisor-'));
afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
});

const readPids = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as PidRecord[];

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 20));
    }
}

describe('Supervisor', () => {
    it('restarts a killed process with backoff, logs it, and stops every process on stop()', async () => {
        const pidFile = path.join(dir, 'pids.json');
        const lines: string[] = [];
        const supervisor = new Supervisor({
            pidFile,
            log: (l) => lines.push(l),
            restart: { initialDelayMs: 50, maxDelayMs: 200 },
        });
        for (const name of ['first', 'second']) {
            await supervisor.start({
                name,
                command: '/bin/sleep',
                args: ['60'],
                cwd: dir,
                env: { PATH: '/usr/bin:/bin' },
                logFile: path.join(dir, `${name}.log`),
                stopOrder: name === 'first' ? 0 : 1,
            });
        }
        const before = readPids(pidFile);
        expect(before.map((r) => r.what)).toEqual(['first', 'second']);
        const victim = before[0]!;
        process.kill(victim.pid, 'SIGKILL');
        await until(() => lines.some((l) => l.includes('first restarted')));
        expect(lines[0]).toMatch(
            new RegExp(
                `^\\[supervisor\\] first \\(pid ${victim.pid}\\) died \\(SIGKILL\\); restarting it in 50 ms \\(attempt 1\\)$`,
            ),
        );
        const after = readPids(pidFile);
        expect(after.find((r) => r.what === 'first')?.pid).not.toBe(victim.pid);
        expect(supervisor.process('first')?.restarts).toBe(1);
        // a second death in a row waits twice as long
        process.kill(after.find((r) => r.what === 'first')!.pid, 'SIGKILL');
        await until(() => lines.some((l) => l.includes('restarting it in 100 ms (attempt 2)')));

        await until(() => supervisor.process('first')?.restarts === 2);
        const running = readPids(pidFile);
        await supervisor.stop();
        for (const r of running) expect(isAlive(r), `${r.what} stopped`).toBe(false);
        expect(readPids(pidFile)).toEqual([]);
        expect(lines.filter((l) => l.includes('died'))).toHaveLength(2); // stopping is not dying
    });

    it('a process that exits before it is ready fails the start with its log tail', async () => {
        const supervisor = new Supervisor({ log: () => undefined, restart: false });
        await expect(
            supervisor.start({
                name: 'broken',
                command: '/bin/sh',
                args: ['-c', 'echo cannot bind; exit 3'],
                cwd: dir,
                env: { PATH: '/usr/bin:/bin' },
                logFile: path.join(dir, 'broken.log'),
                stopOrder: 0,
                ready: () => new Promise(() => undefined),
            }),
        ).rejects.toThrow(/broken exited \(3\) before it was ready[\s\S]*cannot bind/);
        await supervisor.stop();
    });
});
