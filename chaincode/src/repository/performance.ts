/**
 * Storage of performances.
 *
 * A performance has no key field: its key is `<compute_task_key>|<compute_task_output_identifier>` (§9), so a
 * task output holds at most one performance.
 *
 * Keys (`<ts>` = creation date, `<desc>` = descendingTaskKey(compute_task_key), `<perf>` = the performance key):
 * - `performance` [<perf>] → Performance (binary protobuf).
 * - `idx~performance~all` [<ts>, <desc>, <perf>] → INDEX_VALUE: the listing without filter.
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
import { INDEX_VALUE, sortableCreation } from './keys';
import { invalidPageToken, readPage } from './pagination';
import type { Store } from './store';

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

/** QueryPerformances filters; '' = no filter on that field. */
export interface PerformanceFilter {
    readonly taskKey: string;
    readonly identifier: string;
}

export interface PerformancePage {
    readonly performances: orchestrator.Performance[];
    /** Empty when no performance follows. */
    readonly nextPageToken: string;
}

export class PerformanceRepository {
    readonly #store: Store;
    readonly #records: AssetRecords<orchestrator.Performance>;

    constructor(store: Store) {
        this.#store = store;
        this.#records = new AssetRecords(store, PERFORMANCE_KIND, orchestrator.Performance);
    }

    exists(key: string): Promise<boolean> {
        return this.#records.exists(key);
    }

    /** Stores a new performance and its three index entries; returns the stored bytes. */
    async add(performance: orchestrator.Performance): Promise<Uint8Array> {
        const taskKey = performance.compute_task_key;
        const identifier = performance.compute_task_output_identifier;
        const key = performanceKey(taskKey, identifier);
        const bytes = await this.#records.put(key, performance);
        const store = this.#store;
        const created = sortableCreation(performance);
        const descending = descendingTaskKey(taskKey);
        await store.put(store.compositeKey(PERFORMANCE_INDEX_ALL, [created, descending, key]), INDEX_VALUE);
        await store.put(store.compositeKey(PERFORMANCE_INDEX_TASK, [taskKey, created, key]), INDEX_VALUE);
        await store.put(
            store.compositeKey(PERFORMANCE_INDEX_IDENTIFIER, [identifier, created, descending, key]),
            INDEX_VALUE,
        );
        return bytes;
    }

    /** One page of the performances that match every non-empty filter field, in the §1.8 order. */
    async page(filter: PerformanceFilter, pageToken: string, pageSize: number): Promise<PerformancePage> {
        const { taskKey, identifier } = filter;
        if (taskKey !== '' && identifier !== '') {
            return this.#one(performanceKey(taskKey, identifier), pageToken);
        }
        const [index, attributes] =
            taskKey !== ''
                ? [PERFORMANCE_INDEX_TASK, [taskKey]]
                : identifier !== ''
                  ? [PERFORMANCE_INDEX_IDENTIFIER, [identifier]]
                  : [PERFORMANCE_INDEX_ALL, []];
        const page = await readPage(this.#store, index, attributes, pageToken, pageSize);
        return { performances: await this.#records.loadIndexed(page.records), nextPageToken: page.nextPageToken };
    }

    /** Both filters: zero or one result, never a next page, so no token can be valid. */
    async #one(key: string, pageToken: string): Promise<PerformancePage> {
        if (pageToken !== '') {
            throw invalidPageToken(pageToken);
        }
        const performance = await this.#records.find(key);
        return { performances: performance === undefined ? [] : [performance], nextPageToken: '' };
    }
}
