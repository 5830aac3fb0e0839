// Render checks of hlf-values/ with the charts our users deploy with (hlf-k8s 10.2.4, the Substra orchestrator chart
// 0.37.0): `helm template`, then the rendered objects are checked against what our chaincode and gateway read, with
// their own configuration loaders (chaincode/src/main.ts configFromEnv, gateway/src/ops/config.ts loadConfig).
// Nothing runs in a cluster. See test/deploy/helm.ts for helm, the charts' location and the stubbed sub-charts.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_MESSAGE_BYTES, configFromEnv } from '../../chaincode/src/main';
import { type GatewayConfig, chaincodeFor, loadConfig } from '../../gateway/src/ops/config';
import {
    type ConfigMap,
    type Container,
    type Deployment,
    type K8sObject,
    type PodSpec,
    type RenderableChart,
    type Rendered,
    type Service,
    type Volume,
    type VolumeMount,
    HLF_K8S_CHART,
    ORCHESTRATOR_CHART,
    REPO_ROOT,
    ensureHelm,
    find,
    findChartsDir,
    helmTemplate,
    ofKind,
    readValues,
    renderableChart,
} from './helm';

interface Org {
    mspId: string;
    name: string;
    namespace: string;
    peerRelease: string;
    peerValues: string;
    orchestratorRelease: string;
    orchestratorValues: string;
}

const ORGS: Org[] = [1, 2].map((n) => ({
    mspId: `MyOrg${n}MSP`,
    name: `MyOrg${n}`,
    namespace: `org-${n}`,
    peerRelease: `network-org-${n}-peer-1`,
    peerValues: `hlf-values/org-${n}-peer-1.yaml`,
    orchestratorRelease: `orchestrator-org-${n}`,
    orchestratorValues: `hlf-values/orchestrator-org-${n}.yaml`,
}));
const MAJORITY = 'hlf-values/policy-majority.yaml';
const CHAINCODE_ENV = ['CHAINCODE_CCID', 'CHAINCODE_ADDRESS', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'TLS_ROOTCERT_FILE'];
const TLS_FILE_ENV = ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'TLS_ROOTCERT_FILE'];

let helm = '';
let work = '';
let hlfChart: RenderableChart;
let orchestratorChart: RenderableChart;
const renders = new Map<string, Rendered>();

beforeAll(async () => {
    helm = await ensureHelm(); // builds helm on first use (~80 s)
    const charts = findChartsDir();
    work = mkdtempSync(path.join(os.tmpdir(), 'substra-fabric-charts-'));
    hlfChart = renderableChart(path.join(charts, HLF_K8S_CHART), work);
    orchestratorChart = renderableChart(path.join(charts, ORCHESTRATOR_CHART), work);
    for (const chart of [hlfChart, orchestratorChart]) {
        if (chart.stubbed.length > 0) {
            console.log(
                `[deploy] ${path.basename(chart.dir)}: dependencies absent, stubbed: ${chart.stubbed.join(', ')}`,
            );
        }
    }
}, 900_000);

afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
});

function render(chart: 'hlf-k8s' | 'orchestrator', release: string, namespace: string, files: string[]): Rendered {
    const key = [chart, release, namespace, ...files].join(' ');
    let rendered = renders.get(key);
    if (rendered === undefined) {
        rendered = helmTemplate(helm, chart === 'hlf-k8s' ? hlfChart : orchestratorChart, release, namespace, files);
        renders.set(key, rendered);
    }
    return rendered;
}

const renderOrderer = (): Rendered => render('hlf-k8s', 'network-orderer', 'orderer', ['hlf-values/orderer.yaml']);
const renderPeer = (org: Org, extra: string[] = []): Rendered =>
    render('hlf-k8s', org.peerRelease, org.namespace, [org.peerValues, ...extra]);
const renderOrchestrator = (org: Org): Rendered =>
    render('orchestrator', org.orchestratorRelease, org.namespace, [org.orchestratorValues]);

// ---- what the values say ----

interface PeerValues {
    organization: { id: string; name: string };
    'hlf-peer': { host: string; port?: number };
    chaincodes: { name: string; version: string; address: string; port: number; image: Record<string, string> }[];
    appChannels: { channelName: string; chaincodes: { name: string; version: string; policy: string }[] }[];
    enrollments: { csrHost: string };
}

interface OrchestratorValues {
    orchestrator: { image: { repository: string; tag: string } };
    fabric: { mspID: string; channels: string[]; peer: { host: string; port: number } };
    channels: { name: string; organizations: string[] }[];
}

const peerValues = (org: Org): PeerValues => readValues(org.peerValues) as unknown as PeerValues;
const orchestratorValues = (org: Org): OrchestratorValues =>
    readValues(org.orchestratorValues) as unknown as OrchestratorValues;

// ---- Kubernetes semantics the checks need ----

function podOf(deployment: Deployment): PodSpec {
    return deployment.spec.template.spec;
}

function containerOf(deployment: Deployment): Container {
    const containers = podOf(deployment).containers;
    expect(containers, `${deployment.metadata.name}: one container`).toHaveLength(1);
    return containers[0]!;
}

/**
 * A container's environment as the kubelet builds it: `envFrom` ConfigMaps of the release first, then `env`, a later
 * entry of a name replacing an earlier one. A secret reference becomes `<secret name/key>`.
 */
function containerEnv(container: Container, objects: K8sObject[]): Record<string, string> {
    const env: Record<string, string> = {};
    for (const from of container.envFrom ?? []) {
        if (from.configMapRef === undefined) throw new Error(`${container.name}: envFrom other than a ConfigMap`);
        Object.assign(env, find<ConfigMap>(objects, 'ConfigMap', from.configMapRef.name).data ?? {});
    }
    for (const entry of container.env ?? []) {
        const ref = entry.valueFrom?.secretKeyRef;
        env[entry.name] = ref === undefined ? (entry.value ?? '') : `<secret ${ref.name}/${ref.key}>`;
    }
    return env;
}

interface MountedFile {
    mount: VolumeMount;
    volume: Volume;
    /** The key of the ConfigMap or Secret the file is, or undefined when the volume maps no such key. */
    key: string | undefined;
}

function itemKey(items: { key: string; path: string }[] | undefined, relative: string): string | undefined {
    if (items === undefined) return relative.includes('/') ? undefined : relative;
    return items.find((item) => item.path === relative)?.key;
}

/** The volume a container sees `file` in (the deepest mount holding it), and the key that file is. */
function mountedFile(pod: PodSpec, container: Container, file: string): MountedFile | undefined {
    let best: { mount: VolumeMount; relative: string } | undefined;
    for (const mount of container.volumeMounts ?? []) {
        const at = mount.mountPath.replace(/\/+$/, '');
        let relative: string | undefined;
        if (mount.subPath !== undefined) relative = file === at ? mount.subPath : undefined;
        else if (file.startsWith(`${at}/`)) relative = file.slice(at.length + 1);
        if (relative !== undefined && (best === undefined || at.length > best.mount.mountPath.length)) {
            best = { mount, relative };
        }
    }
    if (best === undefined) return undefined;
    const volume = (pod.volumes ?? []).find((v) => v.name === best.mount.name);
    if (volume === undefined) throw new Error(`${container.name}: mount ${best.mount.name} has no volume`);
    const key =
        volume.secret !== undefined
            ? itemKey(volume.secret.items, best.relative)
            : volume.configMap !== undefined
              ? itemKey(volume.configMap.items, best.relative)
              : volume.projected?.sources
                    .map((s) => itemKey(s.configMap?.items, best.relative))
                    .find((k) => k !== undefined);
    return { mount: best.mount, volume, key };
}

/**
 * The Secrets a release's operators create, with their keys, read from their scripts (`kubectl create secret
 * generic NAME --from-file=KEY=...`, `kubectl create secret tls NAME` = tls.crt and tls.key), `$name` standing for
 * each enrolment of the release's enrollment ConfigMap.
 */
function secretsCreated(objects: K8sObject[]): Map<string, Set<string>> {
    const enrollment = ofKind<ConfigMap>(objects, 'ConfigMap').find((c) => c.data?.enrollments !== undefined);
    const names = (enrollment?.data?.enrollments ?? '')
        .split('\n')
        .map((line) => line.trim().split(/\s+/)[0] ?? '')
        .filter((name) => name !== '');
    const secrets = new Map<string, Set<string>>();
    const add = (name: string, keys: string[]): void => {
        for (const expanded of name.includes('$name') ? names.map((n) => name.replace('$name', n)) : [name]) {
            const set = secrets.get(expanded) ?? new Set<string>();
            keys.forEach((k) => set.add(k));
            secrets.set(expanded, set);
        }
    };
    for (const deployment of ofKind<Deployment>(objects, 'Deployment')) {
        for (const container of podOf(deployment).containers) {
            const script = [...(container.command ?? []), ...(container.args ?? [])].join('\n');
            for (const m of script.matchAll(
                /kubectl create secret generic (\S+)((?: --from-(?:file|literal)=[^=\s]+=\S+)+)/g,
            )) {
                add(
                    m[1]!,
                    [...m[2]!.matchAll(/--from-(?:file|literal)=([^=\s]+)=/g)].map((k) => k[1]!),
                );
            }
            for (const m of script.matchAll(/kubectl create secret tls (\S+)/g)) add(m[1]!, ['tls.crt', 'tls.key']);
        }
    }
    return secrets;
}

/** `file` is mounted from a Secret that `created` says holds it. */
function expectFileFromSecret(
    pod: PodSpec,
    container: Container,
    file: string,
    created: Map<string, Set<string>>,
    what: string,
): void {
    const mounted = mountedFile(pod, container, file);
    expect(mounted, `${what} ${file} lies under a volume mount of ${container.name}`).toBeDefined();
    const secret = mounted!.volume.secret?.secretName;
    expect(secret, `${what} ${file} comes from a Secret`).toBeDefined();
    expect(mounted!.key, `${what} ${file}: a key of Secret ${secret!}`).toBeDefined();
    expect([...(created.get(secret!) ?? [])], `keys the release puts in Secret ${secret!}`).toContain(mounted!.key);
}

/** Writes the container's volumes of ConfigMaps the release renders under `root`, as the kubelet would mount them. */
function materializeConfigMaps(pod: PodSpec, container: Container, objects: K8sObject[], root: string): void {
    for (const mount of container.volumeMounts ?? []) {
        const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
        const source = volume?.configMap;
        const configMap = ofKind<ConfigMap>(objects, 'ConfigMap').find((c) => c.metadata.name === source?.name);
        if (source === undefined || configMap === undefined) continue; // not ours: provided by the cluster operator
        const data = configMap.data ?? {};
        const files = (source.items ?? Object.keys(data).map((key) => ({ key, path: key }))).map((item) => ({
            ...item,
            content: data[item.key] ?? '',
        }));
        for (const file of files) {
            if (mount.subPath !== undefined && mount.subPath !== file.path) continue;
            const target =
                mount.subPath !== undefined
                    ? path.join(root, mount.mountPath)
                    : path.join(root, mount.mountPath, file.path);
            mkdirSync(path.dirname(target), { recursive: true });
            writeFileSync(target, file.content);
        }
    }
}

/** Environment values naming a file that exists under `root` (a materialized mount) are rewritten to it. */
function underRoot(env: Record<string, string>, root: string): Record<string, string> {
    return Object.fromEntries(
        Object.entries(env).map(([name, value]) => [
            name,
            value.startsWith('/') && existsSync(path.join(root, value)) ? path.join(root, value) : value,
        ]),
    );
}

/** `helm`'s configtx.yaml: YAML with anchors and merge keys. */
function configtx(objects: K8sObject[], release: string): Record<string, unknown> {
    const text = find<ConfigMap>(objects, 'ConfigMap', `${release}-hlf-k8s-fabric`).data?.['configtx.yaml'] ?? '';
    return parse(text, { merge: true }) as Record<string, unknown>;
}

function at(value: unknown, ...keys: string[]): unknown {
    let current = value;
    for (const key of keys) current = (current as Record<string, unknown> | undefined)?.[key];
    return current;
}

/** A configtxgen byte size (`99 MB`): Fabric counts KB/MB/GB in powers of 1024. */
function byteSize(text: string): number {
    const m = /^(\d+)\s*(KB|MB|GB)?$/.exec(text.trim());
    if (m === null) throw new Error(`not a byte size: ${text}`);
    const powers: Record<string, number> = { KB: 1, MB: 2, GB: 3 };
    const power = m[2] === undefined ? 0 : (powers[m[2]] ?? 0);
    return Number(m[1]) * 1024 ** power;
}

/** A TLS certificate name (`*.org-1` style wildcard: one label) covers `host`. */
function sanCovers(san: string, host: string): boolean {
    if (!san.startsWith('*.')) return san === host;
    const dot = host.indexOf('.');
    return dot > 0 && host.slice(dot + 1) === san.slice(2);
}

/** Environment variable names the gateway reads: its EnvReader calls and any process.env access in gateway/src. */
function envNamesReadByGateway(): Set<string> {
    const dir = path.join(REPO_ROOT, 'gateway', 'src');
    const names = new Set<string>();
    for (const file of readdirSync(dir, { encoding: 'utf8', recursive: true }).filter((f) => f.endsWith('.ts'))) {
        const text = readFileSync(path.join(dir, file), 'utf8');
        for (const m of text.matchAll(/\be\.(?:str|required|bool|int|duration)\(\s*'([A-Z][A-Z0-9_]*)'/g)) {
            names.add(m[1]!);
        }
        for (const m of text.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[\s*'([A-Z][A-Z0-9_]*)'\s*\])/g)) {
            names.add((m[1] ?? m[2])!);
        }
    }
    return names;
}

function dockerfile(name: string): string {
    return readFileSync(path.join(REPO_ROOT, 'docker', name), 'utf8');
}

/** The image name the Dockerfile's build comment tags (`docker build -f docker/X -t NAME .`). */
function dockerTag(name: string): string {
    const m = new RegExp(`docker build -f docker/${name.replace('.', '\\.')} -t (\\S+)`).exec(dockerfile(name));
    if (m === null) throw new Error(`docker/${name}: no build command with -t in its comments`);
    return m[1]!;
}

/** The chaincode operator scripts of a peer release, joined. */
function chaincodeOperatorScript(objects: K8sObject[], release: string): string {
    const operator = find<Deployment>(objects, 'Deployment', `${release}-hlf-k8s-chaincode-operator-mycc`);
    const container = containerOf(operator);
    return [...(container.command ?? []), ...(container.args ?? [])].join('\n');
}

// ---- the checks ----

describe('hlf-k8s: ordering service (hlf-values/orderer.yaml)', () => {
    it("writes our batch settings into the genesis profile the chart's genesis operator uses", () => {
        const { objects, stubValues } = renderOrderer();
        const orderer = at(configtx(objects, 'network-orderer'), 'Profiles', 'GenerateGenesis', 'Orderer');
        expect(at(orderer, 'BatchTimeout')).toBe('20ms');
        expect(at(orderer, 'BatchSize', 'MaxMessageCount')).toBe(10);
        expect(at(orderer, 'OrdererType')).toBe('etcdraft');
        const genesis = containerOf(
            find<Deployment>(objects, 'Deployment', 'network-orderer-hlf-k8s-genesis-operator'),
        );
        expect(genesis.args?.join('\n')).toContain('configtxgen -profile GenerateGenesis');
        // no peer side in the orderer release
        expect(ofKind<Deployment>(objects, 'Deployment').map((d) => d.metadata.name)).not.toContainEqual(
            expect.stringContaining('chaincode'),
        );
        if (hlfChart.stubbed.length > 0) {
            expect([...stubValues.keys()].sort()).toEqual(['hlf-ca', 'hlf-ord']);
        }
    });

    it("AbsoluteMaxBytes (fixed by the chart) holds the largest request the gateway accepts, and blocks fit the peer's gRPC limit", () => {
        const { objects } = renderOrderer();
        const batchSize = at(
            configtx(objects, 'network-orderer'),
            'Profiles',
            'GenerateGenesis',
            'Orderer',
            'BatchSize',
        );
        const absolute = byteSize(String(at(batchSize, 'AbsoluteMaxBytes')));
        expect(absolute).toBe(99 * 1024 * 1024); // hard-coded `99 MB` in the chart's configtx.yaml
        for (const org of ORGS) {
            expect(absolute).toBeGreaterThan(gatewayConfig(org).config.maxReceiveMessageBytes);
        }
        // the peer's default gRPC limit, which our chaincode also uses (CHAINCODE_MAX_MESSAGE_BYTES)
        expect(absolute).toBeLessThan(DEFAULT_MAX_MESSAGE_BYTES);
    });
});

describe.each(ORGS)('hlf-k8s: $name peer ($peerValues)', (org) => {
    it('runs our chaincode image as a service, with the environment it reads and the TLS files mounted', () => {
        const { objects } = renderPeer(org);
        const values = peerValues(org);
        const cc = values.chaincodes[0]!;
        const deployment = find<Deployment>(objects, 'Deployment', `${org.peerRelease}-hlf-k8s-chaincode-${cc.name}`);
        const pod = podOf(deployment);
        const container = containerOf(deployment);

        // our image (docker/chaincode.Dockerfile), started as `./chaincode` in its working directory
        expect(container.image).toBe(`${dockerTag('chaincode.Dockerfile')}:${cc.image.tag!}`);
        expect(container.command).toEqual(['./chaincode']);
        const workdirs = [...dockerfile('chaincode.Dockerfile').matchAll(/^WORKDIR (\S+)/gm)].map((m) => m[1]);
        expect(workdirs.at(-1)).toBe('/app/chaincode');
        expect(existsSync(path.join(REPO_ROOT, 'chaincode', 'chaincode'))).toBe(true);
        expect(pod.initContainers ?? [], 'no init image (it only created CouchDB indexes)').toEqual([]);

        const env = containerEnv(container, objects);
        for (const name of CHAINCODE_ENV) expect(Object.keys(env)).toContain(name);
        expect(env.LOG_LEVEL, 'the second LOG_LEVEL entry (chaincodes[].logLevel) wins').toBe('INFO');

        // CCID from the Secret the chaincode operator creates; TLS files from the Secrets the enrolment creates
        const created = secretsCreated(objects);
        expect(env.CHAINCODE_CCID).toBe(`<secret chaincode-ccid-${cc.name}-${cc.version}/ccid>`);
        expect([...(created.get(`chaincode-ccid-${cc.name}-${cc.version}`) ?? [])]).toEqual(['ccid']);
        for (const name of TLS_FILE_ENV) expectFileFromSecret(pod, container, env[name]!, created, name);

        // and our chaincode's own loader accepts it: mutual TLS on the chart's port
        const root = path.join(work, `chaincode-${org.namespace}`);
        for (const name of TLS_FILE_ENV) {
            const file = path.join(root, env[name]!);
            mkdirSync(path.dirname(file), { recursive: true });
            writeFileSync(file, `-----BEGIN PLACEHOLDER ${name}-----\n`);
        }
        const config = configFromEnv({ ...underRoot(env, root), CHAINCODE_CCID: `${cc.name}:0123abcd` });
        expect(config.address).toBe(`0.0.0.0:${cc.port}`);
        expect(config.tls?.clientCACerts, 'mutual TLS: the peer must present a client certificate').toBeDefined();
        expect(config.logLevel).toBe('INFO');
        expect(config.maxMessageBytes).toBe(DEFAULT_MAX_MESSAGE_BYTES);
    });

    it('the peer dials the chaincode Service by a name its TLS certificate covers', () => {
        const { objects } = renderPeer(org);
        const values = peerValues(org);
        const cc = values.chaincodes[0]!;
        const name = `${org.peerRelease}-hlf-k8s-chaincode-${cc.name}`;
        const service = find<Service>(objects, 'Service', name);
        const container = containerOf(find<Deployment>(objects, 'Deployment', name));
        expect(service.spec.ports[0]?.port).toBe(cc.port);
        expect(container.ports?.[0]?.containerPort).toBe(cc.port);
        // connection.json of the package the operator installs
        expect(chaincodeOperatorScript(objects, org.peerRelease)).toContain(
            `\\"address\\": \\"${name}.${org.namespace}:${cc.port}\\"`,
        );
        expect(cc.address).toBe(`${name}.${org.namespace}`);
        // the TLS pairs are enrolled with --csr.hosts "localhost,127.0.0.1,<csrHost>"
        const enrolment = containerOf(
            find<Deployment>(objects, 'Deployment', `${org.peerRelease}-hlf-k8s-enrollment-operator`),
        );
        const hosts = /--csr\.hosts "([^"]+)"/.exec((enrolment.args ?? []).join('\n'))?.[1]?.split(',') ?? [];
        expect(hosts).toContain(values.enrollments.csrHost);
        expect(sanCovers(values.enrollments.csrHost, cc.address), 'chaincode server certificate').toBe(true);
        expect(sanCovers(values.enrollments.csrHost, values['hlf-peer'].host), 'peer server certificate').toBe(true);
    });

    it('the peer uses LevelDB and no CouchDB runs', () => {
        const { objects, stubValues } = renderPeer(org);
        if (hlfChart.stubbed.includes('hlf-peer')) {
            // what the hlf-peer chart turns into CORE_LEDGER_STATE_STATEDATABASE (and, for CouchDB only, the
            // CouchDB address and credentials)
            expect(at(stubValues.get('hlf-peer'), 'peer', 'databaseType')).toBe('goleveldb');
        } else {
            const peerEnv = ofKind<ConfigMap>(objects, 'ConfigMap').find(
                (c) => c.data?.CORE_LEDGER_STATE_STATEDATABASE !== undefined,
            );
            expect(peerEnv?.data?.CORE_LEDGER_STATE_STATEDATABASE).toBe('goleveldb');
            expect(peerEnv?.data?.CORE_LEDGER_STATE_COUCHDBCONFIG_COUCHDBADDRESS).toBeUndefined();
        }
        if (hlfChart.stubbed.includes('couchdb')) {
            // the chart deploys its CouchDB sub-chart with every peer: no pod, no volume, no client Service
            const couchdb = stubValues.get('couchdb');
            expect(at(couchdb, 'clusterSize')).toBe(0);
            expect(at(couchdb, 'persistentVolume', 'enabled')).toBe(false);
            expect(at(couchdb, 'service', 'enabled')).toBe(false);
        } else {
            for (const set of objects.filter((o) => o.kind === 'StatefulSet' && o.source.includes('/couchdb/'))) {
                expect(at(set, 'spec', 'replicas'), set.metadata.name).toBe(0);
                expect(at(set, 'spec', 'volumeClaimTemplates'), set.metadata.name).toBeUndefined();
            }
        }
        // nothing of the chart itself refers to CouchDB, but the Secret it always renders
        const parent = objects.filter((o) => o.source.startsWith('hlf-k8s/templates/'));
        expect(
            parent.filter((o) => /couchdb/i.test(o.metadata.name)).map((o) => `${o.kind}/${o.metadata.name}`),
        ).toEqual([`Secret/${org.peerRelease}-hlf-k8s-couchdb-credentials`]);
        for (const deployment of ofKind<Deployment>(parent, 'Deployment')) {
            const pod = podOf(deployment);
            for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
                const env = JSON.stringify([container.env ?? [], container.envFrom ?? []]);
                expect(env, `${deployment.metadata.name}/${container.name}`).not.toMatch(/couchdb/i);
            }
        }
    });

    it('OR endorsement by default: every organisation alone endorses', () => {
        const { objects } = renderPeer(org);
        const script = chaincodeOperatorScript(objects, org.peerRelease);
        const policies = [...script.matchAll(/--signature-policy "([^"]*)"/g)].map((m) => m[1]);
        // approve, check commit readiness and commit, on each of the two channels
        expect(policies).toEqual(Array<string>(6).fill("OR('MyOrg1MSP.member','MyOrg2MSP.member')"));
        for (const channel of ['mychannel', 'yourchannel']) {
            const app = at(configtx(objects, org.peerRelease), 'Profiles', `OrgsChannel-${channel}`, 'Application');
            expect(at(app, 'Policies', 'LifecycleEndorsement', 'Rule')).toBe('ANY Endorsement');
        }
    });

    it(`MAJORITY endorsement with ${MAJORITY}: the channel's Endorsement policy, no signature policy`, () => {
        const { objects } = renderPeer(org, [MAJORITY]);
        const script = chaincodeOperatorScript(objects, org.peerRelease);
        const policies = [...script.matchAll(/--signature-policy "([^"]*)"/g)].map((m) => m[1]);
        expect(policies).toEqual(Array<string>(6).fill(''));
        for (const channel of ['mychannel', 'yourchannel']) {
            const app = at(configtx(objects, org.peerRelease), 'Profiles', `OrgsChannel-${channel}`, 'Application');
            expect(at(app, 'Policies', 'Endorsement', 'Rule')).toBe('MAJORITY Endorsement');
            expect(at(app, 'Policies', 'LifecycleEndorsement', 'Rule')).toBe('MAJORITY Endorsement');
            expect(at(app, 'Policies', 'Admins', 'Rule')).toBe('MAJORITY Admins');
        }
        // the toolbox, for the one Init endorsed by both peers (hlf-values/README.md)
        find<Deployment>(objects, 'Deployment', `${org.peerRelease}-hlf-k8s-toolbox`);
        // helm replaces lists whole: the overlay's appChannels must be the organisation's, policies aside
        const strip = (channels: unknown): unknown =>
            (channels as Record<string, unknown>[]).map((c) => ({
                ...c,
                channelPolicies: undefined,
                appPolicies: undefined,
                chaincodes: (c.chaincodes as Record<string, unknown>[]).map((cc) => ({ ...cc, policy: undefined })),
            }));
        expect(strip(readValues(MAJORITY).appChannels)).toEqual(strip(peerValues(org).appChannels));
    });
});

interface RenderedGateway {
    objects: K8sObject[];
    pod: PodSpec;
    container: Container;
    env: Record<string, string>;
    config: GatewayConfig;
}

const gateways = new Map<string, RenderedGateway>();

/** The orchestrator Deployment of an organisation, its environment, and what our gateway's loader makes of it. */
function gatewayConfig(org: Org): RenderedGateway {
    const cached = gateways.get(org.mspId);
    if (cached !== undefined) return cached;
    const { objects } = renderOrchestrator(org);
    const deployment = find<Deployment>(objects, 'Deployment', `${org.orchestratorRelease}-server`);
    const pod = podOf(deployment);
    const container = containerOf(deployment);
    const env = containerEnv(container, objects);
    const root = path.join(work, `gateway-${org.namespace}`);
    materializeConfigMaps(pod, container, objects, root);
    const config = loadConfig(underRoot(env, root));
    const result = { objects, pod, container, env, config };
    gateways.set(org.mspId, result);
    return result;
}

describe.each(ORGS)('orchestrator chart: $name gateway ($orchestratorValues)', (org) => {
    it("runs our gateway image with the chart's command and health probes", () => {
        const { container } = gatewayConfig(org);
        const values = orchestratorValues(org);
        expect(container.image).toBe(`${dockerTag('gateway.Dockerfile')}:${values.orchestrator.image.tag}`);
        expect(container.command?.join(' ')).toContain('/app/orchestrator');
        const gatewayDockerfile = dockerfile('gateway.Dockerfile');
        expect(gatewayDockerfile).toContain('> /app/orchestrator');
        expect(gatewayDockerfile).toMatch(/COPY .* \/bin\/grpc_health_probe/);
        const probes = container as Container & Record<'livenessProbe' | 'startupProbe', unknown>;
        for (const probe of [probes.livenessProbe, probes.startupProbe]) {
            expect(at(probe, 'exec', 'command')).toContain('/bin/grpc_health_probe');
        }
    });

    it('sets no variable our gateway does not read (names compared with those gateway/src reads)', () => {
        const { env } = gatewayConfig(org);
        const read = envNamesReadByGateway();
        expect(read.size, 'the extraction still finds the EnvReader calls').toBeGreaterThan(20);
        expect(read).toContain('ORCHESTRATOR_CHANNEL_CONFIG');
        expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    });

    it("its environment is accepted by our gateway's loadConfig, with the settings intended", () => {
        const { config } = gatewayConfig(org);
        const values = orchestratorValues(org);
        const peer = peerValues(org);
        expect(config.host, 'ORCHESTRATOR_MODE set: every interface').toBe('0.0.0.0');
        expect(config.port).toBe(9000);
        expect(config.mspId).toBe(org.mspId);
        expect(config.fabricCertPath).toBe('/var/hyperledger/msp/signcerts/cert.pem');
        expect(config.fabricKeyPath).toBe('/var/hyperledger/msp/keystore/key.pem');
        expect(config.peer.endpoint).toBe(`${peer['hlf-peer'].host}:${values.fabric.peer.port}`);
        expect(config.peer.tlsCaCertPath).toBe('/var/hyperledger/tls/server/cert/cacert.pem');
        expect(config.peer.tlsClientCertPath).toBe('/var/hyperledger/tls/client/pair/tls.crt');
        expect(config.peer.tlsClientKeyPath).toBe('/var/hyperledger/tls/client/pair/tls.key');
        expect(config.tls).toMatchObject({ enabled: true, mtlsEnabled: true });
        expect(config.verifyClientMspId).toBe(true);
        expect(config.metricsEnabled).toBe(true);
        expect(config.logLevel).toBe('info');
        expect(config.gatewayTimeoutMs).toBe(20_000);
        expect(config.retry.budgetMs, 'a timed-out submit can be retried').toBeGreaterThanOrEqual(
            2 * config.gatewayTimeoutMs,
        );
    });

    it("every file it is given is mounted, the Fabric ones from Secrets its organisation's hlf-k8s release creates", () => {
        const { pod, container, env, config } = gatewayConfig(org);
        const created = secretsCreated(renderPeer(org).objects);
        const fabricFiles = {
            ORCHESTRATOR_FABRIC_CERT: config.fabricCertPath,
            ORCHESTRATOR_FABRIC_KEY: config.fabricKeyPath,
            'peer TLS CA (connection profile)': config.peer.tlsCaCertPath,
            'peer TLS client certificate (connection profile)': config.peer.tlsClientCertPath,
            'peer TLS client key (connection profile)': config.peer.tlsClientKeyPath,
        };
        for (const [what, file] of Object.entries(fabricFiles)) {
            expectFileFromSecret(pod, container, file, created, what);
        }
        for (const name of [
            'ORCHESTRATOR_CHANNEL_CONFIG',
            'ORCHESTRATOR_NETWORK_CONFIG',
            'ORCHESTRATOR_TLS_CERT_PATH',
            'ORCHESTRATOR_TLS_KEY_PATH',
            'ORCHESTRATOR_TLS_SERVER_CA_CERT',
        ]) {
            expect(mountedFile(pod, container, env[name]!)?.key, `${name} ${env[name]!}`).toBeDefined();
        }
        // one client CA directory per MSP id the `mspid` header is checked against
        const clientDir = env.ORCHESTRATOR_TLS_CLIENT_CA_CERT_DIR!.replace(/\/+$/, '');
        const subDirs = (container.volumeMounts ?? [])
            .filter((m) => path.dirname(m.mountPath) === clientDir)
            .map((m) => path.basename(m.mountPath));
        expect(subDirs).toEqual([org.mspId]);
    });

    it("agrees with the organisation's hlf-k8s values: peer, channels, members, chaincode per channel", () => {
        const { config } = gatewayConfig(org);
        const values = orchestratorValues(org);
        const peer = peerValues(org);
        expect(values.fabric.mspID).toBe(peer.organization.id);
        expect(values.fabric.peer.host).toBe(peer['hlf-peer'].host);
        expect(values.fabric.channels).toEqual(values.channels.map((c) => c.name));
        const installed = peer.chaincodes.map((c) => c.name);
        for (const [channel, members] of config.channelConfig.channels) {
            expect([...members], `members of ${channel}: our identity only`).toEqual([org.mspId]);
            const hlfChannel = peer.appChannels.find((c) => c.channelName === channel);
            expect(hlfChannel, `hlf-k8s creates ${channel}`).toBeDefined();
            const chaincode = chaincodeFor(config, channel);
            expect(
                hlfChannel!.chaincodes.map((c) => c.name),
                `chaincode the gateway calls on ${channel}`,
            ).toContain(chaincode);
            expect(installed).toContain(chaincode);
        }
        expect([...config.channelConfig.channels.keys()]).toEqual(peer.appChannels.map((c) => c.channelName));
    });
});
