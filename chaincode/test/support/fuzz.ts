/**
 * Seeded input generation for the robustness tests (robustness*.test.ts): a deterministic PRNG, random
 * "valid-looking" request messages built from the .proto reflection, raw protobuf wire fragments (wrong wire
 * types, invalid UTF-8, out-of-range enums) and the checks every contract call must pass.
 *
 *     const rng = new Rng(42);
 *     const arg = encodeRandom('NewFunction', rng, pool);        // binary request of random field values
 *     const res = await ledger.submit(ORG1, 'orchestrator.function:RegisterFunction', arg);
 *     expectCleanOutcome(res, before, ledger);                     // OE code or success, nothing written on failure
 */
import { createHash } from 'node:crypto';
import * as protobuf from 'protobufjs';
import { expect } from 'vitest';
import { protoPaths } from '@substra-fabric/api';
import type { RpcInfo } from '@substra-fabric/api';
import { messageClass } from '../../src/contracts/codec';
import { MAX_ERROR_MESSAGE } from '../../src/contracts/contract';
import type { CallResult, TestLedger } from './ledger';

// ---------------------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: small, fast, deterministic for a given seed (never Math.random in these tests). */
export class Rng {
    #state: number;

    constructor(seed: number) {
        this.#state = seed >>> 0;
    }

    /** Uniform in [0, 1). */
    next(): number {
        this.#state = (this.#state + 0x6d2b79f5) >>> 0;
        let t = this.#state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }

    /** Integer in [0, n). */
    int(n: number): number {
        return Math.floor(this.next() * n);
    }

    chance(p: number): boolean {
        return this.next() < p;
    }

    pick<T>(items: readonly T[]): T {
        if (items.length === 0) {
            throw new Error('pick from an empty list');
        }
        return items[this.int(items.length)]!;
    }

    bytes(n: number): Uint8Array {
        const out = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
            out[i] = this.int(256);
        }
        return out;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reflection

let reflection: protobuf.Root | undefined;

/** The .proto files loaded with proto field names (like the generated code). */
export function protoRoot(): protobuf.Root {
    if (reflection === undefined) {
        const root = new protobuf.Root();
        root.loadSync(protoPaths(), { keepCase: true });
        root.resolveAll();
        reflection = root;
    }
    return reflection;
}

export function requestType(rpc: RpcInfo): protobuf.Type {
    const name = rpc.requestType.startsWith('google.') ? rpc.requestType : `orchestrator.${rpc.requestType}`;
    return protoRoot().lookupType(name);
}

/** Values random strings are drawn from: keys and ids the ledger knows, so that some calls go deep. */
export interface ValuePool {
    readonly strings: readonly string[];
}

function randomString(rng: Rng, pool: ValuePool): string {
    switch (rng.int(6)) {
        case 0:
            return '';
        case 1: {
            const n = rng.int(12);
            let s = '';
            for (let i = 0; i < n; i++) {
                s += String.fromCharCode(0x20 + rng.int(0x5f));
            }
            return s;
        }
        case 2:
            return rng.pick(['\u0000', '\u{10ffff}', 'é', '💥', '\ud800', '__proto__', 'constructor', 'toString']);
        default:
            return pool.strings.length > 0 ? rng.pick(pool.strings) : 'x';
    }
}

function randomScalar(field: protobuf.Field, rng: Rng, pool: ValuePool): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Enum) {
        const values = Object.values(resolved.values);
        return rng.chance(0.9) ? rng.pick(values) : rng.pick([-1, 99, 2147483647]);
    }
    switch (field.type) {
        case 'string':
            return randomString(rng, pool);
        case 'bool':
            return rng.chance(0.5);
        case 'bytes':
            return rng.bytes(rng.int(8));
        case 'double':
        case 'float':
            return rng.pick([0, 1.5, -3, 1e300]);
        case 'int64':
        case 'uint64':
        case 'sint64':
        case 'fixed64':
        case 'sfixed64':
            return rng.pick([0, 1, 10, 1_767_225_700, 2 ** 40]);
        default:
            return rng.pick([0, 1, 2, 10, 100, 2147483647]);
    }
}

/** A plain object of `type` with random values (proto field names, numeric enums), for `fromObject`. */
export function randomObject(type: protobuf.Type, rng: Rng, pool: ValuePool, depth = 0): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of type.fieldsArray) {
        if (rng.chance(0.25)) {
            continue;
        }
        const resolved = field.resolvedType;
        const one = (): unknown =>
            resolved instanceof protobuf.Type
                ? depth < 4
                    ? randomObject(resolved, rng, pool, depth + 1)
                    : {}
                : randomScalar(field, rng, pool);
        if (field.map) {
            const entries: [string, unknown][] = [];
            for (let i = rng.int(3); i > 0; i--) {
                entries.push([randomString(rng, pool), one()]);
            }
            out[field.name] = Object.fromEntries(entries);
        } else if (field.repeated) {
            out[field.name] = Array.from({ length: rng.int(4) }, one);
        } else {
            out[field.name] = one();
        }
    }
    return out;
}

/** Binary protobuf of a random message of `typeName` (an RpcInfo request type). */
export function encodeRandom(rpc: RpcInfo, rng: Rng, pool: ValuePool): Uint8Array {
    const cls = messageClass(rpc.requestType);
    return cls.encode(cls.fromObject(randomObject(requestType(rpc), rng, pool))).finish();
}

// ---------------------------------------------------------------------------------------------------------
// Raw wire fragments

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** The wire type protobuf uses for a (non-packed) field of this type. */
export function wireTypeOf(field: protobuf.Field): number {
    if (field.map || field.resolvedType instanceof protobuf.Type) {
        return WIRE_LEN;
    }
    switch (field.type) {
        case 'string':
        case 'bytes':
            return WIRE_LEN;
        case 'double':
        case 'fixed64':
        case 'sfixed64':
            return WIRE_FIXED64;
        case 'float':
        case 'fixed32':
        case 'sfixed32':
            return WIRE_FIXED32;
        default:
            return WIRE_VARINT;
    }
}

/** One field of `fieldId` with wire type `wireType` and a plausible payload for that wire type. */
export function wireField(fieldId: number, wireType: number): Uint8Array {
    const w = protobuf.Writer.create().uint32(((fieldId << 3) | wireType) >>> 0);
    switch (wireType) {
        case WIRE_VARINT:
            w.uint32(1);
            break;
        case WIRE_FIXED64:
            w.fixed64(7);
            break;
        case WIRE_LEN:
            w.bytes(Uint8Array.from([0x61]));
            break;
        case WIRE_FIXED32:
            w.fixed32(7);
            break;
        default:
            break; // 3/4 (groups) and 6/7 (invalid) carry nothing
    }
    return w.finish();
}

/** A length-delimited field `fieldId` holding `payload` as is (e.g. invalid UTF-8, a nested message). */
export function lenField(fieldId: number, payload: Uint8Array): Uint8Array {
    return protobuf.Writer.create()
        .uint32(((fieldId << 3) | WIRE_LEN) >>> 0)
        .bytes(payload)
        .finish();
}

/** A varint field `fieldId` holding the int64 `value` (negative values are 10-byte varints). */
export function varintField(fieldId: number, value: number | string): Uint8Array {
    return protobuf.Writer.create()
        .uint32((fieldId << 3) >>> 0)
        .int64(value)
        .finish();
}

export function concat(...parts: Uint8Array[]): Uint8Array {
    return Uint8Array.from(Buffer.concat(parts));
}

/** Invalid UTF-8 sequences: a lone continuation byte, an overlong NUL, a lone surrogate, a truncated sequence. */
export const INVALID_UTF8: readonly Uint8Array[] = [
    Uint8Array.from([0x80]),
    Uint8Array.from([0xc0, 0x80]),
    Uint8Array.from([0xed, 0xa0, 0x80]),
    Uint8Array.from([0x61, 0xe2, 0x82]),
    Uint8Array.from([0xff, 0xfe, 0xfd]),
];

// ---------------------------------------------------------------------------------------------------------
// Outcome checks

/** An error the spec names: `OEnnnn: ` then a non-empty explanation. */
export const OE_MESSAGE = /^OE\d{4}: \S/;
/** State-machine refusal (behavior-tasks §3.3): no code, the backend matches the text. */
export const TRANSITION_MESSAGE = /^event \w+ inappropriate in current state \w+$/;
/** RegisterOrganization's unwrapped validation error (behavior-assets §2.1: no OE code). */
export const ORGANIZATION_ADDRESS_MESSAGE = /^address: must be a valid request URL\.$/;
/** A page token that is not one of ours (behavior-assets §1.6/§1.8: a plain error, gRPC UNKNOWN). */
export const PAGE_TOKEN_MESSAGE = /^invalid page token "/;
/** Every message a contract function may fail with. */
export const DOCUMENTED_MESSAGES: readonly RegExp[] = [
    /^OE\d{4}: \S/,
    /^event \w+ inappropriate in current state \w+$/,
    ORGANIZATION_ADDRESS_MESSAGE,
    PAGE_TOKEN_MESSAGE,
];
/** fabric-contract-api's arity check, made before any chaincode code runs (every function takes one argument). */
export const ARITY_MESSAGE = /^Expected 1 parameters, but \d+ have been supplied$/;

/** A digest of the committed world state (every key and value). */
export function worldDigest(ledger: TestLedger): string {
    const hash = createHash('sha256');
    for (const key of ledger.world.keys()) {
        const value = ledger.world.get(key)!;
        hash.update(`${key.length}:${key}:${value.length}:`);
        hash.update(value);
    }
    return hash.digest('hex');
}

export interface Snapshot {
    readonly digest: string;
    readonly transactions: number;
}

export function snapshot(ledger: TestLedger): Snapshot {
    return { digest: worldDigest(ledger), transactions: ledger.world.transactions.length };
}

/**
 * The rule for every call: success, or an error with an OE code (or a documented plain text); a failed call
 * writes nothing (empty write set, no chaincode event, committed state unchanged); a successful read-only
 * RPC writes nothing either, and a successful call's payload decodes as the response message.
 */
export function expectCleanOutcome(
    res: CallResult,
    before: Snapshot,
    ledger: TestLedger,
    rpc: RpcInfo | undefined,
    label: string,
    allowed: readonly RegExp[] = DOCUMENTED_MESSAGES,
): void {
    expect([200, 500], label).toContain(res.status);
    if (res.status === 200) {
        if (rpc !== undefined) {
            expect(() => messageClass(rpc.responseType).decode(res.payload), label).not.toThrow();
            if (rpc.readOnly) {
                expect(res.writes, `${label}: read-only RPC wrote`).toEqual([]);
                expect(res.chaincodeEvent, `${label}: read-only RPC set an event`).toBeUndefined();
            }
        }
        return;
    }
    const ok = allowed.some((re) => re.test(res.message));
    expect(ok, `${label}: message without an OE code: ${JSON.stringify(res.message.slice(0, 300))}`).toBe(true);
    expect(res.message.length, `${label}: message too long`).toBeLessThanOrEqual(MAX_ERROR_MESSAGE + 40);
    expect(
        res.writes.map((w) => w.key),
        `${label}: failed call wrote`,
    ).toEqual([]);
    expect(res.chaincodeEvent, `${label}: failed call set an event`).toBeUndefined();
    const after = snapshot(ledger);
    expect(after, `${label}: failed call changed committed state`).toEqual(before);
}
