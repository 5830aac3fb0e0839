/**
 * Performances (behavior-assets §9; the task side: behavior-tasks §4.1, §4.2). Storage, keys and the order
 * of the listings: repository/performance.ts.
 */
import { orchestrator } from '@substra-fabric/api';
import { PERFORMANCE_KIND, PerformanceRepository, performanceKey } from '../repository/performance';
import { taskStatusName } from './computetask-state';
import { ErrorCode, OrchestrationError, badRequest, conflict, permissionDenied } from './errors';
import type { Complete } from './messages';
import { Service } from './service';
import { Failures, required, uuid } from './validation';

export {
    PERFORMANCE_INDEX_ALL,
    PERFORMANCE_INDEX_IDENTIFIER,
    PERFORMANCE_INDEX_TASK,
    PERFORMANCE_KIND,
    descendingTaskKey,
    performanceKey,
} from '../repository/performance';

export class PerformanceService extends Service {
    readonly #repository = new PerformanceRepository(this.ctx.store);

    /** RegisterPerformance (§9.1), rules in order. The kind of the function output is deliberately not checked. */
    async registerPerformance(input: Complete<orchestrator.INewPerformance>): Promise<orchestrator.Performance> {
        const taskKey = input.compute_task_key;
        const identifier = input.compute_task_output_identifier;
        new Failures()
            .field('compute_task_key', taskKey, required, uuid)
            .field('compute_task_output_identifier', identifier, required)
            .throwIfAny(PERFORMANCE_KIND);

        const task = await this.services.computeTasks.getTask(taskKey);
        const requester = this.ctx.requester;
        if (task.worker !== requester) {
            throw permissionDenied(`only "${task.worker}" worker can register performance`);
        }
        if (task.status !== orchestrator.ComputeTaskStatus.STATUS_EXECUTING) {
            throw badRequest(`cannot register performance for task with status "${taskStatusName(task.status)}"`);
        }
        if (!Object.hasOwn(task.outputs, identifier)) {
            throw new OrchestrationError(
                ErrorCode.MissingTaskOutput,
                `Task "${task.key}" has no output named "${identifier}"`,
            );
        }
        const key = performanceKey(taskKey, identifier);
        if (await this.#repository.exists(key)) {
            throw conflict(PERFORMANCE_KIND, key);
        }
        const performance = orchestrator.Performance.create({
            compute_task_key: taskKey,
            compute_task_output_identifier: identifier,
            performance_value: input.performance_value,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
        });
        const bytes = await this.#repository.add(performance);
        this.ctx.events.emit({
            event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
            asset_kind: orchestrator.AssetKind.ASSET_PERFORMANCE,
            asset_key: key,
            performance: orchestrator.Performance.decode(bytes),
        });
        await this.services.computeTasks.addOutputAsset(
            task,
            identifier,
            orchestrator.AssetKind.ASSET_PERFORMANCE,
            key,
        );
        // The stored value (performance_value is a 32-bit float on the wire).
        return orchestrator.Performance.decode(bytes);
    }

    /**
     * QueryPerformances (§9.2): each non-empty filter field must match exactly (AND). Paginated with opaque
     * tokens; page size 0 means 50.
     */
    async queryPerformances(
        param: Complete<orchestrator.IQueryPerformancesParam>,
    ): Promise<orchestrator.QueryPerformancesResponse> {
        const filter = {
            taskKey: param.filter?.compute_task_key ?? '',
            identifier: param.filter?.compute_task_output_identifier ?? '',
        };
        const page = await this.#repository.page(filter, param.page_token, param.page_size);
        return orchestrator.QueryPerformancesResponse.create({
            Performances: page.performances,
            next_page_token: page.nextPageToken,
        });
    }
}
