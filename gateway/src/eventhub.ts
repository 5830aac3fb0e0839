import * as path from 'node:path';
import type { Logger } from 'pino';
import { EventIndex, PayloadError } from './eventindex';
import { FileEventStore, MemoryEventStore, type EventStore } from './eventstore';
import type { CloseableAsyncIterable, ChaincodeEventRecord, FabricClient } from './fabric';

/** Name of the chaincode event that carries the orchestration events of a transaction. */
export const CHAINCODE_EVENT_NAME = 'chaincode-updates';

export interface EventHubOptions {
    readonly fabric: FabricClient;
    readonly logger: Logger;
    /** Directory of the event indexes; undefined keeps them in memory only. */
    readonly stateDir?: string;
    /** First and maximum delay before reconnecting a failed listener. */
    readonly reconnectDelayMs?: number;
    readonly maxReconnectDelayMs?: number;
}

/** Where a listener reads: the identity that signs the events request, the channel and the chaincode. */
export interface ListenerTarget {
    readonly mspid: string;
    readonly channel: string;
    readonly chaincode: string;
}

/**
 * Owns one event index and one chaincode-event listener per (channel, chaincode). The listener reads
 * `chaincode-updates` events from the block after the index's checkpoint, appends each new
 * transaction, and reconnects with backoff whenever the event stream fails or ends.
 */
export class EventHub {
    readonly #options: EventHubOptions;
    readonly #listeners = new Map<string, Listener>();

    constructor(options: Readonly<EventHubOptions>) {
        this.#options = options;
    }

    /** The index of a channel and chaincode, its listener started on first use. */
    index(target: ListenerTarget): EventIndex {
        const key = `${target.channel}\u0000${target.chaincode}`;
        let listener = this.#listeners.get(key);
        if (listener === undefined) {
            listener = new Listener(target, this.#newStore(target), this.#options);
            this.#listeners.set(key, listener);
            listener.start();
        }
        return listener.index;
    }

    /** Stop every listener and close the indexes. */
    close(): void {
        for (const listener of this.#listeners.values()) {
            listener.close();
        }
        this.#listeners.clear();
    }

    #newStore(target: ListenerTarget): EventStore {
        const stateDir = this.#options.stateDir;
        if (stateDir === undefined) {
            return new MemoryEventStore();
        }
        const dir = path.join(
            stateDir,
            'events',
            encodeURIComponent(target.channel),
            encodeURIComponent(target.chaincode),
        );
        return new FileEventStore(dir);
    }
}

class Listener {
    readonly index: EventIndex;
    readonly #target: ListenerTarget;
    readonly #options: EventHubOptions;
    readonly #logger: Logger;
    readonly #abort = new AbortController();
    #events: CloseableAsyncIterable<ChaincodeEventRecord> | undefined;

    constructor(target: ListenerTarget, store: EventStore, options: EventHubOptions) {
        this.#target = target;
        this.#options = options;
        this.#logger = options.logger.child({ channel: target.channel, chaincode: target.chaincode });
        this.index = new EventIndex(store);
    }

    start(): void {
        this.#run().catch((err: unknown) => {
            this.#logger.error({ err }, 'event listener stopped');
        });
    }

    close(): void {
        this.#abort.abort();
        this.#events?.close();
        this.index.close();
    }

    async #run(): Promise<void> {
        const base = this.#options.reconnectDelayMs ?? 1000;
        const max = this.#options.maxReconnectDelayMs ?? 30_000;
        let failures = 0;
        while (!this.#abort.signal.aborted) {
            const startBlock = this.index.checkpoint?.blockNumber ?? 0n;
            try {
                this.#logger.info({ startBlock: startBlock.toString() }, 'listening to chaincode events');
                this.#events = await this.#options.fabric.chaincodeEvents({ ...this.#target, startBlock });
                for await (const event of this.#events) {
                    failures = 0;
                    this.#accept(event);
                }
            } catch (err) {
                if (!this.#stopped()) {
                    this.#logger.warn({ err }, 'chaincode event stream failed');
                }
            } finally {
                this.#events?.close();
                this.#events = undefined;
            }
            failures++;
            await sleep(Math.min(max, base * 2 ** Math.min(failures - 1, 16)), this.#abort.signal);
        }
    }

    #stopped(): boolean {
        return this.#abort.signal.aborted;
    }

    #accept(event: ChaincodeEventRecord): void {
        if (event.eventName !== CHAINCODE_EVENT_NAME) {
            return;
        }
        try {
            const count = this.index.append(event);
            if (count > 0) {
                this.#logger.debug({ txId: event.transactionId, count }, 'indexed transaction events');
            }
        } catch (err) {
            if (!(err instanceof PayloadError)) {
                throw err;
            }
            this.#logger.error({ err, txId: event.transactionId }, 'skipping unreadable chaincode event');
        }
    }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        if (signal.aborted) {
            resolve();
            return;
        }
        const done = (): void => {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done);
    });
}
