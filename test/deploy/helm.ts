// Render checks of hlf-values/: the helm binary (scripts/ensure-helm.mjs), where the charts are, `helm template`, and
// the few Kubernetes shapes the checks read.
//
// The charts are found like test/network/src/fabric.ts finds ../shared/fabric: SUBSTRA_CHARTS_DIR when set, else
// <repo>/../shared/charts, else the same beside the repository this clone came from (`git remote get-url origin`,
// when that is a local path).
//
// Missing dependencies: `helm template` refuses a chart whose Chart.yaml dependencies are not under its charts/
// directory, whatever their conditions. When a shared chart lacks them, it is rendered from a temporary copy (outside
// the repository, deleted afterwards) in which each missing dependency is a stub chart of the same name and version:
// helm then processes conditions and values exactly as with the real one, and the stub renders one ConfigMap,
// `render-stub-<chart>`, holding the values the real sub-chart would receive. Objects of the parent chart are the
// real ones; objects of the sub-charts themselves (peer, orderer, CA, CouchDB workloads) are not rendered.

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const HLF_K8S_CHART = 'hlf-k8s/charts/hlf-k8s';
export const ORCHESTRATOR_CHART = 'orchestrator-0.37.0/charts/orchestrator';
export const STUB_PREFIX = 'render-stub-';

export interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}

export interface VolumeMount {
    name: string;
    mountPath: string;
    subPath?: string;
    readOnly?: boolean;
}

export interface Container {
    name: string;
    image: string;
    command?: string[];
    args?: string[];
    env?: EnvVar[];
    envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
    volumeMounts?: VolumeMount[];
    ports?: { containerPort: number }[];
}

export interface KeyToPath {
    key: string;
    path: string;
}

export interface Volume {
    name: string;
    configMap?: { name: string; items?: KeyToPath[] };
    secret?: { secretName: string; items?: KeyToPath[] };
    projected?: { sources: { configMap?: { name: string; items?: KeyToPath[] } }[] };
    emptyDir?: object;
}

export interface PodSpec {
    containers: Container[];
    initContainers?: Container[];
    volumes?: Volume[];
}

export interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
    /** The template that rendered it (helm's `# Source:` comment), e.g. `hlf-k8s/templates/deployment-chaincode.yaml`. */
    source: string;
}

export interface Deployment extends K8sObject {
    kind: 'Deployment';
    spec: { template: { spec: PodSpec } };
}

export interface ConfigMap extends K8sObject {
    kind: 'ConfigMap';
    data?: Record<string, string>;
}

export interface Service extends K8sObject {
    kind: 'Service';
    spec: { ports: { port: number; targetPort: number | string }[] };
}

/** The path of helm, found or built by scripts/ensure-helm.mjs (its progress lines go to our stderr). */
export function ensureHelm(): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'ensure-helm.mjs')], {
            cwd: REPO_ROOT,
            stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => (out += chunk));
        child.on('error', reject);
        child.on('close', (code) => {
            const bin = out.trim().split('\n').pop() ?? '';
            if (code === 0 && bin !== '') resolve(bin);
            else reject(new Error(`scripts/ensure-helm.mjs failed (exit ${String(code)})`));
        });
    });
}

/** Where the shared charts may be, in order. */
export function chartsDirCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
    const dirs: string[] = [];
    const setting = env.SUBSTRA_CHARTS_DIR?.trim();
    if (setting) dirs.push(path.resolve(setting));
    dirs.push(path.resolve(REPO_ROOT, '..', 'shared', 'charts'));
    try {
        const origin = execFileSync('git', ['-C', REPO_ROOT, 'remote', 'get-url', 'origin'], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
        }).trim();
        const local = origin.startsWith('file://') ? origin.slice('file://'.length) : origin;
        if (path.isAbsolute(local)) dirs.push(path.resolve(local, '..', 'shared', 'charts'));
    } catch {
        // not a git clone, or no origin
    }
    return [...new Set(dirs)];
}

/** The directory holding both charts; an error naming the places looked at otherwise. */
export function findChartsDir(env: NodeJS.ProcessEnv = process.env): string {
    const candidates = chartsDirCandidates(env);
    const found = candidates.find(
        (dir) =>
            existsSync(path.join(dir, HLF_K8S_CHART, 'Chart.yaml')) &&
            existsSync(path.join(dir, ORCHESTRATOR_CHART, 'Chart.yaml')),
    );
    if (found === undefined) {
        throw new Error(
            `the hlf-k8s and orchestrator charts were not found in any of: ${candidates.join(', ')} ` +
                `(expected ${HLF_K8S_CHART} and ${ORCHESTRATOR_CHART}; SUBSTRA_CHARTS_DIR names another directory)`,
        );
    }
    return found;
}

interface ChartDependency {
    name: string;
    version: string;
}

/** Dependencies of Chart.yaml that are neither a directory nor an archive under charts/. */
function missingDependencies(chartDir: string): ChartDependency[] {
    const chart = parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as {
        dependencies?: ChartDependency[];
    };
    const present = existsSync(path.join(chartDir, 'charts')) ? readdirSync(path.join(chartDir, 'charts')) : [];
    return (chart.dependencies ?? []).filter(
        (dep) =>
            !present.includes(dep.name) && !present.some((f) => f.startsWith(`${dep.name}-`) && f.endsWith('.tgz')),
    );
}

function makeWritable(target: string): void {
    const stat = statSync(target);
    chmodSync(target, stat.isDirectory() ? 0o755 : 0o644);
    if (stat.isDirectory()) {
        for (const entry of readdirSync(target)) makeWritable(path.join(target, entry));
    }
}

const STUB_TEMPLATE = `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${STUB_PREFIX}{{ .Chart.Name }}
  annotations:
    substra-fabric/render-stub: "the real {{ .Chart.Name }} {{ .Chart.Version }} chart is absent; these are its values"
data:
  values.yaml: {{ toYaml .Values | quote }}
`;

export interface RenderableChart {
    dir: string;
    /** Dependencies replaced by stubs (empty when the chart is rendered as shared). */
    stubbed: string[];
}

/** The chart itself when complete, else a copy under `workDir` with stubs for its missing dependencies. */
export function renderableChart(chartDir: string, workDir: string): RenderableChart {
    const missing = missingDependencies(chartDir);
    if (missing.length === 0) return { dir: chartDir, stubbed: [] };
    const copy = path.join(workDir, path.basename(chartDir));
    cpSync(chartDir, copy, { recursive: true, dereference: true });
    makeWritable(copy); // the shared charts are read-only
    for (const dep of missing) {
        if (!/^\d+\.\d+\.\d+$/.test(dep.version)) {
            throw new Error(`${chartDir}: cannot stub dependency ${dep.name} of version range "${dep.version}"`);
        }
        const stub = path.join(copy, 'charts', dep.name);
        mkdirSync(path.join(stub, 'templates'), { recursive: true });
        writeFileSync(path.join(stub, 'Chart.yaml'), `apiVersion: v2\nname: ${dep.name}\nversion: ${dep.version}\n`);
        writeFileSync(path.join(stub, 'templates', 'values.yaml'), STUB_TEMPLATE);
    }
    return { dir: copy, stubbed: missing.map((d) => d.name) };
}

export interface Rendered {
    objects: K8sObject[];
    /** Values the stubbed sub-charts received, by chart name (only those whose condition held). */
    stubValues: Map<string, Record<string, unknown>>;
}

/** `helm template`: the parsed objects, stubs set apart. */
export function helmTemplate(
    helm: string,
    chart: RenderableChart,
    release: string,
    namespace: string,
    valuesFiles: string[],
): Rendered {
    const args = ['template', release, chart.dir, '--namespace', namespace];
    for (const file of valuesFiles) args.push('-f', path.resolve(REPO_ROOT, file));
    let text: string;
    try {
        text = execFileSync(helm, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: 'pipe' });
    } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? '';
        throw new Error(`helm ${args.join(' ')} failed: ${stderr || (err as Error).message}`, { cause: err });
    }
    const objects: K8sObject[] = [];
    const stubValues = new Map<string, Record<string, unknown>>();
    for (const doc of parseAllDocuments(text)) {
        if (doc.errors.length > 0) throw new Error(`helm template ${release}: ${doc.errors[0]?.message ?? ''}`);
        const value = doc.toJS() as Omit<K8sObject, 'source'> | null;
        if (value === null) continue;
        // helm starts each document with a `# Source: <template>` comment
        const comments = `${doc.commentBefore ?? ''}\n${doc.contents?.commentBefore ?? ''}`;
        const source = /Source: (\S+)/.exec(comments)?.[1] ?? '';
        const object: K8sObject = { ...value, source };
        if (object.kind === 'ConfigMap' && object.metadata.name.startsWith(STUB_PREFIX)) {
            const data = (object as ConfigMap).data ?? {};
            stubValues.set(
                object.metadata.name.slice(STUB_PREFIX.length),
                parse(data['values.yaml'] ?? '{}') as Record<string, unknown>,
            );
        } else {
            objects.push(object);
        }
    }
    return { objects, stubValues };
}

export function find<T extends K8sObject>(objects: K8sObject[], kind: T['kind'], name: string): T {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (found === undefined) {
        const names = objects.filter((o) => o.kind === kind).map((o) => o.metadata.name);
        throw new Error(`no ${kind} named ${name} (${kind}s rendered: ${names.join(', ') || 'none'})`);
    }
    return found as T;
}

export function ofKind<T extends K8sObject>(objects: K8sObject[], kind: T['kind']): T[] {
    return objects.filter((o): o is T => o.kind === kind);
}

/** A values file of hlf-values/, parsed. */
export function readValues(file: string): Record<string, unknown> {
    return parse(readFileSync(path.join(REPO_ROOT, file), 'utf8')) as Record<string, unknown>;
}
