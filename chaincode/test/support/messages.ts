/**
 * Requests as the contract layer hands them to services: tests write the fields they care about, and
 * `complete` returns the message the generated decoder would produce from them (every scalar, repeated and
 * map field present, absent sub-messages null), typed `Complete<I>` like the service parameters.
 *
 *     await ledger.invoke(ORG1, (s) => s.functions.queryFunctions(complete(orchestrator.QueryFunctionsParam, { page_size: 2 })));
 */
import type { Complete } from '../../src/service/messages';

/** What a generated message class offers for this: its binary codec. */
interface MessageType<I> {
    encode(message: I): { finish(): Uint8Array };
    decode(bytes: Uint8Array): unknown;
}

/** `fields` encoded to binary protobuf and decoded again, like a request the contract layer decoded. */
export function complete<I extends object>(type: MessageType<I>, fields: I): Complete<I> {
    return type.decode(type.encode(fields).finish()) as Complete<I>;
}
