/** Raised by {@link Limiter.run} when the caller gave up while waiting for a slot. */
export class AbortedWhileQueued extends Error {
    constructor() {
        super('cancelled while waiting for a free submit slot');
        this.name = 'AbortedWhileQueued';
    }
}

interface Waiter {
    readonly resolve: () => void;
}

/**
 * A FIFO counting semaphore: at most `limit` holders at once (0 = no bound). Waiters are served in
 * arrival order; one whose signal aborts leaves the queue without ever running.
 */
export class Limiter {
    readonly #limit: number;
    readonly #queue: Waiter[] = [];
    #active = 0;

    constructor(limit: number) {
        this.#limit = limit > 0 ? limit : Number.POSITIVE_INFINITY;
    }

    /** Holders now. */
    get active(): number {
        return this.#active;
    }

    /** Callers waiting for a slot. */
    get waiting(): number {
        return this.#queue.length;
    }

    /** Run `task` once a slot is free; the slot is released when it settles. */
    async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
        if (signal?.aborted) {
            throw new AbortedWhileQueued();
        }
        if (this.#active >= this.#limit) {
            await this.#wait(signal);
        } else {
            this.#active++;
        }
        try {
            return await task();
        } finally {
            const next = this.#queue.shift();
            if (next === undefined) {
                this.#active--;
            } else {
                next.resolve(); // the slot passes to the next waiter
            }
        }
    }

    #wait(signal: AbortSignal | undefined): Promise<void> {
        return new Promise<void>((resolve, reject) => {
            const onAbort = (): void => {
                const at = this.#queue.indexOf(waiter);
                if (at >= 0) {
                    this.#queue.splice(at, 1);
                    reject(new AbortedWhileQueued());
                }
            };
            const waiter: Waiter = {
                resolve: () => {
                    signal?.removeEventListener('abort', onAbort);
                    resolve();
                },
            };
            this.#queue.push(waiter);
            signal?.addEventListener('abort', onAbort, { once: true });
        });
    }
}
