// A minimal MSP: deserializes `msp.SerializedIdentity`, checks the certificate against the org's CA, checks the
// node OU and verifies ECDSA signatures the way Fabric's BCCSP does (SHA-256 digest, DER, low-S only).

import {
    createPrivateKey,
    createHash,
    KeyObject,
    sign as nodeSign,
    verify as nodeVerify,
    X509Certificate,
} from 'node:crypto';
import { msp } from '@hyperledger/fabric-protos';

// Order of the P-256 group and its half: Fabric refuses signatures whose S is in the upper half.
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const P256_HALF_N = P256_N >> 1n;

export class IdentityError extends Error {}

export interface VerifiedIdentity {
    mspId: string;
    certificate: X509Certificate;
    /** the node OU of the certificate: client, peer, admin, orderer or '' */
    ou: string;
    /** the serialized identity bytes as received */
    bytes: Uint8Array;
}

export interface MspMember {
    mspId: string;
    caCert: X509Certificate;
}

function subjectField(cert: X509Certificate, field: string): string[] {
    return cert.subject
        .split('\n')
        .filter((line) => line.startsWith(field + '='))
        .map((line) => line.slice(field.length + 1));
}

/** The MSP id a serialized identity claims, without validating it ('' if it cannot be decoded). */
export function claimedMspId(bytes: Uint8Array): string {
    try {
        return msp.SerializedIdentity.deserializeBinary(bytes).getMspid();
    } catch {
        return '';
    }
}

export class MspRegistry {
    readonly #members = new Map<string, MspMember>();

    add(mspId: string, caCertPem: string): void {
        this.#members.set(mspId, { mspId, caCert: new X509Certificate(caCertPem) });
    }

    has(mspId: string): boolean {
        return this.#members.has(mspId);
    }

    mspIds(): string[] {
        return [...this.#members.keys()];
    }

    /** Deserializes and validates a `SerializedIdentity` (unknown MSP, foreign or expired certificate → error). */
    deserialize(bytes: Uint8Array): VerifiedIdentity {
        let sid: msp.SerializedIdentity;
        try {
            sid = msp.SerializedIdentity.deserializeBinary(bytes);
        } catch (err) {
            throw new IdentityError(`could not deserialize a SerializedIdentity: ${String(err)}`);
        }
        const mspId = sid.getMspid();
        const member = this.#members.get(mspId);
        if (!member) {
            throw new IdentityError(`MSP ${mspId} is unknown`);
        }
        let certificate: X509Certificate;
        try {
            certificate = new X509Certificate(Buffer.from(sid.getIdBytes_asU8()));
        } catch (err) {
            throw new IdentityError(`could not deserialize identity of MSP ${mspId}: ${String(err)}`);
        }
        if (!certificate.checkIssued(member.caCert) || !certificate.verify(member.caCert.publicKey)) {
            throw new IdentityError(
                `the supplied identity is not valid: x509: certificate signed by unknown authority (MSP ${mspId})`,
            );
        }
        const now = Date.now();
        if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) {
            throw new IdentityError(
                'the supplied identity is not valid: x509: certificate has expired or is not yet valid',
            );
        }
        if (!subjectField(certificate, 'O').includes(mspId)) {
            // Our CAs put the MSP id in O; a certificate of another org signed by a shared CA would be refused here.
            throw new IdentityError(
                `the supplied identity is not valid: organization of the certificate is not ${mspId}`,
            );
        }
        const ous = subjectField(certificate, 'OU');
        const ou = ['client', 'peer', 'admin', 'orderer'].find((o) => ous.includes(o)) ?? '';
        return { mspId, certificate, ou, bytes };
    }

    /** Validates the identity and checks `signature` over `data`. */
    verify(identityBytes: Uint8Array, data: Uint8Array, signature: Uint8Array): VerifiedIdentity {
        const identity = this.deserialize(identityBytes);
        verifySignature(identity.certificate.publicKey, data, signature);
        return identity;
    }
}

interface DerSignature {
    r: bigint;
    s: bigint;
}

function readDerInteger(buf: Buffer, offset: number): { value: bigint; next: number } {
    if (buf[offset] !== 0x02) throw new IdentityError('invalid signature: malformed DER integer');
    const len = buf[offset + 1];
    if (len === undefined || len === 0 || len > 33) throw new IdentityError('invalid signature: malformed DER integer');
    const bytes = buf.subarray(offset + 2, offset + 2 + len);
    if (bytes.length !== len) throw new IdentityError('invalid signature: truncated DER integer');
    return { value: BigInt('0x' + bytes.toString('hex')), next: offset + 2 + len };
}

function parseDerSignature(sig: Uint8Array): DerSignature {
    const buf = Buffer.from(sig);
    if (buf.length < 8 || buf[0] !== 0x30 || buf[1] !== buf.length - 2) {
        throw new IdentityError('invalid signature: not a DER ECDSA signature');
    }
    const r = readDerInteger(buf, 2);
    const s = readDerInteger(buf, r.next);
    if (s.next !== buf.length) throw new IdentityError('invalid signature: trailing bytes');
    return { r: r.value, s: s.value };
}

function encodeDerInteger(value: bigint): Buffer {
    let hex = value.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    let bytes = Buffer.from(hex, 'hex');
    if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

function encodeDerSignature(sig: DerSignature): Buffer {
    const body = Buffer.concat([encodeDerInteger(sig.r), encodeDerInteger(sig.s)]);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** Verifies an ECDSA-SHA256 signature, refusing high-S signatures as Fabric does. */
export function verifySignature(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): void {
    if (signature.length === 0) throw new IdentityError('signature is empty');
    const { s } = parseDerSignature(signature);
    if (s > P256_HALF_N) {
        throw new IdentityError('invalid S. Must be smaller than half the order');
    }
    if (!nodeVerify('sha256', data, publicKey, signature)) {
        throw new IdentityError('the creator signature is invalid');
    }
}

/** A signing identity (peer) producing Fabric-compatible low-S DER signatures. */
export class Signer {
    readonly mspId: string;
    readonly certPem: string;
    readonly #key: KeyObject;
    readonly serialized: Uint8Array;

    constructor(mspId: string, certPem: string, keyPem: string) {
        this.mspId = mspId;
        this.certPem = certPem;
        this.#key = createPrivateKey(keyPem);
        const sid = new msp.SerializedIdentity();
        sid.setMspid(mspId);
        sid.setIdBytes(Buffer.from(certPem));
        this.serialized = sid.serializeBinary();
    }

    sign(data: Uint8Array): Uint8Array {
        const der = nodeSign('sha256', data, this.#key);
        const sig = parseDerSignature(der);
        if (sig.s > P256_HALF_N) sig.s = P256_N - sig.s;
        return encodeDerSignature(sig);
    }
}

export function sha256(...parts: Uint8Array[]): Buffer {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest();
}
