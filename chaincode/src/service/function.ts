/**
 * Functions (behavior-assets §4; build status and tasks: behavior-tasks §3.7). Storage: repository/function.ts.
 */
import { orchestrator } from '@substra-fabric/api';
import { FUNCTION_KIND, FunctionRepository } from '../repository/function';
import { sortedEntries } from './codec';
import {
    ErrorCode,
    OrchestrationError,
    TransitionError,
    badRequest,
    conflict,
    notFound,
    permissionDenied,
} from './errors';
import type { Complete } from './messages';
import { createPermissions } from './permissions';
import { Service } from './service';
import { Failures, addressable, metadata, name, oneOf, required, uuid, byteLength } from './validation';

export { FUNCTION_INDEX, FUNCTION_KIND } from '../repository/function';

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
    readonly #repository = new FunctionRepository(this.ctx.store);

    /** RegisterFunction (§4.1). */
    async registerFunction(input: Complete<orchestrator.INewFunction>): Promise<orchestrator.Function> {
        validateNewFunction(input);
        const key = input.key;
        if (await this.#repository.exists(key)) {
            throw conflict(FUNCTION_KIND, key);
        }
        const owner = this.ctx.requester;
        const func = orchestrator.Function.create({
            key,
            name: input.name,
            description: input.description,
            archive: input.archive,
            owner,
            creation_date: { seconds: this.ctx.timestamp.seconds, nanos: this.ctx.timestamp.nanos },
            metadata: { ...input.metadata },
            inputs: { ...input.inputs },
            outputs: { ...input.outputs },
            status: Status.FUNCTION_STATUS_WAITING,
            // Present and empty: every later read and event must carry an image.
            image: orchestrator.Addressable.create({ checksum: '', storage_address: '' }),
        });
        func.permissions = await createPermissions(this.services, owner, input.new_permissions);
        const bytes = await this.#repository.add(func);
        this.#emit(bytes, orchestrator.EventKind.EVENT_ASSET_CREATED);
        return orchestrator.Function.decode(bytes);
    }

    /** GetFunction (§4.2); also the read helper of the other services: NotFound `function` when absent. */
    getFunction(key: string): Promise<orchestrator.Function> {
        return this.#repository.get(key);
    }

    /** The function, or undefined when no function has this key. */
    findFunction(key: string): Promise<orchestrator.Function | undefined> {
        return this.#repository.find(key);
    }

    /** QueryFunctions (§4.3): creation date then key; with a plan filter, the functions its tasks use. */
    async queryFunctions(
        param: Complete<orchestrator.IQueryFunctionsParam>,
    ): Promise<orchestrator.QueryFunctionsResponse> {
        const planKey = param.filter?.compute_plan_key ?? '';
        const page =
            planKey === ''
                ? await this.#repository.page(param.page_token, param.page_size)
                : await this.#repository.pageOfPlan(planKey, param.page_token, param.page_size);
        return orchestrator.QueryFunctionsResponse.create({
            Functions: page.functions,
            next_page_token: page.nextPageToken,
        });
    }

    /** UpdateFunction (§4.4). */
    async updateFunction(param: Complete<orchestrator.IUpdateFunctionParam>): Promise<void> {
        const key = param.key;
        new Failures().field('key', key, required, uuid).field('name', param.name, name).throwIfAny(FUNCTION_KIND);
        const func = await this.findFunction(key).catch(() => undefined);
        if (func === undefined) {
            throw notFound(FUNCTION_KIND, key);
        }
        if (func.owner !== this.ctx.requester) {
            throw permissionDenied('requester does not own the function');
        }
        func.name = param.name;
        const image = param.image;
        if (image != null && image.checksum !== '') {
            func.image = orchestrator.Addressable.create({
                checksum: image.checksum,
                storage_address: image.storage_address,
            });
        }
        if ((func.image?.checksum ?? '') === '' && func.status === Status.FUNCTION_STATUS_READY) {
            throw new OrchestrationError(
                ErrorCode.InvalidAsset,
                'function is not valid: Image checksum should not be empty when function status is ready',
            );
        }
        this.#emit(await this.#repository.update(func), orchestrator.EventKind.EVENT_ASSET_UPDATED);
    }

    /** ApplyFunctionAction (§4.7): the owner moves the build status; the function's tasks follow. */
    async applyFunctionAction(param: Complete<orchestrator.IApplyFunctionActionParam>): Promise<void> {
        if (!TRANSITIONS.has(param.action)) {
            throw badRequest('unsupported action');
        }
        const func = await this.getFunction(param.function_key);
        if (func.owner !== this.ctx.requester) {
            throw permissionDenied('only function owner can update it');
        }
        await this.#transition(func, param.action, USER_ACTION_REASON);
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
        const bytes = await this.#repository.update(func);
        this.#emit(bytes, orchestrator.EventKind.EVENT_ASSET_UPDATED, { reason });
        await this.services.computeTasks.propagateFunctionStatus(orchestrator.Function.decode(bytes), reason);
        return orchestrator.Function.decode(bytes);
    }

    /** Emits the event of a function from its stored bytes (the event gets its own copy). */
    #emit(bytes: Uint8Array, eventKind: orchestrator.EventKind, meta?: Record<string, string>): void {
        const func = orchestrator.Function.decode(bytes);
        this.ctx.events.emit({
            asset_key: func.key,
            asset_kind: Kind.ASSET_FUNCTION,
            event_kind: eventKind,
            function: func,
            metadata: meta ?? {},
        });
    }
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
function inputsFailure(inputs: Readonly<Record<string, Complete<orchestrator.IFunctionInput>>>): string | undefined {
    const failures = new Failures();
    let managers = 0;
    let samples = 0;
    for (const [identifier, input] of sortedEntries(inputs)) {
        const kind = input.kind;
        checkEntry(failures, identifier, kind, INPUT_KINDS);
        if (kind === Kind.ASSET_DATA_MANAGER) {
            managers++;
            if (input.multiple || input.optional) {
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
function outputsFailure(outputs: Readonly<Record<string, Complete<orchestrator.IFunctionOutput>>>): string | undefined {
    const failures = new Failures();
    for (const [identifier, output] of sortedEntries(outputs)) {
        const kind = output.kind;
        checkEntry(failures, identifier, kind, OUTPUT_KINDS);
        if (kind === Kind.ASSET_PERFORMANCE && output.multiple) {
            failures.add(identifier, 'performance output cannot be multiple');
        }
    }
    return failures.isEmpty ? undefined : failures.nested();
}

/** The Validate step of RegisterFunction (§4.1): all fields, then InvalidAsset when any failed. */
function validateNewFunction(input: Complete<orchestrator.INewFunction>): void {
    const failures = new Failures()
        .field('key', input.key, required, uuid)
        .field('name', input.name, name)
        .field('description', input.description, required, addressable)
        .field('archive', input.archive, required, addressable)
        .field('metadata', input.metadata, metadata)
        .field('new_permissions', input.new_permissions, required)
        .field('inputs', input.inputs, inputsFailure)
        .field('outputs', input.outputs, outputsFailure);
    failures.throwIfAny(FUNCTION_KIND);
}
