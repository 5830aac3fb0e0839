/**
 * Batched state access for peers that offer it (Fabric 3.1+): one WRITE_BATCH_STATE message carries a
 * transaction's writes and one GET_STATE_MULTIPLE message many reads, instead of one shim round trip per key.
 * A peer announces both, with their maximum sizes, in the payload of the READY message it sends the chaincode
 * (`ChaincodeAdditionalParams`); a 2.5 peer sends no payload and would end the stream on these message types.
 *
 * fabric-shim 2.5.8 neither reads that payload nor knows the two messages, so this module
 * - watches each of its peer connections (ChaincodeMessageHandler) for READY and keeps what the peer offers;
 * - builds the two requests and sends them through the connection's own per-transaction queue
 *   (`_askPeerAndListen`), so they are ordered with the stub's other calls of the same transaction.
 * Whatever the peer offers, the write set and the values read are those of the one-key calls: batching changes the
 * number of messages only, so peers with and without it endorse alike.
 */
import { createRequire } from 'node:module';
import * as protobuf from 'protobufjs';

export interface PeerBatching {
    /** records per WRITE_BATCH_STATE message; 0 = the peer does not take batched writes */
    readonly maxWriteBatch: number;
    /** keys per GET_STATE_MULTIPLE message; 0 = the peer does not take batched reads */
    readonly maxGetMultiple: number;
}

/** The connection object of fabric-shim (`stub.handler`), with the one private method used here. */
interface ShimConnection {
    _askPeerAndListen(message: ShimMessage, method: string): Promise<unknown>;
}

/** A ChaincodeMessage of the fabric-protos build fabric-shim itself uses (its gRPC serializer checks the class). */
interface ShimMessage {
    setType(type: number): void;
    setPayload(payload: Uint8Array): void;
    setTxid(txId: string): void;
    setChannelId(channelId: string): void;
}

interface ShimMessageClass {
    new (): ShimMessage;
}

interface IncomingMessage {
    getType(): number;
    getPayload_asU8(): Uint8Array;
}

interface HandlerPrototype {
    chat: (this: { _stream?: NodeJS.EventEmitter }, start: unknown) => unknown;
}

/**
 * ChaincodeMessage types and the four messages involved, as Fabric 3.1 defines them (fabric-protos
 * peer/chaincode_shim.proto and peer/chaincode.proto). They are declared here rather than taken from
 * @hyperledger/fabric-protos 0.3: its google-protobuf code registers its classes in the same global namespace as
 * the 0.2 copy fabric-shim loads first, so in a chaincode process the newer enum values read as undefined.
 */
const READY = 4;
const WRITE_BATCH_STATE = 24;
const GET_STATE_MULTIPLE = 25;
const WRITE_RECORD_PUT_STATE = 9;
const WRITE_RECORD_DEL_STATE = 10;

const shimProtos = protobuf.Root.fromJSON({
    nested: {
        WriteRecord: {
            fields: {
                key: { type: 'string', id: 1 },
                value: { type: 'bytes', id: 2 },
                collection: { type: 'string', id: 3 },
                type: { type: 'int32', id: 5 },
            },
        },
        WriteBatchState: { fields: { rec: { rule: 'repeated', type: 'WriteRecord', id: 1 } } },
        GetStateMultiple: {
            fields: { keys: { rule: 'repeated', type: 'string', id: 1 }, collection: { type: 'string', id: 2 } },
        },
        GetStateMultipleResult: { fields: { values: { rule: 'repeated', type: 'bytes', id: 1 } } },
        ChaincodeAdditionalParams: {
            fields: {
                useWriteBatch: { type: 'bool', id: 1 },
                maxSizeWriteBatch: { type: 'uint32', id: 2 },
                useGetMultipleKeys: { type: 'bool', id: 3 },
                maxSizeGetMultipleKeys: { type: 'uint32', id: 4 },
            },
        },
    },
});
const WriteBatchState = shimProtos.lookupType('WriteBatchState');
const GetStateMultiple = shimProtos.lookupType('GetStateMultiple');
const GetStateMultipleResult = shimProtos.lookupType('GetStateMultipleResult');
const ChaincodeAdditionalParams = shimProtos.lookupType('ChaincodeAdditionalParams');

const offers = new WeakMap<object, PeerBatching>();
let watching = false;

/**
 * Starts watching fabric-shim's peer connections for what each peer offers (`onOffer` hears it once per
 * connection). Call once, before the chaincode server accepts connections; later calls do nothing.
 */
export function watchPeerBatching(onOffer: (offer: PeerBatching) => void = () => undefined): void {
    if (watching) {
        return;
    }
    watching = true;
    const shimRequire = createRequire(require.resolve('fabric-shim'));
    const { ChaincodeMessageHandler } = shimRequire('./lib/handler.js') as {
        ChaincodeMessageHandler: { prototype: HandlerPrototype };
    };
    const prototype = ChaincodeMessageHandler.prototype;
    const chat = prototype.chat;
    prototype.chat = function (this: { _stream?: NodeJS.EventEmitter }, start: unknown): unknown {
        const connection = this as object;
        this._stream?.on('data', (message: IncomingMessage) => {
            if (message.getType() === READY) {
                const offer = readOffer(message.getPayload_asU8());
                offers.set(connection, offer);
                onOffer(offer);
            }
        });
        return chat.call(this, start);
    };
}

/** What a READY payload offers; an empty payload (Fabric 2.5) offers nothing. */
export function readOffer(payload: Uint8Array): PeerBatching {
    if (payload.length === 0) {
        return { maxWriteBatch: 0, maxGetMultiple: 0 };
    }
    const params = ChaincodeAdditionalParams.toObject(ChaincodeAdditionalParams.decode(payload), {
        defaults: true,
    }) as {
        useWriteBatch: boolean;
        maxSizeWriteBatch: number;
        useGetMultipleKeys: boolean;
        maxSizeGetMultipleKeys: number;
    };
    // A size of 0 with the feature on means "no limit" to the peer; keep messages bounded all the same.
    const size = (max: number): number => (max > 0 ? max : 1000);
    return {
        maxWriteBatch: params.useWriteBatch ? size(params.maxSizeWriteBatch) : 0,
        maxGetMultiple: params.useGetMultipleKeys ? size(params.maxSizeGetMultipleKeys) : 0,
    };
}

/** What the peer behind `handler` (a stub's `handler`) offers; nothing when unknown. */
export function peerBatching(handler: unknown): PeerBatching {
    return (typeof handler === 'object' && handler !== null && offers.get(handler)) || NO_BATCHING;
}

const NO_BATCHING: PeerBatching = { maxWriteBatch: 0, maxGetMultiple: 0 };

let shimMessageClass: ShimMessageClass | undefined;

function newShimMessage(type: number, payload: Uint8Array, channelId: string, txId: string): ShimMessage {
    if (shimMessageClass === undefined) {
        const shimRequire = createRequire(require.resolve('fabric-shim'));
        const protos = shimRequire('@hyperledger/fabric-protos') as {
            peer: { ChaincodeMessage: ShimMessageClass };
        };
        shimMessageClass = protos.peer.ChaincodeMessage;
    }
    const message = new shimMessageClass();
    message.setType(type);
    message.setPayload(payload);
    message.setTxid(txId);
    message.setChannelId(channelId);
    return message;
}

/** A write of a transaction: `null` deletes the key. */
export interface PendingWrite {
    readonly key: string;
    readonly value: Uint8Array | null;
}

/** Sends `writes` in WRITE_BATCH_STATE messages of at most `maxWriteBatch` records, in order. */
export async function sendWriteBatches(
    handler: unknown,
    offer: PeerBatching,
    channelId: string,
    txId: string,
    writes: readonly PendingWrite[],
): Promise<void> {
    const connection = handler as ShimConnection;
    for (let start = 0; start < writes.length; start += offer.maxWriteBatch) {
        const rec = writes
            .slice(start, start + offer.maxWriteBatch)
            .map(({ key, value }) =>
                value === null ? { key, type: WRITE_RECORD_DEL_STATE } : { key, value, type: WRITE_RECORD_PUT_STATE },
            );
        const payload = WriteBatchState.encode(WriteBatchState.fromObject({ rec })).finish();
        const message = newShimMessage(WRITE_BATCH_STATE, payload, channelId, txId);
        await connection._askPeerAndListen(message, 'WriteBatchState');
    }
}

/** Reads `keys` in GET_STATE_MULTIPLE messages of at most `maxGetMultiple` keys; an absent key reads as empty. */
export async function getStatesBatched(
    handler: unknown,
    offer: PeerBatching,
    channelId: string,
    txId: string,
    keys: readonly string[],
): Promise<Uint8Array[]> {
    const connection = handler as ShimConnection;
    const values: Uint8Array[] = [];
    for (let start = 0; start < keys.length; start += offer.maxGetMultiple) {
        const chunk = keys.slice(start, start + offer.maxGetMultiple);
        const request = GetStateMultiple.encode(GetStateMultiple.fromObject({ keys: chunk })).finish();
        const message = newShimMessage(GET_STATE_MULTIPLE, request, channelId, txId);
        const payload = (await connection._askPeerAndListen(message, 'GetStateMultiple')) as Uint8Array;
        const result = (GetStateMultipleResult.decode(payload) as unknown as { values: Uint8Array[] }).values;
        if (result.length !== 0 && result.length !== chunk.length) {
            throw new Error(`GetStateMultiple of ${chunk.length} keys answered ${result.length} values`);
        }
        // the peer answers no values at all when none of the keys exists
        for (let i = 0; i < chunk.length; i++) {
            values.push(result[i] ?? new Uint8Array(0));
        }
    }
    return values;
}
