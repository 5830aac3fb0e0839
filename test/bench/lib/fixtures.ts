/**
 * Requests of the benchmark as the contract layer hands them to services (complete decoded messages, see
 * `complete`), usable at the service layer and, encoded, as RPC arguments. Keys are canonical UUIDs derived from a group and a number, so every
 * scenario registers fresh assets on a shared ledger.
 */
import { orchestrator } from '@substra-fabric/api';
import type { Complete } from '../../../chaincode/src/service/messages';
import { complete } from '../../../chaincode/test/support/messages';

export { complete };

export const ORG1 = 'MyOrg1MSP';
export const ORG2 = 'MyOrg2MSP';

const K = orchestrator.AssetKind;

/** uuid(0xa, 3) = 0000000a-0000-4000-8000-000000000003 */
export function uuid(group: number, n = 0): string {
    return `${group.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** Allocates key groups so that scenarios never collide. */
export class KeySpace {
    #next: number;

    constructor(start = 0x100) {
        this.#next = start;
    }

    group(): number {
        return this.#next++;
    }
}

export const ADDRESS: orchestrator.IAddressable = {
    checksum: 'c'.repeat(64),
    storage_address: 'https://org1.example/api/file/',
};

/** A training function: opener + data samples + optional parent model → model (the common Substra shape). */
export function trainFunction(key: string): Complete<orchestrator.INewFunction> {
    return complete(orchestrator.NewFunction, {
        key,
        name: 'train',
        description: ADDRESS,
        archive: ADDRESS,
        new_permissions: { public: true, authorized_ids: [] },
        metadata: { framework: 'bench' },
        inputs: {
            opener: { kind: K.ASSET_DATA_MANAGER },
            datasamples: { kind: K.ASSET_DATA_SAMPLE, multiple: true },
            model: { kind: K.ASSET_MODEL, optional: true },
        },
        outputs: { model: { kind: K.ASSET_MODEL } },
    });
}

export function dataManager(key: string): Complete<orchestrator.INewDataManager> {
    return complete(orchestrator.NewDataManager, {
        key,
        name: 'bench manager',
        description: ADDRESS,
        opener: ADDRESS,
        type: 'csv',
        new_permissions: { public: true, authorized_ids: [] },
        logs_permission: { public: false, authorized_ids: [ORG2] },
        metadata: { origin: 'bench' },
    });
}

export function dataSamples(
    keys: readonly string[],
    managerKey: string,
): Complete<orchestrator.IRegisterDataSamplesParam> {
    return complete(orchestrator.RegisterDataSamplesParam, {
        samples: keys.map((key) => ({ key, data_manager_keys: [managerKey], checksum: 'd'.repeat(64) })),
    });
}

export function plan(key: string): Complete<orchestrator.INewComputePlan> {
    return complete(orchestrator.NewComputePlan, {
        key,
        name: `bench plan ${key.slice(-4)}`,
        metadata: { bench: 'yes' },
    });
}

export interface TaskRefs {
    readonly plan: string;
    readonly fn: string;
    readonly dm: string;
    readonly ds: string;
}

/** A train task on (dm, ds), optionally with the model of a parent as its `model` input. */
export function trainTask(key: string, refs: TaskRefs, parent?: string): Complete<orchestrator.INewComputeTask> {
    const inputs: orchestrator.IComputeTaskInput[] = [
        { identifier: 'opener', asset_key: refs.dm },
        { identifier: 'datasamples', asset_key: refs.ds },
    ];
    if (parent !== undefined) {
        inputs.push({
            identifier: 'model',
            parent_task_output: { parent_task_key: parent, output_identifier: 'model' },
        });
    }
    return complete(orchestrator.NewComputeTask, {
        key,
        function_key: refs.fn,
        compute_plan_key: refs.plan,
        inputs,
        outputs: { model: { permissions: { public: false, authorized_ids: [ORG1] }, transient: false } },
        metadata: { round: key.slice(-4) },
    });
}

export type Shape = 'chain' | 'fanout' | 'independent';

/**
 * `n` tasks of group `group`: a chain (task i trains on the model of task i-1), a fan-out (one root, n-1 children
 * of it) or independent tasks (no parent).
 */
export function tasks(
    shape: Shape,
    n: number,
    group: number,
    refs: TaskRefs,
): Complete<orchestrator.INewComputeTask>[] {
    const out: Complete<orchestrator.INewComputeTask>[] = [];
    for (let i = 0; i < n; i++) {
        const parent =
            shape === 'chain'
                ? i > 0
                    ? uuid(group, i - 1)
                    : undefined
                : shape === 'fanout' && i > 0
                  ? uuid(group, 0)
                  : undefined;
        out.push(trainTask(uuid(group, i), refs, parent));
    }
    return out;
}
