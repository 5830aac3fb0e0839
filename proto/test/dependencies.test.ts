import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(__dirname, '..', '..');

/**
 * Every installed copy of a package under the given node_modules directory, nested ones included.
 * Symbolic links (workspace packages) are not followed; their own node_modules are scanned separately.
 */
function findCopies(nodeModules: string, name: string, found: string[] = []): string[] {
    let entries: fs.Dirent[];
    try {
        entries = fs.readdirSync(nodeModules, { withFileTypes: true });
    } catch {
        return found;
    }
    const candidate = path.join(nodeModules, name, 'package.json');
    if (fs.existsSync(candidate) && !fs.lstatSync(path.join(nodeModules, name)).isSymbolicLink()) {
        found.push(path.dirname(candidate));
    }
    for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const dirs = entry.name.startsWith('@')
            ? fs
                  .readdirSync(path.join(nodeModules, entry.name), { withFileTypes: true })
                  .filter((e) => e.isDirectory())
                  .map((e) => path.join(nodeModules, entry.name, e.name))
            : [path.join(nodeModules, entry.name)];
        for (const dir of dirs) {
            findCopies(path.join(dir, 'node_modules'), name, found);
        }
    }
    return found;
}

function workspaceDirs(): string[] {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { workspaces?: string[] };
    return [REPO, ...(pkg.workspaces ?? []).map((w) => path.join(REPO, w))];
}

function describeCopies(copies: string[]): string[] {
    return copies.map((dir) => {
        const { version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
        return `${path.relative(REPO, dir)}@${version}`;
    });
}

describe('installed dependencies', () => {
    it('has exactly one copy of @grpc/grpc-js (fabric-shim refuses to start with several)', () => {
        const copies = workspaceDirs().flatMap((dir) => findCopies(path.join(dir, 'node_modules'), '@grpc/grpc-js'));
        expect(describeCopies(copies)).toHaveLength(1);
    });

    it('finds nested copies (self-check of the walker)', () => {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dup-check-'));
        try {
            for (const dir of ['@grpc/grpc-js', 'a/node_modules/@grpc/grpc-js', '@s/b/node_modules/@grpc/grpc-js']) {
                fs.mkdirSync(path.join(tmp, dir), { recursive: true });
                fs.writeFileSync(path.join(tmp, dir, 'package.json'), '{"version":"0.0.0"}');
            }
            expect(
                findCopies(tmp, '@grpc/grpc-js')
                    .map((p) => path.relative(tmp, p))
                    .sort(),
            ).toEqual(['@grpc/grpc-js', '@s/b/node_modules/@grpc/grpc-js', 'a/node_modules/@grpc/grpc-js']);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });
});
