import type { FailureKind } from './fabric';

/** Bounded, jittered exponential backoff for retried transactions. */
export interface RetryPolicy {
    /** Attempts in all, the first included (1 disables retries). */
    readonly maxAttempts: number;
    /** No new attempt starts once this much time has passed since the first one. */
    readonly budgetMs: number;
    /** Upper bound of the first delay; doubled at each further retry. */
    readonly baseDelayMs: number;
    /** Cap of the delay bound. */
    readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
    maxAttempts: 5,
    budgetMs: 30_000,
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

/**
 * Whether a failure may be retried with a new transaction. Conflicts and unreachable peers left nothing
 * on the ledger; timeouts are ambiguous but retried because registrations are made idempotent by the
 * caller (an "already exists" after a timeout counts as success).
 */
export function isRetryable(kind: FailureKind): boolean {
    return kind === 'conflict' || kind === 'unavailable' || kind === 'timeout';
}

/** Decide the delay before the next attempt, or undefined to give up. */
export function nextDelay(
    policy: RetryPolicy,
    kind: FailureKind,
    attempt: number,
    elapsedMs: number,
    random: () => number = Math.random,
): number | undefined {
    if (!isRetryable(kind) || attempt >= policy.maxAttempts) {
        return undefined;
    }
    const delay = backoffDelay(policy, attempt, random);
    if (elapsedMs + delay > policy.budgetMs) {
        return undefined;
    }
    return delay;
}
