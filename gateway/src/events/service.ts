import { status } from '@grpc/grpc-js';
import { orchestrator } from '@substra-fabric/api';
import { StatusError } from '../errors';
import type { FabricClient } from '../fabric/client';
import type { EventIndex } from './eventindex';
import type { ChainPosition, IndexedEvent } from './layout';
import { CHAINCODE_EVENT_NAME } from './payload';
import { lengthDelimitedField, withStringField } from './wire';

const EVENT_CHANNEL_FIELD = 5;

/** Events read per iterator call when streaming. */
const STREAM_BATCH = 64;

/** An indexed event as sent to clients: the chaincode's bytes with `channel` set. */
export function eventWithChannel(event: IndexedEvent, channel: string): Buffer {
    return withStringField(event.bytes, EVENT_CHANNEL_FIELD, channel);
}

/** The UNAVAILABLE answer of a QueryEvents that came while the index is catching up. */
export function stillIndexing(index: EventIndex, channel: string): StatusError {
    const { block, target } = index.progress();
    const of = target === undefined ? 'an unknown height' : target.toString();
    return new StatusError(
        status.UNAVAILABLE,
        `the gateway is still indexing channel ${channel}: block ${(block ?? 0n).toString()} of ${of}`,
    );
}

/**
 * Answer a QueryEvents request (binary QueryEventsParam) from the index; returns QueryEventsResponse
 * bytes. While the index is catching up with the chain, waits up to `index.catchUpWaitMs`, then fails
 * with UNAVAILABLE (a partial answer would look complete).
 */
export async function queryEvents(index: EventIndex, channel: string, request: Uint8Array): Promise<Buffer> {
    const param = orchestrator.QueryEventsParam.decode(request);
    if (!index.caughtUp) {
        await index.open();
        if (!(await index.whenCaughtUp(index.catchUpWaitMs))) {
            throw stillIndexing(index, channel);
        }
    }
    const page = await index.query({
        filter: param.filter,
        sort: param.sort,
        pageSize: param.page_size,
        pageToken: param.page_token,
    });
    const parts = page.events.map((event) => lengthDelimitedField(1, eventWithChannel(event, channel)));
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
 * Chain position of `startEventId`, after which the stream starts (undefined: from the first event,
 * for an empty id). An id the index does not hold yet is looked up on the ledger by its transaction id:
 * when the transaction is valid and emitted orchestration events, this waits until the listener has
 * indexed it. Otherwise (unknown to the ledger, invalid, no `chaincode-updates` event), and for ids
 * missing from their transaction, it fails at once. When Fabric cannot tell whether the transaction
 * emitted events, it waits until the listener is past the transaction's block.
 */
export async function startPosition(context: StartContext, startEventId: string): Promise<ChainPosition | undefined> {
    if (startEventId === '') {
        return undefined;
    }
    const { index } = context;
    const parts = startEventId.split(':');
    const [transactionId] = parts;
    if (parts.length !== 2 || transactionId === undefined || transactionId === '') {
        throw new StatusError(status.UNKNOWN, `invalid event id "${startEventId}"`);
    }
    let position = await index.positionOf(startEventId);
    // the listener may index the transaction between the two reads: then its events are there too
    if (position === undefined && !(await index.hasTransaction(transactionId))) {
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
        for (;;) {
            if (context.signal.aborted || (index.checkpoint?.blockNumber ?? -1n) > block) {
                break;
            }
            const version = index.version;
            if (await index.hasTransaction(transactionId)) {
                break;
            }
            await index.waitForChange(context.signal, version);
        }
    }
    position ??= await index.positionOf(startEventId);
    if (position === undefined) {
        throw notFound(startEventId);
    }
    return position;
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
 * Send the events of the index after `after` (from the first one when undefined), then new ones as
 * they are indexed, until `signal` aborts. Events are read from the database a few at a time. Waits
 * for the sink to drain whenever it reports a full buffer: a slow client slows the stream down; nothing
 * is skipped.
 */
export async function streamEvents(
    index: EventIndex,
    channel: string,
    after: ChainPosition | undefined,
    sink: EventSink,
    signal: AbortSignal,
): Promise<void> {
    let last = after;
    const stopped = (): boolean => signal.aborted;
    while (!stopped()) {
        const version = index.version;
        const events = await index.eventsAfter(last, STREAM_BATCH);
        if (events.length === 0) {
            await index.waitForChange(signal, version);
            continue;
        }
        for (const event of events) {
            if (stopped()) {
                return;
            }
            last = event.position;
            if (!sink.write(eventWithChannel(event, channel))) {
                await drained(sink, signal);
            }
        }
    }
}
