/**
 * Profiling steps (behavior-assets §11).
 *
 * Ledger keys: none. A profiling step is not stored: the event it emits is its only trace.
 */
import { orchestrator } from '@substra-fabric/api';
import type { Complete } from './messages';
import { Service } from './service';
import { Failures, name, required, uuid } from './validation';

export const PROFILING_STEP_KIND = 'profiling_step';

export class ProfilingService extends Service {
    /**
     * RegisterProfilingStep (§11): validate, then emit `ASSET_PROFILING_STEP` / `EVENT_ASSET_CREATED` with the
     * step as received. Neither the asset key's existence nor the requester is checked.
     */
    registerProfilingStep(step: Complete<orchestrator.IProfilingStep>): Promise<void> {
        new Failures()
            .field('asset_key', step.asset_key, required, uuid)
            .field('step', step.step, name)
            .field('duration', step.duration, required)
            .throwIfAny(PROFILING_STEP_KIND);
        const received = orchestrator.ProfilingStep.create({
            duration: step.duration,
            asset_key: step.asset_key,
            step: step.step,
        });
        this.ctx.events.emit({
            asset_key: received.asset_key,
            asset_kind: orchestrator.AssetKind.ASSET_PROFILING_STEP,
            event_kind: orchestrator.EventKind.EVENT_ASSET_CREATED,
            profiling_step: received,
        });
        return Promise.resolve();
    }
}
