import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import type { TlsConfig } from '../ops/config';

/** Regular files directly inside `dir` (symbolic links followed). */
function filesIn(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .map((name) => path.join(dir, name))
        .filter((file) => fs.statSync(file).isFile());
}

/** Client CA certificates per organization: one sub-directory per MSP id, each holding PEM files. */
export function loadClientCas(dir: string): Map<string, Buffer[]> {
    const cas = new Map<string, Buffer[]>();
    for (const name of fs.readdirSync(dir)) {
        const sub = path.join(dir, name);
        if (fs.statSync(sub).isDirectory()) {
            cas.set(
                name,
                filesIn(sub).map((file) => fs.readFileSync(file)),
            );
        }
    }
    return cas;
}

/**
 * gRPC server credentials: plaintext unless TLS is on; with mTLS, client certificates are required
 * and verified against the server CA plus every client CA of `clientCaCertDir`.
 */
export function serverCredentials(tls: TlsConfig): ServerCredentials {
    if (!tls.enabled) {
        return ServerCredentials.createInsecure();
    }
    const pair = { cert_chain: fs.readFileSync(tls.certPath), private_key: fs.readFileSync(tls.keyPath) };
    if (!tls.mtlsEnabled) {
        return ServerCredentials.createSsl(null, [pair], false);
    }
    const roots = [fs.readFileSync(tls.serverCaCertPath, 'utf8')];
    for (const pems of loadClientCas(tls.clientCaCertDir).values()) {
        roots.push(...pems.map((pem) => pem.toString('utf8')));
    }
    return ServerCredentials.createSsl(Buffer.from(roots.join('\n'), 'utf8'), [pair], true);
}

/** Split a PEM bundle into certificates. */
function parseCertificates(pem: Buffer): crypto.X509Certificate[] {
    const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return blocks.map((block) => new crypto.X509Certificate(block));
}

/** Organizations (O) of a certificate subject. */
export function subjectOrganizations(cert: crypto.X509Certificate): string[] {
    return cert.subject
        .split('\n')
        .filter((line) => line.startsWith('O='))
        .map((line) => line.slice(2));
}

/** Certificates presented by the client: the leaf first, then its issuers when the chain was sent. */
function presentedChain(peer: PeerCertificate): crypto.X509Certificate[] {
    const chain: crypto.X509Certificate[] = [];
    const seen = new Set<string>();
    let current: PeerCertificate | undefined = peer;
    while (current?.raw !== undefined && !seen.has(current.fingerprint256)) {
        seen.add(current.fingerprint256);
        chain.push(new crypto.X509Certificate(current.raw));
        const detailed = current as PeerCertificate & Partial<{ issuerCertificate: PeerCertificate }>;
        current = detailed.issuerCertificate;
    }
    return chain;
}

/** Outcome of a client MSP id check: undefined when accepted, else the error text. */
export type MspCheck = { readonly code: 'denied' | 'no-tls'; readonly message: string } | undefined;

/**
 * Checks that a caller's `mspid` header matches its TLS client certificate: the header must be an
 * Organization (O) of the certificate subject, and the certificate (or one of the chain it presented)
 * must be signed by a CA found in the header's sub-directory of the client CA directory.
 */
export class MspVerifier {
    readonly #cas: ReadonlyMap<string, crypto.X509Certificate[]>;
    readonly #tls: boolean;

    /**
     * `tls`: whether the server runs TLS. grpc-js reports no peer information for a TLS connection
     * without client certificate, as for plaintext; like Substra, the former is a permission error and
     * only the latter an internal one.
     */
    constructor(clientCas: ReadonlyMap<string, readonly Buffer[]>, options: { readonly tls?: boolean } = {}) {
        const cas = new Map<string, crypto.X509Certificate[]>();
        for (const [mspid, pems] of clientCas) {
            cas.set(mspid, pems.flatMap(parseCertificates));
        }
        this.#cas = cas;
        this.#tls = options.tls ?? false;
    }

    static fromDirectory(dir: string, options: { readonly tls?: boolean } = {}): MspVerifier {
        return new MspVerifier(loadClientCas(dir), options);
    }

    check(mspid: string, peer: PeerCertificate | undefined): MspCheck {
        const quoted = JSON.stringify(mspid);
        const notInCertificate: MspCheck = {
            code: 'denied',
            message: `OE0102: invalid MSPID: cannot find MSPID ${quoted} in client TLS certificate Subject Organizations`,
        };
        if (peer?.raw === undefined) {
            return this.#tls
                ? notInCertificate
                : { code: 'no-tls', message: 'OE0007: invalid MSPID: failed to extract MSP ID from TLS context' };
        }
        const chain = presentedChain(peer);
        const [leaf] = chain;
        if (leaf === undefined || !subjectOrganizations(leaf).includes(mspid)) {
            return notInCertificate;
        }
        const cas = this.#cas.get(mspid);
        if (cas === undefined || cas.length === 0) {
            return {
                code: 'denied',
                message: `OE0102: invalid MSPID: cannot find MSPID ${quoted} in allowed organizations`,
            };
        }
        const signed = chain.some((cert) => cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey)));
        if (!signed) {
            return { code: 'denied', message: `OE0102: invalid MSPID: invalid issuer for MSPID ${quoted}` };
        }
        return undefined;
    }
}
