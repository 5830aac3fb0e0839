// Many writers on one key: `writers` concurrent loops sharing `calls` UpdatePlan calls on a single plan, the worst
// case for MVCC (every transaction reads and writes the same key). Returns what came back, for the tests to judge.

import { randomUUID } from 'node:crypto';
import type { OrgClient } from './client';
import type { grpc } from './client';

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
