// Our images as the charts start them, without containers: the chaincode (docker/chaincode.Dockerfile, hlf-k8s
// chaincode Deployment) and the gateway (docker/gateway.Dockerfile, orchestrator chart Deployment) run with the image's
// command, working directory, user and ENV, and the environment of the rendered chart (helm template of hlf-values/,
// test/deploy/helm.ts), on the local real network. What points into the pod is replaced by a local equivalent, every
// variable name kept: each mounted Secret/ConfigMap is written under a local root (`<root>/k8s`) at its mount path
// and the variables naming files are prefixed with that root; the chart's peer host:port becomes the local peer's;
// the chaincode port the local one; CHAINCODE_CCID the package id of the local network (the chart's Secret). Added:
// ORCHESTRATOR_PORT and ORCHESTRATOR_METRICS_PORT = 0, as the chart's 9000/8484 belong to the pod's own network.
//
// The app directory (/app) is a copy of the built repository made read-only (chmod -R a-w) and the processes run
// as an unprivileged user (the image's USER; `nobody` here), so any write into it fails; the gateway's state dir is
// the image's ORCHESTRATOR_STATE_DIR, here an equivalent writable temporary directory. Without that variable the
// gateway's default `.state/gateway` lands in the unwritable working directory and the event index cannot be made.
// Last, a gateway starting with an empty state dir (a lost volume) on a chain of N events: the time to catch up.

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { orchestrator } from '@substra-fabric/api';
import { type FabricNetwork, startFabricNetwork, tcpOpen } from '@substra-fabric/network';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pki } from '../../gateway/test/pki';
import {
    type ConfigMap,
    type Container,
    type Deployment,
    type K8sObject,
    type PodSpec,
    HLF_K8S_CHART,
    ORCHESTRATOR_CHART,
    REPO_ROOT,
    ensureHelm,
    find,
    findChartsDir,
    helmTemplate,
    readValues,
    renderableChart,
} from '../deploy/helm';
import { OrgClient, closeClients, grpc } from './support/client';

const ORG1 = 'MyOrg1MSP';
const CHANNEL = 'mychannel';
/** the image's USER (node, uid 1000 in node:20) does not exist here; any unprivileged user shows the same */
const USER = { uid: 65534, gid: 65534 };
const N_EVENTS = Number(process.env.ENTRYPOINTS_EVENTS ?? 2000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let root: string;
let work: string;
let network: FabricNetwork;
let app: string;
const pki = new Pki();
const children: ChildProcess[] = [];

// ---- the images ----

function dockerfile(name: string): string {
    return readFileSync(path.join(REPO_ROOT, 'docker', name), 'utf8');
}

/** ENV of the image's final stage (`ENV K=V` lines after the last FROM). */
function imageEnv(name: string): Record<string, string> {
    const text = dockerfile(name);
    const last = text.lastIndexOf('\nFROM ');
    const env: Record<string, string> = {};
    for (const m of text.slice(last).matchAll(/^ENV (\S+)=(\S+)$/gm)) env[m[1]!] = m[2]!;
    return env;
}

function workdir(name: string): string {
    return [...dockerfile(name).matchAll(/^WORKDIR (\S+)/gm)].map((m) => m[1]!).at(-1) ?? '/';
}

function cmd(name: string): string[] {
    const m = /^CMD (\[.*\])$/m.exec(dockerfile(name));
    return JSON.parse(m?.[1] ?? '[]') as string[];
}

/** `/app/...` of the image → the read-only local copy. */
const inApp = (p: string): string => (p === '/app' ? app : p.replace(/^\/app\//, `${app}/`));

// ---- the charts ----

function containerEnv(container: Container, objects: K8sObject[]): Record<string, string> {
    const env: Record<string, string> = {};
    for (const from of container.envFrom ?? []) {
        if (from.configMapRef) Object.assign(env, find<ConfigMap>(objects, 'ConfigMap', from.configMapRef.name).data);
    }
    for (const e of container.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        env[e.name] = ref ? `<secret ${ref.name}/${ref.key}>` : (e.value ?? '');
    }
    return env;
}

/**
 * Writes every volume of `container` under `<k8s>/<mountPath>`: Secrets and cluster-provided ConfigMaps from
 * `local` (name → key → local file), the release's ConfigMaps with their rendered content through `edit`.
 */
function materialize(
    pod: PodSpec,
    container: Container,
    objects: K8sObject[],
    k8s: string,
    local: Record<string, Record<string, string>>,
    edit: (text: string) => string,
): void {
    for (const mount of container.volumeMounts ?? []) {
        const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
        if (!volume) throw new Error(`no volume ${mount.name}`);
        const files: { path: string; content: Buffer | string }[] = [];
        const fromLocal = (name: string, items?: { key: string; path: string }[]) => {
            const keys = local[name];
            if (!keys) throw new Error(`no local equivalent of ${name} (mounted at ${mount.mountPath})`);
            for (const item of items ?? Object.keys(keys).map((k) => ({ key: k, path: k }))) {
                const file = keys[item.key];
                if (!file) throw new Error(`no local file for key ${item.key} of ${name}`);
                files.push({ path: item.path, content: readFileSync(file) });
            }
        };
        if (volume.secret) fromLocal(volume.secret.secretName, volume.secret.items);
        const configMaps = volume.configMap
            ? [volume.configMap]
            : (volume.projected?.sources ?? []).flatMap((s) => (s.configMap ? [s.configMap] : []));
        for (const cm of configMaps) {
            const rendered = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cm.name) as
                ConfigMap | undefined;
            if (!rendered) {
                fromLocal(cm.name, cm.items);
                continue;
            }
            const data = rendered.data ?? {};
            for (const item of cm.items ?? Object.keys(data).map((k) => ({ key: k, path: k }))) {
                files.push({ path: item.path, content: edit(data[item.key] ?? '') });
            }
        }
        for (const f of files) {
            if (mount.subPath !== undefined && mount.subPath !== f.path) continue;
            const target = path.join(k8s, mount.mountPath, mount.subPath !== undefined ? '' : f.path);
            mkdirSync(path.dirname(target), { recursive: true });
            writeFileSync(target, f.content, { mode: 0o644 }); // a Secret volume's default mode
        }
    }
}

/** Variables naming a file of the pod: the same file under the local root. */
function rooted(env: Record<string, string>, k8s: string): Record<string, string> {
    return Object.fromEntries(
        Object.entries(env).map(([k, v]) => [
            k,
            v.startsWith('/') && existsSync(path.join(k8s, v)) ? path.join(k8s, v) : v,
        ]),
    );
}

function makeReadable(dir: string): void {
    execFileSync('chmod', ['-R', 'a+rX', dir]);
}

// ---- processes ----

interface Started {
    child: ChildProcess;
    lines: string[];
    exited: Promise<number | null>;
    waitFor(pattern: RegExp, timeoutMs: number): Promise<string | undefined>;
}

/** Runs `command` as the image's user in `cwd` with exactly `env`, collecting its output lines. */
function run(command: string, args: string[], cwd: string, env: Record<string, string>, logFile: string): Started {
    // a process group of its own: `sh -c` may fork the entrypoint script, so signals go to the whole group
    const child = spawn(command, args, { cwd, env, ...USER, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const lines: string[] = [];
    const waiters = new Set<() => void>();
    const onData = (chunk: Buffer) => {
        try {
            writeFileSync(logFile, chunk, { flag: 'a' });
        } catch {
            // the test's directory is gone (teardown)
        }
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        for (const w of [...waiters]) w();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const exited = new Promise<number | null>((resolve) => {
        child.once('exit', (code) => {
            resolve(code);
        });
    });
    void exited.then(() => {
        for (const w of [...waiters]) w();
    });
    const waitFor = async (pattern: RegExp, timeoutMs: number): Promise<string | undefined> => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const hit = lines.find((l) => pattern.test(l));
            if (hit !== undefined || child.exitCode !== null || Date.now() > deadline) return hit;
            await new Promise<void>((resolve) => {
                const done = () => {
                    waiters.delete(done);
                    clearTimeout(timer);
                    resolve();
                };
                const timer = setTimeout(done, 200);
                waiters.add(done);
            });
        }
    };
    return { child, lines, exited, waitFor };
}

/** Signals the process group of `child` (its entrypoint and what it execs or forks). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
        // already gone
    }
}

async function stopChild(s: Started): Promise<void> {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return;
    signalGroup(s.child, 'SIGTERM');
    const timer = setTimeout(() => {
        signalGroup(s.child, 'SIGKILL');
    }, 20_000);
    await s.exited;
    clearTimeout(timer);
}

// ---- the gateway as its image and chart start it ----

interface GatewayRun {
    started: Started;
    port: number;
    env: Record<string, string>;
}

let gatewayBase: { env: Record<string, string>; chartNames: string[]; command: string[] };

function startGateway(stateDir: string | undefined, name: string): Started {
    const env: Record<string, string> = { ...gatewayBase.env, HOME: path.join(root, 'home') };
    if (stateDir === undefined) delete env.ORCHESTRATOR_STATE_DIR;
    else env.ORCHESTRATOR_STATE_DIR = stateDir;
    const [command = '', ...args] = gatewayBase.command;
    return run(command, args, inApp(workdir('gateway.Dockerfile')), env, path.join(root, 'logs', `${name}.log`));
}

async function listening(s: Started): Promise<number> {
    const line = await s.waitFor(/"gateway listening"/, 30_000);
    const port = /"port":(\d+)/.exec(line ?? '')?.[1];
    if (port === undefined) throw new Error(`the gateway did not listen:\n${s.lines.slice(-20).join('\n')}`);
    return Number(port);
}

function clientOf(port: number): OrgClient {
    const credentials = grpc.credentials.createSsl(
        pki.read('orchca.pem'),
        pki.read('backend1.key'),
        pki.read('backend1.pem'),
    );
    return new OrgClient(`127.0.0.1:${String(port)}`, ORG1, CHANNEL, credentials);
}

let gateway: GatewayRun;

beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'substra-it-entrypoints-'));
    work = path.join(root, 'charts');
    mkdirSync(work);
    mkdirSync(path.join(root, 'logs'));
    const helm = await ensureHelm();
    const charts = findChartsDir();
    const hlf = renderableChart(path.join(charts, HLF_K8S_CHART), work);
    const orch = renderableChart(path.join(charts, ORCHESTRATOR_CHART), work);

    network = await startFabricNetwork({
        stateDir: path.join(root, 'network'),
        ports: 'auto',
        channels: [{ name: CHANNEL, chaincode: 'mycc' }],
        log: () => undefined,
    });
    const crypto = path.join(root, 'network', 'crypto', 'peerOrganizations');

    // /app: the built repository as the images lay it out, read-only
    app = path.join(root, 'app');
    mkdirSync(app);
    for (const dir of ['node_modules', 'proto', 'chaincode', 'gateway']) {
        execFileSync('cp', ['-a', path.join(REPO_ROOT, dir), path.join(app, dir)]);
    }
    const printf = /printf '([^']+)' > \/app\/orchestrator/.exec(dockerfile('gateway.Dockerfile'))?.[1] ?? '';
    expect(printf).toContain('exec node /app/gateway/dist/src/main.js');
    writeFileSync(path.join(app, 'orchestrator'), printf.replaceAll('\\n', '\n').replaceAll('/app/', `${app}/`), {
        mode: 0o755,
    });
    makeReadable(app);
    execFileSync('chmod', ['-R', 'a-w', app]);
    chmodSync(root, 0o755);
    mkdirSync(path.join(root, 'home'));
    execFileSync('chown', [`${String(USER.uid)}:${String(USER.gid)}`, path.join(root, 'home')]);

    // --- the chaincode of each org, replacing the network's own processes ---
    for (const org of [1, 2]) {
        const mspId = `MyOrg${String(org)}MSP`;
        const release = `network-org-${String(org)}-peer-1`;
        const { objects } = helmTemplate(helm, hlf, release, `org-${String(org)}`, [
            `hlf-values/org-${String(org)}-peer-1.yaml`,
        ]);
        const deployment = find<Deployment>(objects, 'Deployment', `${release}-hlf-k8s-chaincode-mycc`);
        const pod = deployment.spec.template.spec;
        const container = pod.containers[0]!;
        const chartEnv = containerEnv(container, objects);
        const k8s = path.join(root, `k8s-chaincode-${String(org)}`);
        const base = path.join(crypto, `org${String(org)}.example.com`);
        const tlsCa = path.join(base, 'tlsca', `tlsca.org${String(org)}.example.com-cert.pem`);
        const ccTls = path.join(base, 'peers', `chaincode.org${String(org)}.example.com`, 'tls');
        materialize(
            pod,
            container,
            objects,
            k8s,
            {
                'hlf-tls-user': {
                    'tls.crt': path.join(ccTls, 'server.crt'),
                    'tls.key': path.join(ccTls, 'server.key'),
                },
                'hlf-cacert': { 'cacert.pem': tlsCa },
            },
            (t) => t,
        );
        makeReadable(k8s);
        const info = network.chaincodes.find((c) => c.mspId === mspId);
        if (!info) throw new Error(`no chaincode of ${mspId}`);
        const localPort = info.address.split(':')[1] ?? '';
        const env: Record<string, string> = {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: path.join(root, 'home'),
            ...imageEnv('chaincode.Dockerfile'),
            ...rooted(chartEnv, k8s),
            CHAINCODE_CCID: info.packageId,
            CHAINCODE_ADDRESS: (chartEnv.CHAINCODE_ADDRESS ?? '').replace(/:\d+$/, `:${localPort}`),
        };
        expect(chartEnv.CHAINCODE_CCID).toMatch(/^<secret chaincode-ccid-mycc-/);
        expect(Object.keys(env).sort()).toEqual(
            [
                ...new Set([
                    'PATH',
                    'HOME',
                    ...Object.keys(imageEnv('chaincode.Dockerfile')),
                    ...Object.keys(chartEnv),
                ]),
            ].sort(),
        );
        for (const name of ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'TLS_ROOTCERT_FILE']) {
            expect(env[name]?.startsWith(k8s), `${name} lies under a mount`).toBe(true);
        }
        await network.holdProcess(info.process);
        expect(container.command).toEqual(cmd('chaincode.Dockerfile'));
        const [command = ''] = container.command ?? [];
        const cwd = inApp(workdir('chaincode.Dockerfile'));
        const started = run(
            path.join(cwd, command),
            [],
            cwd,
            env,
            path.join(root, 'logs', `chaincode-${String(org)}.log`),
        );
        const deadline = Date.now() + 30_000;
        while (!(await tcpOpen(Number(localPort)))) {
            if (started.child.exitCode !== null || Date.now() > deadline) {
                throw new Error(`chaincode of ${mspId} did not listen:\n${started.lines.join('\n')}`);
            }
            await sleep(100);
        }
    }

    // --- the gateway of org 1 ---
    pki.ca('orchca');
    pki.leaf(
        'server',
        '/CN=orchestrator-org-1-server.org-1.svc.cluster.local',
        'orchca',
        'subjectAltName=DNS:orchestrator-org-1-server.org-1.svc.cluster.local,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
    );
    pki.leaf('backend1', `/O=${ORG1}/CN=backend-org-1`, 'orchca', 'extendedKeyUsage=clientAuth\n');
    const release = 'orchestrator-org-1';
    const { objects } = helmTemplate(helm, orch, release, 'org-1', ['hlf-values/orchestrator-org-1.yaml']);
    const deployment = find<Deployment>(objects, 'Deployment', `${release}-server`);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0]!;
    const chartEnv = containerEnv(container, objects);
    const k8s = path.join(root, 'k8s-gateway');
    const org1 = network.orgs[0]!;
    const user = path.join(crypto, 'org1.example.com', 'users', 'User1@org1.example.com');
    const admin = path.join(crypto, 'org1.example.com', 'users', 'Admin@org1.example.com');
    const values = readValues('hlf-values/orchestrator-org-1.yaml') as {
        fabric: { peer: { host: string; port: number } };
    };
    const chartPeer = `${values.fabric.peer.host}:${String(values.fabric.peer.port)}`;
    materialize(
        pod,
        container,
        objects,
        k8s,
        {
            'hlf-msp-cert-user': { 'cert.pem': org1.certFile },
            'hlf-msp-key-user': { 'key.pem': org1.keyFile },
            'hlf-tls-admin': {
                'tls.crt': path.join(admin, 'tls', 'client.crt'),
                'tls.key': path.join(admin, 'tls', 'client.key'),
            },
            'hlf-tls-user': {
                'tls.crt': path.join(user, 'tls', 'client.crt'),
                'tls.key': path.join(user, 'tls', 'client.key'),
            },
            'hlf-cacert': { 'cacert.pem': org1.tlsCaFile },
            'orchestrator-tls-server-pair': { 'tls.crt': pki.file('server.pem'), 'tls.key': pki.file('server.key') },
            'orchestrator-tls-cacert': { 'ca.crt': pki.file('orchca.pem') },
        },
        // the connection profile: the local peer, and its files under the local root
        (text) =>
            text
                .replaceAll(chartPeer, org1.endpoint)
                .replace(/(path: )(\/\S+)/g, (_, p: string, f: string) => `${p}${path.join(k8s, f)}`),
    );
    makeReadable(k8s);
    expect(container.command?.slice(0, 2)).toEqual(['sh', '-c']);
    expect(container.command?.[2]?.trim()).toBe(cmd('gateway.Dockerfile')[0]);
    const image = imageEnv('gateway.Dockerfile');
    expect(image.ORCHESTRATOR_STATE_DIR).toBe('/var/lib/orchestrator');
    gatewayBase = {
        env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            ...image,
            ...rooted(chartEnv, k8s),
            // the pod's own network namespace has 9000 and 8484 to itself; here, any free port
            ORCHESTRATOR_PORT: '0',
            ORCHESTRATOR_METRICS_PORT: '0',
        },
        chartNames: Object.keys(chartEnv),
        command: [container.command?.[0] ?? 'sh', '-c', inApp(container.command?.[2]?.trim() ?? '')],
    };
    const stateDir = path.join(root, 'var-lib-orchestrator');
    mkdirSync(stateDir);
    execFileSync('chown', [`${String(USER.uid)}:${String(USER.gid)}`, stateDir]);
    const started = startGateway(stateDir, 'gateway');
    gateway = { started, port: await listening(started), env: gatewayBase.env };
}, 600_000);

afterAll(async () => {
    closeClients();
    const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exits = alive.map((c) => new Promise((resolve) => c.once('exit', resolve)));
    for (const c of children) signalGroup(c, 'SIGKILL');
    await Promise.all(exits);
    await (network as FabricNetwork | undefined)?.stop();
    if (app) execFileSync('chmod', ['-R', 'u+w', app]);
    if (!process.env.KEEP_INTEGRATION_STATE) rmSync(root, { recursive: true, force: true });
});

describe('images as the charts start them', () => {
    it('the environment is the chart’s and the image’s, every name kept', () => {
        const names = Object.keys(gateway.env).sort();
        const expected = [
            ...new Set([
                'PATH',
                ...Object.keys(imageEnv('gateway.Dockerfile')),
                ...gatewayBase.chartNames,
                'ORCHESTRATOR_PORT',
                'ORCHESTRATOR_METRICS_PORT',
            ]),
        ].sort();
        expect(names).toEqual(expected);
        expect(gateway.env.ORCHESTRATOR_MODE).toBe('distributed');
        expect(gateway.env.ORCHESTRATOR_TLS_ENABLED).toBe('true');
    });

    it('the app directory is read-only for the processes', () => {
        const probe = spawnSync(
            'sh',
            ['-c', `touch ${app}/probe || exit 3; touch ${app}/chaincode/probe || exit 4`],
            USER,
        );
        expect(probe.status).toBe(3);
        expect(existsSync(path.join(app, '.state'))).toBe(false);
    });

    it('the gateway answers QueryVersion and an invocation reaches our chaincode processes through the peer', async () => {
        const client = clientOf(gateway.port);
        const version = await client.call<orchestrator.IQueryVersionResponse>('InfoService/QueryVersion', {});
        expect(version.orchestrator).toBeTruthy();
        expect(version.chaincode).toBeTruthy();
        const k = randomUUID();
        await client.call('ComputePlanService/RegisterPlan', { key: k, name: 'through the image entrypoints' });
        const plan = await client.call<orchestrator.IComputePlan>('ComputePlanService/GetPlan', { key: k });
        expect(plan.owner).toBe(ORG1);
        // served by our processes: the network's own chaincode processes are held down
        for (const c of network.chaincodes) expect(network.process(c.process)?.pid).toBeUndefined();
        const stateDir = gateway.env.ORCHESTRATOR_STATE_DIR;
        expect(stateDir).toBeDefined();
        expect(existsSync(path.join(root, 'var-lib-orchestrator', 'events'))).toBe(true);
        expect(existsSync(path.join(app, '.state'))).toBe(false);
    });

    it('without ORCHESTRATOR_STATE_DIR the default .state/gateway in the read-only working directory fails', async () => {
        const started = startGateway(undefined, 'gateway-no-state-dir');
        const failure = await started.waitFor(/EACCES|permission denied/i, 30_000);
        const exitCode = started.child.exitCode;
        console.log(
            `[entrypoints] no ORCHESTRATOR_STATE_DIR, cwd ${app} read-only: ` +
                `${failure ?? '(no EACCES line)'}; exit ${String(exitCode)}`,
        );
        expect(failure, started.lines.slice(-10).join('\n')).toBeDefined();
        expect(failure).toContain(path.join(app, '.state'));
        expect(existsSync(path.join(app, '.state'))).toBe(false);
        // it stays up (liveness follows the peer), but has no event index: QueryEvents is UNAVAILABLE
        const port = await listening(started);
        const err = await clientOf(port)
            .call('EventService/QueryEvents', {})
            .then(
                () => undefined,
                (e: unknown) => e as grpc.ServiceError,
            );
        expect(err?.code).toBe(grpc.status.UNAVAILABLE);
        await stopChild(started);
    });

    it(`a lost gateway volume: an empty state dir catches up on ${String(N_EVENTS)} events`, async () => {
        const client = clientOf(gateway.port);
        const t0 = Date.now();
        let next = 0;
        await Promise.all(
            Array.from({ length: 32 }, async () => {
                while (next < N_EVENTS) {
                    next++;
                    await client.call('ComputePlanService/RegisterPlan', { key: randomUUID(), name: 'replay' });
                }
            }),
        );
        const writeMs = Date.now() - t0;
        const count = async (c: OrgClient): Promise<number> => {
            let n = 0;
            let token = '';
            do {
                const page = await c.call<orchestrator.IQueryEventsResponse>('EventService/QueryEvents', {
                    page_token: token,
                    page_size: 1000,
                });
                n += (page.events ?? []).length;
                token = page.next_page_token ?? '';
            } while (token);
            return n;
        };
        let total = 0;
        const settle = Date.now() + 30_000;
        while (total < N_EVENTS && Date.now() < settle) {
            total = await count(client);
            if (total < N_EVENTS) await sleep(200);
        }
        expect(total).toBeGreaterThanOrEqual(N_EVENTS);

        const emptyDir = path.join(root, 'var-lib-orchestrator-new');
        mkdirSync(emptyDir);
        execFileSync('chown', [`${String(USER.uid)}:${String(USER.gid)}`, emptyDir]);
        const ts = Date.now();
        const started = startGateway(emptyDir, 'gateway-empty-volume');
        const port = await listening(started);
        const listenMs = Date.now() - ts;
        const fresh = clientOf(port);
        let caughtUp: number | undefined;
        let unavailable = 0;
        while (caughtUp === undefined && Date.now() - ts < 300_000) {
            try {
                const n = await count(fresh);
                if (n >= total) caughtUp = Date.now() - ts;
            } catch (err) {
                if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE) throw err;
                unavailable++;
            }
            if (caughtUp === undefined) await sleep(50);
        }
        console.log(
            `[entrypoints] lost gateway volume: ${String(total)} events (${String(N_EVENTS)} RegisterPlan written in ${String(writeMs)} ms); ` +
                `new gateway listening after ${String(listenMs)} ms, QueryEvents complete after ${String(caughtUp)} ms ` +
                `(${String(unavailable)} UNAVAILABLE answers while catching up)`,
        );
        expect(caughtUp).toBeDefined();
        await stopChild(started);
    }, 600_000);
});
