// Finds a helm v3 binary for the chart render checks (test/deploy) and prints its path on stdout; progress goes to
// stderr. In this order:
//   1. HELM_BIN, when set (must run and report a v3 version);
//   2. the cached build ${XDG_CACHE_HOME:-~/.cache}/substra-fabric/helm-v3.22.0/helm, shared by every clone on the
//      machine (checked with `helm version`);
//   3. otherwise builds it there from the Go module proxy (~80 s on 2 cores):
//      GOBIN=<cache dir> GOFLAGS=-mod=mod go install -ldflags '-X …version=v3.22.0' helm.sh/helm/v3/cmd/helm@v3.22.0
// Idempotent: a second run finds the cached binary and returns at once. The build goes to a temporary directory
// next to the cache entry and is renamed into place, so an interrupted or concurrent build never leaves half a
// binary behind.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HELM_VERSION = 'v3.22.0';

function log(line) {
    process.stderr.write(`[helm] ${line}\n`);
}

export function helmCacheDir(env = process.env) {
    const base = env.XDG_CACHE_HOME?.trim() || join(homedir(), '.cache');
    return join(base, 'substra-fabric', `helm-${HELM_VERSION}`);
}

/** The version a helm binary reports (`v3.22.0`), or undefined when it does not run. */
function versionOf(bin) {
    try {
        return execFileSync(bin, ['version', '--template', '{{.Version}}'], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
            timeout: 30_000,
        }).trim();
    } catch {
        return undefined;
    }
}

function build(cacheDir, env) {
    const goVersion = spawnSync('go', ['version'], { encoding: 'utf8' });
    if (goVersion.status !== 0) {
        throw new Error(
            `no helm found: set HELM_BIN to a helm v3 binary, or install Go so that helm ${HELM_VERSION} can be built`,
        );
    }
    const work = `${cacheDir}.tmp-${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const started = Date.now();
    log(
        `building helm ${HELM_VERSION} into ${cacheDir} from the Go module proxy with ${goVersion.stdout.trim()} ` +
            '(~80 s on 2 cores, once per machine)',
    );
    try {
        // `go install` sets no version (helm would report "v3.22"); helm's Makefile sets it the same way.
        const ldflags = `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`;
        const result = spawnSync('go', ['install', '-ldflags', ldflags, `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
            env: { ...env, GOBIN: work, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
            stdio: ['ignore', 'inherit', 'inherit'],
        });
        if (result.status !== 0) {
            throw new Error(`go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION} failed (exit ${result.status})`);
        }
        const built = join(work, 'helm');
        if (versionOf(built) !== HELM_VERSION) {
            throw new Error(`the helm built in ${work} reports ${versionOf(built) ?? 'nothing'}, not ${HELM_VERSION}`);
        }
        mkdirSync(cacheDir, { recursive: true });
        const target = join(cacheDir, 'helm');
        // A concurrent build may have won the race: its binary is as good as ours.
        if (versionOf(target) !== HELM_VERSION) {
            renameSync(built, target);
        }
    } finally {
        rmSync(work, { recursive: true, force: true });
    }
    log(`helm ${HELM_VERSION} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The path of a working helm v3 binary, built when needed. */
export function ensureHelm(env = process.env) {
    const fromEnv = env.HELM_BIN?.trim();
    if (fromEnv) {
        const bin = resolve(fromEnv);
        const version = versionOf(bin);
        if (!version?.startsWith('v3.')) {
            throw new Error(`HELM_BIN=${fromEnv} ${version ? `reports ${version}, not v3` : 'does not run'}`);
        }
        log(`using HELM_BIN ${bin} (${version})`);
        return bin;
    }
    const cacheDir = helmCacheDir(env);
    const cached = join(cacheDir, 'helm');
    if (existsSync(cached) && versionOf(cached) === HELM_VERSION) {
        log(`using cached ${cached} (${HELM_VERSION})`);
        return cached;
    }
    build(cacheDir, env);
    return cached;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    try {
        process.stdout.write(`${ensureHelm()}\n`);
    } catch (error) {
        log(error instanceof Error ? error.message : String(error));
        process.exit(1);
    }
}
