/**
 * Compute plans (behavior-tasks §1). Storage: repository/computeplan.ts.
 *
 * A plan carries no status and no counters: IsPlanRunning is derived from the statuses of its tasks, so task
 * changes never rewrite the plan record. The plan is only rewritten by UpdatePlan, ApplyPlanAction and the
 * first failure of one of its tasks.
 */
import { type google, orchestrator } from '@substra-fabric/api';
import { ComputePlanRepository, PLAN_KIND } from '../repository/computeplan';
import { taskRepository } from '../repository/computetask';
import { ErrorCode, OrchestrationError, conflict, notFound, permissionDenied, unimplemented } from './errors';
import type { Complete } from './messages';
import { Service } from './service';
import { Failures, length, metadata, name, required, uuid } from './validation';

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
    readonly #plans = new ComputePlanRepository(this.ctx.store);

    /** RegisterPlan (§1.2). */
    async registerPlan(input: Complete<orchestrator.INewComputePlan>): Promise<orchestrator.ComputePlan> {
        new Failures()
            .field('key', input.key, required, uuid)
            .field('tag', input.tag, length(0, 100))
            .field('name', input.name, name)
            .field('metadata', input.metadata, metadata)
            .throwIfAny(PLAN_KIND);

        if (await this.#plans.exists(input.key)) {
            throw conflict(PLAN_KIND, input.key);
        }
        const plan = orchestrator.ComputePlan.create({
            key: input.key,
            owner: this.ctx.requester,
            creation_date: this.#now(),
            tag: input.tag,
            name: input.name,
            metadata: { ...input.metadata },
        });
        await this.#plans.add(plan);
        this.#emit(orchestrator.EventKind.EVENT_ASSET_CREATED, plan);
        return plan;
    }

    /** GetPlan (§1.3): no key validation, a malformed key is simply not found. */
    getPlan(key: string): Promise<orchestrator.ComputePlan> {
        return this.#plans.get(key);
    }

    /** QueryPlans (§1.4): creation date then key, optional owner filter. */
    async queryPlans(param: Complete<orchestrator.IQueryPlansParam>): Promise<orchestrator.QueryPlansResponse> {
        const page = await this.#plans.query(param.page_token, param.page_size, param.filter);
        return orchestrator.QueryPlansResponse.create({ plans: page.plans, next_page_token: page.nextPageToken });
    }

    /** UpdatePlan (§1.5): only the name changes; allowed on terminated plans. */
    async updatePlan(
        param: Complete<orchestrator.IUpdateComputePlanParam>,
    ): Promise<orchestrator.UpdateComputePlanResponse> {
        new Failures().field('key', param.key, required, uuid).field('name', param.name, name).throwIfAny(PLAN_KIND);

        let plan: orchestrator.ComputePlan;
        try {
            plan = await this.getPlan(param.key);
        } catch {
            throw notFound(PLAN_KIND, param.key);
        }
        if (plan.owner !== this.ctx.requester) {
            throw permissionDenied('requester does not own the compute plan');
        }
        plan.name = param.name;
        await this.#plans.update(plan);
        this.#emit(orchestrator.EventKind.EVENT_ASSET_UPDATED, plan);
        return orchestrator.UpdateComputePlanResponse.create();
    }

    /** ApplyPlanAction (§1.6). Cancelling a plan does not touch its tasks. */
    async applyPlanAction(
        param: Complete<orchestrator.IApplyPlanActionParam>,
    ): Promise<orchestrator.ApplyPlanActionResponse> {
        const plan = await this.getPlan(param.key);
        if (plan.owner !== this.ctx.requester) {
            throw permissionDenied('only plan owner can act on it');
        }
        if (param.action !== orchestrator.ComputePlanAction.PLAN_ACTION_CANCELED) {
            throw unimplemented('plan action unimplemented');
        }
        if (isPlanTerminated(plan)) {
            throw new OrchestrationError(
                ErrorCode.TerminatedComputePlan,
                `compute plan ${param.key} is already terminated`,
            );
        }
        plan.cancelation_date = this.#now();
        await this.#plans.update(plan);
        this.#emit(orchestrator.EventKind.EVENT_ASSET_UPDATED, plan);
        return orchestrator.ApplyPlanActionResponse.create();
    }

    /**
     * Plan failure (§1.7), run after a task reached FAILED through a transition: the first failure sets
     * `failure_date`; a terminated plan is left alone. No event. Reads see this transaction's writes, so a
     * second failing task of the same transaction finds the plan already terminated.
     */
    async failPlan(key: string): Promise<void> {
        const plan = await this.getPlan(key);
        if (isPlanTerminated(plan)) {
            return;
        }
        plan.failure_date = this.#now();
        await this.#plans.update(plan);
    }

    /** IsPlanRunning (§1.8); an unknown plan is NotFound (Decision). */
    async isPlanRunning(key: string): Promise<boolean> {
        const plan = await this.getPlan(key);
        if (isPlanTerminated(plan)) {
            return false;
        }
        const tasks = taskRepository(this.ctx.store);
        for (const group of RUNNING_GROUPS) {
            if (await tasks.planHasTaskIn(key, group.status)) {
                return group.running;
            }
        }
        return false;
    }

    #now(): google.protobuf.ITimestamp {
        return { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos };
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
