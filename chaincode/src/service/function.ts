/**
 * Functions (behavior-assets §4; build status and tasks: behavior-tasks §3.7).
 *
 * Ledger keys:
 * - `compositeKey('function', [key])` → binary `orchestrator.Function`.
 * - `compositeKey('idx~function~all', [sortableTimestamp(creation_date), key])` → INDEX_VALUE: every function
 *   in QueryFunctions order (creation date, then key). Written once, at registration.
 * - QueryFunctions with `compute_plan_key` reads the compute-task index `idx~computetask~plan_function`
 *   (`[plan, function, creation, task]`, owned by the task service): it jumps from one function key to the
 *   next, so its cost is the number of distinct functions of the plan, not the number of tasks. Those
 *   functions are then ordered by (creation date, key) and paged with decimal-offset tokens.
 */
import { orchestrator } from '@substra-fabric/api';
import { AssetRecords } from './assets';
import { INDEX_VALUE, compareStrings, sortableCreation, sortableTimestamp, sortedEntries } from './codec';
import {
    ErrorCode,
    OrchestrationError,
    TransitionError,
    badRequest,
    conflict,
    notFound,
    permissionDenied,
} from './errors';
import { DEFAULT_PAGE_SIZE, readPage } from './pagination';
import { createPermissions } from './permissions';
import { Service } from './service';
import { Failures, addressable, metadata, name, oneOf, required, uuid, byteLength } from './validation';
import { taskIndexName } from './computetask-keys';
import { parseOffsetToken } from './datasample';

export const FUNCTION_KIND = 'function';
export const FUNCTION_INDEX = 'idx~function~all';

/** Reason of a function transition requested through ApplyFunctionAction (§4.7 rule 2). */
export const USER_ACTION_REASON = 'User action';

const Status = orchestrator.FunctionStatus;
const Action = orchestrator.FunctionAction;
const Kind = orchestrator.AssetKind;

interface Transition {
    readonly name: string;
    readonly from: readonly orchestrator.FunctionStatus[];
    readonly to: orchestrator.FunctionStatus;
}

/** The build state machine (§4.6). READY, CANCELED and FAILED are final. */
const TRANSITIONS: ReadonlyMap<number, Transition> = new Map([
    [
        Action.FUNCTION_ACTION_BUILDING,
        { name: 'transitionBuilding', from: [Status.FUNCTION_STATUS_WAITING], to: Status.FUNCTION_STATUS_BUILDING },
    ],
    [
        Action.FUNCTION_ACTION_READY,
        { name: 'transitionReady', from: [Status.FUNCTION_STATUS_BUILDING], to: Status.FUNCTION_STATUS_READY },
    ],
    [
        Action.FUNCTION_ACTION_CANCELED,
        {
            name: 'transitionCanceled',
            from: [Status.FUNCTION_STATUS_WAITING, Status.FUNCTION_STATUS_BUILDING],
            to: Status.FUNCTION_STATUS_CANCELED,
        },
    ],
    [
        Action.FUNCTION_ACTION_FAILED,
        { name: 'transitionFailed', from: [Status.FUNCTION_STATUS_BUILDING], to: Status.FUNCTION_STATUS_FAILED },
    ],
]);

export function functionStatusName(status: number): string {
    return orchestrator.FunctionStatus[status] ?? String(status);
}

export class FunctionService extends Service {
    readonly #records = new AssetRecords(this.ctx.store, FUNCTION_KIND, orchestrator.Function);

    /** RegisterFunction (§4.1). */
    async registerFunction(input: orchestrator.INewFunction): Promise<orchestrator.Function> {
        validateNewFunction(input);
        const key = input.key ?? '';
        if (await this.#records.exists(key)) {
            throw conflict(FUNCTION_KIND, key);
        }
        const owner = this.ctx.requester;
        const func = orchestrator.Function.create({
            key,
            name: input.name ?? '',
            description: input.description ?? null,
            archive: input.archive ?? null,
            owner,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
            metadata: { ...(input.metadata ?? {}) },
            inputs: { ...(input.inputs ?? {}) },
            outputs: { ...(input.outputs ?? {}) },
            status: Status.FUNCTION_STATUS_WAITING,
            // Present and empty: every later read and event must carry an image.
            image: orchestrator.Addressable.create({ checksum: '', storage_address: '' }),
        });
        func.permissions = await createPermissions(this.services, owner, input.new_permissions);
        const { stored } = await this.#save(func, orchestrator.EventKind.EVENT_ASSET_CREATED);
        const { store } = this.ctx;
        await store.put(store.compositeKey(FUNCTION_INDEX, [sortableTimestamp(this.ctx.timestamp), key]), INDEX_VALUE);
        return stored;
    }

    /** GetFunction (§4.2); also the read helper of the other services: NotFound `function` when absent. */
    getFunction(key: string): Promise<orchestrator.Function> {
        return this.#records.get(key);
    }

    /** The function, or undefined when no function has this key. */
    findFunction(key: string): Promise<orchestrator.Function | undefined> {
        return this.#records.find(key);
    }

    /** QueryFunctions (§4.3): creation date then key; with a plan filter, the functions its tasks use. */
    async queryFunctions(param: orchestrator.IQueryFunctionsParam): Promise<orchestrator.QueryFunctionsResponse> {
        const planKey = param.filter?.compute_plan_key ?? '';
        if (planKey !== '') {
            return this.#queryPlanFunctions(planKey, param.page_token ?? '', param.page_size ?? 0);
        }
        const page = await readPage(this.ctx.store, FUNCTION_INDEX, [], param.page_token ?? '', param.page_size ?? 0);
        return orchestrator.QueryFunctionsResponse.create({
            Functions: await this.#records.loadIndexed(page.records),
            next_page_token: page.nextPageToken,
        });
    }

    /** UpdateFunction (§4.4). */
    async updateFunction(param: orchestrator.IUpdateFunctionParam): Promise<void> {
        const key = param.key ?? '';
        new Failures()
            .field('key', key, required, uuid)
            .field('name', param.name ?? '', name)
            .throwIfAny(FUNCTION_KIND);
        const func = await this.findFunction(key).catch(() => undefined);
        if (func === undefined) {
            throw notFound(FUNCTION_KIND, key);
        }
        if (func.owner !== this.ctx.requester) {
            throw permissionDenied('requester does not own the function');
        }
        func.name = param.name ?? '';
        const image = param.image;
        if (image !== null && image !== undefined && (image.checksum ?? '') !== '') {
            func.image = orchestrator.Addressable.create({
                checksum: image.checksum ?? '',
                storage_address: image.storage_address ?? '',
            });
        }
        if ((func.image?.checksum ?? '') === '' && func.status === Status.FUNCTION_STATUS_READY) {
            throw new OrchestrationError(
                ErrorCode.InvalidAsset,
                'function is not valid: Image checksum should not be empty when function status is ready',
            );
        }
        await this.#save(func, orchestrator.EventKind.EVENT_ASSET_UPDATED);
    }

    /** ApplyFunctionAction (§4.7): the owner moves the build status; the function's tasks follow. */
    async applyFunctionAction(param: orchestrator.IApplyFunctionActionParam): Promise<void> {
        const action = param.action ?? Action.FUNCTION_ACTION_UNKNOWN;
        if (!TRANSITIONS.has(action)) {
            throw badRequest('unsupported action');
        }
        const func = await this.getFunction(param.function_key ?? '');
        if (func.owner !== this.ctx.requester) {
            throw permissionDenied('only function owner can update it');
        }
        await this.#transition(func, action, USER_ACTION_REASON);
    }

    /**
     * Applies a build action for an internal caller that did its own checks (the failure-report path uses
     * FUNCTION_ACTION_FAILED with reason "failure report registered"). Same effects as ApplyFunctionAction:
     * TransitionError when not allowed, otherwise store, UPDATED event with the reason, task propagation.
     */
    async applyFunctionTransition(
        func: orchestrator.Function,
        action: orchestrator.FunctionAction,
        reason: string,
    ): Promise<orchestrator.Function> {
        if (!TRANSITIONS.has(action)) {
            throw badRequest('unsupported action');
        }
        return this.#transition(func, action, reason);
    }

    async #transition(func: orchestrator.Function, action: number, reason: string): Promise<orchestrator.Function> {
        const transition = TRANSITIONS.get(action);
        if (transition === undefined || !transition.from.includes(func.status)) {
            throw new TransitionError(transition?.name ?? 'unknown', functionStatusName(func.status));
        }
        func.status = transition.to;
        const { stored, bytes } = await this.#save(func, orchestrator.EventKind.EVENT_ASSET_UPDATED, { reason });
        await this.services.computeTasks.propagateFunctionStatus(orchestrator.Function.decode(bytes), reason);
        return stored;
    }

    async #queryPlanFunctions(
        planKey: string,
        pageToken: string,
        pageSize: number,
    ): Promise<orchestrator.QueryFunctionsResponse> {
        const offset = parseOffsetToken(pageToken);
        const size = pageSize > 0 ? pageSize : DEFAULT_PAGE_SIZE;
        const { store } = this.ctx;
        const index = taskIndexName(['plan', 'function']);
        const functions: orchestrator.Function[] = [];
        let start = '';
        for (;;) {
            const { records } = await store.page(index, [planKey], 1, start);
            const record = records[0];
            if (record === undefined) {
                break;
            }
            const functionKey = store.splitCompositeKey(record.key).attributes[1] ?? '';
            functions.push(await this.#records.getIndexed(functionKey));
            // Every entry of this function starts with `...<plan>\0<function>\0`: resume just after them.
            start = `${store.compositeKey(index, [planKey, functionKey]).slice(0, -1)}\u0001`;
        }
        functions.sort(compareByCreation);
        const page = functions.slice(offset, offset + size);
        const next = offset + size < functions.length ? String(offset + size) : '';
        return orchestrator.QueryFunctionsResponse.create({ Functions: page, next_page_token: next });
    }

    /**
     * Stores the function and emits its event. Returns the stored copy and its bytes: the event, the caller
     * and the task propagation each get their own decoded copy.
     */
    async #save(
        func: orchestrator.Function,
        eventKind: orchestrator.EventKind,
        meta?: Record<string, string>,
    ): Promise<{ stored: orchestrator.Function; bytes: Uint8Array }> {
        const bytes = await this.#records.put(func.key, func);
        this.ctx.events.emit({
            asset_key: func.key,
            asset_kind: Kind.ASSET_FUNCTION,
            event_kind: eventKind,
            function: orchestrator.Function.decode(bytes),
            metadata: meta ?? {},
        });
        return { stored: orchestrator.Function.decode(bytes), bytes };
    }
}

/** The order of the function index: creation date, then key. */
function compareByCreation(a: orchestrator.IFunction, b: orchestrator.IFunction): number {
    return compareStrings(`${sortableCreation(a)}\u0000${a.key ?? ''}`, `${sortableCreation(b)}\u0000${b.key ?? ''}`);
}

const INPUT_KINDS = [Kind.ASSET_MODEL, Kind.ASSET_DATA_SAMPLE, Kind.ASSET_DATA_MANAGER];
const OUTPUT_KINDS = [Kind.ASSET_MODEL, Kind.ASSET_PERFORMANCE];

/** The rules every input and output follows: a valid identifier and a kind from `kinds`. */
function checkEntry(
    failures: Failures,
    identifier: string,
    kind: orchestrator.AssetKind,
    kinds: readonly orchestrator.AssetKind[],
): void {
    if (identifier === '') {
        failures.add(identifier, 'identifier: cannot be blank');
    } else if (byteLength(identifier) > 100) {
        failures.add(identifier, 'identifier: the length must be between 1 and 100');
    }
    failures.field(identifier, kind, oneOf(kinds));
}

/** Input rules 1-5 of §4.1; undefined when the inputs are valid. */
function inputsFailure(
    inputs: Readonly<Record<string, orchestrator.IFunctionInput>> | null | undefined,
): string | undefined {
    const failures = new Failures();
    let managers = 0;
    let samples = 0;
    for (const [identifier, input] of sortedEntries(inputs)) {
        const kind = input.kind ?? Kind.ASSET_UNKNOWN;
        checkEntry(failures, identifier, kind, INPUT_KINDS);
        if (kind === Kind.ASSET_DATA_MANAGER) {
            managers++;
            if (input.multiple === true || input.optional === true) {
                failures.add(identifier, 'data manager input cannot be multiple or optional');
            }
        } else if (kind === Kind.ASSET_DATA_SAMPLE) {
            samples++;
        }
    }
    if (!failures.isEmpty) {
        return failures.nested();
    }
    if (managers > 1) {
        return 'function can only have one data manager input';
    }
    if ((managers === 1) !== samples > 0) {
        return 'function must have a data manager input if and only if it has a data sample input';
    }
    return undefined;
}

/** Output rules 1-3 of §4.1; undefined when the outputs are valid. */
function outputsFailure(
    outputs: Readonly<Record<string, orchestrator.IFunctionOutput>> | null | undefined,
): string | undefined {
    const failures = new Failures();
    for (const [identifier, output] of sortedEntries(outputs)) {
        const kind = output.kind ?? Kind.ASSET_UNKNOWN;
        checkEntry(failures, identifier, kind, OUTPUT_KINDS);
        if (kind === Kind.ASSET_PERFORMANCE && output.multiple === true) {
            failures.add(identifier, 'performance output cannot be multiple');
        }
    }
    return failures.isEmpty ? undefined : failures.nested();
}

/** The Validate step of RegisterFunction (§4.1): all fields, then InvalidAsset when any failed. */
function validateNewFunction(input: orchestrator.INewFunction): void {
    const failures = new Failures()
        .field('key', input.key ?? '', required, uuid)
        .field('name', input.name ?? '', name)
        .field('description', input.description, required, addressable)
        .field('archive', input.archive, required, addressable)
        .field('metadata', input.metadata, metadata)
        .field('new_permissions', input.new_permissions, required)
        .field('inputs', input.inputs, inputsFailure)
        .field('outputs', input.outputs, outputsFailure);
    failures.throwIfAny(FUNCTION_KIND);
}
