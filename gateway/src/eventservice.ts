import { status } from '@grpc/grpc-js';
import { orchestrator } from '@substra-fabric/api';
import { StatusError } from './errors';
import { CHAINCODE_EVENT_NAME } from './eventhub';
import type { EventIndex, IndexedEvent } from './eventindex';
import type { FabricClient } from './fabric';
import { lengthDelimitedField, withStringField } from './wire';

const EVENT_CHANNEL_FIELD = 5;

/** An indexed event as sent to clients: the chaincode's bytes with `channel` set. */
export function eventWithChannel(index: EventIndex, event: IndexedEvent, channel: string): Buffer {
    return withStringField(index.bytesOf(event), EVENT_CHANNEL_FIELD, channel);
}

/** Answer a QueryEvents request (binary QueryEventsParam) from the index; returns QueryEventsResponse bytes. */
export function queryEvents(index: EventIndex, channel: string, request: Uint8Array): Buffer {
    const param = orchestrator.QueryEventsParam.decode(request);
    const page = index.query({
        filter: param.filter,
        sort: param.sort,
        pageSize: param.page_size,
        pageToken: param.page_token,
    });
    const parts = page.events.map((event) => lengthDelimitedField(1, eventWithChannel(index, event, channel)));
    if (page.nextPageToken !== '') {
        parts.push(lengthDelimitedField(2, Buffer.from(page.nextPageToken, 'utf8')));
    }
    return Buffer.concat(parts);
}

/** Everything SubscribeToEvents needs to resolve its start position. */
export interface StartContext {
    readonly index: EventIndex;
    readonly fabric: Pick<FabricClient, 'transactionBlock'>;
    readonly mspid: string;
    readonly channel: string;
    readonly chaincode: string;
    readonly signal: AbortSignal;
}

function notFound(id: string): StatusError {
    return new StatusError(status.UNKNOWN, `event "${id}" not found`);
}

/**
 * Position of the first event to send after `startEventId` (0 when empty). An id the index does not
 * hold yet is looked up on the ledger by its transaction id: when the transaction is valid and emitted
 * orchestration events, this waits until the listener has indexed it. Otherwise (unknown to the ledger,
 * invalid, no `chaincode-updates` event), and for ids missing from their transaction, it fails at once.
 * When Fabric cannot tell whether the transaction emitted events, it waits until the listener is past
 * the transaction's block.
 */
export async function startPosition(context: StartContext, startEventId: string): Promise<number> {
    if (startEventId === '') {
        return 0;
    }
    const { index } = context;
    const parts = startEventId.split(':');
    const [transactionId] = parts;
    if (parts.length !== 2 || transactionId === undefined || transactionId === '') {
        throw new StatusError(status.UNKNOWN, `invalid event id "${startEventId}"`);
    }
    if (index.positionOf(startEventId) === undefined && !index.hasTransaction(transactionId)) {
        const location = await context.fabric.transactionBlock({
            mspid: context.mspid,
            channel: context.channel,
            transactionId,
            chaincode: context.chaincode,
            eventName: CHAINCODE_EVENT_NAME,
        });
        // Unknown to the ledger, invalid, or without orchestration events: the listener never sees it.
        if (location === undefined || location.emitted === false) {
            throw notFound(startEventId);
        }
        const block = location.blockNumber;
        // Wait for the listener to reach the transaction's block; once past it, the event is not there.
        const pending = (): boolean =>
            !index.hasTransaction(transactionId) && (index.checkpoint?.blockNumber ?? -1n) <= block;
        while (pending() && !context.signal.aborted) {
            await index.waitForChange(context.signal);
        }
    }
    const position = index.positionOf(startEventId);
    if (position === undefined) {
        throw notFound(startEventId);
    }
    return position + 1;
}

/** The part of a grpc-js server writable stream that event streaming uses. */
export interface EventSink {
    write(chunk: Buffer): boolean;
    once(event: 'drain', listener: () => void): unknown;
    removeListener(event: 'drain', listener: () => void): unknown;
}

function drained(sink: EventSink, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        const done = (): void => {
            sink.removeListener('drain', done);
            signal.removeEventListener('abort', done);
            resolve();
        };
        sink.once('drain', done);
        signal.addEventListener('abort', done);
    });
}

/**
 * Send the events of the index from `position` on, then new ones as they are indexed, until `signal`
 * aborts. Waits for the sink to drain whenever it reports a full buffer: a slow client slows the
 * stream down; nothing is skipped.
 */
export async function streamEvents(
    index: EventIndex,
    channel: string,
    position: number,
    sink: EventSink,
    signal: AbortSignal,
): Promise<void> {
    let next = position;
    while (!signal.aborted) {
        const event = index.at(next);
        if (event === undefined) {
            await index.waitForChange(signal);
            continue;
        }
        next++;
        if (!sink.write(eventWithChannel(index, event, channel))) {
            await drained(sink, signal);
        }
    }
}
