import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GatewayConfig, PeerConfig } from '../ops/config';

/** A Fabric signing identity of the wallet. */
export interface WalletIdentity {
    readonly mspid: string;
    /** PEM of the enrollment (signing) certificate. */
    readonly certificate: Buffer;
    readonly privateKey: crypto.KeyObject;
    /** Peer of this organization, when it is not the default one. */
    readonly peer?: PeerConfig;
}

function firstFile(dir: string): string {
    const files = fs
        .readdirSync(dir)
        .sort()
        .map((name) => path.join(dir, name))
        .filter((file) => fs.statSync(file).isFile());
    const [file] = files;
    if (file === undefined) {
        throw new Error(`no file in ${dir}`);
    }
    return file;
}

function readPeer(dir: string): PeerConfig | undefined {
    const file = path.join(dir, 'peer.json');
    if (!fs.existsSync(file)) {
        return undefined;
    }
    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Record<keyof PeerConfig, string>>;
    if (typeof raw.endpoint !== 'string' || raw.endpoint === '') {
        throw new Error(`${file}: "endpoint" is required`);
    }
    const resolve = (value: string | undefined): string => (value ? path.resolve(dir, value) : '');
    return {
        endpoint: raw.endpoint,
        tlsCaCertPath: resolve(raw.tlsCaCertPath),
        tlsClientCertPath: resolve(raw.tlsClientCertPath),
        tlsClientKeyPath: resolve(raw.tlsClientKeyPath),
        hostAlias: raw.hostAlias ?? '',
    };
}

/**
 * Read a wallet directory: one sub-directory per MSP id, laid out like a Fabric MSP folder:
 * `<mspid>/signcerts/<cert>.pem`, `<mspid>/keystore/<key>` (PEM, PKCS#8 or SEC1), and optionally
 * `<mspid>/peer.json` naming the peer of that organization.
 */
export function loadWalletDir(dir: string): Map<string, WalletIdentity> {
    const wallet = new Map<string, WalletIdentity>();
    for (const mspid of fs.readdirSync(dir).sort()) {
        const base = path.join(dir, mspid);
        if (!fs.statSync(base).isDirectory()) {
            continue;
        }
        const peer = readPeer(base);
        wallet.set(mspid, {
            mspid,
            certificate: fs.readFileSync(firstFile(path.join(base, 'signcerts'))),
            privateKey: crypto.createPrivateKey(fs.readFileSync(firstFile(path.join(base, 'keystore')))),
            ...(peer ? { peer } : {}),
        });
    }
    return wallet;
}

/**
 * The wallet of the configuration: the identities of ORCHESTRATOR_WALLET_DIR, plus the single identity
 * of the Substra chart (ORCHESTRATOR_MSPID with ORCHESTRATOR_FABRIC_CERT and ORCHESTRATOR_FABRIC_KEY).
 */
export function loadWallet(
    config: Pick<GatewayConfig, 'walletDir' | 'mspId' | 'fabricCertPath' | 'fabricKeyPath'>,
): Map<string, WalletIdentity> {
    const wallet = config.walletDir ? loadWalletDir(config.walletDir) : new Map<string, WalletIdentity>();
    if (config.fabricCertPath || config.fabricKeyPath) {
        if (!config.mspId || !config.fabricCertPath || !config.fabricKeyPath) {
            throw new Error('ORCHESTRATOR_MSPID, ORCHESTRATOR_FABRIC_CERT and ORCHESTRATOR_FABRIC_KEY go together');
        }
        wallet.set(config.mspId, {
            mspid: config.mspId,
            certificate: fs.readFileSync(config.fabricCertPath),
            privateKey: crypto.createPrivateKey(fs.readFileSync(config.fabricKeyPath)),
        });
    }
    if (wallet.size === 0) {
        throw new Error(
            'the wallet is empty: set ORCHESTRATOR_WALLET_DIR or ORCHESTRATOR_MSPID with ORCHESTRATOR_FABRIC_CERT/KEY',
        );
    }
    return wallet;
}
