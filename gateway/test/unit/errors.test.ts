import { ServiceError, status, Metadata } from '@grpc/grpc-js';
import { CommitError, EndorseError, GatewayError } from '@hyperledger/fabric-gateway';
import { describe, expect, it } from 'vitest';
import {
    ERROR_CODE_ORDER,
    InvocationError,
    classifyFabricError,
    statusForMessage,
    toStatusError,
} from '../../src/errors';
import { blockNumberOf } from '../../src/fabric/blocks';

function serviceError(code: status, details: string): ServiceError {
    return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

describe('orchestration error codes to gRPC status', () => {
    it.each([
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
    ])('%s maps to %i', (code, expected) => {
        expect(statusForMessage(`${code}: something`)).toBe(expected);
        // found anywhere in the text, as in wrapped Fabric messages
        expect(statusForMessage(`chaincode response 500, ${code}: something`)).toBe(expected);
    });

    it.each(['OE0001', 'OE0108', 'OE0109', 'OE0110', 'no code at all', ''])('%s stays UNKNOWN', (text) => {
        expect(statusForMessage(`${text}: details`)).toBe(status.UNKNOWN);
    });

    it('searches the codes in the fixed order', () => {
        expect(ERROR_CODE_ORDER.map(([code]) => code)).toEqual([
            'OE0101',
            'OE0006',
            'OE0102',
            'OE0002',
            'OE0003',
            'OE0104',
            'OE0010',
            'OE0105',
            'OE0106',
            'OE0107',
            'OE0007',
        ]);
        // OE0002 appears first in the text, but OE0101 comes first in the order
        expect(statusForMessage('OE0002: not found: OE0101: invalid')).toBe(status.INVALID_ARGUMENT);
        expect(statusForMessage('OE0007: internal: OE0003: bad request')).toBe(status.FAILED_PRECONDITION);
    });

    it('gives transport failures, unknown outcomes and unresolved conflicts UNAVAILABLE, others UNKNOWN', () => {
        expect(toStatusError(new InvocationError('unavailable', 'x')).code).toBe(status.UNAVAILABLE);
        expect(toStatusError(new InvocationError('timeout', 'x')).code).toBe(status.UNAVAILABLE);
        expect(toStatusError(new InvocationError('conflict', 'MVCC_READ_CONFLICT')).code).toBe(status.UNAVAILABLE);
        expect(toStatusError(new InvocationError('other', 'OE0002 in other')).code).toBe(status.UNKNOWN);
        expect(toStatusError(new InvocationError('chaincode', 'OE0006: exists')).code).toBe(status.ALREADY_EXISTS);
    });
});

describe('classification of fabric-gateway errors', () => {
    it('extracts the chaincode message of an evaluate failure', () => {
        const text = 'evaluate call to endorser returned error: chaincode response 500, OE0002: task not found';
        const err = new GatewayError({
            code: status.UNKNOWN,
            details: [],
            cause: serviceError(status.UNKNOWN, text),
            message: text,
        });
        const failure = classifyFabricError(err);
        expect(failure.kind).toBe('chaincode');
        expect(failure.message).toBe('OE0002: task not found');
    });

    it('finds the chaincode message in the details of an endorse failure', () => {
        const err = new EndorseError({
            code: status.ABORTED,
            details: [
                {
                    address: 'peer0:7051',
                    mspId: 'Org1MSP',
                    message: 'chaincode response 500, OE0101: task is not valid',
                },
            ],
            cause: serviceError(status.ABORTED, 'failed to endorse transaction, see attached details for more info'),
            message: 'failed to endorse transaction, see attached details for more info',
            transactionId: 'tx1',
        });
        const failure = classifyFabricError(err);
        expect(failure.kind).toBe('chaincode');
        expect(failure.message).toBe('OE0101: task is not valid');
        expect(failure.transactionId).toBe('tx1');
    });

    it('classifies MVCC and phantom read conflicts at commit as retryable conflicts', () => {
        expect(classifyFabricError(new CommitError({ code: 11, transactionId: 'tx', message: 'm' })).kind).toBe(
            'conflict',
        );
        expect(classifyFabricError(new CommitError({ code: 12, transactionId: 'tx', message: 'm' })).kind).toBe(
            'conflict',
        );
        expect(classifyFabricError(new CommitError({ code: 10, transactionId: 'tx', message: 'm' })).kind).toBe(
            'other',
        );
    });

    it('reports a chaincode the peer cannot reach (process down or restarting) as unavailable, not unknown', () => {
        const endorse = new EndorseError({
            code: status.ABORTED,
            details: [
                {
                    address: 'peer0:7051',
                    mspId: 'MyOrg1MSP',
                    message: 'error trying to connect to chaincode mycc for MyOrg1MSP at 127.0.0.1:9999: refused',
                },
            ],
            cause: serviceError(status.ABORTED, 'failed to endorse transaction, see attached details for more info'),
            message: 'failed to endorse transaction, see attached details for more info',
            transactionId: 'tx',
        });
        expect(classifyFabricError(endorse).kind).toBe('unavailable');
        expect(toStatusError(classifyFabricError(endorse)).code).toBe(status.UNAVAILABLE);
        const launch = new GatewayError({
            code: status.UNKNOWN,
            details: [],
            cause: serviceError(status.UNKNOWN, 'x'),
            message: 'evaluate call to endorser returned error: could not launch chaincode mycc:abc: timeout',
        });
        expect(classifyFabricError(launch).kind).toBe('unavailable');
    });

    it('tells unreachable endorsers from ambiguous submit and commit-status failures', () => {
        const endorse = new EndorseError({
            code: status.UNAVAILABLE,
            details: [],
            cause: serviceError(status.UNAVAILABLE, 'connection refused'),
            message: 'connection refused',
            transactionId: 'tx',
        });
        expect(classifyFabricError(endorse).kind).toBe('unavailable');
        const commitStatus = new GatewayError({
            code: status.DEADLINE_EXCEEDED,
            details: [],
            cause: serviceError(status.DEADLINE_EXCEEDED, 'deadline'),
            message: 'deadline',
        });
        commitStatus.name = 'CommitStatusError';
        expect(classifyFabricError(commitStatus).kind).toBe('timeout');
        const other = new GatewayError({
            code: status.PERMISSION_DENIED,
            details: [],
            cause: serviceError(status.PERMISSION_DENIED, 'access denied'),
            message: 'access denied',
        });
        expect(classifyFabricError(other).kind).toBe('other');
        expect(classifyFabricError(new Error('boom')).kind).toBe('other');
    });

    it('reads the number of a block from its header', () => {
        // Block { header: BlockHeader { number: 300 } }
        expect(blockNumberOf(Uint8Array.from([0x0a, 0x03, 0x08, 0xac, 0x02]))).toBe(300n);
        expect(blockNumberOf(Uint8Array.from([0x0a, 0x00]))).toBe(0n);
        expect(() => blockNumberOf(Uint8Array.from([0x12, 0x00]))).toThrow();
    });
});
