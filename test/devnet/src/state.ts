// Versioned world state of one channel, ordered like LevelDB orders Fabric's keys (by UTF-8 bytes), plus the
// read/commit lock Fabric's transaction manager holds: simulations share it, a block commit takes it exclusively,
// so a simulation never sees a half-applied block.

export interface Version {
    blockNum: number;
    txNum: number;
}

export interface VersionedValue {
    value: Buffer;
    version: Version;
}

interface Entry extends VersionedValue {
    key: string;
    keyBytes: Buffer;
}

export interface StateResult {
    key: string;
    value: Buffer;
    version: Version;
}

export function compareKeys(a: string, b: string): number {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function sameVersion(a: Version | undefined, b: Version | undefined): boolean {
    if (!a || !b) return !a && !b;
    return a.blockNum === b.blockNum && a.txNum === b.txNum;
}

class Namespace {
    readonly byKey = new Map<string, Entry>();
    readonly sorted: Entry[] = [];

    /** index of the first entry whose key is >= key */
    lowerBound(keyBytes: Buffer): number {
        let lo = 0;
        let hi = this.sorted.length;
        while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            const e = this.sorted[mid];
            if (e && Buffer.compare(e.keyBytes, keyBytes) < 0) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    put(key: string, value: Buffer, version: Version): void {
        const existing = this.byKey.get(key);
        if (existing) {
            existing.value = value;
            existing.version = version;
            return;
        }
        const keyBytes = Buffer.from(key, 'utf8');
        const entry: Entry = { key, keyBytes, value, version };
        this.sorted.splice(this.lowerBound(keyBytes), 0, entry);
        this.byKey.set(key, entry);
    }

    delete(key: string): void {
        const existing = this.byKey.get(key);
        if (!existing) return;
        this.byKey.delete(key);
        const idx = this.lowerBound(existing.keyBytes);
        this.sorted.splice(idx, 1);
    }
}

export interface WriteOp {
    namespace: string;
    key: string;
    isDelete: boolean;
    value: Buffer;
}

export class WorldState {
    readonly #namespaces = new Map<string, Namespace>();

    #ns(namespace: string): Namespace {
        let ns = this.#namespaces.get(namespace);
        if (!ns) {
            ns = new Namespace();
            this.#namespaces.set(namespace, ns);
        }
        return ns;
    }

    get(namespace: string, key: string): VersionedValue | undefined {
        const e = this.#namespaces.get(namespace)?.byKey.get(key);
        return e ? { value: e.value, version: e.version } : undefined;
    }

    /**
     * Iterates [startKey, endKey) in key order (endKey '' = no upper bound). The iterator reads the live state,
     * which is stable for the holder of a simulation lock.
     */
    *range(namespace: string, startKey: string, endKey: string, includeEnd = false): Generator<StateResult> {
        const ns = this.#namespaces.get(namespace);
        if (!ns) return;
        const start = Buffer.from(startKey, 'utf8');
        const end = endKey === '' ? undefined : Buffer.from(endKey, 'utf8');
        let i = ns.lowerBound(start);
        // Re-locate by key after each yield: the array may not change while a lock is held, but be defensive.
        for (;;) {
            const e = ns.sorted[i];
            if (!e) return;
            if (end) {
                const c = Buffer.compare(e.keyBytes, end);
                if (c > 0 || (c === 0 && !includeEnd)) return;
            }
            yield { key: e.key, value: e.value, version: e.version };
            i++;
        }
    }

    apply(writes: WriteOp[], version: Version): void {
        for (const w of writes) {
            if (w.isDelete) this.#ns(w.namespace).delete(w.key);
            else this.#ns(w.namespace).put(w.key, w.value, version);
        }
    }

    size(namespace: string): number {
        return this.#namespaces.get(namespace)?.sorted.length ?? 0;
    }
}

/** Shared/exclusive lock with writer preference (a waiting commit blocks new simulations). */
export class CommitLock {
    #readers = 0;
    #writer = false;
    #waitingWriters: (() => void)[] = [];
    #waitingReaders: (() => void)[] = [];

    async acquireShared(): Promise<() => void> {
        if (this.#writer || this.#waitingWriters.length > 0) {
            await new Promise<void>((resolve) => this.#waitingReaders.push(resolve));
        } else {
            this.#readers++;
        }
        let released = false;
        return () => {
            if (released) return;
            released = true;
            this.#readers--;
            this.#wake();
        };
    }

    async acquireExclusive(): Promise<() => void> {
        if (this.#writer || this.#readers > 0) {
            await new Promise<void>((resolve) => this.#waitingWriters.push(resolve));
        } else {
            this.#writer = true;
        }
        return () => {
            this.#writer = false;
            this.#wake();
        };
    }

    #wake(): void {
        if (this.#writer || this.#readers > 0) return;
        const w = this.#waitingWriters.shift();
        if (w) {
            this.#writer = true;
            w();
            return;
        }
        const readers = this.#waitingReaders;
        this.#waitingReaders = [];
        for (const r of readers) {
            this.#readers++;
            r();
        }
    }
}
