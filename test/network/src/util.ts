// Plumbing of the network's modules (network.ts, lifecycle.ts, upgrade.ts): commands, retries, polling, and ports on
// 127.0.0.1. It depends on nothing but Node, so that scripts/start-local.mjs can load it from the build before it
// builds (its preflight port check).

import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export const HOST = '127.0.0.1';
export const addr = (port: number): string => `${HOST}:${port}`;

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, HOST, () => {
            const a = srv.address();
            srv.close(() => {
                resolve(typeof a === 'object' && a ? a.port : 0);
            });
        });
    });
}

/** undefined when the port can be bound, else the error code. */
export async function portTaken(port: number): Promise<string | undefined> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once('error', (err: NodeJS.ErrnoException) => {
            resolve(err.code ?? err.message);
        });
        srv.listen({ port, host: HOST, exclusive: true }, () => {
            srv.close(() => {
                resolve(undefined);
            });
        });
    });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function tcpOpen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const sock = net.connect({ host: HOST, port });
        sock.once('connect', () => {
            sock.destroy();
            resolve(true);
        });
        sock.once('error', () => {
            sock.destroy();
            resolve(false);
        });
    });
}

export interface CommandResult {
    stdout: string;
    stderr: string;
}

export function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        execFile(cmd, args, { env, cwd, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${err.message}\n${stderr}${stdout}`));
            } else {
                resolve({ stdout, stderr });
            }
        });
    });
}

export async function retry<T>(what: string, attempts: number, delayMs: number, fn: () => Promise<T>): Promise<T> {
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
        try {
            return await fn();
        } catch (err) {
            last = err;
            await new Promise((r) => setTimeout(r, delayMs));
        }
    }
    throw new Error(`${what}: ${last instanceof Error ? last.message : String(last)}`);
}

/** Resolves once `check` holds; rejects with `gone` when the process it waits for is gone first. */
export async function poll(check: () => Promise<boolean>, gone: () => boolean, intervalMs = 100): Promise<void> {
    while (!gone()) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, intervalMs));
    }
    throw new Error('gone');
}
