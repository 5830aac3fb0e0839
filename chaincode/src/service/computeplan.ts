/**
 * Compute plans (behavior-tasks §1).
 *
 * Keys:
 * - `computeplan` [key]                                  → ComputePlan (binary protobuf)
 * - `idx~computeplan~all` [creation date, key]           → INDEX_VALUE (QueryPlans without filter)
 * - `idx~computeplan~owner` [owner, creation date, key]  → INDEX_VALUE (QueryPlans by owner)
 *
 * A plan carries no status and no counters: IsPlanRunning is derived from the task index
 * `idx~computetask~plan_status` (see computetask.ts), so task changes never rewrite the plan record. The
 * plan is only rewritten by UpdatePlan, ApplyPlanAction and the first failure of one of its tasks.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords, lastAttribute } from './assets';
import { INDEX_VALUE, sortableTimestamp } from './codec';
import { ErrorCode, OrchestrationError, conflict, notFound, permissionDenied, unimplemented } from './errors';
import { readPage } from './pagination';
import { Service } from './service';
import { taskIndexName } from './computetask-keys';
import { taskStatusName } from './computetask-state';
import { Failures, length, metadata, name, required, uuid } from './validation';

export const PLAN_KIND = 'computeplan';
const PLAN_INDEX_ALL = 'idx~computeplan~all';
const PLAN_INDEX_OWNER = 'idx~computeplan~owner';

/**
 * Statuses counted by IsPlanRunning, in ascending name order (§1.8): the first non-empty group decides.
 * DONE and UNKNOWN are not counted.
 */
const RUNNING_GROUPS: readonly { status: orchestrator.ComputeTaskStatus; running: boolean }[] = [
    { status: orchestrator.ComputeTaskStatus.STATUS_BUILDING, running: true },
    { status: orchestrator.ComputeTaskStatus.STATUS_CANCELED, running: false },
    { status: orchestrator.ComputeTaskStatus.STATUS_EXECUTING, running: true },
    { status: orchestrator.ComputeTaskStatus.STATUS_FAILED, running: false },
    { status: orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_BUILDER_SLOT, running: true },
    { status: orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_EXECUTOR_SLOT, running: true },
    { status: orchestrator.ComputeTaskStatus.STATUS_WAITING_FOR_PARENT_TASKS, running: true },
];

export function isPlanTerminated(plan: orchestrator.IComputePlan): boolean {
    return plan.cancelation_date != null || plan.failure_date != null;
}

export class ComputePlanService extends Service {
    readonly #records = new AssetRecords(this.ctx.store, PLAN_KIND, orchestrator.ComputePlan);

    /** RegisterPlan (§1.2). */
    async registerPlan(input: orchestrator.INewComputePlan): Promise<orchestrator.ComputePlan> {
        const key = input.key ?? '';
        new Failures()
            .field('key', key, required, uuid)
            .field('tag', input.tag ?? '', length(0, 100))
            .field('name', input.name ?? '', name)
            .field('metadata', input.metadata, metadata)
            .throwIfAny(PLAN_KIND);

        if (await this.#records.exists(key)) {
            throw conflict(PLAN_KIND, key);
        }
        const plan = orchestrator.ComputePlan.create({
            key,
            owner: this.ctx.requester,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
            tag: input.tag ?? '',
            name: input.name ?? '',
            metadata: { ...(input.metadata ?? {}) },
        });
        await this.#save(plan);
        const { store } = this.ctx;
        const created = sortableTimestamp(this.ctx.timestamp);
        await store.put(store.compositeKey(PLAN_INDEX_ALL, [created, key]), INDEX_VALUE);
        await store.put(store.compositeKey(PLAN_INDEX_OWNER, [plan.owner, created, key]), INDEX_VALUE);
        this.#emit(orchestrator.EventKind.EVENT_ASSET_CREATED, plan);
        return plan;
    }

    /** GetPlan (§1.3): no key validation, a malformed key is simply not found. */
    getPlan(key: string): Promise<orchestrator.ComputePlan> {
        return this.#records.get(key);
    }

    /** QueryPlans (§1.4): creation date then key, optional owner filter. */
    async queryPlans(param: orchestrator.IQueryPlansParam): Promise<orchestrator.QueryPlansResponse> {
        const owner = param.filter?.owner ?? '';
        const [index, attrs] = owner === '' ? [PLAN_INDEX_ALL, []] : [PLAN_INDEX_OWNER, [owner]];
        const page = await readPage(this.ctx.store, index, attrs, param.page_token ?? '', param.page_size ?? 0);
        const plans: orchestrator.ComputePlan[] = [];
        for (const record of page.records) {
            // A dangling entry is NotFound here, not Internal as in the other queries.
            plans.push(await this.getPlan(lastAttribute(this.ctx.store, record.key)));
        }
        return orchestrator.QueryPlansResponse.create({ plans, next_page_token: page.nextPageToken });
    }

    /** UpdatePlan (§1.5): only the name changes; allowed on terminated plans. */
    async updatePlan(param: orchestrator.IUpdateComputePlanParam): Promise<orchestrator.UpdateComputePlanResponse> {
        const key = param.key ?? '';
        new Failures()
            .field('key', key, required, uuid)
            .field('name', param.name ?? '', name)
            .throwIfAny(PLAN_KIND);

        let plan: orchestrator.ComputePlan;
        try {
            plan = await this.getPlan(key);
        } catch {
            throw notFound(PLAN_KIND, key);
        }
        if (plan.owner !== this.ctx.requester) {
            throw permissionDenied('requester does not own the compute plan');
        }
        plan.name = param.name ?? '';
        await this.#save(plan);
        this.#emit(orchestrator.EventKind.EVENT_ASSET_UPDATED, plan);
        return orchestrator.UpdateComputePlanResponse.create();
    }

    /** ApplyPlanAction (§1.6). Cancelling a plan does not touch its tasks. */
    async applyPlanAction(param: orchestrator.IApplyPlanActionParam): Promise<orchestrator.ApplyPlanActionResponse> {
        const key = param.key ?? '';
        const plan = await this.getPlan(key);
        if (plan.owner !== this.ctx.requester) {
            throw permissionDenied('only plan owner can act on it');
        }
        if (param.action !== orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED) {
            throw unimplemented('plan action unimplemented');
        }
        if (isPlanTerminated(plan)) {
            throw new OrchestrationError(ErrorCode.TerminatedComputePlan, `compute plan ${key} is already terminated`);
        }
        plan.cancelation_date = { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos };
        await this.#save(plan);
        this.#emit(orchestrator.EventKind.EVENT_ASSET_UPDATED, plan);
        return orchestrator.ApplyPlanActionResponse.create();
    }

    /**
     * Plan failure (§1.7), run after a task reached FAILED through a transition: the first failure sets
     * `failure_date`; a terminated plan is left alone. No event. Reads through the write overlay, so a second
     * failing task of the same transaction finds the plan already terminated.
     */
    async failPlan(key: string): Promise<void> {
        const plan = await this.getPlan(key);
        if (isPlanTerminated(plan)) {
            return;
        }
        plan.failure_date = { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos };
        await this.#save(plan);
    }

    /** IsPlanRunning (§1.8); an unknown plan is NotFound (Decision). */
    async isPlanRunning(key: string): Promise<boolean> {
        const plan = await this.getPlan(key);
        if (isPlanTerminated(plan)) {
            return false;
        }
        const index = taskIndexName(['plan', 'status']);
        for (const group of RUNNING_GROUPS) {
            // One record is enough to know the group is non-empty.
            for await (const _record of this.ctx.store.scan(index, [key, taskStatusName(group.status)])) {
                return group.running;
            }
        }
        return false;
    }

    async #save(plan: orchestrator.ComputePlan): Promise<void> {
        await this.#records.put(plan.key, plan);
    }

    #emit(kind: orchestrator.EventKind, plan: orchestrator.ComputePlan): void {
        this.ctx.events.emit({
            event_kind: kind,
            asset_kind: orchestrator.AssetKind.ASSET_COMPUTE_PLAN,
            asset_key: plan.key,
            compute_plan: orchestrator.ComputePlan.create(plan),
        });
    }
}
