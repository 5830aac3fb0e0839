/**
 * Every failure the gateway reports, and the gRPC status it ends with, decided here:
 *
 * 1. a Fabric failure becomes an {@link InvocationError} whose kind says what happened, by stage
 *    ({@link classifyFabricError} and the stage errors below: size, deadline, unknown outcome, commit);
 * 2. the kind says whether a new transaction may be tried ({@link isRetryable});
 * 3. a final failure becomes a {@link StatusError} ({@link toStatusError}): chaincode texts take the status of
 *    their orchestration code ({@link statusForMessage}), the other kinds a fixed one;
 * 4. on the wire, a handler's {@link StatusError} keeps its code and anything else is UNKNOWN
 *    ({@link toServiceError}); a unary call whose status is UNKNOWN takes the status of the orchestration
 *    code its text holds ({@link unaryStatus}, applied by the error-mapping interceptor: header refusals and
 *    chaincode texts reach clients that way).
 */
import { status } from '@grpc/grpc-js';
import { CommitError, GatewayError, StatusCode } from '@hyperledger/fabric-gateway';
import { orchestrator, type RpcInfo } from '@substra-fabric/api';

// --- orchestration codes -----------------------------------------------------------------------------

/**
 * Orchestration error kinds searched in error texts, in the order of the 0.37.0 distributed gateway:
 * the first code found decides the gRPC status. Kinds absent here stay UNKNOWN.
 */
export const ERROR_CODE_ORDER: readonly (readonly [string, status])[] = Object.freeze([
    ['OE0101', status.INVALID_ARGUMENT],
    ['OE0006', status.ALREADY_EXISTS],
    ['OE0102', status.PERMISSION_DENIED],
    ['OE0002', status.NOT_FOUND],
    ['OE0003', status.FAILED_PRECONDITION],
    ['OE0104', status.INVALID_ARGUMENT],
    ['OE0010', status.UNIMPLEMENTED],
    ['OE0105', status.INVALID_ARGUMENT],
    ['OE0106', status.INVALID_ARGUMENT],
    ['OE0107', status.INVALID_ARGUMENT],
    ['OE0007', status.INTERNAL],
] as const);

/** gRPC status for an error text: the first orchestration code found by substring search, else UNKNOWN. */
export function statusForMessage(message: string): status {
    for (const [code, grpcStatus] of ERROR_CODE_ORDER) {
        if (message.includes(code)) {
            return grpcStatus;
        }
    }
    return status.UNKNOWN;
}

// --- gRPC side -----------------------------------------------------------------------------------------

/** An error that a handler reports with a given gRPC status. */
export class StatusError extends Error {
    readonly code: status;

    constructor(code: status, message: string) {
        super(message);
        this.name = 'StatusError';
        this.code = code;
    }
}

/** What a handler sends for a thrown value: a {@link StatusError} with its code, anything else UNKNOWN. */
export function toServiceError(err: unknown): { code: status; details: string; message: string } {
    if (err instanceof StatusError) {
        return { code: err.code, details: err.message, message: err.message };
    }
    const message = err instanceof Error ? err.message : String(err);
    return { code: status.UNKNOWN, details: message, message };
}

/** The status a unary call ends with: an UNKNOWN one takes the status of the orchestration code in its text. */
export function unaryStatus(code: status, details: string): status {
    return code === status.UNKNOWN ? statusForMessage(details) : code;
}

// --- Fabric side ---------------------------------------------------------------------------------------

/**
 * How an invocation failed:
 * - `chaincode`: the chaincode refused the call (its message usually holds an `OEnnnn` code); never retried;
 * - `conflict`: the transaction was invalidated by MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT; safe to retry
 *   with a new transaction;
 * - `timeout`: the outcome is unknown (deadline or connection lost after the transaction was sent);
 * - `unavailable`: nothing reached the ledger (peer unreachable before endorsement); safe to retry;
 * - `too_large`: the transaction is over the channel's size limit (nothing was ordered; never retried);
 * - `deadline`: endorsement or evaluation did not finish in time (the work is too heavy; never retried);
 * - `other`: anything else (invalid transaction, bad configuration, ...).
 */
export type FailureKind = 'chaincode' | 'conflict' | 'timeout' | 'unavailable' | 'too_large' | 'deadline' | 'other';

/** Sizes of a transaction refused as too large. */
export interface TransactionSize {
    readonly transactionBytes: number;
    readonly limitBytes: number;
}

/** Error thrown by `FabricClient` implementations. */
export class InvocationError extends Error {
    readonly kind: FailureKind;
    readonly transactionId: string | undefined;
    readonly size: TransactionSize | undefined;

    constructor(
        kind: FailureKind,
        message: string,
        options?: { transactionId?: string; cause?: unknown; size?: TransactionSize },
    ) {
        super(message, options?.cause === undefined ? undefined : { cause: options.cause });
        this.name = 'InvocationError';
        this.kind = kind;
        this.transactionId = options?.transactionId;
        this.size = options?.size;
    }
}

/** Wrap any thrown value as an {@link InvocationError} (unknown errors become kind `other`). */
export function asInvocationError(err: unknown): InvocationError {
    if (err instanceof InvocationError) {
        return err;
    }
    return new InvocationError('other', errorText(err), { cause: err });
}

/**
 * Whether a failure may be retried with a new transaction: only when the failed one provably left nothing
 * on the ledger (a conflict invalidated it, or no peer could endorse it). A transaction whose outcome is
 * unknown (`timeout`) is never replaced by a new one: the Fabric client already waited for its status.
 */
export function isRetryable(kind: FailureKind): boolean {
    return kind === 'conflict' || kind === 'unavailable';
}

function errorText(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
}

const MVCC_READ_CONFLICT = 11;
const PHANTOM_READ_CONFLICT = 12;

function isConflictCode(code: number): boolean {
    return code === MVCC_READ_CONFLICT || code === PHANTOM_READ_CONFLICT;
}

/** gRPC codes of a call that did not get through (or whose answer did not come back). */
const TRANSPORT_CODES: readonly number[] = [status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.CANCELLED];

/** Name of a TxValidationCode (fabric-protos' `peer.TxValidationCode`, as fabric-gateway's StatusCode mirrors it). */
function validationCodeName(code: number): string {
    return Object.entries(StatusCode).find(([, value]) => value === code)?.[0] ?? 'UNKNOWN_VALIDATION_CODE';
}

/** The chaincode's own message inside a Fabric error text, when there is one. */
function chaincodeMessage(text: string): string | undefined {
    const match = /chaincode response \d+, ([\s\S]*)$/.exec(text);
    if (match?.[1] !== undefined) {
        return match[1];
    }
    return /OE\d{4}/.test(text) ? text : undefined;
}

/**
 * Endorsement failures that mean the peer could not run the chaincode at all (process down, restarting,
 * stream cut): nothing was endorsed, so the call is safe to retry and is reported as UNAVAILABLE.
 */
const CHAINCODE_UNREACHABLE =
    /could not launch chaincode|error trying to connect to chaincode|chaincode stream terminated|error cannot create connection/;

/**
 * Classify an error of `@hyperledger/fabric-gateway`: chaincode refusals (found in the status message
 * or in any endorser's detail), commit conflicts, and transport failures before (unavailable) or after
 * (timeout: outcome unknown) the transaction was sent for ordering.
 */
export function classifyFabricError(err: unknown): InvocationError {
    if (err instanceof InvocationError) {
        return err;
    }
    if (err instanceof CommitError) {
        const kind = isConflictCode(err.code) ? 'conflict' : 'other';
        return new InvocationError(kind, err.message, { transactionId: err.transactionId, cause: err });
    }
    if (err instanceof GatewayError) {
        const transactionId = (err as Partial<{ transactionId: string }>).transactionId;
        const texts = [...err.details.map((d) => d.message), err.message];
        const text = [err.message, ...err.details.map((d) => `${d.address} (${d.mspId}): ${d.message}`)].join('; ');
        const options = { ...(transactionId ? { transactionId } : {}), cause: err };
        for (const candidate of texts) {
            const message = chaincodeMessage(candidate);
            if (message !== undefined) {
                return new InvocationError('chaincode', message, options);
            }
        }
        // Under AND, peers at different heights endorse different read sets: transient, retried like a conflict.
        if (/MVCC_READ_CONFLICT|PHANTOM_READ_CONFLICT|ProposalResponsePayloads do not match/.test(text)) {
            return new InvocationError('conflict', text, options);
        }
        if (CHAINCODE_UNREACHABLE.test(text)) {
            return new InvocationError('unavailable', text, options);
        }
        const code: number = err.code;
        if (TRANSPORT_CODES.includes(code)) {
            const sent = err.name === 'SubmitError' || err.name === 'CommitStatusError';
            if (!sent && code === (status.DEADLINE_EXCEEDED as number)) {
                // repeating work that did not finish in time would only fail again, later
                return new InvocationError(
                    'deadline',
                    `the peer did not finish executing the call within the gateway's timeout ` +
                        `(ORCHESTRATOR_FABRIC_GATEWAY_TIMEOUT); a smaller request (fewer items per call) may fit: ${text}`,
                    options,
                );
            }
            return new InvocationError(sent ? 'timeout' : 'unavailable', text, options);
        }
        if (/exceeds maximum|message payload is \d+ bytes/.test(text)) {
            return new InvocationError(
                'too_large',
                `the orderer refused the transaction as too large: ${text}`,
                options,
            );
        }
        return new InvocationError('other', text, options);
    }
    return new InvocationError('other', errorText(err), { cause: err });
}

/** A peer that cannot be reached at all (no peer-side details): another peer may take the same call. */
export function isPeerUnreachable(err: unknown): err is GatewayError {
    return err instanceof GatewayError && err.code === (status.UNAVAILABLE as number) && !err.details.length;
}

/**
 * Whether a failed submit of an endorsed transaction may send the same transaction again: the peer or the
 * orderer was unreachable or not ready (no Raft leader yet). A refusal for the transaction itself (too
 * large, bad signature) is final.
 */
export function submitMayRepeat(err: unknown): boolean {
    if (!(err instanceof GatewayError)) {
        return false;
    }
    const text = [err.message, ...err.details.map((d) => d.message)].join('; ');
    if (/BAD_REQUEST|FORBIDDEN|exceeds|too large/i.test(text)) {
        return false;
    }
    return TRANSPORT_CODES.includes(err.code) || /SERVICE_UNAVAILABLE|NOT_FOUND/.test(text);
}

/** A submit refused for the transaction itself (see {@link submitMayRepeat}): nothing was ordered, never `timeout`. */
export function submitRefused(err: unknown, transactionId: string): InvocationError {
    const failure = classifyFabricError(err);
    return failure.kind === 'timeout'
        ? new InvocationError('other', failure.message, { transactionId, cause: err })
        : failure;
}

/** An endorsed transaction over the channel's limit, refused before ordering. */
export function transactionTooLarge(transactionId: string, size: TransactionSize): InvocationError {
    return new InvocationError(
        'too_large',
        `the transaction is ${size.transactionBytes} bytes, over the channel's limit of ${size.limitBytes} bytes ` +
            '(orderer BatchSize.AbsoluteMaxBytes)',
        { transactionId, size },
    );
}

/**
 * A transaction whose outcome stayed unknown for `waitMs`: it could not be handed to the orderer
 * (`submit`), or its commit status did not come (`commit`). It may still commit: never resubmitted.
 */
export function outcomeUnknown(
    stage: 'submit' | 'commit',
    transactionId: string,
    waitMs: number,
    err: unknown,
): InvocationError {
    const message =
        stage === 'submit'
            ? `transaction ${transactionId} could not be handed to the orderer in ${waitMs} ms ` +
              `(${errorText(err)}); it may still commit`
            : `transaction ${transactionId} was sent for ordering, but whether it committed is not known ` +
              `after ${waitMs} ms (${errorText(err)}); ` +
              'it may still commit';
    return new InvocationError('timeout', message, { transactionId, cause: err });
}

/** A transaction invalidated at commit with validation code `code`: a conflict (retried) or final. */
export function invalidatedAtCommit(transactionId: string, code: number): InvocationError {
    return new InvocationError(
        isConflictCode(code) ? 'conflict' : 'other',
        `transaction ${transactionId} was invalidated at commit with status ${validationCodeName(code)} (${code})`,
        { transactionId },
    );
}

/** Whether a failed qscc lookup of a transaction means the ledger does not hold it. */
export function isUnknownTransaction(failure: InvocationError): boolean {
    return failure.kind === 'chaincode' || /not found|no such transaction/i.test(failure.message);
}

// --- final failures ------------------------------------------------------------------------------------

/** Items per call of the batch RPCs, read from their request. */
const BATCH_ITEMS: Readonly<Record<string, { noun: string; count(request: Uint8Array): number }>> = {
    RegisterTasks: { noun: 'tasks', count: (r) => orchestrator.RegisterTasksParam.decode(r).tasks.length },
    RegisterDataSamples: {
        noun: 'data samples',
        count: (r) => orchestrator.RegisterDataSamplesParam.decode(r).samples.length,
    },
    RegisterModels: { noun: 'models', count: (r) => orchestrator.RegisterModelsParam.decode(r).models.length },
};

/** For a batch too large for one transaction: how many items per call would fit (with a 10 % margin). */
export function batchHint(rpc: RpcInfo, request: Uint8Array, failure: InvocationError): string {
    const batch = BATCH_ITEMS[rpc.method];
    if (failure.kind !== 'too_large' || !batch || !failure.size) {
        return '';
    }
    const count = batch.count(request);
    if (count <= 1) {
        return '';
    }
    const perItem = failure.size.transactionBytes / count;
    const safe = Math.max(1, Math.floor((failure.size.limitBytes * 0.9) / perItem));
    return `; this ${rpc.method} of ${count} ${batch.noun} takes about ${Math.round(perItem)} bytes per item: send at most ${safe} ${batch.noun} per call`;
}

/**
 * gRPC status of a final failure: chaincode messages by their orchestration code (UNKNOWN when none),
 * conflicts still unresolved, unreachable peers and unknown outcomes UNAVAILABLE, transactions over the
 * channel's size limit RESOURCE_EXHAUSTED, work that did not finish in time DEADLINE_EXCEEDED, everything
 * else UNKNOWN.
 */
export function toStatusError(failure: InvocationError, attempts = 1, hint = ''): StatusError {
    switch (failure.kind) {
        case 'too_large':
            return new StatusError(status.RESOURCE_EXHAUSTED, failure.message + hint);
        case 'deadline':
            return new StatusError(status.DEADLINE_EXCEEDED, failure.message);
        case 'chaincode':
            return new StatusError(statusForMessage(failure.message), failure.message);
        case 'conflict':
            // transient by nature: UNAVAILABLE is what the Substra backend retries (with a growing delay)
            return new StatusError(
                status.UNAVAILABLE,
                `still conflicting with concurrent transactions after ${attempts} attempts: ${failure.message}`,
            );
        case 'unavailable':
        case 'timeout':
            return new StatusError(status.UNAVAILABLE, failure.message);
        default:
            return new StatusError(status.UNKNOWN, failure.message);
    }
}
