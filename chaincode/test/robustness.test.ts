/**
 * Robustness of the contract surface: every contract function of every unary RPC, called through fabric-shim's
 * real contract dispatcher with random and adversarial arguments. Rule (design.md, errors): bad input gets the
 * error the spec names (`OEnnnn: ...`, or the documented plain texts), writes nothing and crashes nothing.
 * Every case checks: status 200 or 500; on failure an allowed message, an empty write set, no chaincode event,
 * committed state unchanged; on success a payload that decodes as the response, and no write by a read-only RPC.
 */
import * as protobuf from 'protobufjs';
import { RPCS, orchestrator } from '@substra-fabric/api';
import type { RpcInfo } from '@substra-fabric/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageClass } from '../src/contracts/codec';
import {
    ARITY_MESSAGE,
    INVALID_UTF8,
    OE_MESSAGE,
    Rng,
    concat,
    encodeRandom,
    expectCleanOutcome,
    lenField,
    randomObject,
    requestType,
    snapshot,
    varintField,
    wireField,
    wireTypeOf,
} from './support/fuzz';
import type { ValuePool } from './support/fuzz';
import {
    DM1,
    DM2,
    DS1,
    DS2,
    DS_OTHER,
    FN_AGG,
    FN_PLAIN,
    FN_TEST,
    FN_TRAIN,
    ORG1,
    ORG2,
    ORG3,
    PLAN,
    PLAN2,
    UNREGISTERED,
    act,
    key,
    newTaskLedger,
    plainTask,
    register,
    trainTask,
} from './support/fixtures';
import type { CallResult, TestLedger } from './support/ledger';

const UNARY = RPCS.filter((rpc) => !rpc.responseStream);
const MB = 1 << 20;

const TASK_DONE = key(0x1, 1);
const TASK_CHILD = key(0x1, 2);
const TASK_TRAIN = key(0x1, 3);
const TASK_EXEC = key(0x1, 4);
const MODEL = key(0x2, 1);

const POOL: ValuePool = {
    strings: [
        PLAN,
        PLAN2,
        FN_TRAIN,
        FN_AGG,
        FN_TEST,
        FN_PLAIN,
        DM1,
        DM2,
        DS1,
        DS2,
        DS_OTHER,
        TASK_DONE,
        TASK_CHILD,
        TASK_TRAIN,
        TASK_EXEC,
        MODEL,
        ORG1,
        ORG2,
        ORG3,
        'model',
        'models',
        'opener',
        'datasamples',
        'performance',
    ],
};

let ledger: TestLedger;
/** Cases run per category (reported at the end, and asserted non-trivial). */
const counts = new Map<string, number>();

beforeAll(async () => {
    ledger = await newTaskLedger();
    await register(ledger, [plainTask(TASK_DONE), plainTask(TASK_CHILD, [TASK_DONE]), trainTask(TASK_TRAIN)]);
    await register(ledger, [plainTask(TASK_EXEC)]);
    await act(ledger, ORG1, TASK_EXEC, orchestrator.ComputeTaskAction.TASK_ACTION_EXECUTING);
    await act(ledger, ORG1, TASK_DONE, orchestrator.ComputeTaskAction.TASK_ACTION_EXECUTING);
    await ledger.invoke(ORG1, (s) =>
        s.models.registerModels({
            models: [
                {
                    key: MODEL,
                    compute_task_key: TASK_DONE,
                    compute_task_output_identifier: 'model',
                    address: { checksum: 'f'.repeat(64), storage_address: 'https://org1.example/model' },
                },
            ],
        }),
    );
    await act(ledger, ORG1, TASK_DONE, orchestrator.ComputeTaskAction.TASK_ACTION_DONE);
});

afterAll(() => {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    // Printed for the record of what the suite covers; not an assertion.
    console.info(`robustness cases: ${total} (${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')})`);
});

function count(category: string): void {
    counts.set(category, (counts.get(category) ?? 0) + 1);
}

function fcnOf(rpc: RpcInfo): string {
    return `${rpc.contract}:${rpc.fn}`;
}

/** Calls the RPC's contract function with `arg` (submit, or evaluate when read-only) and checks the outcome. */
async function call(
    rpc: RpcInfo,
    arg: Uint8Array | string | undefined,
    category: string,
    label: string,
    mspid = ORG1,
): Promise<CallResult> {
    const before = snapshot(ledger);
    const fcn = fcnOf(rpc);
    const res = rpc.readOnly
        ? await ledger.evaluateCall(mspid, fcn, arg ?? '')
        : await ledger.submit(mspid, fcn, arg ?? '');
    expectCleanOutcome(res, before, ledger, rpc, `${fcn} ${category} ${label}`);
    count(category);
    return res;
}

/** A valid-looking request of the RPC (random field values from the pool), deterministic per seed. */
function sample(rpc: RpcInfo, seed: number): Uint8Array {
    return encodeRandom(rpc, new Rng(seed), POOL);
}

function wrapper(msg: unknown, extra: Record<string, unknown> = {}): string {
    return JSON.stringify({ msg: typeof msg === 'string' ? msg : JSON.stringify(msg), request_id: 'r1', ...extra });
}

function seedOf(rpc: RpcInfo): number {
    return UNARY.indexOf(rpc) * 7919 + 17;
}

describe.each(UNARY.map((rpc) => [fcnOf(rpc), rpc] as const))('%s', (_name, rpc) => {
    const type = requestType(rpc);

    it('random bytes (seeded), from registered and unregistered organizations', async () => {
        const rng = new Rng(seedOf(rpc));
        for (let i = 0; i < 40; i++) {
            const length = rng.pick([0, 1, 2, 3, 5, 8, 16, 64, 300]);
            const bytes = rng.bytes(length);
            if (bytes[0] === 0x7b && i % 2 === 0) {
                bytes[0] = 0x0a; // keep most on the binary path; the other half may start with '{'
            }
            await call(rpc, bytes, 'random-bytes', `#${i}`, rng.pick([ORG1, ORG2, UNREGISTERED]));
        }
    });

    it('random valid-looking messages, whole and truncated at every length', async () => {
        const rng = new Rng(seedOf(rpc) + 1);
        for (let i = 0; i < 12; i++) {
            const bytes = sample(rpc, seedOf(rpc) * 31 + i);
            await call(rpc, bytes, 'random-message', `#${i}`, rng.pick([ORG1, ORG2, ORG3]));
            const cuts = bytes.length <= 24 ? bytes.length : 24;
            for (let c = 0; c < cuts; c++) {
                const cut = bytes.length <= 24 ? c : rng.int(bytes.length);
                await call(rpc, bytes.subarray(0, cut), 'truncated', `#${i}[0:${cut}]`);
            }
        }
    });

    it('the request message of every other RPC', async () => {
        for (const other of UNARY) {
            if (other.requestType !== rpc.requestType) {
                await call(rpc, sample(other, seedOf(other)), 'wrong-type', other.requestType);
            }
        }
    });

    it('wrong wire types, invalid UTF-8, out-of-range enums, unknown and group fields', async () => {
        for (const field of type.fieldsArray) {
            const expected = wireTypeOf(field);
            for (const wt of [0, 1, 2, 3, 4, 5, 6, 7]) {
                if (wt !== expected) {
                    await call(rpc, wireField(field.id, wt), 'wire-type', `${field.name}/${wt}`);
                }
            }
            if (field.type === 'string') {
                for (const bad of INVALID_UTF8) {
                    await call(rpc, lenField(field.id, bad), 'invalid-utf8', field.name);
                }
            }
            if (field.resolvedType instanceof protobuf.Enum) {
                for (const value of [-1, -2147483648, 2147483647, 99, '9223372036854775807', '-9223372036854775808']) {
                    await call(rpc, varintField(field.id, value), 'enum-range', `${field.name}=${value}`);
                }
            }
            if (field.resolvedType instanceof protobuf.Type) {
                // Invalid UTF-8 and wrong wire types one level down, in every field of the sub-message.
                for (const sub of field.resolvedType.fieldsArray) {
                    const inner = sub.type === 'string' ? lenField(sub.id, INVALID_UTF8[0]!) : wireField(sub.id, 7);
                    await call(rpc, lenField(field.id, inner), 'nested-wire', `${field.name}.${sub.name}`);
                }
            }
        }
        // Unknown fields (skipped by protobuf), a group that never ends, deeply nested groups, field number 0,
        // a length running past the end, a 10-byte varint overflow.
        await call(rpc, wireField(999, 0), 'wire-misc', 'unknown varint');
        await call(rpc, wireField(999, 3), 'wire-misc', 'open group');
        const deepGroups = concat(
            ...Array.from({ length: 20_000 }, () => wireField(999, 3)),
            ...Array.from({ length: 20_000 }, () => wireField(999, 4)),
        );
        await call(rpc, deepGroups, 'wire-misc', 'nested groups');
        await call(rpc, Uint8Array.from([0x00, 0x00]), 'wire-misc', 'field 0');
        await call(rpc, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x61]), 'wire-misc', 'length overrun');
        await call(rpc, Uint8Array.from([0x08, ...new Array<number>(11).fill(0xff), 0x01]), 'wire-misc', 'varint');
    });

    it('oversized values: 1 MB strings, 10 000-element lists and maps', async () => {
        const big = Buffer.alloc(MB, 0x61);
        for (const field of type.fieldsArray) {
            if (field.type === 'string' && !field.repeated && !field.map) {
                await call(rpc, lenField(field.id, big), 'oversized', `${field.name} 1MB`);
            }
            if (field.repeated || field.map) {
                let element: Uint8Array;
                if (field.map) {
                    // map entry: key (1) "k<i>" and an empty value
                    element = lenField(1, Buffer.from('k'));
                } else if (field.type === 'string') {
                    element = Buffer.from(POOL.strings[0]!);
                } else {
                    element = new Uint8Array(0); // an empty sub-message
                }
                const entries = Array.from({ length: 10_000 }, (_, i) =>
                    field.map ? lenField(field.id, lenField(1, Buffer.from(`k${i}`))) : lenField(field.id, element),
                );
                await call(rpc, concat(...entries), 'oversized', `${field.name} x10000`);
            }
        }
        // One whole valid-looking message padded with a 1 MB unknown field.
        await call(rpc, concat(sample(rpc, 5), lenField(999, big)), 'oversized', 'unknown 1MB');
    });

    it('JSON arguments (the 0.37.0 wrapper, protojson, malformed) are refused with OE0001', async () => {
        const cases: [string, string | Uint8Array][] = [
            ['not JSON', '{not json'],
            ['lone brace', '{'],
            ['empty object', '{}'],
            ['msg empty object', wrapper({})],
            ['unknown field', wrapper({ noSuchField: 1 })],
            ['__proto__ key', wrapper('{"__proto__": {"key": "x"}}')],
            ['deep objects', wrapper('{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000))],
            ['huge msg string', wrapper(`{"x": "${'a'.repeat(MB)}"}`)],
            [
                'raw invalid UTF-8',
                concat(Buffer.from('{"msg": "{}", "request_id": "'), Uint8Array.from([0xc3, 0x28]), Buffer.from('"}')),
            ],
        ];
        // Valid-looking requests as protojson in the wrapper: accepted before, refused now.
        const rng = new Rng(seedOf(rpc) + 2);
        for (let i = 0; i < 4; i++) {
            const cls = messageClass(rpc.requestType) as unknown as {
                fromObject(o: object): object;
                toObject(m: object, o: object): object;
            };
            const message = cls.fromObject(randomObject(type, rng, POOL));
            cases.push([
                `random #${i}`,
                wrapper(cls.toObject(message, { enums: String, longs: String, bytes: String, json: true })),
            ]);
        }
        for (const [label, arg] of cases) {
            const res = await call(rpc, arg, 'json', label, rng.pick([ORG1, ORG2]));
            expect(res.status, label).toBe(500);
            expect(res.message, label).toMatch(
                new RegExp(`^OE0001: invalid ${rpc.requestType} message: JSON arguments are not accepted`),
            );
        }
    });

    it('zero arguments and too many arguments', async () => {
        const fcn = fcnOf(rpc);
        for (const args of [[], [sample(rpc, 1), sample(rpc, 2)], ['', '', '']]) {
            const before = snapshot(ledger);
            const res = await ledger.submitArgs(ORG1, fcn, args);
            expectCleanOutcome(res, before, ledger, rpc, `${fcn} ${args.length} args`, [ARITY_MESSAGE]);
            expect(res.status).toBe(500);
            count('arity');
        }
    });
});

describe('dispatcher level', () => {
    // Cut after MAX_ERROR_MESSAGE characters for a very long name.
    const UNKNOWN_FUNCTION = /^function "[^"]*(?:" not found in contract "[^"]*"|\.\.\. \(\d+ more characters\))$/;
    const UNKNOWN_CONTRACT = /^Contract name is not known: /;

    it('Init with one empty-string argument succeeds and writes nothing; other Init calls are ordinary calls', async () => {
        const before = snapshot(ledger);
        const res = await ledger.init(ORG1, ['']);
        expect(res.status).toBe(200);
        expect(res.writes).toEqual([]);
        expect(res.chaincodeEvent).toBeUndefined();
        expect(snapshot(ledger).digest).toBe(before.digest);
        for (const args of [['', ''], ['', 'x', 'y'], ['nope'], ['orchestrator.info:QueryVersion', '']]) {
            const b = snapshot(ledger);
            const r = await ledger.init(ORG1, args);
            expectCleanOutcome(r, b, ledger, undefined, `Init ${JSON.stringify(args)}`, [
                OE_MESSAGE,
                ARITY_MESSAGE,
                UNKNOWN_FUNCTION,
            ]);
            count('init');
        }
    });

    it('unknown functions and contracts fail with a message naming them and write nothing', async () => {
        const names = [
            'orchestrator.function:registerFunction',
            'orchestrator.function:NoSuch',
            'orchestrator.nosuch:GetFunction',
            'orchestrator.function:',
            ':GetFunction',
            'orchestrator.function:constructor',
            'orchestrator.function:__proto__',
            'orchestrator.function:toString',
            'orchestrator.function:unknownTransaction',
            'orchestrator.function:beforeTransaction',
            'orchestrator.function:getName',
            'orchestrator.event:SubscribeToEvents',
            'x'.repeat(10_000),
        ];
        for (const name of names) {
            const before = snapshot(ledger);
            const res = await ledger.submit(ORG1, name, '');
            const label = name.slice(0, 60);
            expectCleanOutcome(res, before, ledger, undefined, label, [UNKNOWN_FUNCTION, UNKNOWN_CONTRACT]);
            expect(res.status, label).toBe(500);
            count('function-name');
        }
    });

    it('every category ran', () => {
        for (const category of ['random-bytes', 'truncated', 'wrong-type', 'wire-type', 'oversized', 'json']) {
            expect(counts.get(category) ?? 0, category).toBeGreaterThan(UNARY.length);
        }
    });
});

describe('findings (fixed in src/contracts)', () => {
    async function fails(rpcName: string, arg: Uint8Array | string): Promise<string> {
        const rpc = UNARY.find((r) => r.method === rpcName)!;
        const before = snapshot(ledger);
        const res = rpc.readOnly
            ? await ledger.evaluateCall(ORG1, fcnOf(rpc), arg)
            : await ledger.submit(ORG1, fcnOf(rpc), arg);
        expectCleanOutcome(res, before, ledger, rpc, rpcName);
        expect(res.status, rpcName).toBe(500);
        return res.message;
    }

    it('binary: a map entry without its value is the default (empty) message, as protobuf says, not a crash', async () => {
        const rpc = UNARY.find((r) => r.method === 'RegisterFunction')!;
        const base = {
            key: key(0x3, 1),
            name: 'f',
            description: { checksum: 'f'.repeat(64), storage_address: 'http://a.example/d' },
            archive: { checksum: 'f'.repeat(64), storage_address: 'http://a.example/a' },
            new_permissions: { public: true, authorized_ids: [] },
        };
        const encoded = orchestrator.NewFunction.encode(base).finish();
        // inputs: one entry with key "x" (entry field 1) and no value (entry field 2 absent).
        const inputsId = requestType(rpc).fields.inputs!.id;
        const withoutValue = concat(encoded, lenField(inputsId, lenField(1, Buffer.from('x'))));
        const explicit = orchestrator.NewFunction.encode({ ...base, inputs: { x: {} } }).finish();
        const before = snapshot(ledger);
        const a = await ledger.evaluateCall(ORG1, fcnOf(rpc), withoutValue);
        const b = await ledger.evaluateCall(ORG1, fcnOf(rpc), explicit);
        expectCleanOutcome(a, before, ledger, rpc, 'map entry without value');
        expect(a.status).toBe(b.status);
        expect(a.message).toBe(b.message);
        expect(a.status).toBe(200);
        const inputsOf = (payload: Uint8Array): unknown => orchestrator.Function.decode(payload).toJSON().inputs;
        expect(inputsOf(a.payload)).toEqual(inputsOf(b.payload));
    });

    it('a map key "__proto__" is an ordinary key, kept through the binary encoding (no prototype change)', async () => {
        const rpc = UNARY.find((r) => r.method === 'RegisterFunction')!;
        const fn = {
            key: key(0x3, 2),
            name: 'f',
            description: { checksum: 'f'.repeat(64), storage_address: 'http://a.example/d' },
            archive: { checksum: 'f'.repeat(64), storage_address: 'http://a.example/a' },
            new_permissions: { public: true, authorized_ids: [] },
        };
        const binary = concat(
            orchestrator.NewFunction.encode(fn).finish(),
            lenField(
                requestType(rpc).fields.metadata!.id,
                concat(lenField(1, Buffer.from('__proto__')), lenField(2, Buffer.from('x'))),
            ),
        );
        const before = snapshot(ledger);
        const res = await ledger.evaluateCall(ORG1, fcnOf(rpc), binary);
        expectCleanOutcome(res, before, ledger, rpc, 'metadata __proto__');
        expect(res.status, res.message).toBe(200);
        const metadata = orchestrator.Function.decode(res.payload).metadata;
        expect(Object.hasOwn(metadata, '__proto__')).toBe(true);
        expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    });

    it('an error message echoing a 1 MB argument is cut, its OE code and start kept', async () => {
        const message = await fails('GetFunction', lenField(1, Buffer.alloc(MB, 0x61)));
        expect(message.startsWith('OE0002: function with key "aaaa')).toBe(true);
        expect(message).toMatch(/\.\.\. \(\d+ more characters\)$/);
        expect(message.length).toBeLessThan(2100);
    });
});
