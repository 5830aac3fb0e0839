import * as path from 'node:path';
import type { EventIndex } from './eventindex';
import { Listener, type ListenerOptions, type ListenerTarget } from './listener';
import { FileEventStore, MemoryEventStore, type EventStore } from './store';

export interface EventHubOptions extends ListenerOptions {
    /** Directory of the event indexes; undefined keeps each in a temporary directory removed on close. */
    readonly stateDir?: string;
}

/** Whether the event indexes have caught up with the chain (read by the readiness health names). */
export interface IndexReadiness {
    /** False while the index of that channel and chaincode is catching up; true when it has no listener. */
    caughtUp(channel: string, chaincode: string): boolean;
    /** Calls `listener` whenever an index has caught up; returns the unsubscribe function. */
    onChange(listener: () => void): () => void;
}

function listenerKey(channel: string, chaincode: string): string {
    return `${channel}\u0000${chaincode}`;
}

/**
 * Owns one event index and one chaincode-event listener per (channel, chaincode). The listener reads
 * `chaincode-updates` events from the index's checkpoint block, appends each new transaction, and
 * reconnects with backoff whenever the event stream fails or ends.
 */
export class EventHub implements IndexReadiness {
    readonly #options: EventHubOptions;
    readonly #listeners = new Map<string, Listener>();
    readonly #changes = new Set<() => void>();

    constructor(options: Readonly<EventHubOptions>) {
        this.#options = options;
    }

    /** The index of a channel and chaincode, its listener started on first use. */
    index(target: ListenerTarget): EventIndex {
        const key = listenerKey(target.channel, target.chaincode);
        let listener = this.#listeners.get(key);
        if (listener === undefined) {
            listener = new Listener(target, this.#newStore(target), this.#options);
            this.#listeners.set(key, listener);
            listener.index.onCaughtUp(() => {
                for (const change of [...this.#changes]) {
                    change();
                }
            });
            listener.start();
        }
        return listener.index;
    }

    caughtUp(channel: string, chaincode: string): boolean {
        return this.#listeners.get(listenerKey(channel, chaincode))?.index.caughtUp ?? true;
    }

    onChange(listener: () => void): () => void {
        this.#changes.add(listener);
        return () => this.#changes.delete(listener);
    }

    /** Stop every listener and close the indexes (without waiting: see {@link shutdown}). */
    close(): void {
        this.shutdown().catch((err: unknown) => {
            this.#options.logger.error({ err }, 'closing the event indexes failed');
        });
    }

    /** Stop every listener; resolves once every index has saved its queue and closed its database. */
    async shutdown(): Promise<void> {
        const listeners = [...this.#listeners.values()];
        this.#listeners.clear();
        await Promise.all(listeners.map((listener) => listener.close()));
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
