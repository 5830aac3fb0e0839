// The README's quick start, run the way a user runs it: `npm start` in the foreground, called over gRPC as a Substra backend does, stopped with Ctrl-C (SIGINT). Free ports and a
// temporary state dir, so it never meets a developer's own `npm start` on :9000; `--no-build` because the build
// belongs to `npm test`, not to the test run. Also: a second start on the same state dir keeps the chain, and a
// taken port or state dir makes the launcher fail fast with a message naming it.

import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_DIR, PROTO_FILES, RPCS } from '@substra-fabric/api';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '../..');

// --- the launcher as a child process ---

interface Launcher {
    child: ChildProcess;
    output: () => string;
    exited: Promise<number | null>;
}

function launch(args: string[]): Launcher {
    // the launcher's settings come from the flags only, not from a developer's environment
    const ignored = new Set([
        'NETWORK_POLICY',
        'NETWORK_PORTS',
        'NETWORK_BATCH_TIMEOUT_MS',
        'LOCAL_STATE_DIR',
        'ORCHESTRATOR_PORT',
        'ORCHESTRATOR_METRICS_PORT',
        'START_LOCAL_NO_BUILD',
    ]);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !ignored.has(name)));
    // `npm start` itself, in a process group of its own as a terminal runs it (Ctrl-C reaches the whole group)
    const child = spawn('npm', ['start', '--silent', '--', ...args], {
        cwd: repo,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => {
        child.once('exit', (code) => {
            resolve(code);
        });
    });
    return { child, output: () => out, exited };
}

async function waitReady(l: Launcher, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const m = /ready in [\d.]+ s[^\n]*\n\s+gRPC\s+127\.0\.0\.1:(\d+)/.exec(l.output());
        if (m?.[1]) return Number(m[1]);
        if (l.child.exitCode !== null || Date.now() > deadline) {
            throw new Error(`the launcher did not get ready (exit ${String(l.child.exitCode)}):\n${l.output()}`);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const addr = srv.address();
            srv.close(() => {
                resolve(typeof addr === 'object' && addr ? addr.port : 0);
            });
        });
    });
}

interface PidRecord {
    pid: number;
    what: string;
}

function readPids(file: string): PidRecord[] {
    return JSON.parse(readFileSync(file, 'utf8')) as PidRecord[];
}

/** Ctrl-C in the terminal: SIGINT to the foreground process group (npm, its shell, the launcher). */
function ctrlC(l: Launcher): void {
    if (l.child.pid !== undefined) process.kill(-l.child.pid, 'SIGINT');
}

function parentOf(pid: number): number | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
        return undefined;
    }
}

function descendsFrom(pid: number, ancestor: number): boolean {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parentOf(p)) if (p === ancestor) return true;
    return false;
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

const PID_FILES = ['launcher.pid', 'network/pids.json', 'gateway/gateway.pid'];

/** Every process the launcher started, from its pid files: itself, orderer, peers, chaincodes, gateway. */
function startedProcesses(state: string): PidRecord[] {
    return PID_FILES.flatMap((f) => readPids(path.join(state, f)));
}

function pidOf(state: string, what: string): number {
    const rec = readPids(path.join(state, 'network', 'pids.json')).find((p) => p.what === what);
    if (!rec) throw new Error(`${what} is not in the pid file`);
    return rec.pid;
}

async function waitForOutput(l: Launcher, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(l.output())) {
        if (Date.now() > deadline) throw new Error(`no ${String(pattern)} in the output:\n${l.output()}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** Retries `call` while the gateway reconnects to a restarted peer (UNAVAILABLE), for at most `timeoutMs`. */
async function eventually<T>(call: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            return await call();
        } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 200));
        }
    }
}

// --- a backend's gRPC client ---

const orchestrator = grpc.loadPackageDefinition(
    loadSync([...PROTO_FILES], {
        includeDirs: [PROTO_DIR],
        keepCase: true,
        longs: Number,
        enums: Number,
        defaults: true,
    }),
).orchestrator as unknown as Record<string, grpc.ServiceClientConstructor>;

// The reflection protocol's own definition, from the package the gateway serves it with.
const reflectionProto = path.join(
    path.dirname(createRequire(path.join(repo, 'gateway', 'package.json')).resolve('@grpc/reflection/package.json')),
    'build/proto/grpc/reflection/v1/reflection.proto',
);
const reflectionPkg = grpc.loadPackageDefinition(loadSync(reflectionProto, { keepCase: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
};

function headers(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set('mspid', 'MyOrg1MSP');
    md.set('channel', 'mychannel');
    return md;
}

function unary<T>(address: string, service: string, method: string, request: object): Promise<T> {
    const Ctor = orchestrator[service];
    if (!Ctor) throw new Error(`unknown service ${service}`);
    const client = new Ctor(address, grpc.credentials.createInsecure());
    return new Promise<T>((resolve, reject) => {
        type UnaryFn = (
            this: grpc.Client,
            request: object,
            metadata: grpc.Metadata,
            options: grpc.CallOptions,
            callback: (err: grpc.ServiceError | null, response: T) => void,
        ) => void;
        const fn = (client as unknown as Record<string, UnaryFn | undefined>)[method];
        if (!fn) throw new Error(`unknown method ${method}`);
        fn.call(
            client,
            request,
            headers(),
            { deadline: Date.now() + 20_000 },
            (err: grpc.ServiceError | null, response: T) => {
                client.close();
                if (err) reject(err);
                else resolve(response);
            },
        );
    });
}

/** `grpcurl list`: the services the server lists through reflection (no headers, as tools send none). */
function listServices(address: string): Promise<string[]> {
    const client = new reflectionPkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
    return new Promise((resolve, reject) => {
        type Reply = { list_services_response?: { service: { name: string }[] } };
        const call = (
            client as unknown as {
                ServerReflectionInfo: (o: grpc.CallOptions) => grpc.ClientDuplexStream<object, Reply>;
            }
        ).ServerReflectionInfo({ deadline: Date.now() + 10_000 });
        call.on('data', (res: Reply) => {
            resolve(res.list_services_response?.service.map((s) => s.name) ?? []);
            call.end();
            client.close();
        });
        call.on('error', (err) => {
            client.close();
            reject(err);
        });
        call.write({ list_services: '' });
    });
}

// --- the tests ---

describe('quick start: `npm start`, called like a backend, stopped with Ctrl-C', () => {
    const state = mkdtempSync(path.join(os.tmpdir(), 'substra-quickstart-'));
    const launched: Launcher[] = [];
    let port: number;

    beforeAll(async () => {
        port = await freePort();
    });

    afterAll(async () => {
        // Only on a failure is something left: stop it the way a user would, then make sure.
        for (const l of launched) {
            if (l.child.exitCode === null && l.child.signalCode === null) {
                ctrlC(l);
                await Promise.race([l.exited, new Promise((r) => setTimeout(r, 10_000))]);
            }
        }
        if (!process.env.KEEP_INTEGRATION_STATE) rmSync(state, { recursive: true, force: true });
    });

    const start = () => {
        const l = launch([
            '--state',
            state,
            '--port',
            String(port),
            '--metrics-port',
            '0',
            '--network-ports',
            'auto',
            '--no-build',
        ]);
        launched.push(l);
        return l;
    };

    const stopWithCtrlC = async (l: Launcher) => {
        const pids = startedProcesses(state);
        expect(pids.map((p) => p.what).sort()).toEqual(
            [
                'launcher',
                'gateway',
                'orderer',
                'peer0.org1',
                'peer0.org2',
                'mycc/MyOrg1MSP',
                'mycc/MyOrg2MSP',
                'yourcc/MyOrg1MSP',
                'yourcc/MyOrg2MSP',
            ].sort(),
        );
        const launcher = pids.find((p) => p.what === 'launcher')?.pid ?? 0;
        expect(descendsFrom(launcher, l.child.pid ?? -1), 'the launcher runs under `npm start`').toBe(true);
        for (const p of pids) expect(alive(p.pid), `${p.what} (pid ${p.pid}) runs`).toBe(true);
        const t0 = Date.now();
        ctrlC(l);
        await l.exited;
        const stopMs = Date.now() - t0;
        // npm itself reports the SIGINT it received (exit 130); the launcher's own report:
        expect(l.output()).toMatch(/SIGINT: stopping[\s\S]*stopped in \d+ ms/);
        expect(l.output()).not.toContain('error while stopping');
        for (const p of pids) expect(alive(p.pid), `${p.what} (pid ${p.pid}) is gone`).toBe(false);
        for (const f of PID_FILES) {
            expect(existsSync(path.join(state, f)), `${f} removed`).toBe(false);
        }
        return stopMs;
    };

    it('starts, serves a backend, survives a chaincode crash, refuses a second instance, stops on Ctrl-C', async () => {
        const t0 = Date.now();
        const l = start();
        expect(await waitReady(l)).toBe(port);
        const readyMs = Date.now() - t0;
        expect(l.output()).toContain('build skipped (--no-build)');
        const address = `127.0.0.1:${port}`;

        const version = await unary<{ orchestrator: string; chaincode: string }>(
            address,
            'InfoService',
            'QueryVersion',
            {},
        );
        expect(version.orchestrator).not.toBe('');
        expect(version.chaincode).not.toBe('');
        const org = await unary<{ id: string; address: string }>(
            address,
            'OrganizationService',
            'RegisterOrganization',
            {
                address: 'http://backend-org-1.com',
            },
        );
        expect(org).toMatchObject({ id: 'MyOrg1MSP', address: 'http://backend-org-1.com' });
        const services = await listServices(address);
        for (const s of new Set(RPCS.map((r) => r.service))) expect(services).toContain(`orchestrator.${s}`);

        // A chaincode process, then org 1's peer, killed: the launcher restarts each (as Kubernetes would restart
        // the pod), and reads and writes work again.
        for (const what of ['mycc/MyOrg1MSP', 'peer0.org1']) {
            const crashed = pidOf(state, what);
            process.kill(crashed, 'SIGKILL');
            const name = what.replace(/[./]/g, (c) => `\\${c}`);
            await waitForOutput(l, new RegExp(`\\[supervisor\\] ${name} \\(pid ${crashed}\\) died \\(SIGKILL\\)`));
            await waitForOutput(l, new RegExp(`\\[supervisor\\] ${name} restarted \\(pid \\d+\\)`));
            expect(pidOf(state, what)).not.toBe(crashed);
            const all = await eventually(() =>
                unary<{ organizations: { id: string }[] }>(address, 'OrganizationService', 'GetAllOrganizations', {}),
            );
            expect(all.organizations.map((o) => o.id)).toContain('MyOrg1MSP');
            const plan = await eventually(() =>
                unary<{ key: string; owner: string }>(address, 'ComputePlanService', 'RegisterPlan', {
                    key: randomUUID(),
                    name: `after ${what} came back`,
                }),
            );
            expect(plan.owner).toBe('MyOrg1MSP');
        }

        // A second `npm start` on the same state dir, and one on another state dir but the same port, fail fast.
        for (const [args, message] of [
            [
                ['--state', state, '--port', '0', '--metrics-port', '0', '--network-ports', 'auto'],
                /already running on the state dir/,
            ],
            [
                [
                    '--state',
                    path.join(state, 'other'),
                    '--port',
                    String(port),
                    '--metrics-port',
                    '0',
                    '--network-ports',
                    'auto',
                ],
                new RegExp(`in use on 127\\.0\\.0\\.1:\\n  ${port}  gateway gRPC \\(EADDRINUSE\\)[\\s\\S]*--port 0`),
            ],
        ] as const) {
            const ts = Date.now();
            const second = launch([...args, '--no-build']);
            expect(await second.exited, second.output()).toBe(1);
            expect(second.output()).toMatch(message);
            expect(Date.now() - ts).toBeLessThan(5_000);
        }
        expect(existsSync(path.join(state, 'other', 'network'))).toBe(false);

        const stopMs = await stopWithCtrlC(l);
        console.log(`[quickstart] ready in ${readyMs} ms, stopped in ${stopMs} ms after SIGINT`);
    });

    it('a second start on the same state dir keeps the chain', async () => {
        const t0 = Date.now();
        const l = start();
        await waitReady(l);
        const readyMs = Date.now() - t0;
        expect(l.output()).toMatch(/network resumed on its ledgers/);
        expect(l.output()).toMatch(/orderer and 2 peers serving \(on their ledgers\)/);
        const err = await unary(`127.0.0.1:${port}`, 'OrganizationService', 'RegisterOrganization', {
            address: 'http://backend-org-1.com',
        }).then(
            () => undefined,
            (e: unknown) => e as grpc.ServiceError,
        );
        expect(err?.code, String(err)).toBe(grpc.status.ALREADY_EXISTS);
        const stopMs = await stopWithCtrlC(l);
        console.log(`[quickstart] restarted in ${readyMs} ms, stopped in ${stopMs} ms after SIGINT`);
    });
});

describe('quick start: ports taken by another program', () => {
    it('fails fast, naming every taken port and the flag that avoids it', async () => {
        const state = mkdtempSync(path.join(os.tmpdir(), 'substra-quickstart-busy-'));
        const holders = await Promise.all(
            [0, 1].map(
                () =>
                    new Promise<net.Server>((resolve) => {
                        const srv = net.createServer();
                        srv.listen(0, '127.0.0.1', () => {
                            resolve(srv);
                        });
                    }),
            ),
        );
        const [grpcPort, metricsPort] = holders.map((s) => (s.address() as net.AddressInfo).port);
        try {
            const t0 = Date.now();
            const l = launch([
                '--state',
                state,
                '--port',
                String(grpcPort),
                '--metrics-port',
                String(metricsPort),
                '--network-ports',
                'auto',
                '--no-build',
            ]);
            expect(await l.exited, l.output()).toBe(1);
            const ms = Date.now() - t0;
            expect(l.output()).toContain(`  ${grpcPort}  gateway gRPC (EADDRINUSE)`);
            expect(l.output()).toContain(`  ${metricsPort}  gateway metrics (EADDRINUSE)`);
            expect(l.output()).toContain('npm start -- --port 0 --metrics-port 0');
            expect(existsSync(path.join(state, 'network'))).toBe(false);
            expect(ms).toBeLessThan(3_000);
        } finally {
            for (const s of holders) s.close();
            rmSync(state, { recursive: true, force: true });
        }
    });
});
