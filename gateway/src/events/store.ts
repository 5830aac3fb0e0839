import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { CHECKPOINT_KEY, type Checkpoint, FORMAT, FORMAT_KEY, parseCheckpoint } from './layout';

export type EventDatabase = ClassicLevel<Buffer, Buffer>;

/** Databases being closed, by directory: opening one waits for its close (LevelDB's lock). */
const closing = new Map<string, Promise<void>>();

/** Files of the hand-written format that came before LevelDB (removed at open: the index is rebuilt). */
const LEGACY_FILES = ['index.bin', 'checkpoint.json', 'checkpoint.json.tmp'];

/**
 * The LevelDB database of one event index (`classic-level`: every call is asynchronous, run on libuv's
 * thread pool). Nothing of the events is kept in memory: LevelDB's own write buffer and block cache
 * are bounded ({@link LEVEL_OPTIONS}).
 */
export class EventStore {
    readonly #location: (() => Promise<string>) | string;
    readonly #temporary: boolean;
    #dir: string | undefined;
    #db: EventDatabase | undefined;

    protected constructor(location: (() => Promise<string>) | string, temporary: boolean) {
        this.#location = location;
        this.#temporary = temporary;
    }

    /** The open database (after {@link open}). */
    get db(): EventDatabase {
        if (this.#db === undefined) {
            throw new Error('event store is not open');
        }
        return this.#db;
    }

    get directory(): string | undefined {
        return this.#dir;
    }

    /** Open (creating it if needed) and return the saved checkpoint, undefined for an empty index. */
    async open(): Promise<Checkpoint | undefined> {
        const dir = typeof this.#location === 'string' ? this.#location : await this.#location();
        this.#dir = dir;
        await closing.get(dir);
        await fs.mkdir(dir, { recursive: true });
        await Promise.all(LEGACY_FILES.map((file) => fs.rm(path.join(dir, file), { force: true })));
        const db: EventDatabase = new ClassicLevel<Buffer, Buffer>(dir, LEVEL_OPTIONS);
        await db.open();
        try {
            const format = await db.get(FORMAT_KEY);
            if (format?.toString('utf8') !== FORMAT) {
                // Empty, or another layout: the chain is the record, so start over.
                await db.clear();
                await db.put(FORMAT_KEY, Buffer.from(FORMAT, 'utf8'));
            }
            const checkpoint = parseCheckpoint(await db.get(CHECKPOINT_KEY));
            this.#db = db;
            return checkpoint;
        } catch (err) {
            await db.close();
            throw err;
        }
    }

    /** Close the database (and remove it when temporary); opening the same directory again waits for this. */
    async close(): Promise<void> {
        const db = this.#db;
        const dir = this.#dir;
        this.#db = undefined;
        if (db === undefined || dir === undefined) {
            return;
        }
        const done = (async () => {
            await db.close();
            if (this.#temporary) {
                await fs.rm(dir, { recursive: true, force: true });
            }
        })();
        const entry = done.catch(() => undefined);
        closing.set(dir, entry);
        try {
            await done;
        } finally {
            if (closing.get(dir) === entry) {
                closing.delete(dir);
            }
        }
    }
}

/**
 * LevelDB settings: 4 MiB write buffer and 8 MiB block cache (LevelDB's defaults, stated), 8 MiB table
 * files so that a big index stays a few hundred files, and at most 256 of them open at once.
 */
export const LEVEL_OPTIONS = {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    writeBufferSize: 4 * 1024 * 1024,
    cacheSize: 8 * 1024 * 1024,
    maxFileSize: 8 * 1024 * 1024,
    maxOpenFiles: 256,
    compression: true,
} as const;

/** A LevelDB index in `dir` (the gateway's `ORCHESTRATOR_STATE_DIR/events/<channel>/<chaincode>/`). */
export class FileEventStore extends EventStore {
    constructor(dir: string) {
        super(path.resolve(dir), false);
    }
}

/**
 * A LevelDB index in a new temporary directory, removed on close: nothing survives a restart (the
 * index is rebuilt from the chain), and nothing of the events is held in the heap either. Used when the
 * gateway has no state directory (unit tests).
 */
export class MemoryEventStore extends EventStore {
    constructor() {
        super(() => fs.mkdtemp(path.join(os.tmpdir(), 'substra-gateway-events-')), true);
    }
}
