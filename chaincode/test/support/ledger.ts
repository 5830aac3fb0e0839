/**
 * Test ledger: run business code and contract functions against an in-memory Fabric world state
 * (fake-stub.ts), through the real ledger layer (src/ledger) and, for `submit`/`evaluate`/`rpc`, through
 * fabric-shim's own contract dispatcher (ChaincodeFromContract) with our contracts and serializer.
 *
 *     import { newTestLedger } from './support/ledger';
 *
 *     const ledger = newTestLedger();
 *     // Service level: one transaction, committed when fn resolves, discarded (and rethrown) when it throws.
 *     const res = await ledger.invoke('MyOrg1MSP', (services) => services.organizations.registerOrganization({ address: '' }));
 *     res.result;   // what fn returned
 *     res.events;   // orchestrator.Event[] decoded from the transaction's `chaincode-updates` chaincode event
 *     res.writes;   // the write set, in key order ({key, value | null for delete})
 *     res.reads;    // state reads made by the transaction
 *     await expect(ledger.invoke('MyOrg1MSP', fn)).rejects.toThrow(/^OE0006: /);
 *
 *     // Read-only transaction, never committed (paginated queries are allowed there):
 *     const page = await ledger.evaluate('MyOrg1MSP', (services) => services.functions.queryFunctions({ page_size: 10 }));
 *
 *     // End to end, by RPC method name (or gRPC path): encodes the request, calls `<contract>:<fn>` with the
 *     // binary argument (submit, or evaluate when the RPC is read-only), decodes the response; rejects with
 *     // the chaincode's error message.
 *     const org = await ledger.rpc('MyOrg1MSP', 'RegisterOrganization', { address: 'https://org1.example' });
 *
 *     // Raw contract call: any argument bytes (binary protobuf or a JSON wrapper string); never throws.
 *     const raw = await ledger.submit('MyOrg1MSP', 'orchestrator.organization:GetAllOrganizations', bytes);
 *     raw.status; raw.message; raw.payload; raw.events;
 *
 * Transaction ids and timestamps are deterministic: the n-th transaction (n from 1) of a ledger gets
 * txId = sha256("tx-<n>") in hex and timestamp = 2026-01-01T00:00:00Z + n seconds + 123456789 ns, unless
 * `{ txId, timestamp }` is passed as the last argument. `ledger.world` is the committed state and the list of
 * committed transactions (write sets, chaincode events) for byte-level comparisons.
 */
import { RPCS, decodeEventBatch } from '@substra-fabric/api';
import type { RpcInfo, orchestrator } from '@substra-fabric/api';
import type { ChaincodeInterface, ChaincodeStub } from 'fabric-shim';
import { setLevel as setShimLogLevel } from 'fabric-shim/lib/logger';
import { createChaincode } from '../../src/chaincode';
import { messageClass } from '../../src/contracts/codec';
import type { ContractClass } from '../../src/contracts/contract';
import { openTransaction } from '../../src/ledger/transaction';
import type { Timestamp, TxContext } from '../../src/service/context';
import { CHAINCODE_EVENT_NAME } from '../../src/service/events';
import type { Services } from '../../src/service/provider';
import { FakeStub, FakeWorldState, fakeTxId } from './fake-stub';
import type { FakeChaincodeEvent, FakeWrite } from './fake-stub';

export { FakeStub, FakeWorldState } from './fake-stub';
export type { FakeTxRecord, FakeWrite } from './fake-stub';

/** 2026-01-01T00:00:00Z */
export const BASE_SECONDS = 1_767_225_600;
export const BASE_NANOS = 123_456_789;

export interface TxOptions {
    readonly txId?: string;
    readonly timestamp?: Timestamp;
}

interface TxOutcome {
    readonly txId: string;
    readonly timestamp: Timestamp;
    /** Orchestration events of the transaction (empty when it set no chaincode event). */
    readonly events: orchestrator.Event[];
    /** The raw chaincode event, if one was set. */
    readonly chaincodeEvent: FakeChaincodeEvent | undefined;
    readonly writes: readonly FakeWrite[];
    readonly reads: number;
}

export interface InvokeResult<T> extends TxOutcome {
    readonly result: T;
}

export interface CallResult extends TxOutcome {
    /** 200 on success, 500 on error (fabric-shim's codes). */
    readonly status: number;
    /** The error message on failure. */
    readonly message: string;
    readonly payload: Uint8Array;
}

export interface TestLedgerOptions {
    readonly channelId?: string;
    /** Contract classes for submit/evaluate/rpc; the chaincode's own by default. */
    readonly contracts?: readonly ContractClass[];
}

// The contract API logs every transaction; keep test output readable unless asked otherwise
// (TEST_CHAINCODE_LOG_LEVEL=DEBUG to see it).
setShimLogLevel(process.env.TEST_CHAINCODE_LOG_LEVEL ?? 'ERROR');

export class TestLedger {
    readonly world = new FakeWorldState();
    readonly channelId: string;
    #count = 0;
    #chaincode: ChaincodeInterface | undefined;
    readonly #contracts: readonly ContractClass[] | undefined;

    constructor(options: TestLedgerOptions = {}) {
        this.channelId = options.channelId ?? 'mychannel';
        this.#contracts = options.contracts;
    }

    /** Service-level submit: commits when `fn` resolves; discards and rethrows when it throws. */
    async invoke<T>(
        mspid: string,
        fn: (services: Services, ctx: TxContext) => Promise<T> | T,
        options?: TxOptions,
    ): Promise<InvokeResult<T>> {
        return this.#runServices(mspid, fn, options, true);
    }

    /** Service-level evaluate: like invoke, but nothing is ever committed. */
    async evaluate<T>(
        mspid: string,
        fn: (services: Services, ctx: TxContext) => Promise<T> | T,
        options?: TxOptions,
    ): Promise<InvokeResult<T>> {
        return this.#runServices(mspid, fn, options, false);
    }

    /** Contract call (`<contract>:<Function>` or a bare function of the default contract), committed on success. */
    submit(mspid: string, fcn: string, arg?: Uint8Array | string, options?: TxOptions): Promise<CallResult> {
        return this.#call(mspid, fcn, arg === undefined ? [] : [arg], options, true, false);
    }

    /** Contract call never committed. */
    evaluateCall(mspid: string, fcn: string, arg?: Uint8Array | string, options?: TxOptions): Promise<CallResult> {
        return this.#call(mspid, fcn, arg === undefined ? [] : [arg], options, false, false);
    }

    /** Contract call with any number of arguments (the peer sends them as is), committed on success. */
    submitArgs(
        mspid: string,
        fcn: string,
        args: readonly (Uint8Array | string)[],
        options?: TxOptions,
    ): Promise<CallResult> {
        return this.#call(mspid, fcn, args, options, true, false);
    }

    /** Init as the hlf-k8s operator sends it (`args` = the function name slot only). */
    init(mspid: string, args: readonly string[], options?: TxOptions): Promise<CallResult> {
        return this.#call(mspid, args[0] ?? '', args.slice(1), options, true, true);
    }

    /**
     * Calls an RPC end to end: the request object goes through the generated `fromObject`, is encoded as binary
     * protobuf, submitted (or evaluated when the RPC is read-only), and the response is decoded. Rejects with
     * an Error carrying the chaincode's message when the call fails.
     */
    async rpc<T = object>(mspid: string, method: string, request: object = {}, options?: TxOptions): Promise<T> {
        const rpc = findRpc(method);
        const requestClass = messageClass(rpc.requestType);
        const arg = requestClass.encode(requestClass.fromObject(request as Record<string, unknown>)).finish();
        const res = await this.#call(mspid, `${rpc.contract}:${rpc.fn}`, [arg], options, !rpc.readOnly, false);
        if (res.status !== 200) {
            throw new Error(res.message);
        }
        return messageClass(rpc.responseType).decode(res.payload) as T;
    }

    /** The committed value of a key. */
    get(key: string): Uint8Array | undefined {
        return this.world.get(key);
    }

    #nextTx(mspid: string, options: TxOptions | undefined, args: readonly (string | Uint8Array)[]): FakeStub {
        this.#count++;
        return new FakeStub(this.world, {
            txId: options?.txId ?? fakeTxId(`tx-${this.#count}`),
            timestamp: options?.timestamp ?? { seconds: BASE_SECONDS + this.#count, nanos: BASE_NANOS },
            mspid,
            args,
            channelId: this.channelId,
        });
    }

    async #runServices<T>(
        mspid: string,
        fn: (services: Services, ctx: TxContext) => Promise<T> | T,
        options: TxOptions | undefined,
        commit: boolean,
    ): Promise<InvokeResult<T>> {
        const stub = this.#nextTx(mspid, options, []);
        const tx = openTransaction(stub, mspid);
        const result = await fn(tx.services, tx.ctx);
        await tx.finish();
        return { result, ...this.#outcome(stub, tx.ctx.timestamp, commit) };
    }

    async #call(
        mspid: string,
        fcn: string,
        args: readonly (string | Uint8Array)[],
        options: TxOptions | undefined,
        commit: boolean,
        init: boolean,
    ): Promise<CallResult> {
        const stub = this.#nextTx(mspid, options, [fcn, ...args]);
        this.#chaincode ??= createChaincode(this.#contracts);
        const shimStub = stub as unknown as ChaincodeStub;
        const response = init ? await this.#chaincode.Init(shimStub) : await this.#chaincode.Invoke(shimStub);
        const ok = response.status === 200;
        const timestamp = { seconds: stub.getTxTimestamp().seconds.toNumber(), nanos: stub.getTxTimestamp().nanos };
        return {
            status: response.status,
            message: response.message ?? '',
            payload: response.payload ?? new Uint8Array(0),
            ...this.#outcome(stub, timestamp, ok && commit),
        };
    }

    #outcome(stub: FakeStub, timestamp: Timestamp, commit: boolean): TxOutcome {
        const event = stub.chaincodeEvent;
        if (commit) {
            this.world.commit(stub);
        }
        return {
            txId: stub.getTxID(),
            timestamp,
            events: event?.name === CHAINCODE_EVENT_NAME ? decodeEventBatch(event.payload) : [],
            chaincodeEvent: event,
            writes: stub.writeSet(),
            reads: stub.reads,
        };
    }
}

export function newTestLedger(options?: TestLedgerOptions): TestLedger {
    return new TestLedger(options);
}

/** An RPC by method name (`RegisterFunction`) or gRPC path (`/orchestrator.FunctionService/RegisterFunction`). */
export function findRpc(method: string): RpcInfo {
    const matches = RPCS.filter((rpc) => rpc.method === method || rpc.path === method);
    if (matches.length !== 1) {
        throw new Error(`${matches.length === 0 ? 'no' : 'several'} RPC named ${method}`);
    }
    return matches[0]!;
}
