import { type ServiceError, status } from '@grpc/grpc-js';
import { orchestrator } from '@substra-fabric/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
    type Harness,
    ORG1,
    QUERY_EVENTS,
    headers,
    startHarness,
    subscribe,
    testConfig,
    unary,
    unaryError,
    waitFor,
} from './helpers';

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

    /** GetFunction with these request headers, expected to fail: the error. */
    function getFunctionError(values: Record<string, string | string[]>): Promise<ServiceError> {
        return unaryError(h.client, GET_FUNCTION, request, headers(values));
    }

    it('rejects a missing mspid with FAILED_PRECONDITION and the OE0003 text', async () => {
        const err = await getFunctionError({ channel: 'mychannel' });
        expect(err.code).toBe(status.FAILED_PRECONDITION);
        expect(err.details).toBe("OE0003: missing or invalid header 'mspid'");
    });

    it('treats a repeated mspid like a missing one', async () => {
        const err = await getFunctionError({ mspid: ['Org1MSP', 'Org2MSP'], channel: 'mychannel' });
        expect(err.code).toBe(status.FAILED_PRECONDITION);
        expect(err.details).toBe("OE0003: missing or invalid header 'mspid'");
    });

    it('counts an empty mspid as one value, like Substra: the channel check then refuses it (api §7.1)', async () => {
        const err = await getFunctionError({ mspid: '', channel: 'mychannel' });
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('organization "" is unknown');
    });

    it('checks mspid before channel', async () => {
        const err = await getFunctionError({});
        expect(err.code).toBe(status.FAILED_PRECONDITION);
    });

    it('rejects a missing or repeated channel with UNKNOWN', async () => {
        const missing = await getFunctionError({ mspid: 'Org1MSP' });
        expect(missing.code).toBe(status.UNKNOWN);
        expect(missing.details).toBe("missing or invalid header 'channel'");
        const repeated = await getFunctionError({ mspid: 'Org1MSP', channel: ['mychannel', 'yourchannel'] });
        expect(repeated.code).toBe(status.UNKNOWN);
        expect(repeated.details).toBe("missing or invalid header 'channel'");
    });

    it('rejects an organization absent from the channel configuration', async () => {
        const err = await getFunctionError({ mspid: 'Org9MSP', channel: 'mychannel' });
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('organization "Org9MSP" is unknown');
    });

    it('rejects an organization that is not a member of the channel', async () => {
        const err = await getFunctionError({ mspid: 'Org2MSP', channel: 'yourchannel' });
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('organization "Org2MSP" has not access to channel "yourchannel"');
        const unknownChannel = await getFunctionError({ mspid: 'Org1MSP', channel: 'nochannel' });
        expect(unknownChannel.details).toBe('organization "Org1MSP" has not access to channel "nochannel"');
    });

    it('rejects a repeated chaincode header with UNKNOWN', async () => {
        const err = await getFunctionError({ ...ORG1, chaincode: ['a', 'b'] });
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe("missing or invalid header 'chaincode'");
    });

    it('uses the chaincode configured for the channel when the chaincode header is absent, empty or names it', async () => {
        h.fabric.calls.length = 0;
        await unary(h.client, GET_FUNCTION, request, headers(ORG1));
        await unary(h.client, GET_FUNCTION, request, headers({ mspid: 'Org1MSP', channel: 'yourchannel' }));
        await unary(h.client, GET_FUNCTION, request, headers({ ...ORG1, chaincode: '' }));
        await unary(h.client, GET_FUNCTION, request, headers({ ...ORG1, chaincode: 'mycc' }));
        await unary(
            h.client,
            GET_FUNCTION,
            request,
            headers({ mspid: 'Org1MSP', channel: 'yourchannel', chaincode: 'yourcc' }),
        );
        expect(h.fabric.calls.map((c) => [c.request.channel, c.request.chaincode, c.request.mspid])).toEqual([
            ['mychannel', 'mycc', 'Org1MSP'],
            ['yourchannel', 'yourcc', 'Org1MSP'],
            ['mychannel', 'mycc', 'Org1MSP'],
            ['mychannel', 'mycc', 'Org1MSP'],
            ['yourchannel', 'yourcc', 'Org1MSP'],
        ]);
    });

    it('refuses a unary call naming a chaincode not configured for its channel with UNKNOWN, naming both', async () => {
        h.fabric.calls.length = 0;
        const err = await getFunctionError({ ...ORG1, chaincode: 'othercc' });
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('chaincode "othercc" is not configured for channel "mychannel"');
        // The chaincode of another channel is not configured for this one either.
        const crossed = await getFunctionError({ ...ORG1, chaincode: 'yourcc' });
        expect(crossed.details).toBe('chaincode "yourcc" is not configured for channel "mychannel"');
        expect(h.fabric.calls).toHaveLength(0);
    });

    it('refuses QueryEvents and SubscribeToEvents naming an unconfigured chaincode without starting a listener', async () => {
        const query = await unaryError(
            h.client,
            QUERY_EVENTS,
            orchestrator.QueryEventsParam.encode({}).finish(),
            headers({ ...ORG1, chaincode: 'othercc' }),
        );
        expect(query.code).toBe(status.UNKNOWN);
        expect(query.details).toBe('chaincode "othercc" is not configured for channel "mychannel"');
        const { error } = subscribe(h.client, '', headers({ ...ORG1, chaincode: 'othercc' }));
        const err = await error;
        expect(err.code).toBe(status.UNKNOWN);
        expect(err.details).toBe('chaincode "othercc" is not configured for channel "mychannel"');
        expect(h.fabric.eventRequests.filter((r) => r.chaincode === 'othercc')).toHaveLength(0);
    });

    it('never reaches the chaincode when a header check fails', async () => {
        h.fabric.calls.length = 0;
        await getFunctionError({ channel: 'mychannel' });
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

describe('chaincode header with ORCHESTRATOR_ALLOW_ANY_CHAINCODE', () => {
    let h: Harness;

    beforeAll(async () => {
        h = await startHarness({ config: testConfig({ allowAnyChaincode: true }) });
    });

    afterAll(async () => {
        await h.close();
    });

    it('serves any chaincode named by the header, unary and stream, when the option allows it', async () => {
        h.fabric.calls.length = 0;
        await unary(h.client, GET_FUNCTION, request, headers({ ...ORG1, chaincode: 'othercc' }));
        expect(h.fabric.calls.map((c) => [c.request.channel, c.request.chaincode])).toEqual([['mychannel', 'othercc']]);
        const { stream } = subscribe(h.client, '', headers({ ...ORG1, chaincode: 'othercc' }));
        await waitFor(() => h.fabric.eventRequests.some((r) => r.chaincode === 'othercc'));
        stream.cancel();
    });
});
