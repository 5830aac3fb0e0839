import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import {
    A,
    E,
    FN,
    K,
    ORG1,
    ORG2,
    ORG3,
    S,
    address,
    asJson,
    eventSummary,
    executingTask,
    expectRejected,
    getTask,
    outputsFunction,
    newOutputsLedger,
    newTask,
    key,
    T1,
    T2,
    newExecutingTaskLedger,
    newModel,
    registerModels,
    act,
    register,
} from './support/fixtures';
import { complete } from './support/messages';

const M1 = key(0xb, 1);
const M2 = key(0xb, 2);
const M3 = key(0xb, 3);

describe('RegisterModel / RegisterModels (behavior-assets §8.1-§8.3)', () => {
    it('§8.1: RegisterModel registers a batch of one and returns the stored model', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await ledger.invoke(ORG2, (s) =>
            s.models.registerModel(complete(orchestrator.NewModel, newModel(M1))),
        );
        expect(res.result).toBeInstanceOf(orchestrator.Model);
        expect(res.result.key).toBe(M1);
        expect(eventSummary(res.events)).toEqual([
            ['ASSET_MODEL', 'EVENT_ASSET_CREATED', M1],
            ['ASSET_COMPUTE_TASK_OUTPUT_ASSET', 'EVENT_ASSET_CREATED', T1],
        ]);
        const stored = await ledger.evaluate(ORG3, (s) => s.models.getModel(M1));
        expect(stored.result.toJSON()).toEqual(res.result.toJSON());
    });

    it('§8.2 rule 1: an empty list is refused with BadRequest OE0003 "no model to register"', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModels(complete(orchestrator.RegisterModelsParam, { models: [] })),
            /^OE0003: no model to register$/,
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModels(complete(orchestrator.RegisterModelsParam, {})),
            /^OE0003: no model to register$/,
        );
    });

    it('§8.2 rule 3.1: an unknown task is NotFound OE0002, even before the model is validated', async () => {
        const ledger = await newExecutingTaskLedger();
        const unknown = key(0x7, 99);
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModels(
                    complete(orchestrator.RegisterModelsParam, { models: [{ key: 'bad', compute_task_key: unknown }] }),
                ),
            `OE0002: computetask with key "${unknown}" not found`,
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModels(
                    complete(orchestrator.RegisterModelsParam, { models: [{ key: M1, compute_task_key: '' }] }),
                ),
            /^OE0002: computetask with key "" not found$/,
        );
        // A malformed task key is not validated first: it is simply not found.
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModel(
                    complete(orchestrator.NewModel, { ...newModel(M1), compute_task_key: 'NOT-A-UUID' }),
                ),
            /^OE0002: computetask with key "NOT-A-UUID" not found$/,
        );
    });

    it('§8.2 rule 3.2: models of another task are refused with BadRequest OE0003 and nothing is written', async () => {
        const ledger = await newExecutingTaskLedger();
        await executingTask(ledger, T2);
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModels(
                    complete(orchestrator.RegisterModelsParam, {
                        models: [newModel(M1, 'models'), newModel(M2, 'models', T2)],
                    }),
                ),
            /^OE0003: All models should be part of the same task$/,
        );
    });

    it('§8.2: RegisterModels returns the models in request order and emits MODEL CREATED then its output asset, per model', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await registerModels(ledger, [
            newModel(M3, 'models'),
            newModel(M1, 'models'),
            newModel(M2, 'model'),
        ]);
        expect(res.result.models.map((m) => m.key)).toEqual([M3, M1, M2]);
        expect(eventSummary(res.events)).toEqual([
            ['ASSET_MODEL', 'EVENT_ASSET_CREATED', M3],
            ['ASSET_COMPUTE_TASK_OUTPUT_ASSET', 'EVENT_ASSET_CREATED', T1],
            ['ASSET_MODEL', 'EVENT_ASSET_CREATED', M1],
            ['ASSET_COMPUTE_TASK_OUTPUT_ASSET', 'EVENT_ASSET_CREATED', T1],
            ['ASSET_MODEL', 'EVENT_ASSET_CREATED', M2],
            ['ASSET_COMPUTE_TASK_OUTPUT_ASSET', 'EVENT_ASSET_CREATED', T1],
        ]);
        expect(res.events.map((e) => e.id)).toEqual([0, 1, 2, 3, 4, 5].map((n) => `${res.txId}:${n}`));
    });

    it('§8.3 rule 1: invalid fields give InvalidAsset OE0101 "model is not valid", fields sorted, nothing written', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModel(
                    complete(orchestrator.NewModel, {
                        key: '',
                        compute_task_key: T1,
                        compute_task_output_identifier: '',
                    }),
                ),
            'OE0101: model is not valid: address: cannot be blank; compute_task_output_identifier: cannot be blank; key: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModel(
                    complete(orchestrator.NewModel, {
                        ...newModel(M1.toUpperCase()),
                        address: { checksum: 'xyz', storage_address: 's3://b/k' },
                    }),
                ),
            'OE0101: model is not valid: address: (checksum: the length must be exactly 64; storage_address: must be a valid URL.); key: must be a valid UUID.',
        );
        // A present but empty address is rejected by its own rules.
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, { ...newModel(M1), address: {} })),
            'OE0101: model is not valid: address: (checksum: cannot be blank; storage_address: cannot be blank.).',
        );
    });

    it('§8.3 rule 1: a non-UUID compute_task_key of a later model fails the same-task rule first (rule order of §8.2)', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModels(
                    complete(orchestrator.RegisterModelsParam, {
                        models: [newModel(M1, 'models'), { ...newModel(M2, 'models'), compute_task_key: 'x' }],
                    }),
                ),
            /^OE0003: All models should be part of the same task$/,
        );
    });

    it('§8.3 rule 2: a requester other than the task worker gets PermissionDenied OE0102', async () => {
        const ledger = await newExecutingTaskLedger();
        // ORG1 owns the task but does not run it.
        await expectRejected(
            ledger,
            ORG1,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1))),
            `OE0102: only "${ORG2}" worker can register model`,
        );
    });

    it('§8.3 rule 3: a task that is not EXECUTING gives BadRequest OE0003 naming its status', async () => {
        const ledger = await newOutputsLedger();
        await register(ledger, [newTask(T1)]);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1))),
            'OE0003: cannot register model for task with status "STATUS_WAITING_FOR_EXECUTOR_SLOT"',
        );
        await act(ledger, ORG2, T1, A.TASK_ACTION_EXECUTING);
        await act(ledger, ORG2, T1, A.TASK_ACTION_DONE);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1))),
            'OE0003: cannot register model for task with status "STATUS_DONE"',
        );
    });

    it('§8.3 rule 4: an identifier the task does not declare gives MissingTaskOutput OE0106', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1, 'nope'))),
            `OE0106: Task "${T1}" has no output named "nope"`,
        );
        // Inherited object properties are not outputs.
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1, 'constructor'))),
            /^OE0106: /,
        );
    });

    it('§8.3 rule 5: a task whose function is gone propagates NotFound OE0002 (state edited by a raw delete: unreachable through the API)', async () => {
        const ledger = await newExecutingTaskLedger();
        await ledger.invoke(ORG1, (_s, ctx) => ctx.store.delete(ctx.store.compositeKey('function', [FN])));
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1))),
            `OE0002: function with key "${FN}" not found`,
        );
    });

    it('§8.3 rule 6: a task output the function does not declare is Internal OE0007 (function rewritten raw: unreachable through the API)', async () => {
        const ledger = await newExecutingTaskLedger();
        await ledger.invoke(ORG1, async (s, ctx) => {
            const func = await s.functions.getFunction(FN);
            func.outputs = { perf: { kind: K.ASSET_PERFORMANCE } };
            await ctx.store.put(ctx.store.compositeKey('function', [FN]), orchestrator.Function.encode(func).finish());
        });
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1))),
            `OE0007: missing function output "model" for task "${T1}"`,
        );
    });

    it('§8.3 rule 7: a function output of another kind gives IncompatibleKind OE0107', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1, 'perf'))),
            `OE0107: Incompatible kind for task "${T1}": output "perf" expects "ASSET_PERFORMANCE", received "ASSET_MODEL"`,
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1, 'raw'))),
            `OE0107: Incompatible kind for task "${T1}": output "raw" expects "ASSET_UNKNOWN", received "ASSET_MODEL"`,
        );
    });

    it('§8.3 rule 8: a second asset on a single output is Conflict OE0006, across and within calls', async () => {
        const ledger = await newExecutingTaskLedger();
        const message = `OE0006: compute task "${T1}" already has its unique output "model" registered`;
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModels(
                    complete(orchestrator.RegisterModelsParam, { models: [newModel(M1), newModel(M2)] }),
                ),
            message,
        );
        await registerModels(ledger, [newModel(M1)]);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M2))),
            message,
        );
    });

    it('§8.3 rule 8 / §8.4: records of any kind count (a performance already on the output blocks a model)', async () => {
        const ledger = await newExecutingTaskLedger();
        await ledger.invoke(ORG2, (s) =>
            s.performances.registerPerformance(
                complete(orchestrator.NewPerformance, {
                    compute_task_key: T1,
                    compute_task_output_identifier: 'model',
                    performance_value: 1,
                }),
            ),
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1))),
            `OE0006: compute task "${T1}" already has its unique output "model" registered`,
        );
    });

    it('§8.3 rule 8: a multiple output accepts several models, in one call and in later calls, recorded in order', async () => {
        const ledger = await newExecutingTaskLedger();
        await registerModels(ledger, [newModel(M2, 'models'), newModel(M1, 'models')]);
        await registerModels(ledger, [newModel(M3, 'models')]);
        const records = await ledger.evaluate(ORG1, (s) => s.computeTasks.getOutputAssets(T1, 'models'));
        expect(records.result.map((r) => [r.asset_key, r.asset_kind])).toEqual([
            [M2, K.ASSET_MODEL],
            [M1, K.ASSET_MODEL],
            [M3, K.ASSET_MODEL],
        ]);
    });

    it('§8.3 rule 9: the model copies the task output permissions verbatim, owner = worker, creation date = tx time', async () => {
        const ledger = await newExecutingTaskLedger();
        const task = await getTask(ledger, T1);
        const res = await ledger.invoke(
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1))),
            {
                timestamp: { seconds: 1_800_000_000, nanos: 42 },
            },
        );
        const model = res.result;
        expect(model.key).toBe(M1);
        expect(model.compute_task_key).toBe(T1);
        expect(model.address).toEqual(address());
        expect(model.owner).toBe(ORG2);
        expect(model.creation_date).toEqual({ seconds: 1_800_000_000, nanos: 42 });
        expect(orchestrator.Permissions.toObject(orchestrator.Permissions.create(model.permissions!))).toEqual(
            orchestrator.Permissions.toObject(orchestrator.Permissions.create(task.outputs.model!.permissions!)),
        );
        expect(model.permissions?.process?.authorized_ids).toEqual([ORG3, ORG2, ORG1]);
        expect(model.permissions?.download?.authorized_ids).toEqual([ORG3, ORG2, ORG1]);
        expect(model.permissions?.process?.public).toBe(false);
    });

    it('§8.3 rule 10: an existing model key is Conflict OE0006, also when repeated inside one batch', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.models.registerModels(
                    complete(orchestrator.RegisterModelsParam, {
                        models: [newModel(M1, 'models'), newModel(M1, 'models')],
                    }),
                ),
            `OE0006: model with key "${M1}" already exists`,
        );
        await registerModels(ledger, [newModel(M1, 'models')]);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.models.registerModel(complete(orchestrator.NewModel, newModel(M1, 'models'))),
            `OE0006: model with key "${M1}" already exists`,
        );
    });

    it('§8.3 rules 11-12: MODEL CREATED carries the model; the output-asset event is keyed by the task and carries the record', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await registerModels(ledger, [newModel(M1)]);
        const [created, outputAsset] = res.events;
        expect(asJson(orchestrator.Model, created!.model)).toEqual(asJson(orchestrator.Model, res.result.models[0]));
        expect(created!.metadata).toEqual({});
        expect(created!.timestamp).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
        expect(outputAsset!.event_kind).toBe(E.EVENT_ASSET_CREATED);
        expect(outputAsset!.asset_key).toBe(T1);
        expect(asJson(orchestrator.ComputeTaskOutputAsset, outputAsset!.compute_task_output_asset)).toEqual({
            compute_task_key: T1,
            compute_task_output_identifier: 'model',
            asset_kind: 'ASSET_MODEL',
            asset_key: M1,
        });
    });

    it('§8.3: registering models does not change the task status', async () => {
        const ledger = await newExecutingTaskLedger();
        await registerModels(ledger, [newModel(M1)]);
        expect((await getTask(ledger, T1)).status).toBe(S.STATUS_EXECUTING);
    });
});

describe('GetModel / GetComputeTaskOutputModels (behavior-assets §8.5)', () => {
    it('§8.5: GetModel answers NotFound OE0002 for an unknown, malformed or empty key', async () => {
        const ledger = await newOutputsLedger();
        for (const key of [M1, 'not-a-key', '']) {
            await expect(ledger.evaluate(ORG1, (s) => s.models.getModel(key))).rejects.toThrow(
                `OE0002: model with key "${key}" not found`,
            );
        }
    });

    it('§8.5 / §1.8: GetComputeTaskOutputModels lists the task models in model-key order; unknown or empty task keys give []', async () => {
        const ledger = await newExecutingTaskLedger();
        await executingTask(ledger, T2);
        await registerModels(ledger, [newModel(M3, 'models'), newModel(M1, 'model')]);
        await registerModels(ledger, [newModel(M2, 'models', T2)]);
        const listed = await ledger.evaluate(ORG3, (s) =>
            s.models.getComputeTaskOutputModels(
                complete(orchestrator.GetComputeTaskModelsParam, { compute_task_key: T1 }),
            ),
        );
        expect(listed.result.models.map((m) => m.key)).toEqual([M1, M3]);
        for (const taskKey of [key(0x7, 99), '']) {
            const empty = await ledger.evaluate(ORG3, (s) =>
                s.models.getComputeTaskOutputModels(
                    complete(orchestrator.GetComputeTaskModelsParam, { compute_task_key: taskKey }),
                ),
            );
            expect(empty.result.models).toEqual([]);
        }
    });
});

describe('Disabling models (behavior-assets §8.6)', () => {
    it('§8.6 rule 10: disableModel removes the address, stores the model and emits MODEL DISABLED without address', async () => {
        const ledger = await newExecutingTaskLedger();
        await registerModels(ledger, [newModel(M1)]);
        const res = await ledger.invoke(ORG2, async (s) => s.models.disableModel(await s.models.getModel(M1)));
        expect(res.result.address).toBeNull();
        expect(eventSummary(res.events)).toEqual([['ASSET_MODEL', 'EVENT_ASSET_DISABLED', M1]]);
        expect(res.events[0]!.model?.address).toBeNull();
        expect(res.events[0]!.model?.key).toBe(M1);
        const stored = await ledger.evaluate(ORG1, (s) => s.models.getModel(M1));
        expect(stored.result.address).toBeNull();
        expect(stored.result.owner).toBe(ORG2);
        // A disabled model stays listed (§8.5).
        const listed = await ledger.evaluate(ORG1, (s) =>
            s.models.getComputeTaskOutputModels(
                complete(orchestrator.GetComputeTaskModelsParam, { compute_task_key: T1 }),
            ),
        );
        expect(listed.result.models.map((m) => [m.key, m.address])).toEqual([[M1, null]]);
    });

    it('§8.6: DisableOutput of a DONE task with final children disables its models (end to end with the task service)', async () => {
        const ledger = await newExecutingTaskLedger();
        await registerModels(ledger, [newModel(M1)]);
        await act(ledger, ORG2, T1, A.TASK_ACTION_DONE);
        await register(ledger, [newTask(T2, { parents: [T1] })]);
        await act(ledger, ORG1, T2, A.TASK_ACTION_CANCELED);
        const res = await ledger.invoke(ORG2, (s) =>
            s.computeTasks.disableOutput(
                complete(orchestrator.DisableOutputParam, { compute_task_key: T1, identifier: 'model' }),
            ),
        );
        expect(eventSummary(res.events)).toEqual([['ASSET_MODEL', 'EVENT_ASSET_DISABLED', M1]]);
        expect((await ledger.evaluate(ORG1, (s) => s.models.getModel(M1))).result.address).toBeNull();
    });
});

describe('ModelService contract (api.md §2.8)', () => {
    it('§8.1-§8.5 through the contract: RegisterModel, RegisterModels, GetModel and GetComputeTaskOutputModels', async () => {
        const ledger = await newExecutingTaskLedger();
        const one = await ledger.rpc<orchestrator.Model>(ORG2, 'RegisterModel', newModel(M1));
        expect(one.key).toBe(M1);
        const batch = await ledger.rpc<orchestrator.RegisterModelsResponse>(ORG2, 'RegisterModels', {
            models: [newModel(M3, 'models'), newModel(M2, 'models')],
        });
        expect(batch.models.map((m) => m.key)).toEqual([M3, M2]);
        const got = await ledger.rpc<orchestrator.Model>(ORG3, 'GetModel', { key: M2 });
        expect(got.owner).toBe(ORG2);
        const listed = await ledger.rpc<orchestrator.GetComputeTaskModelsResponse>(ORG3, 'GetComputeTaskOutputModels', {
            compute_task_key: T1,
        });
        expect(listed.models.map((m) => m.key)).toEqual([M1, M2, M3]);
        await expect(ledger.rpc(ORG3, 'GetModel', { key: key(0xb, 9) })).rejects.toThrow(/^OE0002: /);
        await expect(ledger.rpc(ORG2, 'RegisterModels', { models: [] })).rejects.toThrow(
            /^OE0003: no model to register/,
        );
    });

    it('§8.2: a failed RegisterModels call writes nothing and sets no chaincode event', async () => {
        const ledger = await newExecutingTaskLedger();
        const before = ledger.world.keys();
        const arg = orchestrator.RegisterModelsParam.encode({ models: [newModel(M1), newModel(M2)] }).finish();
        const res = await ledger.submit(ORG2, 'orchestrator.model:RegisterModels', arg);
        expect(res.status).not.toBe(200);
        expect(res.message).toMatch(/^OE0006: /);
        expect(res.chaincodeEvent).toBeUndefined();
        expect(ledger.world.keys()).toEqual(before);
    });
});

// Keep the fixture's function definition in sight: the rules above rely on these output declarations.
describe('fixture', () => {
    it('§8.3 fixture: FN declares model (single), models (multiple), perf (PERFORMANCE) and raw (ASSET_UNKNOWN)', () => {
        const outputs = outputsFunction(FN).outputs ?? {};
        expect(Object.keys(outputs).sort()).toEqual(['model', 'models', 'perf', 'raw']);
        expect(outputs.models?.multiple).toBe(true);
    });
});
