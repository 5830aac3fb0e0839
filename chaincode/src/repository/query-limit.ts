/**
 * The peers' `ledger.state.totalQueryLimit` (core.yaml), as a setting of the chaincode process: the
 * environment variable ORCHESTRATOR_TOTAL_QUERY_LIMIT, which must equal the peers' own setting (Fabric's
 * default, 100000, when unset). A value above the peers' would let scans end early without notice; a value
 * below only costs more range queries. See store.ts for what the store does with it.
 */
export const TOTAL_QUERY_LIMIT_ENV = 'ORCHESTRATOR_TOTAL_QUERY_LIMIT';

/** Fabric's default `ledger.state.totalQueryLimit`. */
export const DEFAULT_TOTAL_QUERY_LIMIT = 100_000;

/**
 * The limit an environment value means: unset or blank is the default; anything else must be an integer
 * of at least 2 (a page needs room for one record and the one that tells where the next page starts).
 */
export function parseTotalQueryLimit(value: string | undefined): number {
    const text = (value ?? '').trim();
    if (text === '') {
        return DEFAULT_TOTAL_QUERY_LIMIT;
    }
    const limit = /^[0-9]{1,15}$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(limit) || limit < 2) {
        throw new Error(`${TOTAL_QUERY_LIMIT_ENV} must be an integer of at least 2, got ${JSON.stringify(value)}`);
    }
    return limit;
}

let processLimit: number | undefined;

/**
 * The limit of this process, read from the environment on first use and kept (throws when the value is
 * invalid; main.ts checks it at startup).
 */
export function processTotalQueryLimit(): number {
    processLimit ??= parseTotalQueryLimit(process.env[TOTAL_QUERY_LIMIT_ENV]);
    return processLimit;
}
