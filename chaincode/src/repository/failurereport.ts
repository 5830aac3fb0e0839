/**
 * Storage of failure reports.
 *
 * Keys:
 * - `failurereport` [asset key] → FailureReport (binary protobuf), the key of the failed task or function: one
 *   report per asset. No index.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import type { Store } from './store';

export const FAILURE_REPORT_KIND = 'failurereport';

export class FailureReportRepository {
    readonly #records: AssetRecords<orchestrator.FailureReport>;

    constructor(store: Store) {
        this.#records = new AssetRecords(store, FAILURE_REPORT_KIND, orchestrator.FailureReport);
    }

    exists(assetKey: string): Promise<boolean> {
        return this.#records.exists(assetKey);
    }

    /** The report, or NotFound `<resource> with key "<assetKey>" not found`. */
    get(assetKey: string, resource: string): Promise<orchestrator.FailureReport> {
        return this.#records.get(assetKey, resource);
    }

    /** Stores a new report; returns the stored bytes. */
    add(report: orchestrator.FailureReport): Promise<Uint8Array> {
        return this.#records.put(report.asset_key, report);
    }
}
