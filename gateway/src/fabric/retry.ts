import { type FailureKind, isRetryable } from '../errors';

/** Bounded, jittered exponential backoff for retried transactions. */
export interface RetryPolicy {
    /** Attempts in all for a peer or chaincode that cannot be reached, the first included (1 disables them). */
    readonly maxAttempts: number;
    /**
     * Unreachable peers and chaincodes (a chaincode process restarting, a peer coming back) are retried until
     * this much time has passed since the first attempt, and at least `maxAttempts` times.
     */
    readonly budgetMs: number;
    /**
     * Attempts in all for a transaction invalidated by a conflict (MVCC or phantom read, or endorsements that
     * differ under AND). Not bounded by `budgetMs`: a conflict is only known once the block is cut, and a
     * budget as short as a block would otherwise never retry one.
     */
    readonly conflictAttempts: number;
    /** Upper bound of the first delay; doubled at each further retry. */
    readonly baseDelayMs: number;
    /** Cap of the delay bound. */
    readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
    maxAttempts: 5,
    budgetMs: 30_000,
    conflictAttempts: 20,
    baseDelayMs: 100,
    maxDelayMs: 2_000,
});

/**
 * Delay before retry number `retry` (1 for the first retry): "full jitter", uniform in
 * [bound / 2, bound] with bound = min(maxDelayMs, baseDelayMs * 2^(retry - 1)).
 */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
    const bound = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
    return Math.round(bound / 2 + (random() * bound) / 2);
}

/** Decide the delay before the next attempt, or undefined to give up (failures that are not {@link isRetryable}). */
export function nextDelay(
    policy: RetryPolicy,
    kind: FailureKind,
    attempt: number,
    elapsedMs: number,
    random: () => number = Math.random,
): number | undefined {
    if (!isRetryable(kind)) {
        return undefined;
    }
    const delay = backoffDelay(policy, attempt, random);
    if (kind === 'conflict') {
        return attempt < policy.conflictAttempts ? delay : undefined;
    }
    const withinBudget = elapsedMs + delay <= policy.budgetMs;
    return attempt < policy.maxAttempts || withinBudget ? delay : undefined;
}
