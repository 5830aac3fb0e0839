/**
 * Performances (behavior-assets §9; the task side: behavior-tasks §4.1, §4.2).
 *
 * A performance has no key field: its key is `<compute_task_key>|<compute_task_output_identifier>`, so a task
 * output holds at most one performance.
 *
 * Ledger keys (`<ts>` = sortableTimestamp(creation_date), `<desc>` = descendingTaskKey(compute_task_key),
 * `<perf>` = the performance key):
 * - `performance` [<perf>] → binary `orchestrator.Performance`.
 * - `idx~performance~all` [<ts>, <desc>, <perf>] → INDEX_VALUE: QueryPerformances without filter.
 * - `idx~performance~task` [compute_task_key, <ts>, <perf>] → INDEX_VALUE: filter on the task.
 * - `idx~performance~identifier` [identifier, <ts>, <desc>, <perf>] → INDEX_VALUE: filter on the output.
 * All three are written once, at registration. With both filters set, at most one performance matches: it is
 * read by its key.
 *
 * Order (§1.8, standalone): creation date ascending, then task key **descending**; the tie between outputs of
 * one task (same date and task) is broken by the performance key, i.e. the identifier ascending.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import { INDEX_VALUE, sortableTimestamp } from './codec';
import { taskStatusName } from './computetask-state';
import { ErrorCode, OrchestrationError, badRequest, conflict, permissionDenied } from './errors';
import { readPage } from './pagination';
import { Service } from './service';
import { Failures, required, uuid } from './validation';

export const PERFORMANCE_KIND = 'performance';
export const PERFORMANCE_INDEX_ALL = 'idx~performance~all';
export const PERFORMANCE_INDEX_TASK = 'idx~performance~task';
export const PERFORMANCE_INDEX_IDENTIFIER = 'idx~performance~identifier';

/** `<task>|<identifier>` (§9). */
export function performanceKey(taskKey: string, identifier: string): string {
    return `${taskKey}|${identifier}`;
}

/** The characters of a lower-case UUID, in ascending byte order. */
const UUID_ALPHABET = '-0123456789abcdef';
const REVERSED_ALPHABET = 'fedcba9876543210-';

/**
 * A string whose byte order is the reverse of the task keys' order, so that an ascending range read yields
 * task keys in descending order. Each character is mirrored within the UUID alphabet; since stored task keys
 * are validated UUIDs (all 36 characters long, from that alphabet), comparing mirrored keys reverses the order
 * exactly. A character outside the alphabet is kept as is (never the case for a stored performance).
 */
export function descendingTaskKey(taskKey: string): string {
    let out = '';
    for (const c of taskKey) {
        const i = UUID_ALPHABET.indexOf(c);
        out += i < 0 ? c : REVERSED_ALPHABET.charAt(i);
    }
    return out;
}

export class PerformanceService extends Service {
    readonly #records = new AssetRecords(this.ctx.store, PERFORMANCE_KIND, orchestrator.Performance);

    /** RegisterPerformance (§9.1), rules in order. The kind of the function output is deliberately not checked. */
    async registerPerformance(input: orchestrator.INewPerformance): Promise<orchestrator.Performance> {
        const taskKey = input.compute_task_key ?? '';
        const identifier = input.compute_task_output_identifier ?? '';
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
        if (await this.#records.exists(key)) {
            throw conflict(PERFORMANCE_KIND, key);
        }
        const performance = orchestrator.Performance.create({
            compute_task_key: taskKey,
            compute_task_output_identifier: identifier,
            performance_value: input.performance_value ?? 0,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
        });
        const bytes = await this.#records.put(key, performance);
        const { store } = this.ctx;
        const created = sortableTimestamp(this.ctx.timestamp);
        const descending = descendingTaskKey(taskKey);
        await store.put(store.compositeKey(PERFORMANCE_INDEX_ALL, [created, descending, key]), INDEX_VALUE);
        await store.put(store.compositeKey(PERFORMANCE_INDEX_TASK, [taskKey, created, key]), INDEX_VALUE);
        await store.put(
            store.compositeKey(PERFORMANCE_INDEX_IDENTIFIER, [identifier, created, descending, key]),
            INDEX_VALUE,
        );
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
        param: orchestrator.IQueryPerformancesParam,
    ): Promise<orchestrator.QueryPerformancesResponse> {
        const taskKey = param.filter?.compute_task_key ?? '';
        const identifier = param.filter?.compute_task_output_identifier ?? '';
        const pageToken = param.page_token ?? '';
        if (taskKey !== '' && identifier !== '') {
            return this.#queryOne(performanceKey(taskKey, identifier), pageToken);
        }
        const [index, attributes] =
            taskKey !== ''
                ? [PERFORMANCE_INDEX_TASK, [taskKey]]
                : identifier !== ''
                  ? [PERFORMANCE_INDEX_IDENTIFIER, [identifier]]
                  : [PERFORMANCE_INDEX_ALL, []];
        const page = await readPage(this.ctx.store, index, attributes, pageToken, param.page_size ?? 0);
        return orchestrator.QueryPerformancesResponse.create({
            Performances: await this.#records.loadIndexed(page.records),
            next_page_token: page.nextPageToken,
        });
    }

    /** Both filters: zero or one result, never a next page, so no token can be valid. */
    async #queryOne(key: string, pageToken: string): Promise<orchestrator.QueryPerformancesResponse> {
        if (pageToken !== '') {
            throw new Error(`invalid page token "${pageToken}"`);
        }
        const performance = await this.#records.find(key);
        return orchestrator.QueryPerformancesResponse.create({
            Performances: performance === undefined ? [] : [performance],
            next_page_token: '',
        });
    }
}
