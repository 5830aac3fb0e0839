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

    it('JSON wrapper variants', async () => {
        const cases: [string, string][] = [
            ['not JSON', '{not json'],
            ['lone brace', '{'],
            ['empty object', '{}'],
            ['msg number', '{"msg": 5, "request_id": "r"}'],
            ['msg null', '{"msg": null, "request_id": "r"}'],
            ['msg object', '{"msg": {}, "request_id": "r"}'],
            ['msg array', '{"msg": [], "request_id": "r"}'],
            ['request_id number', '{"msg": "{}", "request_id": 5}'],
            ['extra wrapper field', '{"msg": "{}", "request_id": "r", "x": 1}'],
            ['wrapper __proto__', '{"__proto__": {"msg": "{}"}, "request_id": "r"}'],
            ['msg not JSON', wrapper('nope')],
            ['msg array JSON', wrapper('[]')],
            ['msg null JSON', wrapper('null')],
            ['msg number JSON', wrapper('42')],
            ['msg string JSON', wrapper('"s"')],
            ['msg empty object', wrapper({})],
            ['unknown field', wrapper({ noSuchField: 1 })],
            ['__proto__ key', wrapper('{"__proto__": {"key": "x"}}')],
            ['__proto__ null', wrapper('{"__proto__": null}')],
            ['constructor key', wrapper({ constructor: {} })],
            ['toString key', wrapper({ toString: 'x' })],
            ['hasOwnProperty key', wrapper({ hasOwnProperty: 1 })],
            ['deep arrays', wrapper('['.repeat(100_000) + ']'.repeat(100_000))],
            ['deep objects', wrapper('{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000))],
            ['huge msg string', wrapper(`{"x": "${'a'.repeat(MB)}"}`)],
            [
                'invalid UTF-8',
                Buffer.concat([
                    Buffer.from('{"msg": "{\\"key\\": \\"'),
                    Buffer.from([0xff, 0xfe]),
                    Buffer.from('\\"}"}'),
                ]).toString('latin1'),
            ],
        ];
        for (const [label, text] of cases) {
            await call(rpc, text, 'json', label);
        }
        // The invalid UTF-8 case above is a string; also as raw bytes.
        await call(
            rpc,
            concat(Buffer.from('{"msg": "{}", "request_id": "'), Uint8Array.from([0xc3, 0x28]), Buffer.from('"}')),
            'json',
            'raw invalid UTF-8',
        );
        // Field by field: wrong JSON types, huge numbers, wrong enum names, prototype keys in maps.
        const weird = ['1e400', '18446744073709551616', '-1', '1.5', '-1e20', '"abc"', '""', 'true', '[]', '{}'];
        weird.push('[1, [2]]', `"${'9'.repeat(400)}"`, '9'.repeat(400));
        for (const field of type.fieldsArray) {
            for (const value of weird) {
                const msg = `{"${field.name}": ${value}}`;
                await call(rpc, wrapper(msg), 'json-field', `${field.name}=${msg.slice(0, 40)}`);
            }
            if (field.resolvedType instanceof protobuf.Enum) {
                for (const name of ['NOT_AN_ENUM', 'toString', '__proto__', 'task_action_done']) {
                    await call(rpc, wrapper({ [field.name]: name }), 'json-field', `${field.name}=${name}`);
                }
            }
            if (field.map) {
                const entries = ['{"__proto__": {}}', '{"constructor": {}}', '{"toString": "x"}'];
                for (const entry of entries) {
                    await call(rpc, wrapper(`{"${field.name}": ${entry}}`), 'json-field', `${field.name}=${entry}`);
                }
            }
        }
        // Random valid-looking messages as protojson, with and without the camelCase names.
        const rng = new Rng(seedOf(rpc) + 2);
        for (let i = 0; i < 8; i++) {
            const cls = messageClass(rpc.requestType) as unknown as {
                fromObject(o: object): object;
                toObject(m: object, o: object): object;
            };
            const message = cls.fromObject(randomObject(type, rng, POOL));
            const json = cls.toObject(message, { enums: String, longs: String, bytes: String, json: true });
            await call(rpc, wrapper(json), 'json-random', `#${i}`, rng.pick([ORG1, ORG2]));
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

    it('protojson: "__proto__" and "constructor" are unknown fields (OE0001), not Object.prototype members', async () => {
        expect(await fails('GetFunction', wrapper('{"__proto__": {"key": "x"}}'))).toBe(
            'OE0001: invalid protojson at orchestrator.GetFunctionParam: unknown field "__proto__"',
        );
        expect(await fails('RegisterFunction', wrapper({ constructor: 'x' }))).toBe(
            'OE0001: invalid protojson at orchestrator.NewFunction: unknown field "constructor"',
        );
    });

    it('protojson: a JSON value of the wrong type or out of range is OE0001, never coerced (Go protojson rules)', async () => {
        const cases: [string, unknown, RegExp][] = [
            [
                'GetFunction',
                { key: {} },
                /^OE0001: invalid protojson at orchestrator\.GetFunctionParam\.key: invalid value \{\} for type string$/,
            ],
            ['GetFunction', { key: 5 }, /\.key: invalid value 5 for type string$/],
            ['QueryTasks', { pageSize: 1e20 }, /\.page_size: invalid value 100000000000000000000 for type uint32$/],
            ['QueryTasks', { pageSize: -1 }, /\.page_size: invalid value -1 for type uint32$/],
            ['QueryTasks', { pageSize: 1.5 }, /\.page_size: invalid value 1.5 for type uint32$/],
            [
                'ApplyTaskAction',
                { action: 2 ** 40 },
                /\.action: invalid value 1099511627776 for enum orchestrator\.ComputeTaskAction$/,
            ],
            ['ApplyTaskAction', { action: 'toString' }, /\.action: unknown enum value "toString"/],
            ['UpdateDataSamples', { keys: [1] }, /\.keys\[0\]: invalid value 1 for type string$/],
        ];
        for (const [rpcName, msg, expected] of cases) {
            expect(await fails(rpcName, wrapper(msg)), JSON.stringify(msg)).toMatch(expected);
        }
        // 1e400 is Infinity once parsed: not an integer.
        expect(await fails('QueryTasks', wrapper('{"pageSize": 1e400}'))).toMatch(/page_size: invalid value null/);
    });

    it('protojson: integers as decimal strings and enum names are still accepted', async () => {
        const res = await ledger.rpc<orchestrator.QueryTasksResponse>(ORG1, 'QueryTasks', {});
        const viaJson = await ledger.evaluateCall(
            ORG1,
            'orchestrator.computetask:QueryTasks',
            wrapper({ pageSize: '0', filter: { status: 'STATUS_DONE' } }),
        );
        expect(viaJson.status).toBe(200);
        expect(orchestrator.QueryTasksResponse.decode(viaJson.payload).tasks.map((t) => t.key)).toEqual(
            res.tasks.filter((t) => t.status === orchestrator.ComputeTaskStatus.STATUS_DONE).map((t) => t.key),
        );
    });

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

    it('a map key "__proto__" is an ordinary key, kept through both encodings (no prototype change)', async () => {
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
        const json = wrapper({
            ...fn,
            newPermissions: fn.new_permissions,
            new_permissions: undefined,
            metadata: JSON.parse('{"__proto__": "x"}') as object,
        });
        for (const arg of [binary, json]) {
            const before = snapshot(ledger);
            const res = await ledger.evaluateCall(ORG1, fcnOf(rpc), arg);
            expectCleanOutcome(res, before, ledger, rpc, 'metadata __proto__');
            expect(res.status, res.message).toBe(200);
            const metadata = orchestrator.Function.decode(res.payload).metadata;
            expect(Object.hasOwn(metadata, '__proto__')).toBe(true);
            expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
        }
    });

    it('an error message echoing a 1 MB argument is cut, its OE code and start kept', async () => {
        const message = await fails('GetFunction', lenField(1, Buffer.alloc(MB, 0x61)));
        expect(message.startsWith('OE0002: function with key "aaaa')).toBe(true);
        expect(message).toMatch(/\.\.\. \(\d+ more characters\)$/);
        expect(message.length).toBeLessThan(2100);
    });
});
