// Crypto material of the development network, generated with the system `openssl` (keys with node:crypto).
//
// Layout under <state> (everything PEM):
//   crypto/<org>/ca/{ca.crt,ca.key}            signing CA of the MSP (O=<MSPID>)
//   crypto/<org>/tlsca/{ca.crt,ca.key}         TLS CA of the org
//   crypto/<org>/peer/{cert.pem,key.pem}       peer signing identity (OU=peer), signs endorsements
//   crypto/<org>/peer/tls/{server.crt,server.key}  peer TLS server pair (SAN 127.0.0.1, localhost)
//   crypto/<org>/chaincode/{tls.crt,tls.key}   the hlf-k8s "TLS user" pair: chaincode server cert AND peer client cert
//   wallet/<MSPID>/{cert.pem,key.pem}          client identity User1 (OU=client), for @hyperledger/fabric-gateway
//   wallet/<MSPID>/tls/{client.crt,client.key} TLS client pair for mutual TLS towards the peers
//   wallet/<MSPID>/tls/ca.pem                  TLS CA of that org's peer
//   tls/ca.pem                                 bundle of every org's TLS CA

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface OrgSpec {
    /** MSP id, e.g. MyOrg1MSP. */
    mspId: string;
    /** short name used in host names and directories, e.g. org1 */
    name: string;
}

export const DEFAULT_ORGS: readonly OrgSpec[] = [
    { mspId: 'MyOrg1MSP', name: 'org1' },
    { mspId: 'MyOrg2MSP', name: 'org2' },
];

export interface PemPair {
    certFile: string;
    keyFile: string;
    cert: string;
    key: string;
}

export interface OrgCrypto {
    mspId: string;
    name: string;
    domain: string;
    caCert: string;
    caCertFile: string;
    tlsCaCert: string;
    tlsCaCertFile: string;
    peer: PemPair;
    peerTls: PemPair;
    chaincodeTls: PemPair;
    client: PemPair;
    clientTls: PemPair;
    /** the org's TLS CA copied into the wallet */
    walletTlsCaFile: string;
    walletDir: string;
}

export interface NetworkCrypto {
    orgs: OrgCrypto[];
    /** bundle of every org's TLS CA certificate */
    tlsCaBundleFile: string;
}

const TEN_YEARS = '3650';

function openssl(args: string[], cwd: string): void {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(file: string): void {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}

function newCa(dir: string, subject: string): void {
    mkdirSync(dir, { recursive: true });
    newKey(path.join(dir, 'ca.key'));
    openssl(
        [
            'req',
            '-x509',
            '-new',
            '-key',
            'ca.key',
            '-sha256',
            '-days',
            TEN_YEARS,
            '-subj',
            subject,
            '-addext',
            'basicConstraints=critical,CA:TRUE',
            '-addext',
            'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
            '-addext',
            'subjectKeyIdentifier=hash',
            '-out',
            'ca.crt',
        ],
        dir,
    );
}

interface LeafOptions {
    caDir: string;
    certFile: string;
    keyFile: string;
    subject: string;
    extKeyUsage?: string;
    sans?: string[];
}

function newLeaf(opts: LeafOptions): void {
    mkdirSync(path.dirname(opts.certFile), { recursive: true });
    newKey(opts.keyFile);
    const work = path.dirname(opts.certFile);
    const csr = path.join(work, `.${path.basename(opts.certFile)}.csr`);
    const ext = path.join(work, `.${path.basename(opts.certFile)}.ext`);
    const lines = [
        '[v3]',
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
    ];
    if (opts.extKeyUsage) lines.push(`extendedKeyUsage=${opts.extKeyUsage}`);
    if (opts.sans && opts.sans.length > 0) lines.push(`subjectAltName=${opts.sans.join(',')}`);
    writeFileSync(ext, lines.join('\n') + '\n');
    openssl(['req', '-new', '-key', opts.keyFile, '-subj', opts.subject, '-out', csr], work);
    openssl(
        [
            'x509',
            '-req',
            '-in',
            csr,
            '-CA',
            path.join(opts.caDir, 'ca.crt'),
            '-CAkey',
            path.join(opts.caDir, 'ca.key'),
            '-set_serial',
            '0x' + randomBytes(16).toString('hex'),
            '-days',
            TEN_YEARS,
            '-sha256',
            '-extfile',
            ext,
            '-extensions',
            'v3',
            '-out',
            opts.certFile,
        ],
        work,
    );
    rmSync(csr);
    rmSync(ext);
}

function pair(certFile: string, keyFile: string): PemPair {
    return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

const LOOPBACK_SANS = ['IP:127.0.0.1', 'DNS:localhost'];

function orgPaths(stateDir: string, org: OrgSpec) {
    const base = path.join(stateDir, 'crypto', org.name);
    const wallet = path.join(stateDir, 'wallet', org.mspId);
    return {
        ca: path.join(base, 'ca'),
        tlsca: path.join(base, 'tlsca'),
        peerCert: path.join(base, 'peer', 'cert.pem'),
        peerKey: path.join(base, 'peer', 'key.pem'),
        peerTlsCert: path.join(base, 'peer', 'tls', 'server.crt'),
        peerTlsKey: path.join(base, 'peer', 'tls', 'server.key'),
        ccTlsCert: path.join(base, 'chaincode', 'tls.crt'),
        ccTlsKey: path.join(base, 'chaincode', 'tls.key'),
        wallet,
        clientCert: path.join(wallet, 'cert.pem'),
        clientKey: path.join(wallet, 'key.pem'),
        clientTlsCert: path.join(wallet, 'tls', 'client.crt'),
        clientTlsKey: path.join(wallet, 'tls', 'client.key'),
        walletTlsCa: path.join(wallet, 'tls', 'ca.pem'),
    };
}

function generateOrg(stateDir: string, org: OrgSpec): void {
    const p = orgPaths(stateDir, org);
    const domain = `${org.name}.example.com`;
    const o = `/C=US/ST=California/L=San Francisco/O=${org.mspId}`;
    newCa(p.ca, `${o}/CN=ca.${domain}`);
    newCa(p.tlsca, `${o}/CN=tlsca.${domain}`);
    newLeaf({ caDir: p.ca, certFile: p.peerCert, keyFile: p.peerKey, subject: `${o}/OU=peer/CN=peer0.${domain}` });
    newLeaf({
        caDir: p.tlsca,
        certFile: p.peerTlsCert,
        keyFile: p.peerTlsKey,
        subject: `${o}/CN=peer0.${domain}`,
        extKeyUsage: 'serverAuth,clientAuth',
        sans: [...LOOPBACK_SANS, `DNS:peer0.${domain}`],
    });
    newLeaf({
        caDir: p.tlsca,
        certFile: p.ccTlsCert,
        keyFile: p.ccTlsKey,
        subject: `${o}/CN=chaincode.${domain}`,
        extKeyUsage: 'serverAuth,clientAuth',
        sans: [...LOOPBACK_SANS, `DNS:chaincode.${domain}`],
    });
    newLeaf({
        caDir: p.ca,
        certFile: p.clientCert,
        keyFile: p.clientKey,
        subject: `${o}/OU=client/CN=User1@${domain}`,
    });
    newLeaf({
        caDir: p.tlsca,
        certFile: p.clientTlsCert,
        keyFile: p.clientTlsKey,
        subject: `${o}/CN=User1@${domain}`,
        extKeyUsage: 'clientAuth',
        sans: LOOPBACK_SANS,
    });
    writeFileSync(p.walletTlsCa, readFileSync(path.join(p.tlsca, 'ca.crt')));
}

function loadOrg(stateDir: string, org: OrgSpec): OrgCrypto {
    const p = orgPaths(stateDir, org);
    const caCertFile = path.join(p.ca, 'ca.crt');
    const tlsCaCertFile = path.join(p.tlsca, 'ca.crt');
    return {
        mspId: org.mspId,
        name: org.name,
        domain: `${org.name}.example.com`,
        caCert: readFileSync(caCertFile, 'utf8'),
        caCertFile,
        tlsCaCert: readFileSync(tlsCaCertFile, 'utf8'),
        tlsCaCertFile,
        peer: pair(p.peerCert, p.peerKey),
        peerTls: pair(p.peerTlsCert, p.peerTlsKey),
        chaincodeTls: pair(p.ccTlsCert, p.ccTlsKey),
        client: pair(p.clientCert, p.clientKey),
        clientTls: pair(p.clientTlsCert, p.clientTlsKey),
        walletTlsCaFile: p.walletTlsCa,
        walletDir: p.wallet,
    };
}

function orgComplete(stateDir: string, org: OrgSpec): boolean {
    const p = orgPaths(stateDir, org);
    return [
        path.join(p.ca, 'ca.crt'),
        path.join(p.tlsca, 'ca.crt'),
        p.peerCert,
        p.peerTlsCert,
        p.ccTlsCert,
        p.clientCert,
        p.clientTlsCert,
        p.walletTlsCa,
    ].every((f) => existsSync(f));
}

/**
 * Generates the crypto material of every org (unless it already exists in the state dir) and loads it.
 * Returns whether anything was generated.
 */
export function ensureCrypto(
    stateDir: string,
    orgs: readonly OrgSpec[] = DEFAULT_ORGS,
): { crypto: NetworkCrypto; generated: boolean } {
    let generated = false;
    for (const org of orgs) {
        if (!orgComplete(stateDir, org)) {
            rmSync(path.join(stateDir, 'crypto', org.name), { recursive: true, force: true });
            rmSync(path.join(stateDir, 'wallet', org.mspId), { recursive: true, force: true });
            generateOrg(stateDir, org);
            generated = true;
        }
    }
    const loaded = orgs.map((org) => loadOrg(stateDir, org));
    const tlsCaBundleFile = path.join(stateDir, 'tls', 'ca.pem');
    mkdirSync(path.dirname(tlsCaBundleFile), { recursive: true });
    writeFileSync(tlsCaBundleFile, loaded.map((o) => o.tlsCaCert.trim() + '\n').join(''));
    return { crypto: { orgs: loaded, tlsCaBundleFile }, generated };
}
