import { describe, expect, it } from 'vitest';
import { orchestrator } from '@substra-fabric/api';
import {
    A,
    FN,
    FS,
    ORG1,
    ORG2,
    ORG3,
    PLAN,
    S,
    address,
    asJson,
    compositeKey,
    eventSummary,
    expectRejected,
    getTask,
    newOutputsLedger,
    newTask,
    outputsFunction,
    registerFunction,
    key,
    T1,
    T2,
    newExecutingTaskLedger,
    T3,
    ET,
    FAK,
    register,
} from './support/fixtures';
import type { TestLedger } from './support/ledger';
import { complete } from './support/messages';

const FN_BUILDING = key(0xf, 2);

const REASON = { reason: 'failure report registered' };

function taskReport(overrides: orchestrator.INewFailureReport = {}): orchestrator.INewFailureReport {
    return {
        asset_key: T1,
        asset_type: FAK.FAILED_ASSET_COMPUTE_TASK,
        error_type: ET.ERROR_TYPE_EXECUTION,
        logs_address: address(),
        ...overrides,
    };
}

function functionReport(overrides: orchestrator.INewFailureReport = {}): orchestrator.INewFailureReport {
    return {
        asset_key: FN_BUILDING,
        asset_type: FAK.FAILED_ASSET_FUNCTION,
        error_type: ET.ERROR_TYPE_BUILD,
        logs_address: address(),
        ...overrides,
    };
}

/** FN_BUILDING (owner ORG1) is BUILDING with tasks T3 and T2 (both BUILDING), T3 registered first. */
async function ledgerWithBuildingFunction(): Promise<TestLedger> {
    const ledger = await newOutputsLedger();
    await registerFunction(ledger, outputsFunction(FN_BUILDING), FS.FUNCTION_STATUS_BUILDING);
    await register(ledger, [newTask(T3, { functionKey: FN_BUILDING })]);
    await register(ledger, [newTask(T2, { functionKey: FN_BUILDING })]);
    return ledger;
}

async function getPlan(ledger: TestLedger): Promise<orchestrator.ComputePlan> {
    return (await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(PLAN))).result;
}

describe('RegisterFailureReport validation (behavior-assets §10.1 rules 1-2)', () => {
    it('§10.1 rule 1: asset_key is required and a lower-case UUID (InvalidAsset OE0101 "failurereport is not valid")', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.failureReports.registerFailureReport(
                    complete(orchestrator.NewFailureReport, taskReport({ asset_key: '' })),
                ),
            'OE0101: failurereport is not valid: asset_key: cannot be blank.',
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.failureReports.registerFailureReport(
                    complete(
                        orchestrator.NewFailureReport,
                        taskReport({ asset_key: 'ABCDEF01-0000-4000-8000-000000000001' }),
                    ),
                ),
            'OE0101: failurereport is not valid: asset_key: must be a valid UUID.',
        );
    });

    it('§10.1 rule 1: error_type and asset_type outside their enums are invalid; fields are reported sorted', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.failureReports.registerFailureReport(
                    complete(
                        orchestrator.NewFailureReport,
                        taskReport({
                            error_type: 9 as unknown as orchestrator.ErrorType,
                            asset_type: 7 as unknown as orchestrator.FailedAssetKind,
                            logs_address: address(),
                        }),
                    ),
                ),
            'OE0101: failurereport is not valid: asset_type: must be a valid value; error_type: must be a valid value; logs_address: must be blank.',
        );
    });

    it('§10.1 rule 1: BUILD and EXECUTION errors require a valid logs_address', async () => {
        const ledger = await newExecutingTaskLedger();
        for (const errorType of [ET.ERROR_TYPE_BUILD, ET.ERROR_TYPE_EXECUTION]) {
            await expectRejected(
                ledger,
                ORG2,
                (s) =>
                    s.failureReports.registerFailureReport(
                        complete(
                            orchestrator.NewFailureReport,
                            taskReport({ error_type: errorType, logs_address: null }),
                        ),
                    ),
                'OE0101: failurereport is not valid: logs_address: cannot be blank.',
            );
        }
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.failureReports.registerFailureReport(
                    complete(
                        orchestrator.NewFailureReport,
                        taskReport({
                            logs_address: { checksum: 'g'.repeat(64), storage_address: 'https://a.example/x' },
                        }),
                    ),
                ),
            'OE0101: failurereport is not valid: logs_address: (checksum: must be a valid hexadecimal number.).',
        );
    });

    it('§10.1 rule 1: INTERNAL and UNSPECIFIED errors must have no logs_address ("must be blank", even when empty)', async () => {
        const ledger = await newExecutingTaskLedger();
        for (const errorType of [ET.ERROR_TYPE_INTERNAL, ET.ERROR_TYPE_UNSPECIFIED]) {
            for (const logs of [address(), {}]) {
                await expectRejected(
                    ledger,
                    ORG2,
                    (s) =>
                        s.failureReports.registerFailureReport(
                            complete(
                                orchestrator.NewFailureReport,
                                taskReport({ error_type: errorType, logs_address: logs }),
                            ),
                        ),
                    'OE0101: failurereport is not valid: logs_address: must be blank.',
                );
            }
        }
    });

    it('§10.1 rule 1 / §15.7: error_type UNSPECIFIED (0) without logs passes validation', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await ledger.invoke(ORG2, (s) =>
            s.failureReports.registerFailureReport(
                complete(
                    orchestrator.NewFailureReport,
                    taskReport({ error_type: ET.ERROR_TYPE_UNSPECIFIED, logs_address: null }),
                ),
            ),
        );
        expect(res.result.error_type).toBe(ET.ERROR_TYPE_UNSPECIFIED);
        expect(res.result.logs_address).toBeNull();
    });

    it('§10.1 rule 2: asset_type FAILED_ASSET_UNKNOWN passes validation and is refused with BadRequest OE0003', async () => {
        const ledger = await newExecutingTaskLedger();
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.failureReports.registerFailureReport(
                    complete(orchestrator.NewFailureReport, taskReport({ asset_type: FAK.FAILED_ASSET_UNKNOWN })),
                ),
            /^OE0003: can only register failure for asset_kind values function and compute task$/,
        );
    });
});

describe('RegisterFailureReport for a compute task (behavior-assets §10.1 rule 3, behavior-tasks §3.9)', () => {
    it('§10.1 rule 3.1: an unknown task is NotFound OE0002', async () => {
        const ledger = await newExecutingTaskLedger();
        const unknown = key(0x7, 99);
        await expectRejected(
            ledger,
            ORG2,
            (s) =>
                s.failureReports.registerFailureReport(
                    complete(orchestrator.NewFailureReport, taskReport({ asset_key: unknown })),
                ),
            `OE0002: computetask with key "${unknown}" not found`,
        );
    });

    it('§10.1 rule 3.2: a requester other than the worker gets PermissionDenied OE0102 (the task owner included)', async () => {
        const ledger = await newExecutingTaskLedger();
        for (const org of [ORG1, ORG3]) {
            await expectRejected(
                ledger,
                org,
                (s) => s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, taskReport())),
                `OE0102: only "${ORG2}" worker can register failure report for compute task`,
            );
        }
    });

    it('§10.1 rule 3.3: a task that is not EXECUTING gives BadRequest OE0003 naming its status', async () => {
        const ledger = await newOutputsLedger();
        await register(ledger, [newTask(T1)]);
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, taskReport())),
            'OE0003: cannot register failure report for task with status "STATUS_WAITING_FOR_EXECUTOR_SLOT"',
        );
    });

    it('§10.1 rules 3.4-7: the task becomes FAILED, its plan is failed, events are task UPDATED then FAILURE_REPORT CREATED', async () => {
        const ledger = await newExecutingTaskLedger();
        const res = await ledger.invoke(
            ORG2,
            (s) => s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, taskReport())),
            {
                timestamp: { seconds: 1_850_000_000, nanos: 3 },
            },
        );
        expect(eventSummary(res.events)).toEqual([
            ['ASSET_COMPUTE_TASK', 'EVENT_ASSET_UPDATED', T1],
            ['ASSET_FAILURE_REPORT', 'EVENT_ASSET_CREATED', T1],
        ]);
        expect(res.events[0]!.metadata).toEqual(REASON);
        expect(res.events[0]!.compute_task?.status).toBe(S.STATUS_FAILED);
        expect(res.events[1]!.metadata).toEqual({});
        expect(asJson(orchestrator.FailureReport, res.events[1]!.failure_report)).toEqual(res.result.toJSON());
        expect(res.result.asset_key).toBe(T1);
        expect(res.result.asset_type).toBe(FAK.FAILED_ASSET_COMPUTE_TASK);
        expect(res.result.error_type).toBe(ET.ERROR_TYPE_EXECUTION);
        expect(res.result.logs_address).toEqual(address());
        expect(res.result.owner).toBe(ORG2);
        expect(res.result.creation_date).toEqual({ seconds: 1_850_000_000, nanos: 3 });
        expect((await getTask(ledger, T1)).status).toBe(S.STATUS_FAILED);
        expect((await getPlan(ledger)).failure_date).toEqual({ seconds: 1_850_000_000, nanos: 3 });
        const stored = await ledger.evaluate(ORG3, (s) => s.failureReports.getFailureReport(T1));
        expect(stored.result.toJSON()).toEqual(res.result.toJSON());
    });

    it('§10.1 rule 5: a second report for the task cannot get past the status check (BadRequest OE0003)', async () => {
        const ledger = await newExecutingTaskLedger();
        await ledger.invoke(ORG2, (s) =>
            s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, taskReport())),
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, taskReport())),
            'OE0003: cannot register failure report for task with status "STATUS_FAILED"',
        );
    });

    it('§10.1 rule 5: a report already stored under the key is Conflict OE0006 (report seeded raw: unreachable through the API)', async () => {
        const ledger = await newExecutingTaskLedger();
        await ledger.invoke(ORG1, (_s, ctx) =>
            ctx.store.put(
                ctx.store.compositeKey('failurereport', [T1]),
                orchestrator.FailureReport.encode({ asset_key: T1, owner: ORG2 }).finish(),
            ),
        );
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, taskReport())),
            `OE0006: failure report with key "${T1}" already exists`,
        );
        expect((await getTask(ledger, T1)).status).toBe(S.STATUS_EXECUTING);
    });
    it('§10.1 rule 3.4: the plan of the task is left untouched when it is already terminated (no plan write, no plan event)', async () => {
        const ledger = await newExecutingTaskLedger();
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.applyPlanAction(
                complete(orchestrator.ApplyPlanActionParam, {
                    key: PLAN,
                    action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
                }),
            ),
        );
        const before = await getPlan(ledger);
        const res = await ledger.invoke(ORG2, (s) =>
            s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, taskReport())),
        );
        expect(eventSummary(res.events)).toEqual([
            ['ASSET_COMPUTE_TASK', 'EVENT_ASSET_UPDATED', T1],
            ['ASSET_FAILURE_REPORT', 'EVENT_ASSET_CREATED', T1],
        ]);
        const planKey = compositeKey('computeplan', [PLAN]);
        expect(ledger.world.keys()).toContain(planKey);
        expect(res.writes.map((w) => w.key)).not.toContain(planKey);
        const after = await getPlan(ledger);
        expect(after.toJSON()).toEqual(before.toJSON());
        expect(after.failure_date).toBeNull();
    });
});

describe('RegisterFailureReport for a function (behavior-assets §10.1 rule 4)', () => {
    it('§10.1 rule 4.1: an unknown function is NotFound OE0002', async () => {
        const ledger = await ledgerWithBuildingFunction();
        const unknown = key(0xf, 99);
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.failureReports.registerFailureReport(
                    complete(orchestrator.NewFailureReport, functionReport({ asset_key: unknown })),
                ),
            `OE0002: function with key "${unknown}" not found`,
        );
    });

    it('§10.1 rule 4.2: a requester other than the function owner gets PermissionDenied OE0102', async () => {
        const ledger = await ledgerWithBuildingFunction();
        await expectRejected(
            ledger,
            ORG2,
            (s) => s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, functionReport())),
            `OE0102: only "${ORG1}" owner can register failure report for function`,
        );
    });

    it('§10.1 rule 4.3: a function that is not BUILDING gives the plain state-machine error (no OE code)', async () => {
        const ledger = await ledgerWithBuildingFunction();
        await expectRejected(
            ledger,
            ORG1,
            (s) =>
                s.failureReports.registerFailureReport(
                    complete(orchestrator.NewFailureReport, functionReport({ asset_key: FN })),
                ),
            /^event transitionFailed inappropriate in current state FUNCTION_STATUS_READY$/,
        );
    });

    it('§10.1 rules 4.3-7: function FAILED, its BUILDING tasks FAILED in (creation date, key) order, then FAILURE_REPORT CREATED', async () => {
        const ledger = await ledgerWithBuildingFunction();
        const res = await ledger.invoke(ORG1, (s) =>
            s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, functionReport())),
        );
        expect(eventSummary(res.events)).toEqual([
            ['ASSET_FUNCTION', 'EVENT_ASSET_UPDATED', FN_BUILDING],
            ['ASSET_COMPUTE_TASK', 'EVENT_ASSET_UPDATED', T3],
            ['ASSET_COMPUTE_TASK', 'EVENT_ASSET_UPDATED', T2],
            ['ASSET_FAILURE_REPORT', 'EVENT_ASSET_CREATED', FN_BUILDING],
        ]);
        expect(res.events.slice(0, 3).map((e) => e.metadata)).toEqual([REASON, REASON, REASON]);
        expect(res.events[0]!.function?.status).toBe(FS.FUNCTION_STATUS_FAILED);
        expect(res.events[1]!.compute_task?.status).toBe(S.STATUS_FAILED);
        expect(res.result.asset_type).toBe(FAK.FAILED_ASSET_FUNCTION);
        expect(res.result.error_type).toBe(ET.ERROR_TYPE_BUILD);
        expect(res.result.owner).toBe(ORG1);
        expect(asJson(orchestrator.FailureReport, res.events[3]!.failure_report)).toEqual(res.result.toJSON());
        expect((await getTask(ledger, T2)).status).toBe(S.STATUS_FAILED);
        expect((await getPlan(ledger)).failure_date).not.toBeNull();
        const func = await ledger.evaluate(ORG1, (s) => s.functions.getFunction(FN_BUILDING));
        expect(func.result.status).toBe(FS.FUNCTION_STATUS_FAILED);
        const stored = await ledger.evaluate(ORG3, (s) => s.failureReports.getFailureReport(FN_BUILDING));
        expect(stored.result.toJSON()).toEqual(res.result.toJSON());
    });

    it('§10.1 rule 4.3 / §4.7: BUILDING tasks of several plans are failed; each live plan gets its failure date, a terminated plan is left alone', async () => {
        const ledger = await ledgerWithBuildingFunction();
        const plan2 = key(0xa, 2);
        const plan3 = key(0xa, 3);
        const t4 = key(0x7, 4);
        const t5 = key(0x7, 5);
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: plan2, name: 'second' })),
        );
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.registerPlan(complete(orchestrator.NewComputePlan, { key: plan3, name: 'third' })),
        );
        await register(ledger, [{ ...newTask(t4, { functionKey: FN_BUILDING }), compute_plan_key: plan2 }]);
        await register(ledger, [{ ...newTask(t5, { functionKey: FN_BUILDING }), compute_plan_key: plan3 }]);
        await ledger.invoke(ORG1, (s) =>
            s.computePlans.applyPlanAction(
                complete(orchestrator.ApplyPlanActionParam, {
                    key: plan3,
                    action: orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED,
                }),
            ),
        );
        const res = await ledger.invoke(
            ORG1,
            (s) => s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, functionReport())),
            {
                timestamp: { seconds: 1_900_000_000, nanos: 7 },
            },
        );
        expect(eventSummary(res.events)).toEqual([
            ['ASSET_FUNCTION', 'EVENT_ASSET_UPDATED', FN_BUILDING],
            ['ASSET_COMPUTE_TASK', 'EVENT_ASSET_UPDATED', T3],
            ['ASSET_COMPUTE_TASK', 'EVENT_ASSET_UPDATED', T2],
            ['ASSET_COMPUTE_TASK', 'EVENT_ASSET_UPDATED', t4],
            ['ASSET_COMPUTE_TASK', 'EVENT_ASSET_UPDATED', t5],
            ['ASSET_FAILURE_REPORT', 'EVENT_ASSET_CREATED', FN_BUILDING],
        ]);
        const plan = async (key: string) => (await ledger.evaluate(ORG1, (s) => s.computePlans.getPlan(key))).result;
        expect((await plan(PLAN)).failure_date).toEqual({ seconds: 1_900_000_000, nanos: 7 });
        expect((await plan(plan2)).failure_date).toEqual({ seconds: 1_900_000_000, nanos: 7 });
        expect((await plan(plan3)).failure_date).toBeNull();
        expect((await plan(plan3)).cancelation_date).not.toBeNull();
    });

    it('§10.1 rule 4: tasks of the function that are not BUILDING are left alone', async () => {
        const ledger = await ledgerWithBuildingFunction();
        await ledger.invoke(ORG1, (s) =>
            s.computeTasks.applyTaskAction(
                complete(orchestrator.ApplyTaskActionParam, { compute_task_key: T2, action: A.TASK_ACTION_CANCELED }),
            ),
        );
        const res = await ledger.invoke(ORG1, (s) =>
            s.failureReports.registerFailureReport(complete(orchestrator.NewFailureReport, functionReport())),
        );
        expect(eventSummary(res.events).map(([kind, , key]) => `${kind}:${key}`)).toEqual([
            `ASSET_FUNCTION:${FN_BUILDING}`,
            `ASSET_COMPUTE_TASK:${T3}`,
            `ASSET_FAILURE_REPORT:${FN_BUILDING}`,
        ]);
        expect((await getTask(ledger, T2)).status).toBe(S.STATUS_CANCELED);
    });
});

describe('GetFailureReport (behavior-assets §10.2)', () => {
    it('§10.2: an unknown, malformed or empty key is NotFound OE0002 "failure report with key ... not found"', async () => {
        const ledger = await newOutputsLedger();
        for (const key of [T1, 'nope', '']) {
            await expect(ledger.evaluate(ORG1, (s) => s.failureReports.getFailureReport(key))).rejects.toThrow(
                `OE0002: failure report with key "${key}" not found`,
            );
        }
    });
});

describe('FailureReportService contract (api.md §2.10)', () => {
    it('§10.1-§10.2 through the contract: RegisterFailureReport then GetFailureReport', async () => {
        const ledger = await newExecutingTaskLedger();
        const report = await ledger.rpc<orchestrator.FailureReport>(ORG2, 'RegisterFailureReport', taskReport());
        expect(report.asset_key).toBe(T1);
        const got = await ledger.rpc<orchestrator.FailureReport>(ORG3, 'GetFailureReport', { asset_key: T1 });
        expect(got.toJSON()).toEqual(report.toJSON());
        await expect(ledger.rpc(ORG3, 'GetFailureReport', { asset_key: T2 })).rejects.toThrow(/^OE0002: /);
    });
});
