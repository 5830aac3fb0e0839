/**
 * Whether an event index has caught up with the chain as it was when its listener started (then it stays
 * so). The index tells it the last block it has saved ({@link CatchUp.update}); the listener tells it the
 * chain height, and either the last block up to it holding events of the chaincode (exact) or whether its
 * event stream has gone quiet (the peer sends nothing for blocks without such an event).
 */
export class CatchUp {
    readonly #listeners = new Set<() => void>();
    #target: bigint | undefined;
    #exact = false;
    #eventTarget: bigint | undefined;
    #heightUnknowable = false;
    #quiet = false;
    #caughtUp = false;
    #closed = false;

    get caughtUp(): boolean {
        return this.#caughtUp;
    }

    /** Last block of the chain when the listener started (undefined: not known yet). */
    get target(): bigint | undefined {
        return this.#target;
    }

    /** The chain height when the listener started (the first one told counts). */
    expectHeight(height: bigint, exact: boolean): void {
        if (this.#target === undefined) {
            this.#target = height - 1n;
            this.#exact = exact;
        }
    }

    /** The last block up to the target holding events of the chaincode (undefined: none after the checkpoint). */
    expectLastEventBlock(block: bigint | undefined): void {
        this.#eventTarget = block ?? -1n;
    }

    heightUnknowable(): void {
        this.#heightUnknowable = true;
    }

    setQuiet(quiet: boolean): void {
        this.#quiet = quiet;
    }

    /** Decide again, `last` being the last block the index has saved (-1 when none). */
    update(last: bigint): void {
        if (this.#caughtUp) {
            return;
        }
        const reached = this.#exact
            ? this.#eventTarget !== undefined && last >= this.#eventTarget
            : this.#target !== undefined && last >= this.#target;
        const quiet = !this.#exact && this.#quiet && (this.#target !== undefined || this.#heightUnknowable);
        if (reached || quiet) {
            this.#caughtUp = true;
            this.#notify();
        }
    }

    /** Calls `listener` when the index has caught up (or closes); returns the unsubscribe function. */
    onCaughtUp(listener: () => void): () => void {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
    }

    /** Resolves true once caught up, false after `timeoutMs` (or when the index closes). */
    whenCaughtUp(timeoutMs: number): Promise<boolean> {
        if (this.#caughtUp) {
            return Promise.resolve(true);
        }
        if (this.#closed) {
            return Promise.resolve(false);
        }
        return new Promise((resolve) => {
            const finish = (value: boolean): void => {
                clearTimeout(timer);
                unsubscribe();
                resolve(value);
            };
            const timer = setTimeout(() => {
                finish(this.#caughtUp);
            }, timeoutMs);
            const unsubscribe = this.onCaughtUp(() => {
                finish(this.#caughtUp);
            });
        });
    }

    /** The index closed: every listener is called (and {@link whenCaughtUp} resolves false from now on). */
    close(): void {
        this.#closed = true;
        this.#notify();
    }

    #notify(): void {
        for (const listener of [...this.#listeners]) {
            listener();
        }
    }
}
