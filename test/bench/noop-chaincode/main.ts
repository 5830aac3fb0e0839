/**
 * The floor of a write on our network: a chaincode that does one PutState per `put` call and nothing else, run as
 * a service exactly like ours (started by test/network with CHAINCODE_CCID, CHAINCODE_ADDRESS, TLS_CERT_FILE,
 * TLS_KEY_FILE, TLS_ROOTCERT_FILE; mutual TLS with the peer), through fabric-shim's plain `ChaincodeInterface`
 * (no contract API, no protobuf, no event).
 *
 * - `put(key, value)`: PutState(key, value), empty response.
 * - any other function (the network's readiness probe calls `orchestrator.info:QueryVersion`): empty response.
 */
import { readFileSync } from 'node:fs';
import { Shim, type ChaincodeInterface, type ChaincodeStub } from 'fabric-shim';

const noop: ChaincodeInterface = {
    Init: () => Promise.resolve(Shim.success()),
    Invoke: async (stub: ChaincodeStub) => {
        const { fcn, params } = stub.getFunctionAndParameters();
        if (fcn === 'put') {
            const [key, value] = params;
            if (key === undefined) {
                return Shim.error('put: key missing');
            }
            await stub.putState(key, Buffer.from(value ?? ''));
        }
        return Shim.success();
    },
};

async function main(): Promise<void> {
    const env = process.env;
    const ccid = env.CHAINCODE_CCID ?? '';
    const address = env.CHAINCODE_ADDRESS ?? '';
    if (ccid === '' || address === '') {
        throw new Error('CHAINCODE_CCID and CHAINCODE_ADDRESS must be set');
    }
    const file = (name: string): Buffer | undefined => {
        const value = env[name] ?? '';
        return value === '' ? undefined : readFileSync(value);
    };
    const key = file('TLS_KEY_FILE');
    const cert = file('TLS_CERT_FILE');
    const clientCACerts = file('TLS_ROOTCERT_FILE');
    const tlsProps = key === undefined || cert === undefined ? undefined : { key, cert, clientCACerts };
    const server = Shim.server(noop, {
        ccid,
        address,
        // fabric-shim's types make tlsProps mandatory; at run time its absence means plaintext.
        tlsProps: tlsProps as Parameters<typeof Shim.server>[1]['tlsProps'],
    });
    await server.start();
    process.stdout.write(`noop chaincode ${ccid} listening on ${address} (${tlsProps ? 'TLS' : 'plaintext'})\n`);
}

main().catch((err: unknown) => {
    process.stderr.write(`noop chaincode: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
});
