import { beforeEach, describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import type { TestLedger } from './support/ledger';
import {
    STORAGE_ADDRESS,
    KEY1,
    KEY2,
    KEY3,
    KEY4,
    KEY5,
    K,
    ORG1,
    ORG2,
    ORG3,
    addressable,
    applyBuildActions,
    expectRejected,
    newFunction,
    FA,
    FS,
    S,
    key,
    newOrgsLedger,
} from './support/fixtures';
import { FUNCTION_INDEX, FUNCTION_KIND } from '../src/repository/function';
import { complete } from './support/messages';

let ledger: TestLedger;

beforeEach(async () => {
    ledger = await newOrgsLedger(ORG1, ORG2);
});

async function register(key: string, overrides: orchestrator.INewFunction = {}, owner = ORG1) {
    return (
        await ledger.invoke(owner, (s) =>
            s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(key, overrides))),
        )
    ).result;
}

async function getFunction(key: string): Promise<orchestrator.Function> {
    return (await ledger.evaluate(ORG1, (s) => s.functions.getFunction(key))).result;
}

async function act(key: string, action: orchestrator.FunctionAction, requester = ORG1) {
    return ledger.invoke(requester, (s) =>
        s.functions.applyFunctionAction(complete(orchestrator.ApplyFunctionActionParam, { function_key: key, action })),
    );
}

/** Moves a function to `status` through the owner's actions. */
async function reach(key: string, status: orchestrator.FunctionStatus): Promise<void> {
    await applyBuildActions(ledger, key, status);
    expect((await getFunction(key)).status).toBe(status);
}

describe('RegisterFunction (behavior-assets §4.1)', () => {
    it('§4.1 rules 2-5: builds, stores and returns the function with owner, date, WAITING status and empty image', async () => {
        const res = await ledger.invoke(ORG1, (s) =>
            s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(KEY1))),
        );
        const func = res.result;
        expect(func.key).toBe(KEY1);
        expect(func.name).toBe('my function');
        expect(func.owner).toBe(ORG1);
        expect(func.creation_date).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
        expect(func.status).toBe(FS.FUNCTION_STATUS_WAITING);
        expect(func.image).toMatchObject({ checksum: '', storage_address: '' });
        expect(func.metadata).toEqual({ a: 'b' });
        expect(func.inputs.model).toMatchObject({ kind: K.ASSET_MODEL, multiple: true, optional: true });
        expect(func.outputs.model?.kind).toBe(K.ASSET_MODEL);
        expect(func.outputs.model?.multiple).toBeFalsy();
        expect(func.description).toEqual(addressable());
        expect(func.archive).toEqual(addressable());
        const stored = await getFunction(KEY1);
        expect(orchestrator.Function.toObject(stored)).toEqual(orchestrator.Function.toObject(func));
        expect(stored.image).not.toBeNull();
        expect(stored.image).toBeDefined();
    });

    it('§4.1 rule 4 / §13.3: emits one FUNCTION CREATED event with the function and no metadata', async () => {
        const res = await ledger.invoke(ORG1, (s) =>
            s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(KEY1))),
        );
        expect(res.events).toHaveLength(1);
        const event = res.events[0]!;
        expect(event.asset_kind).toBe(K.ASSET_FUNCTION);
        expect(event.event_kind).toBe(orchestrator.EventKind.EVENT_ASSET_CREATED);
        expect(event.asset_key).toBe(KEY1);
        expect(event.metadata).toEqual({});
        expect(event.function?.key).toBe(KEY1);
        expect(event.function?.image).toBeTruthy();
        expect(event.id).toBe(`${res.txId}:0`);
    });

    it('§4.1 rule 3 / §3.3: permissions = CreatePermissions(requester, new_permissions), owner appended to both', async () => {
        const func = await register(KEY1, { new_permissions: { public: false, authorized_ids: [ORG2] } });
        const expected = { public: false, authorized_ids: [ORG2, ORG1] };
        expect(func.permissions?.process).toEqual(expected);
        expect(func.permissions?.download).toEqual(expected);
    });

    it('§4.1 rule 3: unregistered authorized id → BadRequest(OE0003), nothing written', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { new_permissions: { authorized_ids: [ORG3] } }),
                    ),
                ),
            'OE0003: invalid permission input values',
        );
    });

    it('§4.1 rule 1: existing key → Conflict(OE0006), checked before the permissions', async () => {
        await register(KEY1);
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { new_permissions: { authorized_ids: [ORG3] } }),
                    ),
                ),
            `OE0006: function with key "${KEY1}" already exists`,
        );
    });

    it('§4.1 validation: missing key, non-UUID key, upper-case key → InvalidAsset(OE0101)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(''))),
            /^OE0101: function is not valid: key: cannot be blank\.$/,
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction('not-a-uuid'))),
            'key: must be a valid UUID',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(orchestrator.NewFunction, newFunction(KEY1.replace('1111-4111', 'AAAA-4111'))),
                ),
            'key: must be a valid UUID',
        );
    });

    it('§4.1 validation: name is 1 to 100 bytes', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(KEY1, { name: '' }))),
            'name: cannot be blank',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(orchestrator.NewFunction, newFunction(KEY1, { name: 'é'.repeat(51) })),
                ),
            'name: the length must be between 1 and 100',
        );
        await register(KEY1, { name: 'é'.repeat(50) });
    });

    it('§4.1 validation: description and archive are required Addressables (§1.4.1)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(orchestrator.NewFunction, newFunction(KEY1, { description: null, archive: {} })),
                ),
            'OE0101: function is not valid: archive: (checksum: cannot be blank; storage_address: cannot be blank.); description: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(orchestrator.NewFunction, newFunction(KEY1, { archive: addressable('s3://bucket/key') })),
                ),
            'archive: (storage_address: must be a valid URL.)',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { description: addressable(STORAGE_ADDRESS, 'abc') }),
                    ),
                ),
            'description: (checksum: the length must be exactly 64.)',
        );
    });

    it('§4.1 validation: metadata keys and values at most 100 bytes', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(orchestrator.NewFunction, newFunction(KEY1, { metadata: { k: 'v'.repeat(101) } })),
                ),
            'OE0101: function is not valid: metadata:',
        );
        await register(KEY1, { metadata: { ['k'.repeat(100)]: 'v'.repeat(100), '': '' } });
    });

    it('§4.1 validation: new_permissions is required but may be an empty message', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(orchestrator.NewFunction, newFunction(KEY1, { new_permissions: null })),
                ),
            'new_permissions: cannot be blank',
        );
        const func = await register(KEY1, { new_permissions: {} });
        expect(func.permissions?.process).toEqual({ public: false, authorized_ids: [ORG1] });
    });

    it('§1.5 rule 1: every failing field is reported, sorted by name', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.registerFunction(complete(orchestrator.NewFunction, { key: 'x', name: '' })),
            'OE0101: function is not valid: archive: cannot be blank; description: cannot be blank; key: must be a valid UUID; name: cannot be blank; new_permissions: cannot be blank.',
        );
    });

    it('§4.1 input rule 1: identifier required and at most 100 bytes; no reserved identifier', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(orchestrator.NewFunction, newFunction(KEY1, { inputs: { '': { kind: K.ASSET_MODEL } } })),
                ),
            'inputs: (: identifier: cannot be blank.)',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { inputs: { ['i'.repeat(101)]: { kind: K.ASSET_MODEL } } }),
                    ),
                ),
            'identifier: the length must be between 1 and 100',
        );
        await register(KEY1, {
            inputs: { ['i'.repeat(100)]: { kind: K.ASSET_MODEL }, opener: { kind: K.ASSET_MODEL } },
        });
    });

    it('§4.1 input rule 2 / §15.7: kind in {MODEL, DATA_SAMPLE, DATA_MANAGER}; ASSET_UNKNOWN (0) accepted', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { inputs: { x: { kind: K.ASSET_PERFORMANCE } } }),
                    ),
                ),
            'inputs: (x: must be a valid value.)',
        );
        const func = await register(KEY1, { inputs: { x: { kind: K.ASSET_UNKNOWN } } });
        expect(func.inputs.x?.kind).toBe(K.ASSET_UNKNOWN);
    });

    it('§4.1 input rule 3: a DATA_MANAGER input may be neither multiple nor optional', async () => {
        for (const flags of [{ multiple: true }, { optional: true }]) {
            await expectRejected(
                ledger,
                ORG1,
                (s) =>
                    s.functions.registerFunction(
                        complete(
                            orchestrator.NewFunction,
                            newFunction(KEY1, {
                                inputs: {
                                    dm: { kind: K.ASSET_DATA_MANAGER, ...flags },
                                    ds: { kind: K.ASSET_DATA_SAMPLE },
                                },
                            }),
                        ),
                    ),
                'inputs: (dm: data manager input cannot be multiple or optional.)',
            );
        }
    });

    it('§4.1 input rule 4: at most one DATA_MANAGER input', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, {
                            inputs: {
                                dm1: { kind: K.ASSET_DATA_MANAGER },
                                dm2: { kind: K.ASSET_DATA_MANAGER },
                                ds: { kind: K.ASSET_DATA_SAMPLE },
                            },
                        }),
                    ),
                ),
            'inputs: function can only have one data manager input',
        );
    });

    it('§4.1 input rule 5: a DATA_MANAGER input if and only if a DATA_SAMPLE input', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { inputs: { dm: { kind: K.ASSET_DATA_MANAGER } } }),
                    ),
                ),
            /OE0101: function is not valid: inputs: function must have a data manager input/,
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { inputs: { ds: { kind: K.ASSET_DATA_SAMPLE } } }),
                    ),
                ),
            /OE0101: function is not valid: inputs: /,
        );
        const func = await register(KEY1, {
            inputs: {
                dm: { kind: K.ASSET_DATA_MANAGER },
                ds: { kind: K.ASSET_DATA_SAMPLE, multiple: true, optional: true },
                m: { kind: K.ASSET_MODEL, multiple: true, optional: true },
            },
        });
        expect(Object.keys(func.inputs).sort()).toEqual(['dm', 'ds', 'm']);
    });

    it('§4.1 output rules 1-3: identifier 1-100 bytes, kind in {MODEL, PERFORMANCE} (0 accepted), PERFORMANCE not multiple', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(orchestrator.NewFunction, newFunction(KEY1, { outputs: { '': { kind: K.ASSET_MODEL } } })),
                ),
            'outputs: (: identifier: cannot be blank.)',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { outputs: { ['o'.repeat(101)]: { kind: K.ASSET_MODEL } } }),
                    ),
                ),
            'identifier: the length must be between 1 and 100',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { outputs: { o: { kind: K.ASSET_DATA_SAMPLE } } }),
                    ),
                ),
            'outputs: (o: must be a valid value.)',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.registerFunction(
                    complete(
                        orchestrator.NewFunction,
                        newFunction(KEY1, { outputs: { perf: { kind: K.ASSET_PERFORMANCE, multiple: true } } }),
                    ),
                ),
            'outputs: (perf: performance output cannot be multiple.)',
        );
        const func = await register(KEY1, {
            outputs: {
                perf: { kind: K.ASSET_PERFORMANCE },
                any: { kind: K.ASSET_UNKNOWN },
                models: { kind: K.ASSET_MODEL, multiple: true },
            },
        });
        expect(Object.keys(func.outputs).sort()).toEqual(['any', 'models', 'perf']);
    });

    it('§4.1: empty or missing inputs and outputs are valid', async () => {
        const func = await register(KEY1, { inputs: {}, outputs: null });
        expect(func.inputs).toEqual({});
        expect(func.outputs).toEqual({});
    });

    it('§1.7 / §4.1: an unregistered requester may register a function and owns it', async () => {
        const func = await register(KEY1, {}, ORG3);
        expect(func.owner).toBe(ORG3);
    });
});

describe('GetFunction and QueryFunctions (behavior-assets §4.2, §4.3, §1.8)', () => {
    it('§4.2: unknown or malformed key → NotFound(OE0002)', async () => {
        await expect(getFunction(KEY1)).rejects.toThrow(`OE0002: function with key "${KEY1}" not found`);
        await expect(getFunction('nope')).rejects.toThrow('OE0002: function with key "nope" not found');
        await expect(getFunction('')).rejects.toThrow('OE0002: function with key "" not found');
    });

    it('§4.3 / §1.8: ordered by creation date then key; pages with next_page_token, "" after the last page', async () => {
        await ledger.invoke(ORG1, async (s) => {
            await s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(KEY3)));
            await s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(KEY2)));
        });
        await register(KEY1);
        const first = (
            await ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(complete(orchestrator.QueryFunctionsParam, { page_size: 2 })),
            )
        ).result;
        expect(first.Functions.map((f) => f.key)).toEqual([KEY2, KEY3]);
        expect(first.next_page_token).not.toBe('');
        const second = (
            await ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(
                    complete(orchestrator.QueryFunctionsParam, { page_size: 2, page_token: first.next_page_token }),
                ),
            )
        ).result;
        expect(second.Functions.map((f) => f.key)).toEqual([KEY1]);
        expect(second.next_page_token).toBe('');
        expect(second.Functions[0]?.inputs?.model).toBeDefined();
    });

    it('§1.8 rule 1: page_size 0 means 50', async () => {
        const keys = Array.from({ length: 51 }, (_, i) => key(0, i));
        await ledger.invoke(ORG1, async (s) => {
            for (const key of keys) {
                await s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(key)));
            }
        });
        const page = (
            await ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(complete(orchestrator.QueryFunctionsParam, {})),
            )
        ).result;
        expect(page.Functions).toHaveLength(50);
        expect(page.next_page_token).not.toBe('');
    });

    it('§1.8: a page token that does not belong to the query is a plain error (no OE code)', async () => {
        await register(KEY1);
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(complete(orchestrator.QueryFunctionsParam, { page_token: 'garbage!' })),
            ),
        ).rejects.toThrow(/^invalid page token/);
        await expect(
            ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(
                    complete(orchestrator.QueryFunctionsParam, { page_token: 'x', filter: { compute_plan_key: KEY5 } }),
                ),
            ),
        ).rejects.toThrow(/^invalid page token/);
    });

    it('§4.3: an unknown plan gives an empty result', async () => {
        await register(KEY1);
        const page = (
            await ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(
                    complete(orchestrator.QueryFunctionsParam, { filter: { compute_plan_key: KEY5 } }),
                ),
            )
        ).result;
        expect(page.Functions).toEqual([]);
        expect(page.next_page_token).toBe('');
    });

    it('§4.3: compute_plan_key returns the functions used by a task of the plan, each once, in creation order', async () => {
        const plain = { inputs: {}, outputs: {} };
        await register(KEY2, plain);
        await register(KEY1, plain);
        await register(KEY3, plain);
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: KEY4, name: 'plan' })),
        );
        const task = (key: string, functionKey: string) => ({
            key,
            function_key: functionKey,
            compute_plan_key: KEY4,
            worker: ORG1,
            inputs: [],
            outputs: {},
        });
        await ledger.invoke(ORG1, (s) =>
            s.computeTasks.registerTasks(
                complete(orchestrator.RegisterTasksParam, {
                    tasks: [
                        task(key(0xaaaaaaaa, 1), KEY1),
                        task(key(0xaaaaaaaa, 2), KEY2),
                        task(key(0xaaaaaaaa, 3), KEY1),
                    ],
                }),
            ),
        );
        const all = (
            await ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(
                    complete(orchestrator.QueryFunctionsParam, { filter: { compute_plan_key: KEY4 } }),
                ),
            )
        ).result;
        expect(all.Functions.map((f) => f.key)).toEqual([KEY2, KEY1]);
        const first = (
            await ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(
                    complete(orchestrator.QueryFunctionsParam, { page_size: 1, filter: { compute_plan_key: KEY4 } }),
                ),
            )
        ).result;
        expect(first.Functions.map((f) => f.key)).toEqual([KEY2]);
        const second = (
            await ledger.evaluate(ORG1, (s) =>
                s.functions.queryFunctions(
                    complete(orchestrator.QueryFunctionsParam, {
                        page_size: 1,
                        page_token: first.next_page_token,
                        filter: { compute_plan_key: KEY4 },
                    }),
                ),
            )
        ).result;
        expect(second.Functions.map((f) => f.key)).toEqual([KEY1]);
        expect(second.next_page_token).toBe('');
    });

    it('key scheme: the function and its creation-ordered index entry are written at registration', async () => {
        const res = await ledger.invoke(ORG1, (s) =>
            s.functions.registerFunction(complete(orchestrator.NewFunction, newFunction(KEY1))),
        );
        const kinds = res.writes.map((w) => w.key.split('\u0000')[1]);
        expect(kinds).toContain(FUNCTION_KIND);
        expect(kinds).toContain(FUNCTION_INDEX);
    });
});

describe('UpdateFunction (behavior-assets §4.4)', () => {
    beforeEach(async () => {
        await register(KEY1);
    });

    it('§4.4 rules 4, 7: sets the name, keeps the image when no checksum is given, emits UPDATED without metadata', async () => {
        const res = await ledger.invoke(ORG1, (s) =>
            s.functions.updateFunction(complete(orchestrator.UpdateFunctionParam, { key: KEY1, name: 'renamed' })),
        );
        expect(res.events).toHaveLength(1);
        expect(res.events[0]!.event_kind).toBe(orchestrator.EventKind.EVENT_ASSET_UPDATED);
        expect(res.events[0]!.asset_kind).toBe(K.ASSET_FUNCTION);
        expect(res.events[0]!.metadata).toEqual({});
        expect(res.events[0]!.function?.name).toBe('renamed');
        const func = await getFunction(KEY1);
        expect(func.name).toBe('renamed');
        expect(func.image).toMatchObject({ checksum: '', storage_address: '' });
        expect(func.status).toBe(FS.FUNCTION_STATUS_WAITING);
        expect(func.metadata).toEqual({ a: 'b' });
    });

    it('§4.4 rule 5: an image with a checksum replaces the whole image, even with an empty storage address', async () => {
        await ledger.invoke(ORG1, (s) =>
            s.functions.updateFunction(
                complete(orchestrator.UpdateFunctionParam, { key: KEY1, name: 'n', image: addressable() }),
            ),
        );
        expect((await getFunction(KEY1)).image).toEqual(addressable());
        const res = await ledger.invoke(ORG1, (s) =>
            s.functions.updateFunction(
                complete(orchestrator.UpdateFunctionParam, {
                    key: KEY1,
                    name: 'n',
                    image: { checksum: 'a'.repeat(64), storage_address: '' },
                }),
            ),
        );
        const expected = { checksum: 'a'.repeat(64), storage_address: '' };
        expect(res.events[0]!.function?.image).toEqual(expected);
        expect((await getFunction(KEY1)).image).toEqual(expected);
        await ledger.invoke(ORG1, (s) =>
            s.functions.updateFunction(
                complete(orchestrator.UpdateFunctionParam, {
                    key: KEY1,
                    name: 'n',
                    image: { checksum: '', storage_address: STORAGE_ADDRESS },
                }),
            ),
        );
        expect((await getFunction(KEY1)).image).toEqual(expected);
    });

    it('§4.4 rule 1: key required and uuid, name required → InvalidAsset(OE0101); image not validated', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.updateFunction(complete(orchestrator.UpdateFunctionParam, { key: KEY1, name: '' })),
            'OE0101: function is not valid: name: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.updateFunction(complete(orchestrator.UpdateFunctionParam, { key: '', name: 'x' })),
            'OE0101: function is not valid: key: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.updateFunction(complete(orchestrator.UpdateFunctionParam, { key: 'bad', name: 'x' })),
            'key: must be a valid UUID',
        );
        await ledger.invoke(ORG1, (s) =>
            s.functions.updateFunction(
                complete(orchestrator.UpdateFunctionParam, {
                    key: KEY1,
                    name: 'x',
                    image: { checksum: 'zz', storage_address: 'nope' },
                }),
            ),
        );
    });

    it('§4.4 rule 2: unknown function → NotFound(OE0002)', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.updateFunction(complete(orchestrator.UpdateFunctionParam, { key: KEY2, name: 'x' })),
            `OE0002: function with key "${KEY2}" not found`,
        );
    });

    it('§4.4 rule 3: requester not the owner → PermissionDenied(OE0102)', async () => {
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.functions.updateFunction(complete(orchestrator.UpdateFunctionParam, { key: KEY1, name: 'x' })),
            'OE0102: requester does not own the function',
        );
    });

    it('§4.4 rule 6: READY with an empty image checksum → InvalidAsset(OE0101)', async () => {
        await reach(KEY1, FS.FUNCTION_STATUS_READY);
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.functions.updateFunction(complete(orchestrator.UpdateFunctionParam, { key: KEY1, name: 'x' })),
            'OE0101: function is not valid: Image checksum should not be empty when function status is ready',
        );
        await ledger.invoke(ORG1, (s) =>
            s.functions.updateFunction(
                complete(orchestrator.UpdateFunctionParam, { key: KEY1, name: 'x', image: addressable() }),
            ),
        );
        await ledger.invoke(ORG1, (s) =>
            s.functions.updateFunction(complete(orchestrator.UpdateFunctionParam, { key: KEY1, name: 'y' })),
        );
        expect((await getFunction(KEY1)).name).toBe('y');
    });
});

describe('Build state machine and ApplyFunctionAction (behavior-assets §4.6, §4.7; behavior-tasks §3.7)', () => {
    const allowed: [orchestrator.FunctionAction, orchestrator.FunctionStatus, orchestrator.FunctionStatus][] = [
        [FA.FUNCTION_ACTION_BUILDING, FS.FUNCTION_STATUS_WAITING, FS.FUNCTION_STATUS_BUILDING],
        [FA.FUNCTION_ACTION_READY, FS.FUNCTION_STATUS_BUILDING, FS.FUNCTION_STATUS_READY],
        [FA.FUNCTION_ACTION_CANCELED, FS.FUNCTION_STATUS_WAITING, FS.FUNCTION_STATUS_CANCELED],
        [FA.FUNCTION_ACTION_CANCELED, FS.FUNCTION_STATUS_BUILDING, FS.FUNCTION_STATUS_CANCELED],
        [FA.FUNCTION_ACTION_FAILED, FS.FUNCTION_STATUS_BUILDING, FS.FUNCTION_STATUS_FAILED],
    ];
    const names: Record<number, string> = {
        [FA.FUNCTION_ACTION_BUILDING]: 'transitionBuilding',
        [FA.FUNCTION_ACTION_READY]: 'transitionReady',
        [FA.FUNCTION_ACTION_CANCELED]: 'transitionCanceled',
        [FA.FUNCTION_ACTION_FAILED]: 'transitionFailed',
    };
    const statuses = [
        FS.FUNCTION_STATUS_WAITING,
        FS.FUNCTION_STATUS_BUILDING,
        FS.FUNCTION_STATUS_READY,
        FS.FUNCTION_STATUS_CANCELED,
        FS.FUNCTION_STATUS_FAILED,
    ];
    const actions = [
        FA.FUNCTION_ACTION_BUILDING,
        FA.FUNCTION_ACTION_READY,
        FA.FUNCTION_ACTION_CANCELED,
        FA.FUNCTION_ACTION_FAILED,
    ];

    for (const action of actions) {
        for (const from of statuses) {
            const rule = allowed.find(([a, f]) => a === action && f === from);
            const label = `${FA[action]} from ${FS[from]}`;
            if (rule !== undefined) {
                it(`§4.6 table / §4.7 rule 6: ${label} → ${FS[rule[2]]}, UPDATED event with reason "User action"`, async () => {
                    await register(KEY1);
                    await reach(KEY1, from);
                    const res = await act(KEY1, action);
                    expect((await getFunction(KEY1)).status).toBe(rule[2]);
                    expect(res.events[0]!.asset_kind).toBe(K.ASSET_FUNCTION);
                    expect(res.events[0]!.event_kind).toBe(orchestrator.EventKind.EVENT_ASSET_UPDATED);
                    expect(res.events[0]!.asset_key).toBe(KEY1);
                    expect(res.events[0]!.metadata).toEqual({ reason: 'User action' });
                    expect(res.events[0]!.function?.status).toBe(rule[2]);
                    expect(res.events[0]!.function?.image).toBeTruthy();
                });
            } else {
                it(`§4.6 table / §4.7 rule 5: ${label} is refused with a plain TransitionError, nothing written`, async () => {
                    await register(KEY1);
                    await reach(KEY1, from);
                    await expectRejected(
                        ledger,
                        ORG1,
                        (s) =>
                            s.functions.applyFunctionAction(
                                complete(orchestrator.ApplyFunctionActionParam, { function_key: KEY1, action }),
                            ),
                        new RegExp(`^event ${names[action]} inappropriate in current state ${FS[from]}$`),
                    );
                });
            }
        }
    }

    it('§4.7 rule 1: UNKNOWN or out-of-range action → BadRequest(OE0003) "unsupported action", before loading', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.applyFunctionAction(
                    complete(orchestrator.ApplyFunctionActionParam, {
                        function_key: KEY1,
                        action: FA.FUNCTION_ACTION_UNKNOWN,
                    }),
                ),
            'OE0003: unsupported action',
        );
        await expectRejected(
            ledger,
            ORG1,
            // An out-of-range value, as a newer client could send it on the wire.
            (s) =>
                s.functions.applyFunctionAction(
                    complete(
                        orchestrator.ApplyFunctionActionParam,
                        orchestrator.ApplyFunctionActionParam.decode(Uint8Array.of(0x10, 42)),
                    ),
                ),
            'OE0003: unsupported action',
        );
    });

    it('§4.7 rule 3: unknown function → NotFound(OE0002); the key format is not validated', async () => {
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.functions.applyFunctionAction(
                    complete(orchestrator.ApplyFunctionActionParam, {
                        function_key: 'NOT-A-UUID',
                        action: FA.FUNCTION_ACTION_BUILDING,
                    }),
                ),
            'OE0002: function with key "NOT-A-UUID" not found',
        );
    });

    it('§4.7 rule 4: requester not the owner → PermissionDenied(OE0102)', async () => {
        await register(KEY1);
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.functions.applyFunctionAction(
                    complete(orchestrator.ApplyFunctionActionParam, {
                        function_key: KEY1,
                        action: FA.FUNCTION_ACTION_BUILDING,
                    }),
                ),
            'OE0102: only function owner can update it',
        );
    });

    it('§4.7 internal path: applyFunctionTransition uses the given reason and refuses unsupported actions', async () => {
        await register(KEY1);
        await reach(KEY1, FS.FUNCTION_STATUS_BUILDING);
        const res = await ledger.invoke(ORG2, async (s) =>
            s.functions.applyFunctionTransition(
                await s.functions.getFunction(KEY1),
                FA.FUNCTION_ACTION_FAILED,
                'failure report registered',
            ),
        );
        expect(res.result.status).toBe(FS.FUNCTION_STATUS_FAILED);
        expect(res.events[0]!.metadata).toEqual({ reason: 'failure report registered' });
        await expectRejected(
            ledger,
            ORG1,
            async (s) =>
                s.functions.applyFunctionTransition(
                    await s.functions.getFunction(KEY1),
                    FA.FUNCTION_ACTION_UNKNOWN,
                    'x',
                ),
            'OE0003: unsupported action',
        );
    });

    describe('§4.7 propagation to compute tasks (behavior-tasks §3.7)', () => {
        const TASK_A = key(0xaaaaaaaa, 0xa);
        const TASK_B = key(0xaaaaaaaa, 0xb);

        beforeEach(async () => {
            await register(KEY1, { inputs: {}, outputs: {}, new_permissions: { public: true } });
            await ledger.invoke(ORG2, (s) =>
                s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: KEY4, name: 'plan' })),
            );
        });

        async function registerTasks(...keys: string[]): Promise<void> {
            await ledger.invoke(ORG2, (s) =>
                s.computeTasks.registerTasks(
                    complete(orchestrator.RegisterTasksParam, {
                        tasks: keys.map((key) => ({
                            key,
                            function_key: KEY1,
                            compute_plan_key: KEY4,
                            worker: ORG2,
                            inputs: [],
                            outputs: {},
                        })),
                    }),
                ),
            );
        }

        async function taskStatus(key: string): Promise<orchestrator.ComputeTaskStatus> {
            return (await ledger.evaluate(ORG1, (s) => s.computeTasks.getTask(key))).result.status;
        }

        it('§4.7 BUILDING: WAITING_FOR_BUILDER_SLOT tasks → BUILDING, events after the function event, reason "User action"', async () => {
            await registerTasks(TASK_B, TASK_A);
            expect(await taskStatus(TASK_A)).toBe(S.STATUS_WAITING_FOR_BUILDER_SLOT);
            const res = await act(KEY1, FA.FUNCTION_ACTION_BUILDING);
            expect(res.events.map((e) => [e.asset_kind, e.asset_key])).toEqual([
                [K.ASSET_FUNCTION, KEY1],
                [K.ASSET_COMPUTE_TASK, TASK_A],
                [K.ASSET_COMPUTE_TASK, TASK_B],
            ]);
            expect(res.events[1]!.metadata).toEqual({ reason: 'User action' });
            expect(await taskStatus(TASK_A)).toBe(S.STATUS_BUILDING);
            expect(await taskStatus(TASK_B)).toBe(S.STATUS_BUILDING);
        });

        it('§4.7 READY: BUILDING tasks whose parents are done → WAITING_FOR_EXECUTOR_SLOT, reason "Function <key> finished building"', async () => {
            await registerTasks(TASK_A);
            await act(KEY1, FA.FUNCTION_ACTION_BUILDING);
            const res = await act(KEY1, FA.FUNCTION_ACTION_READY);
            expect(await taskStatus(TASK_A)).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
            expect(res.events[1]!.metadata).toEqual({ reason: `Function ${KEY1} finished building` });
        });

        it('§4.7 CANCELED from WAITING: WAITING_FOR_BUILDER_SLOT tasks are left untouched (quirk kept)', async () => {
            await registerTasks(TASK_A);
            const res = await act(KEY1, FA.FUNCTION_ACTION_CANCELED);
            expect(res.events).toHaveLength(1);
            expect(await taskStatus(TASK_A)).toBe(S.STATUS_WAITING_FOR_BUILDER_SLOT);
        });

        it('§4.7 CANCELED from BUILDING: BUILDING tasks → CANCELED', async () => {
            await registerTasks(TASK_A);
            await act(KEY1, FA.FUNCTION_ACTION_BUILDING);
            await act(KEY1, FA.FUNCTION_ACTION_CANCELED);
            expect(await taskStatus(TASK_A)).toBe(S.STATUS_CANCELED);
        });

        it('§4.7 FAILED: BUILDING tasks → FAILED with the function reason', async () => {
            await registerTasks(TASK_A);
            await act(KEY1, FA.FUNCTION_ACTION_BUILDING);
            const res = await act(KEY1, FA.FUNCTION_ACTION_FAILED);
            expect(await taskStatus(TASK_A)).toBe(S.STATUS_FAILED);
            expect(res.events[1]!.metadata).toEqual({ reason: 'User action' });
        });

        it('§4.7 rule 6.3: owner of the function may differ from the task owner (no task permission check)', async () => {
            await registerTasks(TASK_A);
            const res = await act(KEY1, FA.FUNCTION_ACTION_BUILDING, ORG1);
            expect(res.events).toHaveLength(2);
        });
    });
});
