// Where the Fabric binaries come from (FABRIC_BIN_DIR, FABRIC_SOURCE, the shared archive, the cache), with fake
// binaries: a `peer` script that reports a version is all the lookup runs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheRoot, ensureFabric, FABRIC_TOOLS } from '../src/fabric';

const dirs: string[] = [];
afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
    const d = mkdtempSync(path.join(os.tmpdir(), 'fabric-lookup-'));
    dirs.push(d);
    return d;
}

/** A release-download layout: bin/ (tools; `peer version` prints `version`), builders/ccaas/bin/, config/. */
function fakeRelease(root: string, version: string, binSub = 'bin'): string {
    const bin = path.join(root, binSub);
    mkdirSync(bin, { recursive: true });
    for (const tool of FABRIC_TOOLS) {
        const file = path.join(bin, tool);
        writeFileSync(file, tool === 'peer' ? `#!/bin/sh\necho "peer:\n Version: ${version}"\n` : '#!/bin/sh\n');
        chmodSync(file, 0o755);
    }
    const builder = path.join(root, 'builders', 'ccaas', 'bin');
    mkdirSync(builder, { recursive: true });
    for (const p of ['detect', 'build', 'release'])
        writeFileSync(path.join(builder, p), '#!/bin/sh\n', { mode: 0o755 });
    mkdirSync(path.join(root, 'config'), { recursive: true });
    writeFileSync(path.join(root, 'config', 'core.yaml'), 'peer: {}\n');
    writeFileSync(path.join(root, 'config', 'orderer.yaml'), 'General: {}\n');
    return bin;
}

const quiet = () => undefined;

describe('Fabric binaries lookup', () => {
    it('FABRIC_BIN_DIR comes first, with config/ and builders/ccaas/ beside it', async () => {
        const root = tmp();
        const bin = fakeRelease(root, '2.5.16');
        const install = await ensureFabric({
            repoRoot: tmp(),
            env: { FABRIC_BIN_DIR: bin, FABRIC_SOURCE: '/nonexistent' },
            log: quiet,
        });
        expect(install).toMatchObject({
            version: '2.5.16',
            binDir: bin,
            builderDir: path.join(root, 'builders', 'ccaas'),
            configDir: path.join(root, 'config'),
        });
        expect(install.origin).toContain('FABRIC_BIN_DIR');
    });

    it('FABRIC_BIN_DIR with another version than FABRIC_VERSION, or with a tool missing, is refused', async () => {
        const root = tmp();
        const bin = fakeRelease(root, '2.5.16');
        await expect(
            ensureFabric({ repoRoot: tmp(), env: { FABRIC_BIN_DIR: bin, FABRIC_VERSION: '3.1.5' }, log: quiet }),
        ).rejects.toThrow(/holds peer 2\.5\.16, but Fabric 3\.1\.5 is wanted/);
        rmSync(path.join(bin, 'osnadmin'));
        await expect(ensureFabric({ repoRoot: tmp(), env: { FABRIC_BIN_DIR: bin }, log: quiet })).rejects.toThrow(
            /missing .*osnadmin/,
        );
    });

    it('without binaries or source, says how to provide them', async () => {
        const repo = path.join(tmp(), 'clone');
        mkdirSync(repo);
        const attempt = ensureFabric({ repoRoot: repo, env: { XDG_CACHE_HOME: tmp() }, log: quiet });
        await expect(attempt).rejects.toThrow(/no Fabric 2\.5\.16 binaries or source found/);
        await expect(attempt).rejects.toThrow(
            /FABRIC_BIN_DIR=[\s\S]*FABRIC_SOURCE=[\s\S]*shared\/fabric\/fabric-2\.5\.16\.tar\.xz/,
        );
        await expect(
            ensureFabric({ repoRoot: repo, env: { FABRIC_SOURCE: path.join(repo, 'nope.tar.xz') }, log: quiet }),
        ).rejects.toThrow(/FABRIC_SOURCE=.*does not exist/);
    });

    it('a source is looked up in the cache by version and sha256, checked with `peer version`', async () => {
        const cache = tmp();
        const source = path.join(tmp(), 'fabric-3.1.5.tar.xz');
        writeFileSync(source, 'not really an archive');
        const key = createHash('sha256').update('not really an archive').digest('hex').slice(0, 16);
        const env = { XDG_CACHE_HOME: cache, FABRIC_SOURCE: source, FABRIC_VERSION: '3.1.5' };
        const entry = path.join(cacheRoot(env), `fabric-3.1.5-${key}`);
        fakeRelease(entry, '3.1.5');
        const lines: string[] = [];
        const install = await ensureFabric({ repoRoot: tmp(), env, log: (l) => lines.push(l) });
        expect(install).toMatchObject({ version: '3.1.5', binDir: path.join(entry, 'bin') });
        expect(install.origin).toBe(`cache ${entry}`);
        expect(lines).toEqual([]); // nothing built
    });

    it('the shared archive of the version is the source when nothing else is set', async () => {
        const top = tmp();
        const repo = path.join(top, 'main');
        mkdirSync(path.join(top, 'shared', 'fabric'), { recursive: true });
        mkdirSync(repo);
        const archive = path.join(top, 'shared', 'fabric', 'fabric-2.5.16.tar.xz');
        writeFileSync(archive, 'shared archive bytes');
        const env = { XDG_CACHE_HOME: tmp() };
        const key = createHash('sha256').update('shared archive bytes').digest('hex').slice(0, 16);
        fakeRelease(path.join(cacheRoot(env), `fabric-2.5.16-${key}`), '2.5.16');
        const install = await ensureFabric({ repoRoot: repo, env, log: quiet });
        expect(install.origin).toContain(`fabric-2.5.16-${key}`);
    });

    it('with no source anywhere, a build of the version already in the cache is used', async () => {
        const env = { XDG_CACHE_HOME: tmp() };
        fakeRelease(path.join(cacheRoot(env), 'fabric-2.5.16-0123456789abcdef'), '2.5.16');
        fakeRelease(path.join(cacheRoot(env), 'fabric-3.1.5-0123456789abcdef'), '3.1.5');
        const repo = path.join(tmp(), 'clone');
        mkdirSync(repo);
        const install = await ensureFabric({ repoRoot: repo, env, log: quiet });
        expect(install.version).toBe('2.5.16');
        expect(install.origin).toMatch(/fabric-2\.5\.16-0123456789abcdef \(no source found/);
    });

    it('the shared archive is also looked for beside the repository this clone came from', async () => {
        const top = tmp();
        const developer = path.join(top, 'main');
        mkdirSync(path.join(top, 'shared', 'fabric'), { recursive: true });
        writeFileSync(path.join(top, 'shared', 'fabric', 'fabric-2.5.16.tar.xz'), 'origin archive');
        execFileSync('git', ['init', '-q', developer]);
        const clone = path.join(tmp(), 'ci-clone');
        execFileSync('git', ['init', '-q', clone]);
        execFileSync('git', ['-C', clone, 'remote', 'add', 'origin', developer]);
        const env = { XDG_CACHE_HOME: tmp() };
        const key = createHash('sha256').update('origin archive').digest('hex').slice(0, 16);
        fakeRelease(path.join(cacheRoot(env), `fabric-2.5.16-${key}`), '2.5.16');
        const install = await ensureFabric({ repoRoot: clone, env, log: quiet });
        expect(install.origin).toBe(`cache ${path.join(cacheRoot(env), `fabric-2.5.16-${key}`)}`);
    });
});
