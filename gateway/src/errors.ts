import { status } from '@grpc/grpc-js';

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

/** An error that a handler reports with a given gRPC status. */
export class StatusError extends Error {
    readonly code: status;

    constructor(code: status, message: string) {
        super(message);
        this.name = 'StatusError';
        this.code = code;
    }
}

/** Header errors of the request checks; the texts are those Substra clients see. */
export const headerErrors = {
    missingMspid: (): string => "OE0003: missing or invalid header 'mspid'",
    missingChannel: (): string => "missing or invalid header 'channel'",
    missingChaincode: (): string => "missing or invalid header 'chaincode'",
    unknownOrganization: (mspid: string): string => `organization "${mspid}" is unknown`,
    noChannelAccess: (mspid: string, channel: string): string =>
        `organization "${mspid}" has not access to channel "${channel}"`,
    unconfiguredChaincode: (channel: string, chaincode: string): string =>
        `chaincode "${chaincode}" is not configured for channel "${channel}"`,
} as const;
