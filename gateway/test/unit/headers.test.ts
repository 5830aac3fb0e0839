import { status } from '@grpc/grpc-js';
import { orchestrator } from '@substra-fabric/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, ORG1, headers, startHarness, subscribe, unary, unaryError } from './helpers';

const GET_FUNCTION = '/orchestrator.FunctionService/GetFunction';
const request = orchestrator.GetFunctionParam.encode({ key: 'abc' }).finish();

describe('request headers', () => {
    let h: Harness;

    beforeAll(async () => {
        h = await startHarness();
    });

    afterAll(async () => {
        await h.close();
    });

    it('rejects a missing mspid with FAILED_PRECONDITION and the OE0003 text', async () => {
        const err = await unaryError(h.client, GET_FUNCTION, request, headers({ channel: 'mychannel' }));
        expect(err.code).toBe(status.FAILED_PRECONDITION);
        expect(err.details).toBe("OE0003: missing or invalid header 'mspid'");
    });

    it('treats a repeated mspid like a missing one', async () => {
        const err = await unaryError(
            h.client,
            GET_FUNCTION,
            request,
            headers({ mspid: ['Org1MSP', 'Org2MSP'], channel: 'mychannel' }),
        );
        expect(err.code).toBe(status.FAILED_PRECONDITION);
        expect(err.details).toBe("OE0003: missing or invalid header 'mspid'");
    });

    it('counts an empty mspid as one value, like Substra: the channel check then refuses it (api §7.1)', async () => {
        const err = await unaryError(h.client, GET_FUNCTION, request, headers({ mspid: '', channel: 'mychannel' }));
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('organization "" is unknown');
    });

    it('checks mspid before channel', async () => {
        const err = await unaryError(h.client, GET_FUNCTION, request, headers({}));
        expect(err.code).toBe(status.FAILED_PRECONDITION);
    });

    it('rejects a missing or repeated channel with UNKNOWN', async () => {
        const missing = await unaryError(h.client, GET_FUNCTION, request, headers({ mspid: 'Org1MSP' }));
        expect(missing.code).toBe(status.UNKNOWN);
        expect(missing.details).toBe("missing or invalid header 'channel'");
        const repeated = await unaryError(
            h.client,
            GET_FUNCTION,
            request,
            headers({ mspid: 'Org1MSP', channel: ['mychannel', 'yourchannel'] }),
        );
        expect(repeated.code).toBe(status.UNKNOWN);
        expect(repeated.details).toBe("missing or invalid header 'channel'");
    });

    it('rejects an organization absent from the channel configuration', async () => {
        const err = await unaryError(
            h.client,
            GET_FUNCTION,
            request,
            headers({ mspid: 'Org9MSP', channel: 'mychannel' }),
        );
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('organization "Org9MSP" is unknown');
    });

    it('rejects an organization that is not a member of the channel', async () => {
        const err = await unaryError(
            h.client,
            GET_FUNCTION,
            request,
            headers({ mspid: 'Org2MSP', channel: 'yourchannel' }),
        );
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('organization "Org2MSP" has not access to channel "yourchannel"');
        const unknownChannel = await unaryError(
            h.client,
            GET_FUNCTION,
            request,
            headers({ mspid: 'Org1MSP', channel: 'nochannel' }),
        );
        expect(unknownChannel.details).toBe('organization "Org1MSP" has not access to channel "nochannel"');
    });

    it('rejects a repeated chaincode header with UNKNOWN', async () => {
        const err = await unaryError(h.client, GET_FUNCTION, request, headers({ ...ORG1, chaincode: ['a', 'b'] }));
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe("missing or invalid header 'chaincode'");
    });

    it('uses the chaincode header when sent, else the chaincode configured for the channel', async () => {
        h.fabric.calls.length = 0;
        await unary(h.client, GET_FUNCTION, request, headers(ORG1));
        await unary(h.client, GET_FUNCTION, request, headers({ mspid: 'Org1MSP', channel: 'yourchannel' }));
        await unary(h.client, GET_FUNCTION, request, headers({ ...ORG1, chaincode: 'othercc' }));
        expect(h.fabric.calls.map((c) => [c.request.channel, c.request.chaincode, c.request.mspid])).toEqual([
            ['mychannel', 'mycc', 'Org1MSP'],
            ['yourchannel', 'yourcc', 'Org1MSP'],
            ['mychannel', 'othercc', 'Org1MSP'],
        ]);
    });

    it('never reaches the chaincode when a header check fails', async () => {
        h.fabric.calls.length = 0;
        await unaryError(h.client, GET_FUNCTION, request, headers({ channel: 'mychannel' }));
        expect(h.fabric.calls).toHaveLength(0);
    });

    it('fails a stream without mspid with UNKNOWN and the same text', async () => {
        const { error } = subscribe(h.client, '', headers({ channel: 'mychannel' }));
        const err = await error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe("OE0003: missing or invalid header 'mspid'");
    });

    it('fails a stream without channel with UNKNOWN', async () => {
        const { error } = subscribe(h.client, '', headers({ mspid: 'Org1MSP' }));
        const err = await error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe("missing or invalid header 'channel'");
    });
});
