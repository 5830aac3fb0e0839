import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { type Gateway, connect, hash, signers } from '@hyperledger/fabric-gateway';
import { InvocationError, classifyFabricError, isPeerUnreachable } from '../errors';
import type { PeerConfig } from '../ops/config';
import type { WalletIdentity } from './wallet';

export interface PeerConnectionsOptions {
    /** Identities by MSP id. */
    readonly wallet: ReadonlyMap<string, WalletIdentity>;
    /** Peer of identities whose wallet entry names none. */
    readonly defaultPeer: PeerConfig;
    /** Deadline of evaluate, endorse, submit and commit-status calls. */
    readonly timeoutMs: number;
    readonly maxMessageBytes?: number;
    /** Told when an identity's calls move to another peer because its peer cannot be reached. */
    readonly onPeerSwitch?: (switched: { mspid: string; from: string; to: string; reason: string }) => void;
}

/** Another peer's gateway for the same identity, with a signer to sign the same transaction or commit again. */
export interface OtherGateway {
    readonly gateway: Gateway;
    sign(digest: Uint8Array): Promise<Uint8Array>;
}

/** After this long on another peer, an identity tries its own peer first again. */
const PEER_PREFERENCE_MS = 30_000;

function gatewayKey(mspid: string, peer: PeerConfig): string {
    return `${mspid} ${peer.endpoint}`;
}

function readPem(file: string): Buffer | undefined {
    return file ? fs.readFileSync(file) : undefined;
}

/**
 * The peers the wallet's identities call: one gRPC connection per peer, one gateway per (identity, peer), and
 * the failover of an identity whose own peer (or its chaincode) cannot be reached to any other peer the wallet
 * knows, until it tries its own peer again after {@link PEER_PREFERENCE_MS}.
 */
export class PeerConnections {
    readonly #options: PeerConnectionsOptions;
    readonly #clients = new Map<string, grpc.Client>();
    /** by `<mspid> <peer endpoint>` */
    readonly #gateways = new Map<string, Gateway>();
    /** mspid → the peer its calls go to while its own is unreachable */
    readonly #preferred = new Map<string, { index: number; since: number }>();

    constructor(options: Readonly<PeerConnectionsOptions>) {
        this.#options = options;
    }

    /**
     * Runs `call` on the identity's preferred peer, then on each other peer while the failure says the peer
     * (or its chaincode) could not be reached: nothing was executed there, so the next peer may serve it.
     */
    async onAnyPeer<T>(mspid: string, call: (gateway: Gateway, endpoint: string) => Promise<T>): Promise<T> {
        const peers = this.#peersOf(mspid);
        const start = this.#firstPeer(mspid, peers.length);
        for (let i = 0; ; i++) {
            const index = (start + i) % peers.length;
            const peer = peers[index] ?? this.#options.defaultPeer;
            try {
                const result = await call(this.#gateway(mspid, peer), peer.endpoint);
                if (i > 0) {
                    this.#prefer(mspid, peers, start, index, 'unreachable');
                }
                return result;
            } catch (err) {
                const failure = classifyFabricError(err);
                if (failure.kind !== 'unavailable' || i + 1 >= peers.length) {
                    throw failure;
                }
            }
        }
    }

    /**
     * When a submit or commit-status call failed on `current` for want of a reachable peer, the gateway of the
     * next peer for the same identity, with a signer to sign the same transaction or commit request for it.
     */
    otherGateway(mspid: string, current: Gateway | undefined, err: unknown): OtherGateway | undefined {
        // only a peer that cannot be reached at all (no peer-side details) is left for another
        if (!isPeerUnreachable(err)) {
            return undefined;
        }
        const reason = err.message;
        const peers = this.#peersOf(mspid);
        if (peers.length < 2) {
            return undefined;
        }
        const index = peers.findIndex((p) => this.#gateways.get(gatewayKey(mspid, p)) === current);
        const next = (Math.max(index, 0) + 1) % peers.length;
        this.#prefer(mspid, peers, Math.max(index, 0), next, reason);
        const peer = peers[next] ?? this.#options.defaultPeer;
        const signer = signers.newPrivateKeySigner(this.#identity(mspid).privateKey);
        return { gateway: this.#gateway(mspid, peer), sign: (digest) => signer(digest) };
    }

    /** Moves `mspid`'s next calls off `endpoint` (its stream or calls failed there). */
    avoid(mspid: string, endpoint: string, reason: string): void {
        const peers = this.#peersOf(mspid);
        const index = peers.findIndex((p) => p.endpoint === endpoint);
        if (index >= 0 && peers.length > 1) {
            this.#prefer(mspid, peers, index, (index + 1) % peers.length, reason);
        }
    }

    /** Release every gateway and connection. */
    close(): void {
        for (const gateway of this.#gateways.values()) {
            gateway.close();
        }
        for (const client of this.#clients.values()) {
            client.close();
        }
        this.#gateways.clear();
        this.#clients.clear();
    }

    #identity(mspid: string): WalletIdentity {
        const identity = this.#options.wallet.get(mspid);
        if (identity === undefined) {
            throw new InvocationError('other', `no identity of organization "${mspid}" in the wallet`);
        }
        return identity;
    }

    /**
     * The peers an identity may call: its own first, then every other peer the wallet knows (any peer of the
     * channel serves any member's calls; under OR it endorses them itself).
     */
    #peersOf(mspid: string): PeerConfig[] {
        const own = this.#identity(mspid).peer ?? this.#options.defaultPeer;
        const peers = [own];
        for (const identity of this.#options.wallet.values()) {
            const peer = identity.peer ?? this.#options.defaultPeer;
            if (!peers.some((p) => p.endpoint === peer.endpoint)) {
                peers.push(peer);
            }
        }
        return peers;
    }

    /** Index in {@link #peersOf} of the peer to try first. */
    #firstPeer(mspid: string, count: number): number {
        const preferred = this.#preferred.get(mspid);
        if (preferred === undefined || Date.now() - preferred.since > PEER_PREFERENCE_MS) {
            this.#preferred.delete(mspid);
            return 0;
        }
        return preferred.index % count;
    }

    #prefer(mspid: string, peers: PeerConfig[], from: number, to: number, reason: string): void {
        if (from === to) {
            return;
        }
        this.#preferred.set(mspid, { index: to, since: Date.now() });
        this.#options.onPeerSwitch?.({
            mspid,
            from: peers[from]?.endpoint ?? '',
            to: peers[to]?.endpoint ?? '',
            reason,
        });
    }

    #gateway(mspid: string, peer: PeerConfig): Gateway {
        const key = gatewayKey(mspid, peer);
        const existing = this.#gateways.get(key);
        if (existing) {
            return existing;
        }
        const identity = this.#identity(mspid);
        const deadline = (): grpc.CallOptions => ({ deadline: Date.now() + this.#options.timeoutMs });
        const clientCert = readPem(peer.tlsClientCertPath);
        const gateway = connect({
            client: this.#client(peer),
            identity: { mspId: mspid, credentials: identity.certificate },
            signer: signers.newPrivateKeySigner(identity.privateKey),
            hash: hash.sha256,
            ...(clientCert
                ? {
                      tlsClientCertificateHash: crypto
                          .createHash('sha256')
                          .update(new crypto.X509Certificate(clientCert).raw)
                          .digest(),
                  }
                : {}),
            evaluateOptions: deadline,
            endorseOptions: deadline,
            submitOptions: deadline,
            commitStatusOptions: deadline,
        });
        this.#gateways.set(key, gateway);
        return gateway;
    }

    #client(peer: PeerConfig): grpc.Client {
        const key = JSON.stringify(peer);
        const existing = this.#clients.get(key);
        if (existing) {
            return existing;
        }
        const ca = readPem(peer.tlsCaCertPath);
        const credentials = ca
            ? grpc.credentials.createSsl(
                  ca,
                  readPem(peer.tlsClientKeyPath) ?? null,
                  readPem(peer.tlsClientCertPath) ?? null,
              )
            : grpc.credentials.createInsecure();
        const max = this.#options.maxMessageBytes ?? 100 * 1024 * 1024;
        const client = new grpc.Client(peer.endpoint, credentials, {
            ...(peer.hostAlias ? { 'grpc.ssl_target_name_override': peer.hostAlias } : {}),
            'grpc.max_receive_message_length': max,
            'grpc.max_send_message_length': max,
            // Fabric peers refuse pings more often than every 60 s.
            'grpc.keepalive_time_ms': 120_000,
        });
        this.#clients.set(key, client);
        return client;
    }
}
