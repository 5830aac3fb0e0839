import { Reader, Writer } from 'protobufjs/minimal';
import { orchestrator } from './generated';

/**
 * Payload of the `chaincode-updates` chaincode event: the events of one transaction written one after
 * the other, each preceded by its length as a varint (the usual "delimited" framing).
 */
export function encodeEventBatch(events: readonly orchestrator.IEvent[]): Uint8Array {
    const writer = Writer.create();
    for (const event of events) {
        orchestrator.Event.encodeDelimited(event, writer);
    }
    return writer.finish();
}

/** Inverse of {@link encodeEventBatch}. Throws on truncated or malformed input. */
export function decodeEventBatch(bytes: Uint8Array): orchestrator.Event[] {
    const reader = Reader.create(bytes);
    const events: orchestrator.Event[] = [];
    while (reader.pos < reader.len) {
        events.push(orchestrator.Event.decodeDelimited(reader));
    }
    return events;
}
