import type { Metadata } from '@grpc/grpc-js';

/** Health and reflection answer without the orchestrator headers (probes and tools send none). */
export function isInfrastructureMethod(path: string): boolean {
    return path.startsWith('/grpc.health.') || path.startsWith('/grpc.reflection.');
}

/**
 * The value of a header sent exactly once (possibly empty, as in Substra, which only counts values),
 * else undefined. HTTP/2 may fold repeated headers into one comma-separated value, so a comma also
 * counts as a repetition (MSP ids, channel and chaincode names never contain one).
 */
export function singleHeader(metadata: Metadata, key: string): string | undefined {
    const values = metadata.get(key);
    const [value] = values;
    return values.length === 1 && typeof value === 'string' && !value.includes(',') ? value : undefined;
}

/** Who calls, on which channel and chaincode. */
export interface CallTarget {
    readonly mspid: string;
    readonly channel: string;
    readonly chaincode: string;
}

/** The target of a call whose headers the header interceptor accepted (and completed with the chaincode). */
export function callTarget(metadata: Metadata): CallTarget {
    return {
        mspid: singleHeader(metadata, 'mspid') ?? '',
        channel: singleHeader(metadata, 'channel') ?? '',
        chaincode: singleHeader(metadata, 'chaincode') ?? '',
    };
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
