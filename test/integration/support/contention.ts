// Many writers on one key: `writers` concurrent loops sharing `calls` UpdatePlan calls on a single plan, the worst
// case for MVCC (every transaction reads and writes the same key). Returns what came back, for the tests to judge.

import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { type OrgClient, grpc } from './client';

export interface ContentionResult {
    plan: string;
    ok: number;
    failures: { code: number; details: string }[];
    /** wall time of the whole run */
    ms: number;
}

export async function updateOnePlanConcurrently(
    client: OrgClient,
    options: { writers: number; calls: number },
): Promise<ContentionResult> {
    const plan = randomUUID();
    await client.call('ComputePlanService/RegisterPlan', { key: plan, name: 'contended' });
    let next = 0;
    let ok = 0;
    const failures: ContentionResult['failures'] = [];
    const t0 = Date.now();
    await Promise.all(
        Array.from({ length: options.writers }, async (_, w) => {
            while (next < options.calls) {
                const n = next++;
                try {
                    await client.call('ComputePlanService/UpdatePlan', { key: plan, name: `writer ${w} call ${n}` });
                    ok++;
                } catch (err) {
                    const e = err as grpc.ServiceError;
                    failures.push({ code: e.code, details: e.details });
                }
            }
        }),
    );
    return { plan, ok, failures, ms: Date.now() - t0 };
}

/**
 * Prints the outcome of a contention run, then checks the goal: at least 99 % of the calls succeed, and the others
 * fail with UNAVAILABLE saying they were still conflicting (what a backend retries).
 */
export function expectContentionGoal(r: ContentionResult, label: string, calls: number): void {
    console.log(
        `[contention] ${label}: ${r.ok}/${calls} UpdatePlan calls succeeded in ${r.ms} ms` +
            (r.failures.length ? `; failures: ${JSON.stringify(r.failures.slice(0, 3))}` : ''),
    );
    expect(r.ok).toBeGreaterThanOrEqual(Math.ceil(calls * 0.99));
    for (const f of r.failures) {
        expect(f.code).toBe(grpc.status.UNAVAILABLE);
        expect(f.details).toMatch(/conflicting with concurrent transactions/);
    }
}
