// A test PKI made with the openssl CLI (organization CAs, server and client pairs), shared by the gateway's unit
// tests and the integration suite's end-to-end TLS tests.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function hasOpenssl(): boolean {
    try {
        execFileSync('openssl', ['version'], { stdio: 'ignore' });
        return true;
    } catch {
        return false;
    }
}

/** Test PKI made with the openssl CLI: two organization CAs, a server pair, and client pairs. */
export class Pki {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-pki-'));

    file(name: string): string {
        return path.join(this.dir, name);
    }

    #openssl(args: string[]): void {
        execFileSync('openssl', args, { cwd: this.dir, stdio: 'ignore' });
    }

    /** `openssl req` with a new P-256 key `${name}.key`, writing `out` for `subject`: `before` and `after` go around. */
    #newKey(name: string, out: string, subject: string, before: string[] = [], after: string[] = []): void {
        this.#openssl([
            'req',
            ...before,
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-keyout',
            `${name}.key`,
            '-out',
            out,
            '-subj',
            subject,
            ...after,
        ]);
    }

    ca(name: string): void {
        this.#newKey(
            name,
            `${name}.pem`,
            `/O=${name}/CN=${name}`,
            ['-x509'],
            [
                '-days',
                '2',
                '-addext',
                'basicConstraints=critical,CA:TRUE',
                '-addext',
                'keyUsage=critical,keyCertSign,cRLSign',
            ],
        );
    }

    leaf(name: string, subject: string, ca: string, extensions: string): void {
        fs.writeFileSync(this.file(`${name}.ext`), extensions);
        this.#newKey(name, `${name}.csr`, subject);
        this.#openssl([
            'x509',
            '-req',
            '-in',
            `${name}.csr`,
            '-CA',
            `${ca}.pem`,
            '-CAkey',
            `${ca}.key`,
            '-CAcreateserial',
            '-out',
            `${name}.pem`,
            '-days',
            '2',
            '-extfile',
            `${name}.ext`,
        ]);
    }

    read(name: string): Buffer {
        return fs.readFileSync(this.file(name));
    }
}
