// Fabric binaries for the local network: peer, orderer, configtxgen, osnadmin, cryptogen and the
// chaincode-as-a-service builder (detect/build/release), plus the sample core.yaml/orderer.yaml the peer and
// orderer read their defaults from.
//
// Where they come from, in this order:
//   1. FABRIC_BIN_DIR: already-built binaries (e.g. the bin/ of Fabric's release download, whose config/ and
//      builders/ccaas/ sit next to it; FABRIC_CONFIG_DIR and FABRIC_BUILDER_DIR override those two);
//   2. FABRIC_SOURCE: a source tarball (.tar.xz/.tar.gz) or an unpacked source directory, built with Go;
//   3. <repo>/../shared/fabric/fabric-<version>.tar.xz when it exists (also looked for beside the repository
//      this one was cloned from, when that is a local path), built the same way;
//   4. otherwise a build of that version already in the cache, else an error that says how to provide one.
// Builds are cached under $XDG_CACHE_HOME/substra-fabric (default ~/.cache), keyed by version and the
// sha256 of the source, so other clones and CI on the same machine reuse them; a cache hit is checked with
// `peer version`.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const DEFAULT_FABRIC_VERSION = '2.5.16';
export const SUPPORTED_FABRIC_VERSIONS: readonly string[] = ['2.5.16', '3.1.5'];

export const FABRIC_TOOLS = ['peer', 'orderer', 'configtxgen', 'osnadmin', 'cryptogen'] as const;
const BUILDER_PROGRAMS = ['detect', 'build', 'release'] as const;

export interface FabricInstall {
    version: string;
    /** holds peer, orderer, configtxgen, osnadmin, cryptogen */
    binDir: string;
    /** the external builder directory the peer is configured with: it holds bin/{detect,build,release} */
    builderDir: string;
    /** Fabric's sample configuration: core.yaml, orderer.yaml */
    configDir: string;
    /** where the binaries came from, for progress lines */
    origin: string;
}

export interface EnsureFabricOptions {
    /** default: FABRIC_VERSION or 2.5.16 */
    version?: string;
    env?: NodeJS.ProcessEnv;
    log?: (line: string) => void;
    /** the repository root, to find ../shared/fabric */
    repoRoot: string;
}

export function fabricVersion(env: NodeJS.ProcessEnv = process.env): string {
    return env.FABRIC_VERSION?.trim() || DEFAULT_FABRIC_VERSION;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
    const base = env.XDG_CACHE_HOME?.trim() || path.join(os.homedir(), '.cache');
    return path.join(base, 'substra-fabric');
}

async function sha256File(file: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return hash.digest('hex');
}

/** A source directory's key: its file list with sizes and modification times (hashing 20 000 files' bytes is slow). */
function sha256Tree(dir: string): string {
    const hash = createHash('sha256');
    const walk = (rel: string) => {
        const entries = readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) =>
            a.name.localeCompare(b.name),
        );
        for (const e of entries) {
            const p = path.join(rel, e.name);
            if (e.isDirectory()) {
                if (e.name !== '.git') walk(p);
            } else {
                const st = statSync(path.join(dir, p));
                hash.update(`${p}\0${st.size}\0${Math.trunc(st.mtimeMs)}\n`);
            }
        }
    };
    walk('');
    return hash.digest('hex');
}

/** `peer version` of a binary directory, or undefined when it does not run. */
export async function peerVersion(binDir: string): Promise<string | undefined> {
    try {
        const { stdout } = await execFileAsync(path.join(binDir, 'peer'), ['version'], { timeout: 20_000 });
        return /Version:\s*(\S+)/.exec(stdout)?.[1];
    } catch {
        return undefined;
    }
}

function missingFiles(install: Omit<FabricInstall, 'origin' | 'version'>): string[] {
    return [
        ...FABRIC_TOOLS.map((t) => path.join(install.binDir, t)),
        ...BUILDER_PROGRAMS.map((p) => path.join(install.builderDir, 'bin', p)),
        path.join(install.configDir, 'core.yaml'),
        path.join(install.configDir, 'orderer.yaml'),
    ].filter((f) => !existsSync(f));
}

function howToProvide(version: string, sharedArchive: string): string {
    return [
        `no Fabric ${version} binaries or source found. Provide one of:`,
        '  FABRIC_BIN_DIR=<dir with peer, orderer, configtxgen, osnadmin, cryptogen> (Fabric release download: its',
        '    bin/, with config/ and builders/ccaas/ beside it; or FABRIC_CONFIG_DIR / FABRIC_BUILDER_DIR)',
        `  FABRIC_SOURCE=<fabric-${version} source tarball or directory> (built with Go >= 1.26.4, cached)`,
        `  ${sharedArchive} (the offline source snapshot)`,
    ].join('\n');
}

/**
 * Where the offline source snapshots may be: `<repo>/../shared/fabric`, and the same beside the repository this
 * clone was made from when that is a local path (a CI clone of a developer's checkout).
 */
function sharedDirs(repoRoot: string): string[] {
    const dirs = [path.resolve(repoRoot, '..', 'shared', 'fabric')];
    try {
        const origin = execFileSync('git', ['-C', repoRoot, 'config', '--get', 'remote.origin.url'], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
        }).trim();
        const local = origin.startsWith('file://') ? origin.slice('file://'.length) : origin;
        if (path.isAbsolute(local)) dirs.push(path.resolve(local, '..', 'shared', 'fabric'));
    } catch {
        // not a git clone, or no origin
    }
    return [...new Set(dirs)];
}

/** The most recent build of `version` in the cache that runs (used when no source can be found). */
async function newestCachedBuild(version: string, env: NodeJS.ProcessEnv): Promise<FabricInstall | undefined> {
    const root = cacheRoot(env);
    let entries: string[];
    try {
        entries = readdirSync(root).filter((n) => n.startsWith(`fabric-${version}-`) && !n.includes('.tmp-'));
    } catch {
        return undefined;
    }
    const byAge = entries
        .map((n) => ({ dir: path.join(root, n), mtime: statSync(path.join(root, n)).mtimeMs }))
        .sort((a, b) => b.mtime - a.mtime);
    for (const { dir } of byAge) {
        const install = {
            binDir: path.join(dir, 'bin'),
            builderDir: path.join(dir, 'builders', 'ccaas'),
            configDir: path.join(dir, 'config'),
        };
        if (missingFiles(install).length === 0 && (await peerVersion(install.binDir)) === version) {
            return { ...install, version, origin: `cache ${dir} (no source found; built earlier on this machine)` };
        }
    }
    return undefined;
}

/** Finds or builds the binaries of `version`; see the file comment for the order. */
export async function ensureFabric(options: EnsureFabricOptions): Promise<FabricInstall> {
    const env = options.env ?? process.env;
    const version = options.version ?? fabricVersion(env);
    const log = options.log ?? ((line: string) => process.stdout.write(line + '\n'));

    const binDirSetting = env.FABRIC_BIN_DIR?.trim();
    if (binDirSetting) {
        const binDir = path.resolve(binDirSetting);
        const install = {
            binDir,
            builderDir: path.resolve(env.FABRIC_BUILDER_DIR?.trim() || path.join(binDir, '..', 'builders', 'ccaas')),
            configDir: path.resolve(env.FABRIC_CONFIG_DIR?.trim() || path.join(binDir, '..', 'config')),
        };
        const missing = missingFiles(install);
        if (missing.length > 0) throw new Error(`FABRIC_BIN_DIR=${binDir}: missing ${missing.join(', ')}`);
        const found = await peerVersion(binDir);
        if (found !== version) {
            throw new Error(
                `FABRIC_BIN_DIR=${binDir} holds peer ${found ?? '(does not run)'}, but Fabric ${version} is wanted ` +
                    `(FABRIC_VERSION)`,
            );
        }
        return { ...install, version, origin: `FABRIC_BIN_DIR ${binDir}` };
    }

    const sharedArchives = sharedDirs(options.repoRoot).map((d) => path.join(d, `fabric-${version}.tar.xz`));
    const sharedArchive = sharedArchives[0] ?? '';
    const sourceSetting = env.FABRIC_SOURCE?.trim();
    const source = sourceSetting ? path.resolve(sourceSetting) : sharedArchives.find((f) => existsSync(f));
    if (!source) {
        // A clone elsewhere on the machine (e.g. CI's) still finds what another clone built.
        const cached = await newestCachedBuild(version, env);
        if (cached) return cached;
        throw new Error(howToProvide(version, sharedArchive));
    }
    if (!existsSync(source)) throw new Error(`FABRIC_SOURCE=${source} does not exist`);

    const t0 = Date.now();
    const step = (what: string) => {
        log(`[fabric ${new Date().toISOString().slice(11, 19)} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
    };
    const isDir = statSync(source).isDirectory();
    const key = isDir ? sha256Tree(source) : await sha256File(source);
    const cacheDir = path.join(cacheRoot(env), `fabric-${version}-${key.slice(0, 16)}`);
    const install = {
        binDir: path.join(cacheDir, 'bin'),
        builderDir: path.join(cacheDir, 'builders', 'ccaas'),
        configDir: path.join(cacheDir, 'config'),
    };
    if (missingFiles(install).length === 0) {
        const found = await peerVersion(install.binDir);
        if (found === version) return { ...install, version, origin: `cache ${cacheDir}` };
        step(`cached binaries in ${cacheDir} report ${found ?? 'nothing'}; rebuilding`);
    }
    await buildFabric({ source, isDir, version, cacheDir, env, step });
    const found = await peerVersion(install.binDir);
    if (found !== version) throw new Error(`built peer reports version ${found ?? '(none)'}, expected ${version}`);
    step(`Fabric ${version} ready in ${cacheDir}`);
    return { ...install, version, origin: `built from ${source}` };
}

async function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<void> {
    await new Promise<void>((resolve, reject) => {
        const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        const keep = (chunk: Buffer) => {
            output = (output + chunk.toString('utf8')).slice(-8000);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.once('error', (err) => {
            reject(new Error(`${cmd}: ${err.message}`));
        });
        child.once('exit', (code, signal) => {
            if (code === 0) resolve();
            else
                reject(
                    new Error(`${cmd} ${args.join(' ')} failed (${signal ?? String(code)}) in ${opts.cwd}:\n${output}`),
                );
        });
    });
}

async function buildFabric(o: {
    source: string;
    isDir: boolean;
    version: string;
    cacheDir: string;
    env: NodeJS.ProcessEnv;
    step: (what: string) => void;
}): Promise<void> {
    try {
        await execFileAsync('go', ['version']);
    } catch {
        throw new Error('building Fabric needs Go >= 1.26.4 on PATH (or set FABRIC_BIN_DIR to already-built binaries)');
    }
    // Build next to the cache entry and rename it into place at the end: a concurrent build, or one that was
    // interrupted, never leaves a half-filled cache entry behind.
    const work = `${o.cacheDir}.tmp-${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    try {
        let srcDir = o.source;
        if (!o.isDir) {
            o.step(`unpacking ${o.source}`);
            await run('tar', ['-xf', o.source, '-C', work], { cwd: work, env: o.env });
            const top = readdirSync(work).filter((n) => statSync(path.join(work, n)).isDirectory());
            if (top.length !== 1 || !top[0]) throw new Error(`${o.source}: expected one top-level directory`);
            srcDir = path.join(work, top[0]);
        }
        const out = path.join(work, 'out');
        const goEnv = { ...o.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' };
        o.step(`building ${FABRIC_TOOLS.join(', ')} (Go, vendored modules, offline; ~2 min on 2 cores)`);
        await run(
            'go',
            [
                'build',
                '-ldflags',
                `-X github.com/hyperledger/fabric/common/metadata.Version=${o.version}`,
                '-o',
                path.join(out, 'bin') + path.sep,
                ...FABRIC_TOOLS.map((t) => `./cmd/${t}`),
            ],
            { cwd: srcDir, env: { ...goEnv, GOFLAGS: '-mod=vendor', GOPROXY: 'off' } },
        );
        o.step('building the ccaas builder (detect, build, release; two small modules from the Go module proxy)');
        await run(
            'go',
            [
                'build',
                '-o',
                path.join(out, 'builders', 'ccaas', 'bin') + path.sep,
                ...BUILDER_PROGRAMS.map((p) => `./cmd/${p}`),
            ],
            { cwd: path.join(srcDir, 'ccaas_builder'), env: goEnv },
        );
        cpSync(path.join(srcDir, 'sampleconfig'), path.join(out, 'config'), { recursive: true });
        rmSync(o.cacheDir, { recursive: true, force: true });
        mkdirSync(path.dirname(o.cacheDir), { recursive: true });
        renameSync(out, o.cacheDir);
    } finally {
        rmSync(work, { recursive: true, force: true });
    }
}
