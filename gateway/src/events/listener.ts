import type { Logger } from 'pino';
import type { ChaincodeEventRecord, CloseableAsyncIterable, FabricClient } from '../fabric/client';
import { EventIndex } from './eventindex';
import { CHAINCODE_EVENT_NAME, PayloadError } from './payload';
import type { EventStore } from './store';

export interface ListenerOptions {
    readonly fabric: FabricClient;
    readonly logger: Logger;
    /** First and maximum delay before reconnecting a failed listener. */
    readonly reconnectDelayMs?: number;
    readonly maxReconnectDelayMs?: number;
    /**
     * How long an open event stream must stay silent, while the index has not reached the chain height
     * seen at start, before the index counts as caught up anyway (the chain's last blocks may hold no
     * event of the chaincode, and the peer sends nothing for them).
     */
    readonly quietMs?: number;
    /** Longest time QueryEvents waits for an index that is catching up (then UNAVAILABLE). */
    readonly catchUpWaitMs?: number;
}

/** Where a listener reads: the identity that signs the events request, the channel and the chaincode. */
export interface ListenerTarget {
    readonly mspid: string;
    readonly channel: string;
    readonly chaincode: string;
}

export const DEFAULT_QUIET_MS = 2000;

/**
 * The chaincode-event listener of one event index: reads `chaincode-updates` events from the index's
 * checkpoint block, appends each transaction, and reconnects with backoff whenever the event stream
 * fails or ends; meanwhile it tells the index how far the chain was when it started.
 */
export class Listener {
    readonly index: EventIndex;
    readonly #target: ListenerTarget;
    readonly #options: ListenerOptions;
    readonly #logger: Logger;
    readonly #abort = new AbortController();
    readonly #quietMs: number;
    #events: CloseableAsyncIterable<ChaincodeEventRecord> | undefined;
    #quietTimer: NodeJS.Timeout | undefined;
    #lastRecordAt = 0;
    #quiet = false;

    constructor(target: ListenerTarget, store: EventStore, options: ListenerOptions) {
        this.#target = target;
        this.#options = options;
        this.#quietMs = options.quietMs ?? DEFAULT_QUIET_MS;
        this.#logger = options.logger.child({ channel: target.channel, chaincode: target.chaincode });
        this.index = new EventIndex(
            store,
            options.catchUpWaitMs === undefined ? {} : { catchUpWaitMs: options.catchUpWaitMs },
        );
        this.index.onCaughtUp(() => {
            const { block, target: last } = this.index.progress();
            if (this.index.caughtUp) {
                this.#logger.info(
                    { block: block?.toString(), chainLastBlock: last?.toString(), events: this.index.length },
                    'event index caught up with the chain',
                );
            }
        });
    }

    start(): void {
        this.#run().catch((err: unknown) => {
            this.#logger.error({ err }, 'event listener stopped');
        });
        this.#learnHeight().catch((err: unknown) => {
            this.#logger.error({ err }, 'reading the chain height stopped');
        });
    }

    async close(): Promise<void> {
        this.#abort.abort();
        this.#events?.close();
        this.#stopQuietTimer();
        await this.index.close();
    }

    #stopped(): boolean {
        return this.#abort.signal.aborted;
    }

    #backoff(failures: number): number {
        const base = this.#options.reconnectDelayMs ?? 1000;
        const max = this.#options.maxReconnectDelayMs ?? 30_000;
        return Math.min(max, base * 2 ** Math.min(failures - 1, 16));
    }

    /**
     * The chain height when the listener starts, and the last block up to it with events of the chaincode
     * (when the Fabric client can tell): the index is caught up once it has indexed that block.
     */
    async #learnHeight(): Promise<void> {
        const { fabric } = this.#options;
        if (fabric.chainHeight === undefined) {
            this.index.heightUnknowable();
            return;
        }
        const exact = fabric.lastEventBlock !== undefined;
        const height = await this.#retry('reading the chain height', () =>
            fabric.chainHeight?.({ mspid: this.#target.mspid, channel: this.#target.channel }),
        );
        if (height === undefined) {
            return;
        }
        this.#logger.info({ height: height.toString() }, 'chain height at start');
        this.index.expectHeight(height, exact);
        if (!exact) {
            return;
        }
        await this.#retry('opening the event index', () => this.index.open().then(() => true));
        const fromBlock = this.index.checkpoint?.blockNumber ?? 0n;
        const toBlock = height - 1n;
        if (fromBlock > toBlock) {
            this.index.expectLastEventBlock(undefined);
            return;
        }
        const last = await this.#retry('finding the last block with events', () =>
            fabric
                .lastEventBlock?.({ ...this.#target, eventName: CHAINCODE_EVENT_NAME, fromBlock, toBlock })
                .then((block) => ({ block })),
        );
        if (last !== undefined) {
            this.#logger.info({ lastEventBlock: last.block?.toString() }, 'last block with events at start');
            this.index.expectLastEventBlock(last.block);
        }
    }

    /** `call`'s result, trying again with backoff until it resolves; undefined once the listener stops. */
    async #retry<T>(what: string, call: () => Promise<T> | undefined): Promise<T | undefined> {
        let failures = 0;
        while (!this.#abort.signal.aborted) {
            try {
                return await call();
            } catch (err) {
                failures++;
                if (!this.#stopped()) {
                    this.#logger.warn({ err }, `${what} failed`);
                }
            }
            await sleep(this.#backoff(failures), this.#abort.signal);
        }
        return undefined;
    }

    async #run(): Promise<void> {
        let failures = 0;
        while (!this.#abort.signal.aborted) {
            try {
                const startBlock = await this.index.beginStream();
                this.#logger.info({ startBlock: startBlock.toString() }, 'listening to chaincode events');
                this.#events = await this.#options.fabric.chaincodeEvents({ ...this.#target, startBlock });
                this.#sawRecord();
                for await (const event of this.#events) {
                    failures = 0;
                    this.#sawRecord();
                    if (event.eventName === CHAINCODE_EVENT_NAME) {
                        this.#accept(event);
                    }
                    if (this.index.backlogFull) {
                        await this.index.drain();
                    }
                }
                await this.index.drain();
            } catch (err) {
                if (!this.#stopped()) {
                    this.#logger.warn({ err }, 'chaincode event stream failed');
                }
            } finally {
                this.#stopQuietTimer();
                this.#events?.close();
                this.#events = undefined;
            }
            failures++;
            await sleep(this.#backoff(failures), this.#abort.signal);
        }
    }

    #accept(event: ChaincodeEventRecord): void {
        this.index.append(event).then(
            (count) => {
                if (count > 0) {
                    this.#logger.debug({ txId: event.transactionId, count }, 'indexed transaction events');
                }
            },
            (err: unknown) => {
                // Write failures surface through drain(), which restarts the stream.
                if (err instanceof PayloadError) {
                    this.#logger.error({ err, txId: event.transactionId }, 'skipping unreadable chaincode event');
                }
            },
        );
    }

    /** A record arrived (or the stream opened): the stream is not quiet, and the quiet clock restarts. */
    #sawRecord(): void {
        if (this.index.caughtUp) {
            return;
        }
        this.#lastRecordAt = Date.now();
        if (this.#quiet) {
            this.#quiet = false;
            this.index.setQuiet(false);
        }
        if (this.#quietTimer === undefined) {
            this.#armQuietTimer(this.#quietMs);
        }
    }

    #armQuietTimer(delayMs: number): void {
        this.#quietTimer = setTimeout(() => {
            this.#quietTimer = undefined;
            const silentFor = Date.now() - this.#lastRecordAt;
            if (silentFor >= this.#quietMs) {
                this.#quiet = true;
                this.index.setQuiet(true);
            } else if (!this.index.caughtUp) {
                this.#armQuietTimer(this.#quietMs - silentFor);
            }
        }, delayMs);
        this.#quietTimer.unref();
    }

    #stopQuietTimer(): void {
        clearTimeout(this.#quietTimer);
        this.#quietTimer = undefined;
        if (this.#quiet) {
            this.#quiet = false;
            this.index.setQuiet(false);
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
