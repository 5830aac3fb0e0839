/**
 * Failure reports (behavior-assets §10; the task side: behavior-tasks §3.9).
 *
 * A report is registered by the worker of an EXECUTING task (the task becomes FAILED) or by the owner of a
 * BUILDING function (the function and its BUILDING tasks become FAILED). Status changes come first, with
 * their events; the FAILURE_REPORT CREATED event is always the last one of the transaction.
 *
 * Storage: repository/failurereport.ts (one report per failed asset, under the asset's key).
 */
import { orchestrator } from '@substra-fabric/api';
import { FAILURE_REPORT_KIND, FailureReportRepository } from '../repository/failurereport';
import { taskStatusName } from './computetask-state';
import { badRequest, conflict, permissionDenied } from './errors';
import type { Complete } from './messages';
import { Service } from './service';
import { Failures, addressable, oneOf, required, uuid } from './validation';

export { FAILURE_REPORT_KIND } from '../repository/failurereport';
/** Resource name of the NotFound and Conflict messages (§10.2). */
const FAILURE_REPORT_RESOURCE = 'failure report';

/** Reason carried by the status-change events of a failure report. */
export const FAILURE_REPORT_REASON = 'failure report registered';

const ErrorType = orchestrator.ErrorType;
const FailedAssetKind = orchestrator.FailedAssetKind;

/** §10.1 rule 1. */
function validateNewFailureReport(input: Complete<orchestrator.INewFailureReport>): void {
    const errorType = input.error_type;
    const failures = new Failures()
        .field('asset_key', input.asset_key, required, uuid)
        .field(
            'error_type',
            errorType,
            oneOf<orchestrator.ErrorType>([
                ErrorType.ERROR_TYPE_BUILD,
                ErrorType.ERROR_TYPE_EXECUTION,
                ErrorType.ERROR_TYPE_INTERNAL,
            ]),
        )
        .field(
            'asset_type',
            input.asset_type,
            oneOf<orchestrator.FailedAssetKind>([
                FailedAssetKind.FAILED_ASSET_FUNCTION,
                FailedAssetKind.FAILED_ASSET_COMPUTE_TASK,
            ]),
        );
    if (errorType === ErrorType.ERROR_TYPE_EXECUTION || errorType === ErrorType.ERROR_TYPE_BUILD) {
        failures.field('logs_address', input.logs_address, required, addressable);
    } else if (input.logs_address != null) {
        // Any present message, even an empty one, is not blank.
        failures.add('logs_address', 'must be blank');
    }
    failures.throwIfAny(FAILURE_REPORT_KIND);
}

export class FailureReportService extends Service {
    readonly #repository = new FailureReportRepository(this.ctx.store);

    /** RegisterFailureReport (§10.1), rules in order. */
    async registerFailureReport(input: Complete<orchestrator.INewFailureReport>): Promise<orchestrator.FailureReport> {
        validateNewFailureReport(input);
        const { asset_key: assetKey, asset_type: assetType } = input;
        switch (assetType) {
            case FailedAssetKind.FAILED_ASSET_COMPUTE_TASK:
                await this.#failTask(assetKey);
                break;
            case FailedAssetKind.FAILED_ASSET_FUNCTION:
                await this.#failFunction(assetKey);
                break;
            default:
                throw badRequest('can only register failure for asset_kind values function and compute task');
        }
        const report = orchestrator.FailureReport.create({
            asset_key: assetKey,
            asset_type: assetType,
            error_type: input.error_type,
            logs_address: input.logs_address,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
            owner: this.ctx.requester,
        });
        if (await this.#repository.exists(assetKey)) {
            throw conflict(FAILURE_REPORT_RESOURCE, assetKey);
        }
        const bytes = await this.#repository.add(report);
        this.ctx.events.emit({
            event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
            asset_kind: orchestrator.AssetKind.ASSET_FAILURE_REPORT,
            asset_key: assetKey,
            failure_report: orchestrator.FailureReport.decode(bytes),
        });
        return orchestrator.FailureReport.decode(bytes);
    }

    /** §10.1 rule 3: the worker fails its EXECUTING task (task event, plan failure). */
    async #failTask(taskKey: string): Promise<void> {
        const tasks = this.services.computeTasks;
        const task = await tasks.getTask(taskKey);
        if (task.worker !== this.ctx.requester) {
            throw permissionDenied(`only "${task.worker}" worker can register failure report for compute task`);
        }
        if (task.status !== orchestrator.ComputeTaskStatus.STATUS_EXECUTING) {
            throw badRequest(`cannot register failure report for task with status "${taskStatusName(task.status)}"`);
        }
        await tasks.failTask(task, FAILURE_REPORT_REASON);
    }

    /** §10.1 rule 4: the owner fails its BUILDING function, which fails the function's BUILDING tasks. */
    async #failFunction(functionKey: string): Promise<void> {
        const functions = this.services.functions;
        const func = await functions.getFunction(functionKey);
        if (func.owner !== this.ctx.requester) {
            throw permissionDenied(`only "${func.owner}" owner can register failure report for function`);
        }
        await functions.applyFunctionTransition(
            func,
            orchestrator.FunctionAction.FUNCTION_ACTION_FAILED,
            FAILURE_REPORT_REASON,
        );
    }

    /** GetFailureReport (§10.2): NotFound for any key that is not stored. */
    getFailureReport(assetKey: string): Promise<orchestrator.FailureReport> {
        return this.#repository.get(assetKey, FAILURE_REPORT_RESOURCE);
    }
}
