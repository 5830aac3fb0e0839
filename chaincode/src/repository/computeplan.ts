/**
 * Storage of compute plans.
 *
 * Keys:
 * - `computeplan` [key]                                  → ComputePlan (binary protobuf)
 * - `idx~computeplan~all` [creation date, key]           → INDEX_VALUE (QueryPlans without filter)
 * - `idx~computeplan~owner` [owner, creation date, key]  → INDEX_VALUE (QueryPlans by owner)
 *
 * A plan carries no status and no counters: whether it runs is derived from its tasks' status index
 * (ComputeTaskRepository.planHasTaskIn), so task changes never rewrite the plan record.
 */
import { orchestrator } from '@substra-fabric/api';
import type { Complete } from '../service/messages';
import { AssetRecords } from './assets';
import { INDEX_VALUE, lastAttribute, sortableCreation } from './keys';
import { readPage } from './pagination';
import type { Store } from './store';

export const PLAN_KIND = 'computeplan';
const PLAN_INDEX_ALL = 'idx~computeplan~all';
const PLAN_INDEX_OWNER = 'idx~computeplan~owner';

export interface PlanPage {
    readonly plans: orchestrator.ComputePlan[];
    /** Empty when no plan follows. */
    readonly nextPageToken: string;
}

export class ComputePlanRepository {
    readonly #store: Store;
    readonly #records: AssetRecords<orchestrator.ComputePlan>;

    constructor(store: Store) {
        this.#store = store;
        this.#records = new AssetRecords(store, PLAN_KIND, orchestrator.ComputePlan);
    }

    exists(key: string): Promise<boolean> {
        return this.#records.exists(key);
    }

    /** A fresh copy of the plan, or NotFound `computeplan with key "<key>" not found`. */
    get(key: string): Promise<orchestrator.ComputePlan> {
        return this.#records.get(key);
    }

    /** Stores a new plan and its index entries (by creation date, and by owner). */
    async add(plan: orchestrator.ComputePlan): Promise<void> {
        await this.#records.put(plan.key, plan);
        const store = this.#store;
        const created = sortableCreation(plan);
        await store.put(store.compositeKey(PLAN_INDEX_ALL, [created, plan.key]), INDEX_VALUE);
        await store.put(store.compositeKey(PLAN_INDEX_OWNER, [plan.owner, created, plan.key]), INDEX_VALUE);
    }

    /** Stores a changed plan (its indexed fields, owner and creation date, never change). */
    async update(plan: orchestrator.ComputePlan): Promise<void> {
        await this.#records.put(plan.key, plan);
    }

    /** QueryPlans (§1.4): creation date then key, optionally one owner's plans. */
    async query(
        pageToken: string,
        pageSize: number,
        filter: Complete<orchestrator.IPlanQueryFilter> | null,
    ): Promise<PlanPage> {
        const owner = filter?.owner ?? '';
        const [index, attrs] = owner === '' ? [PLAN_INDEX_ALL, []] : [PLAN_INDEX_OWNER, [owner]];
        const page = await readPage(this.#store, index, attrs, pageToken, pageSize);
        const plans: orchestrator.ComputePlan[] = [];
        for (const record of page.records) {
            // A dangling entry is NotFound here, not Internal as in the other queries.
            plans.push(await this.get(lastAttribute(this.#store, record.key)));
        }
        return { plans, nextPageToken: page.nextPageToken };
    }
}
