import { compareStrings } from './codec';

/**
 * Orchestration errors. Every message starts with its `OEnnnn:` code: the code is the only part of an
 * error that crosses the chaincode boundary, and the gateway maps it to a gRPC status (api.md §8).
 */
export enum ErrorCode {
    ByteArray = 'OE0001',
    NotFound = 'OE0002',
    BadRequest = 'OE0003',
    Conflict = 'OE0006',
    Internal = 'OE0007',
    Unimplemented = 'OE0010',
    InvalidAsset = 'OE0101',
    PermissionDenied = 'OE0102',
    IncompatibleTaskStatus = 'OE0104',
    CannotDisableModel = 'OE0105',
    MissingTaskOutput = 'OE0106',
    IncompatibleKind = 'OE0107',
    CannotDisableOutput = 'OE0108',
    TerminatedComputePlan = 'OE0109',
    TerminatedComputeTask = 'OE0110',
}

export class OrchestrationError extends Error {
    readonly code: ErrorCode;

    constructor(code: ErrorCode, detail: string, cause?: Error) {
        super(cause ? `${code}: ${detail}: ${cause.message}` : `${code}: ${detail}`);
        this.name = 'OrchestrationError';
        this.code = code;
    }
}

/**
 * A refused state-machine transition. Deliberately carries no OE code: the reference returns it as a plain
 * error (gRPC UNKNOWN) and the Substra backend matches its text, e.g.
 * `event transitionDone inappropriate in current state STATUS_DONE`.
 */
export class TransitionError extends Error {
    constructor(transition: string, currentState: string) {
        super(`event ${transition} inappropriate in current state ${currentState}`);
        this.name = 'TransitionError';
    }
}

export function notFound(resource: string, key: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.NotFound, `${resource} with key "${key}" not found`);
}

export function conflict(resource: string, key: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.Conflict, `${resource} with key "${key}" already exists`);
}

export function badRequest(detail: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.BadRequest, detail);
}

export function permissionDenied(detail: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.PermissionDenied, detail);
}

export function internalError(detail: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.Internal, detail);
}

export function unimplemented(detail: string): OrchestrationError {
    return new OrchestrationError(ErrorCode.Unimplemented, detail);
}

/** `OE0101: <kind> is not valid: <field>: <reason>; <field>: <reason>.` with fields sorted by name. */
export function invalidAsset(kind: string, failures: ReadonlyMap<string, string>): OrchestrationError {
    return new OrchestrationError(ErrorCode.InvalidAsset, `${kind} is not valid: ${formatFailures(failures)}`);
}

/** `a: x; b: y.` with fields in byte-wise name order. */
export function formatFailures(failures: ReadonlyMap<string, string>): string {
    const parts = [...failures.entries()]
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([field, reason]) => `${field}: ${reason}`);
    return `${parts.join('; ')}.`;
}
