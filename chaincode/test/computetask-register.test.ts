import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import {
    A,
    address,
    DM1,
    DM2,
    DS1,
    DS2,
    DS_OTHER,
    FN_AGG,
    FN_TEST,
    FN_TRAIN,
    FS,
    K,
    ORG1,
    ORG2,
    ORG3,
    PLAN,
    PLAN2,
    UNREGISTERED,
    act,
    aggregateFunction,
    expectTasksRefused,
    assetInput,
    key,
    newTaskLedger,
    output,
    parentInput,
    plainTask,
    privatePermissions,
    publicPermissions,
    register,
    runToDone,
    newDataManager,
    newFunction,
    overwriteFunction,
    publicFunction,
    registerDataManager,
    registerDataSamples,
    registerFunction,
    writeRawModel,
    trainTask,
    S,
} from './support/fixtures';
import { complete } from './support/messages';

describe('RegisterTasks: batch checks (§2.3, §2.4)', () => {
    it('§2.3.1: an empty batch is BadRequest', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(ledger, [], 'OE0003: no task to register');
    });

    it('§2.4: field validation collects every field of the first invalid task (request order)', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(
            ledger,
            [
                plainTask(key(1)),
                {
                    key: 'BAD',
                    function_key: '',
                    compute_plan_key: 'ABCDEF00-0000-0000-0000-000000000001',
                    metadata: { m: 'x'.repeat(101) },
                },
                { key: 'also bad' },
            ],
            /^OE0101: computetask is not valid: compute_plan_key: must be a valid UUID; function_key: cannot be blank; key: must be a valid UUID; metadata: /,
        );
    });

    it('§2.4: inputs need an identifier and one valid reference; outputs need an identifier and permissions', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(
            ledger,
            [
                plainTask(key(1), [], {
                    inputs: [
                        { identifier: '', asset_key: 'nope' },
                        { identifier: 'x' },
                        { identifier: 'y', parent_task_output: { parent_task_key: '', output_identifier: '' } },
                        { identifier: 'z', asset_key: '' },
                    ],
                }),
            ],
            /^OE0101: computetask is not valid: inputs: \(0: \(asset_key: must be a valid UUID; identifier: cannot be blank\.\); 1: \(ref: cannot be blank\.\); 2: \(parent_task_output: \(output_identifier: cannot be blank; parent_task_key: cannot be blank\.\)\.\); 3: \(asset_key: cannot be blank\.\)\.\)\.$/,
        );
        await expectTasksRefused(
            ledger,
            [plainTask(key(1), [], { outputs: { '': output(), model: { transient: true } } })],
            /^OE0101: computetask is not valid: outputs: \(: identifier: cannot be blank; model: \(permissions: cannot be blank\.\)\.\)\.$/,
        );
    });

    it('§2.3.3: an existing task key is Conflict; a key repeated inside the batch is Conflict (Decision)', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        await expectTasksRefused(
            ledger,
            [plainTask(key(2)), plainTask(key(1))],
            `OE0006: computetask with key "${key(1)}" already exists`,
        );
        await expectTasksRefused(
            ledger,
            [plainTask(key(3)), plainTask(key(3))],
            `OE0006: computetask with key "${key(3)}" already exists`,
        );
    });

    it('§2.3.2: validation runs before the conflict check', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        await expectTasksRefused(ledger, [plainTask(key(1)), { key: 'bad' }], /^OE0101: /);
    });

    it('§2.5: topological order of the spec example, for the response and the CREATED events', async () => {
        const ledger = await newTaskLedger();
        const [root, node2, node3, leaf1, leaf4, leaf5] = [key(1), key(2), key(3), key(4), key(5), key(6)];
        const res = await register(ledger, [
            plainTask(root),
            plainTask(leaf5, [node3]),
            plainTask(leaf4, [node2]),
            plainTask(node2, [root]),
            plainTask(node3, [node2]),
            plainTask(leaf1, [root]),
        ]);
        const expected = [root, node2, leaf1, leaf4, node3, leaf5];
        expect(res.result.tasks.map((t) => t.key)).toEqual(expected);
        expect(res.events.map((e) => e.asset_key)).toEqual(expected);
        expect(res.events.every((e) => e.event_kind === orchestrator.EventKind.EVENT_ASSET_CREATED)).toBe(true);
        expect(res.events.every((e) => e.asset_kind === orchestrator.AssetKind.ASSET_COMPUTE_TASK)).toBe(true);
        expect(res.events.every((e) => Object.keys(e.metadata).length === 0)).toBe(true);
        // Parents registered in earlier transactions do not count as pending.
        const next = await register(ledger, [plainTask(key(8), [key(7)]), plainTask(key(7), [leaf5, root])]);
        expect(next.result.tasks.map((t) => t.key)).toEqual([key(7), key(8)]);
    });

    it('§2.5.4: a cycle or an unknown parent is InvalidAsset with the count of unsorted tasks', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(
            ledger,
            [plainTask(key(1)), plainTask(key(2), [key(3)]), plainTask(key(3), [key(2)]), plainTask(key(4), [key(3)])],
            'OE0101: cyclic dependency in compute plan graph or unknown task parent, unsorted_tasks_count: 3',
        );
        await expectTasksRefused(
            ledger,
            [plainTask(key(1), [key(0x77)])],
            'OE0101: cyclic dependency in compute plan graph or unknown task parent, unsorted_tasks_count: 1',
        );
        await expectTasksRefused(ledger, [plainTask(key(1), [key(1)])], /unsorted_tasks_count: 1$/);
    });

    it('§2.7: each CREATED payload and the response are the complete stored task', async () => {
        const ledger = await newTaskLedger();
        const res = await register(ledger, [trainTask(key(1), { metadata: { epoch: '1' } })]);
        const task = res.result.tasks[0]!;
        expect(task).toMatchObject({
            key: key(1),
            function_key: FN_TRAIN,
            owner: ORG1,
            compute_plan_key: PLAN,
            rank: 0,
            status: S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
            worker: ORG1,
            metadata: { epoch: '1' },
        });
        expect(task.creation_date).toEqual({ seconds: res.timestamp.seconds, nanos: res.timestamp.nanos });
        expect(task.inputs).toEqual([
            orchestrator.ComputeTaskInput.create({ identifier: 'opener', asset_key: DM1 }),
            orchestrator.ComputeTaskInput.create({ identifier: 'datasamples', asset_key: DS1 }),
        ]);
        expect(task.outputs!.model?.permissions?.process).toEqual({ public: false, authorized_ids: [ORG1] });
        const event = res.events[0]!.compute_task!;
        const bytes = (t: orchestrator.IComputeTask): Buffer =>
            Buffer.from(orchestrator.ComputeTask.encode(t).finish());
        expect(bytes(event)).toEqual(bytes(task));
        const stored = (await ledger.evaluate(ORG2, (s) => s.computeTasks.getTask(key(1)))).result;
        expect(bytes(stored)).toEqual(bytes(task));
    });
});

describe('RegisterTasks: building a task (§2.6)', () => {
    it('§2.6.1: missing plan is NotFound; a plan of another owner is PermissionDenied', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(
            ledger,
            [plainTask(key(1), [], { compute_plan_key: key(0xa, 9) })],
            `OE0002: computeplan with key "${key(0xa, 9)}" not found`,
        );
        await expectTasksRefused(
            ledger,
            [plainTask(key(1), [], { compute_plan_key: PLAN2 })],
            "OE0102: Cannot register tasks to a compute plan you don't own",
        );
    });

    it('§2.6.1: tasks may be added to a cancelled or failed plan, with their normal status', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        await act(ledger, ORG1, key(1), A.TASK_ACTION_FAILED);
        const res = await register(ledger, [plainTask(key(2))]);
        expect(res.result.tasks[0]!.status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
    });

    it('§2.6.2: parents come from distinct parent_task_output inputs and may belong to another plan', async () => {
        const ledger = await newTaskLedger();
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: key(0xa, 5), name: 'other' })),
        );
        await register(ledger, [plainTask(key(1), [], { compute_plan_key: key(0xa, 5) })]);
        const res = await register(ledger, [plainTask(key(2), [key(1), key(1)])]);
        expect(res.result.tasks[0]!.rank).toBe(1);
        expect(res.result.tasks[0]!.inputs).toHaveLength(2);
        // One child link despite two inputs on the same parent.
        expect(res.writes.filter((w) => w.key.includes('idx~computetask~children'))).toHaveLength(1);
    });

    it('§2.6.3: missing function is NotFound; a function the requester cannot process is PermissionDenied', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(
            ledger,
            [plainTask(key(1), [], { function_key: key(0xf, 0x99) })],
            `OE0002: function with key "${key(0xf, 0x99)}" not found`,
        );
        const privateFn = key(0xf, 0x10);
        await registerFunction(
            ledger,
            newFunction(privateFn, { inputs: {}, outputs: { model: { kind: K.ASSET_MODEL } } }),
            FS.FUNCTION_STATUS_READY,
            ORG2,
        );
        await expectTasksRefused(
            ledger,
            [plainTask(key(1), [], { function_key: privateFn })],
            `OE0102: not authorized to process function "${privateFn}"`,
        );
    });

    it('§2.6.4: initial status from the function status when there is no parent', async () => {
        const ledger = await newTaskLedger();
        const cases: [orchestrator.FunctionStatus, orchestrator.ComputeTaskStatus][] = [
            [FS.FUNCTION_STATUS_READY, S.STATUS_WAITING_FOR_EXECUTOR_SLOT],
            [FS.FUNCTION_STATUS_WAITING, S.STATUS_WAITING_FOR_BUILDER_SLOT],
            [FS.FUNCTION_STATUS_BUILDING, S.STATUS_BUILDING],
            [FS.FUNCTION_STATUS_FAILED, S.STATUS_FAILED],
            [FS.FUNCTION_STATUS_CANCELED, S.STATUS_CANCELED],
            [FS.FUNCTION_STATUS_UNKNOWN, S.STATUS_UNKNOWN],
        ];
        let n = 0x20;
        for (const [fnStatus, expected] of cases) {
            const fnKey = key(0xf, n);
            if (fnStatus === FS.FUNCTION_STATUS_UNKNOWN) {
                // No build action leads to UNKNOWN: corrupted state, written raw.
                await registerFunction(
                    ledger,
                    publicFunction(fnKey, { outputs: { model: { kind: K.ASSET_MODEL } } }),
                    FS.FUNCTION_STATUS_WAITING,
                );
                overwriteFunction(ledger, fnKey, { status: fnStatus });
            } else {
                await registerFunction(
                    ledger,
                    publicFunction(fnKey, { outputs: { model: { kind: K.ASSET_MODEL } } }),
                    fnStatus,
                );
            }
            const res = await register(ledger, [plainTask(key(n), [], { function_key: fnKey })]);
            expect(res.result.tasks[0]!.status).toBe(expected);
            // Created FAILED: no plan failure, only the CREATED event.
            expect(res.events).toHaveLength(1);
            n++;
        }
        const plan = (await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result;
        expect(plan.failure_date).toBeFalsy();
    });

    it('§2.6.4: parents decide: all DONE → executor slot, one not DONE → parent tasks, FAILED/CANCELED parent → CANCELED', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1)), plainTask(key(2)), plainTask(key(3))]);
        await runToDone(ledger, key(1));
        await act(ledger, ORG1, key(3), A.TASK_ACTION_CANCELED);
        const waitingFn = key(0xf, 0x30);
        await registerFunction(ledger, aggregateFunction(waitingFn), FS.FUNCTION_STATUS_WAITING);
        const res = await register(ledger, [
            plainTask(key(0x11), [key(1)]),
            plainTask(key(0x12), [key(1), key(2)]),
            plainTask(key(0x13), [key(1), key(3)]),
            plainTask(key(0x14), [key(3)], { function_key: waitingFn }),
            plainTask(key(0x15), [key(0x11)]),
        ]);
        const status: Record<string, orchestrator.ComputeTaskStatus> = {};
        for (const t of res.result.tasks) {
            status[t.key!] = t.status!;
        }
        expect(status).toEqual({
            [key(0x11)]: S.STATUS_WAITING_FOR_EXECUTOR_SLOT,
            [key(0x12)]: S.STATUS_WAITING_FOR_PARENT_TASKS,
            [key(0x13)]: S.STATUS_CANCELED,
            [key(0x14)]: S.STATUS_CANCELED,
            // A parent built in the same batch is never DONE.
            [key(0x15)]: S.STATUS_WAITING_FOR_PARENT_TASKS,
        });
    });

    it('§2.6.5: a DONE parent with a disabled model blocks new children; an available model does not', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        await act(ledger, ORG1, key(1), A.TASK_ACTION_EXECUTING);
        await ledger.invoke(ORG1, async (s) => {
            const t = await s.computeTasks.getTask(key(1));
            await s.computeTasks.addOutputAsset(t, 'model', K.ASSET_MODEL, key(0xb, 1));
            await s.computeTasks.addOutputAsset(t, 'model', K.ASSET_MODEL, key(0xb, 2));
        });
        // The model service's half of RegisterModels, written raw: the output `model` takes one model only.
        writeRawModel(ledger, {
            key: key(0xb, 1),
            compute_task_key: key(1),
            address: address(),
            permissions: publicPermissions(),
        });
        writeRawModel(ledger, {
            key: key(0xb, 2),
            compute_task_key: key(1),
            address: address(),
            permissions: publicPermissions(),
        });
        await act(ledger, ORG1, key(1), A.TASK_ACTION_DONE);
        const ok = await register(ledger, [plainTask(key(2), [key(1)])]);
        expect(ok.result.tasks[0]!.status).toBe(S.STATUS_WAITING_FOR_EXECUTOR_SLOT);
        // Disabled in place (its output is not transient): written raw.
        writeRawModel(ledger, { key: key(0xb, 2), compute_task_key: key(1), permissions: publicPermissions() });
        await expectTasksRefused(
            ledger,
            [plainTask(key(3), [key(1)])],
            `OE0101: Model "${key(0xb, 2)}" has been disabled`,
        );
    });

    it('§2.6.6: output permissions: requester appended (even when public), unregistered IDs refused when private', async () => {
        const ledger = await newTaskLedger();
        const res = await register(ledger, [
            plainTask(key(1), [], { outputs: { model: output({ public: true, ids: [ORG2, ORG2], transient: true }) } }),
            plainTask(key(2), [], { outputs: { model: output({ ids: [ORG2, ORG1] }) } }),
            plainTask(key(3), [], { outputs: { model: output({ public: true, ids: [UNREGISTERED] }) } }),
        ]);
        const [t1, t2, t3] = res.result.tasks;
        expect(t1!.outputs!.model).toEqual({
            permissions: {
                process: { public: true, authorized_ids: [ORG2, ORG2, ORG1] },
                download: { public: true, authorized_ids: [ORG2, ORG2, ORG1] },
            },
            transient: true,
        });
        expect(t2!.outputs!.model?.permissions?.download).toEqual({ public: false, authorized_ids: [ORG2, ORG1] });
        expect(t3!.outputs!.model?.permissions?.process?.authorized_ids).toEqual([UNREGISTERED, ORG1]);
        await expectTasksRefused(
            ledger,
            [plainTask(key(4), [], { outputs: { model: output({ ids: [UNREGISTERED] }) } })],
            'OE0003: invalid permission input values',
        );
    });

    it('§2.6.7: worker from the data manager owner; mismatch is BadRequest; missing worker is BadRequest; unknown org is NotFound', async () => {
        const ledger = await newTaskLedger();
        const res = await register(ledger, [trainTask(key(1)), trainTask(key(2), { worker: ORG1 })]);
        expect(res.result.tasks.map((t) => t.worker)).toEqual([ORG1, ORG1]);
        await expectTasksRefused(
            ledger,
            [trainTask(key(3), { worker: ORG2 })],
            `OE0003: Specified worker "${ORG2}" does not match data manager owner: "${ORG1}"`,
        );
        await expectTasksRefused(
            ledger,
            [plainTask(key(3), [], { worker: '' })],
            'OE0003: Worker cannot be inferred and must be explicitly set',
        );
        await expectTasksRefused(
            ledger,
            [plainTask(key(3), [], { worker: UNREGISTERED })],
            `OE0002: organization with key "${UNREGISTERED}" not found`,
        );
        const other = await register(ledger, [plainTask(key(4), [], { worker: ORG2 })]);
        expect(other.result.tasks[0]!.worker).toBe(ORG2);
    });

    it('§2.6.7: inputs before the data manager must be declared; a data manager given as a parent output is NotFound ""', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(
            ledger,
            [
                trainTask(key(1), {
                    inputs: [assetInput('bogus', DS1), assetInput('opener', DM1), assetInput('datasamples', DS1)],
                }),
            ],
            'OE0101: unknown task input: this identifier was not declared in the Function: "bogus"',
        );
        await expectTasksRefused(
            ledger,
            [trainTask(key(1), { inputs: [assetInput('opener', key(0xd, 9)), assetInput('datasamples', DS1)] })],
            `OE0002: datamanager with key "${key(0xd, 9)}" not found`,
        );
        await register(ledger, [plainTask(key(2))]);
        await expectTasksRefused(
            ledger,
            [trainTask(key(1), { inputs: [parentInput('opener', key(2), 'model'), assetInput('datasamples', DS1)] })],
            'OE0002: datamanager with key "" not found',
        );
    });

    it('§2.6.8: logs permission is the data manager one, else the union of parents with the owner (ascending IDs)', async () => {
        const ledger = await newTaskLedger();
        const res = await register(ledger, [trainTask(key(1)), plainTask(key(2))]);
        expect(res.result.tasks[0]!.logs_permission).toEqual({ public: false, authorized_ids: [ORG1, ORG3] });
        expect(res.result.tasks[1]!.logs_permission).toEqual({ public: false, authorized_ids: [ORG1] });
        // ORG2 registers a plan and a child of ORG1's tasks: union of [ORG2] with [ORG1, ORG3] and [ORG1].
        const child = await register(
            ledger,
            [plainTask(key(3), [key(1), key(2)], { compute_plan_key: PLAN2, worker: ORG1 })],
            ORG2,
        );
        expect(child.result.tasks[0]!.logs_permission).toEqual({ public: false, authorized_ids: [ORG1, ORG2, ORG3] });
        // A public parent makes the union public with no IDs.
        const publicDm = key(0xd, 7);
        await registerDataManager(
            ledger,
            ORG1,
            newDataManager(publicDm, { logs_permission: { public: true, authorized_ids: [] } }),
        );
        await registerDataSamples(ledger, ORG1, [publicDm], key(0xe, 7));
        await register(ledger, [
            trainTask(key(4), { inputs: [assetInput('opener', publicDm), assetInput('datasamples', key(0xe, 7))] }),
        ]);
        const pub = await register(ledger, [plainTask(key(5), [key(4), key(2)])]);
        expect(pub.result.tasks[0]!.logs_permission).toEqual({ public: true, authorized_ids: [] });
    });

    it('§2.6.10: rank is 0 without parents, else 1 + the highest parent rank', async () => {
        const ledger = await newTaskLedger();
        const res = await register(ledger, [
            plainTask(key(1)),
            plainTask(key(2), [key(1)]),
            plainTask(key(3), [key(2)]),
            plainTask(key(4), [key(1), key(3)]),
        ]);
        expect(res.result.tasks.map((t) => t.rank)).toEqual([0, 1, 2, 3]);
    });

    it('§2.6.11: unknown, duplicate and missing inputs are InvalidAsset', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        await expectTasksRefused(
            ledger,
            [
                trainTask(key(2), {
                    inputs: [assetInput('opener', DM1), assetInput('datasamples', DS1), assetInput('nope', DS1)],
                }),
            ],
            'OE0101: unknown task input: this identifier was not declared in the Function: "nope"',
        );
        await expectTasksRefused(
            ledger,
            [
                trainTask(key(2), {
                    inputs: [
                        assetInput('opener', DM1),
                        assetInput('datasamples', DS1),
                        parentInput('model', key(1), 'model'),
                        parentInput('model', key(1), 'model'),
                    ],
                }),
            ],
            /^OE0101: duplicate task input: .*"model"$/,
        );
        await expectTasksRefused(
            ledger,
            [
                {
                    key: key(2),
                    function_key: FN_TEST,
                    compute_plan_key: PLAN,
                    inputs: [assetInput('opener', DM1), assetInput('datasamples', DS1)],
                    outputs: { performance: output({ public: true }) },
                },
            ],
            'OE0101: missing task input: this identifier is required by the Function: "model"',
        );
        // Multiple inputs may repeat; optional inputs may be absent.
        const ok = await register(ledger, [
            trainTask(key(3), {
                inputs: [assetInput('opener', DM1), assetInput('datasamples', DS1), assetInput('datasamples', DS2)],
            }),
        ]);
        expect(ok.result.tasks[0]!.inputs).toHaveLength(3);
    });

    it('§2.6.11: data manager input: samples by key, requester may process the manager, samples share it', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        await expectTasksRefused(
            ledger,
            [trainTask(key(2), { inputs: [assetInput('opener', DM1), parentInput('datasamples', key(1), 'model')] })],
            'OE0101: invalid task input "datasamples": data samples must be referenced using an asset key',
        );
        await expectTasksRefused(
            ledger,
            [
                trainTask(key(2), {
                    inputs: [assetInput('opener', DM2), assetInput('datasamples', DS_OTHER)],
                    worker: ORG2,
                }),
            ],
            `OE0102: not authorized to process datamanager "${DM2}"`,
        );
        await expectTasksRefused(
            ledger,
            [trainTask(key(2), { inputs: [assetInput('opener', DM1), assetInput('datasamples', key(0xe, 0x55))] })],
            `OE0002: datasample with key "${key(0xe, 0x55)}" not found`,
        );
        await expectTasksRefused(
            ledger,
            [trainTask(key(2), { inputs: [assetInput('opener', DM1), assetInput('datasamples', DS_OTHER)] })],
            'OE0101: datasamples do not share a common manager',
        );
        await expectTasksRefused(
            ledger,
            [
                trainTask(key(2), {
                    inputs: [assetInput('opener', DM1), assetInput('datasamples', DS1), assetInput('zz', DS1)],
                }),
            ],
            'OE0101: unknown task input: this identifier was not declared in the Function: "zz"',
        );
    });

    it('§2.6.11: model by key must exist and be processable by the worker; a disabled model is accepted', async () => {
        const ledger = await newTaskLedger();
        // Models whose task is not in this ledger: unreachable through the API, written raw.
        writeRawModel(ledger, {
            key: key(0xb, 1),
            compute_task_key: key(0x50),
            address: address(),
            permissions: privatePermissions(ORG2),
        });
        writeRawModel(ledger, { key: key(0xb, 2), compute_task_key: key(0x50), permissions: publicPermissions() });
        const trainWith = (k: string, model: string): orchestrator.INewComputeTask =>
            trainTask(k, {
                inputs: [assetInput('opener', DM1), assetInput('datasamples', DS1), assetInput('model', model)],
            });
        await expectTasksRefused(
            ledger,
            [trainWith(key(1), key(0xb, 9))],
            `OE0002: model with key "${key(0xb, 9)}" not found`,
        );
        await expectTasksRefused(
            ledger,
            [trainWith(key(1), key(0xb, 1))],
            `OE0102: not authorized to process model "${key(0xb, 1)}"`,
        );
        const ok = await register(ledger, [trainWith(key(1), key(0xb, 2))]);
        expect(ok.result.tasks).toHaveLength(1);
    });

    it('§2.6.11: asset_key on a non-MODEL function input (ASSET_UNKNOWN) is Unimplemented', async () => {
        const ledger = await newTaskLedger();
        const fnKey = key(0xf, 0x40);
        await registerFunction(
            ledger,
            publicFunction(fnKey, { inputs: { x: { kind: K.ASSET_UNKNOWN } }, outputs: {} }),
            FS.FUNCTION_STATUS_READY,
        );
        await expectTasksRefused(
            ledger,
            [
                {
                    key: key(1),
                    function_key: fnKey,
                    compute_plan_key: PLAN,
                    worker: ORG1,
                    inputs: [assetInput('x', key(9))],
                },
            ],
            'OE0010: invalid task input "x": invalid asset kind',
        );
    });

    it('§2.6.11: parent output checks: declared by the parent function, same kind, multiplicity, present, processable by the worker', async () => {
        const ledger = await newTaskLedger();
        const multiFn = key(0xf, 0x41);
        await registerFunction(
            ledger,
            publicFunction(multiFn, {
                outputs: { models: { kind: K.ASSET_MODEL, multiple: true }, perf: { kind: K.ASSET_PERFORMANCE } },
            }),
            FS.FUNCTION_STATUS_READY,
        );
        await register(ledger, [
            {
                key: key(1),
                function_key: multiFn,
                compute_plan_key: PLAN,
                worker: ORG1,
                outputs: { models: output(), perf: output({ public: true }) },
            },
            plainTask(key(2), [], { outputs: { model: output({ ids: [] }) } }),
        ]);
        const child = (inputs: orchestrator.IComputeTaskInput[], worker = ORG1): orchestrator.INewComputeTask => ({
            key: key(3),
            function_key: FN_TRAIN,
            compute_plan_key: PLAN,
            worker,
            inputs: [assetInput('opener', DM1), assetInput('datasamples', DS1), ...inputs],
            outputs: { model: output() },
        });
        await expectTasksRefused(
            ledger,
            [child([parentInput('model', key(1), 'nothing')])],
            `OE0101: invalid task input "model": parent task ${key(1)}: function output not found: "nothing"`,
        );
        await expectTasksRefused(
            ledger,
            [child([parentInput('model', key(1), 'perf')])],
            'OE0101: invalid task input "perf": mismatching task input asset kinds: expecting ASSET_MODEL but parent task output has kind ASSET_PERFORMANCE',
        );
        await expectTasksRefused(
            ledger,
            [child([parentInput('model', key(1), 'models')])],
            'OE0101: invalid task input "model": multiple task output used as single task input',
        );
        // ORG2 as worker may not process key(2)'s private output: needs a task whose worker is not inferred.
        await expectTasksRefused(
            ledger,
            [plainTask(key(4), [key(2)], { worker: ORG2 })],
            `OE0102: invalid task input "models": worker "${ORG2}" doesn't have permission to process output "model" of task ${key(2)}`,
        );
        // The aggregate accepts a multiple output.
        const ok = await register(ledger, [
            {
                key: key(5),
                function_key: FN_AGG,
                compute_plan_key: PLAN,
                worker: ORG1,
                inputs: [parentInput('models', key(1), 'models')],
                outputs: { model: output() },
            },
        ]);
        expect(ok.result.tasks[0]!.rank).toBe(1);
    });

    it('§2.6.11: a parent task output absent from the parent outputs is InvalidAsset', async () => {
        const ledger = await newTaskLedger();
        const optOutFn = key(0xf, 0x42);
        // The parent's function declares `model` but its task (registered under a function without outputs) lacks it.
        await registerFunction(ledger, publicFunction(optOutFn, { outputs: {} }), FS.FUNCTION_STATUS_READY);
        await register(ledger, [{ key: key(1), function_key: optOutFn, compute_plan_key: PLAN, worker: ORG1 }]);
        // The function's outputs changed after the task was registered: corrupted state, written raw.
        overwriteFunction(ledger, optOutFn, { outputs: { model: { kind: K.ASSET_MODEL } } });
        await expectTasksRefused(
            ledger,
            [plainTask(key(2), [key(1)])],
            `OE0101: invalid task input "models": parent task ${key(1)}: output not found: "model"`,
        );
    });

    it('§2.6.11/§2.6.12: identifiers named like object properties (constructor, toString) are not declared', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(
            ledger,
            [
                trainTask(key(1), {
                    inputs: [assetInput('toString', DS1), assetInput('opener', DM1), assetInput('datasamples', DS1)],
                }),
            ],
            'OE0101: unknown task input: this identifier was not declared in the Function: "toString"',
        );
        await register(ledger, [plainTask(key(1))]);
        await expectTasksRefused(
            ledger,
            [
                {
                    key: key(2),
                    function_key: FN_TEST,
                    compute_plan_key: PLAN,
                    inputs: [
                        parentInput('model', key(1), 'model'),
                        assetInput('opener', DM1),
                        assetInput('datasamples', DS1),
                    ],
                    outputs: { performance: output({ public: true }), constructor: output() },
                },
            ],
            `OE0101: invalid task ${key(2)}, unknown task output: this identifier was not declared in the Function: "constructor"`,
        );
    });

    it('§2.6.12: outputs must be declared, PERFORMANCE outputs public and not transient, every function output present', async () => {
        const ledger = await newTaskLedger();
        await register(ledger, [plainTask(key(1))]);
        const testTask = (
            outputs: Record<string, orchestrator.INewComputeTaskOutput>,
        ): orchestrator.INewComputeTask => ({
            key: key(2),
            function_key: FN_TEST,
            compute_plan_key: PLAN,
            inputs: [parentInput('model', key(1), 'model'), assetInput('opener', DM1), assetInput('datasamples', DS1)],
            outputs,
        });
        await expectTasksRefused(
            ledger,
            [testTask({ performance: output({ public: true }), extra: output() })],
            `OE0101: invalid task ${key(2)}, unknown task output: this identifier was not declared in the Function: "extra"`,
        );
        await expectTasksRefused(
            ledger,
            [testTask({ performance: output() })],
            `OE0101: invalid task ${key(2)}, invalid task output "performance": a PERFORMANCE output should be public`,
        );
        await expectTasksRefused(
            ledger,
            [testTask({ performance: output({ public: true, transient: true }) })],
            `OE0101: invalid task ${key(2)}, invalid task output "performance": a PERFORMANCE output cannot be transient`,
        );
        await expectTasksRefused(
            ledger,
            [testTask({})],
            `OE0101: invalid task ${key(2)}, missing task output: this identifier is required by the Function: "performance"`,
        );
        const ok = await register(ledger, [testTask({ performance: output({ public: true }) })]);
        expect(ok.result.tasks[0]!.worker).toBe(ORG1);
    });

    it('§2.3.6: a failure on a later task of the batch leaves nothing written', async () => {
        const ledger = await newTaskLedger();
        await expectTasksRefused(
            ledger,
            [plainTask(key(1)), plainTask(key(2), [key(1)], { worker: UNREGISTERED })],
            /^OE0002: organization/,
        );
        await expect(ledger.evaluate(ORG1, (s) => s.computeTasks.getTask(key(1)))).rejects.toThrow(
            `OE0002: computetask with key "${key(1)}" not found`,
        );
    });

    it('§2.2: a batch of 1 000 tasks registers with a bounded number of ledger reads and writes', async () => {
        const ledger = await newTaskLedger();
        const n = 1000;
        // A chain of 1 000 tasks (each the child of the previous), given in reverse order: worst case for the sort.
        const tasks: orchestrator.INewComputeTask[] = [];
        for (let i = n - 1; i >= 0; i--) {
            tasks.push(i === 0 ? plainTask(key(0x100, i)) : plainTask(key(0x100, i), [key(0x100, i - 1)]));
        }
        const res = await register(ledger, tasks);
        expect(res.result.tasks).toHaveLength(n);
        expect(res.result.tasks[0]!.key).toBe(key(0x100, 0));
        expect(res.result.tasks[n - 1]!.rank).toBe(n - 1);
        expect(res.events).toHaveLength(n);
        // One existence read per task plus a handful for plan, function and organizations.
        expect(res.reads).toBeLessThanOrEqual(n + 10);
        // Task record + 7 index entries + one child link per task (the root has no parent).
        expect(res.writes.length).toBe(n * 9 - 1);

        // A wide batch of 1 000 training tasks, all children of stored parents.
        const wide: orchestrator.INewComputeTask[] = [];
        for (let i = 0; i < n; i++) {
            wide.push(
                trainTask(key(0x200, i), {
                    inputs: [
                        assetInput('opener', DM1),
                        assetInput('datasamples', DS1),
                        assetInput('datasamples', DS2),
                        parentInput('model', key(0x100, i), 'model'),
                    ],
                }),
            );
        }
        const res2 = await register(ledger, wide);
        expect(res2.result.tasks).toHaveLength(n);
        // Existence of each new key and of each stored parent, plus shared assets.
        expect(res2.reads).toBeLessThanOrEqual(2 * n + 20);
    });
});
