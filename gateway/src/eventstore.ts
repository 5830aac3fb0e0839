import * as fs from 'node:fs';
import * as path from 'node:path';

/** One chaincode event as kept on disk: the transaction it came from and its raw payload. */
export interface TransactionRecord {
    readonly blockNumber: bigint;
    readonly transactionId: string;
    readonly payload: Uint8Array;
}

/** Last transaction written to the index file. */
export interface Checkpoint {
    readonly blockNumber: bigint;
    readonly transactionId: string;
}

/**
 * Where an event index keeps its transactions. The index holds only what it filters and sorts on, plus
 * the store position of each event's bytes, and reads the bytes back with {@link EventStore.read}.
 */
export interface EventStore {
    /**
     * Visit the saved records in append order, each with the store position of its payload; returns the
     * checkpoint (undefined when starting from scratch). The payload passed to `visit` is only valid
     * during the call.
     */
    load(visit: (record: TransactionRecord, payloadPosition: number) => void): Checkpoint | undefined;
    /** Save a record; returns the store position of its payload. */
    append(record: TransactionRecord): number;
    /** `length` bytes at a store position. */
    read(position: number, length: number): Uint8Array;
    close(): void;
}

/** Keeps the payloads in memory only: the index is rebuilt from the chain at every start. */
export class MemoryEventStore implements EventStore {
    readonly #payloads: Uint8Array[] = [];
    readonly #starts: number[] = [];
    #size = 0;

    load(): Checkpoint | undefined {
        return undefined;
    }

    append(record: TransactionRecord): number {
        const position = this.#size;
        this.#payloads.push(record.payload);
        this.#starts.push(position);
        this.#size += record.payload.length;
        return position;
    }

    read(position: number, length: number): Uint8Array {
        let lo = 0;
        let hi = this.#starts.length - 1;
        while (lo < hi) {
            const mid = (lo + hi + 1) >>> 1;
            if ((this.#starts[mid] ?? 0) <= position) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        const start = this.#starts[lo] ?? 0;
        const payload = this.#payloads[lo];
        if (payload === undefined || position - start + length > payload.length) {
            throw new Error(`no stored bytes at ${position}`);
        }
        return payload.subarray(position - start, position - start + length);
    }

    close(): void {
        // nothing to release
    }
}

interface CheckpointFile {
    readonly version: 1;
    readonly blockNumber: string;
    readonly transactionId: string;
    /** Size of the index file when this checkpoint was written. */
    readonly indexBytes: number;
}

const HEADER_BYTES = 4 + 8 + 2;

/**
 * File store under `<dir>`: `index.bin` holds the transactions one after the other
 * (`u32 record length | u64 block | u16 txid length | txid | payload`, big-endian), and
 * `checkpoint.json` the last transaction and the index size, written after each append (write to a
 * temporary file, rename). At load, bytes past the checkpointed size are cut (a crash between the two
 * writes); an index shorter than the checkpoint, or a missing file, resets both, so the index is rebuilt
 * from block 0. The index keeps only compact metadata and payload positions in memory; event bytes are
 * read back from `index.bin` when sent. No fsync: the rule above already covers data lost by a machine crash, and a synchronous
 * flush per transaction would block every call on the event loop. Deleting the directory loses nothing:
 * the chain is the record.
 */
export class FileEventStore implements EventStore {
    readonly #dir: string;
    readonly #indexPath: string;
    readonly #checkpointPath: string;
    #fd: number | undefined;
    #size = 0;

    constructor(dir: string) {
        this.#dir = dir;
        this.#indexPath = path.join(dir, 'index.bin');
        this.#checkpointPath = path.join(dir, 'checkpoint.json');
    }

    load(visit: (record: TransactionRecord, payloadPosition: number) => void): Checkpoint | undefined {
        fs.mkdirSync(this.#dir, { recursive: true });
        const saved = this.#readCheckpoint();
        let checkpoint: Checkpoint | undefined;
        this.#size = 0;
        fs.writeFileSync(this.#indexPath, '', { flag: 'a' });
        this.#fd = fs.openSync(this.#indexPath, 'a+');
        if (saved !== undefined && fs.fstatSync(this.#fd).size >= saved.indexBytes) {
            try {
                // Check the framing of the whole file before the index sees any record.
                scanRecords(this.#fd, saved.indexBytes, () => undefined);
                checkpoint = { blockNumber: BigInt(saved.blockNumber), transactionId: saved.transactionId };
                this.#size = saved.indexBytes;
            } catch {
                checkpoint = undefined;
            }
            if (checkpoint !== undefined) {
                scanRecords(this.#fd, this.#size, visit);
            }
        }
        if (checkpoint === undefined) {
            fs.rmSync(this.#checkpointPath, { force: true });
        }
        fs.ftruncateSync(this.#fd, this.#size);
        return checkpoint;
    }

    append(record: TransactionRecord): number {
        if (this.#fd === undefined) {
            throw new Error('event store not loaded');
        }
        const bytes = encodeRecord(record);
        fs.writeSync(this.#fd, bytes);
        const payloadPosition = this.#size + bytes.length - record.payload.length;
        this.#size += bytes.length;
        const checkpoint: CheckpointFile = {
            version: 1,
            blockNumber: record.blockNumber.toString(),
            transactionId: record.transactionId,
            indexBytes: this.#size,
        };
        const tmp = `${this.#checkpointPath}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(checkpoint));
        fs.renameSync(tmp, this.#checkpointPath);
        return payloadPosition;
    }

    read(position: number, length: number): Uint8Array {
        if (this.#fd === undefined) {
            throw new Error('event store closed');
        }
        return readExactly(this.#fd, position, length);
    }

    close(): void {
        if (this.#fd !== undefined) {
            fs.closeSync(this.#fd);
            this.#fd = undefined;
        }
    }

    #readCheckpoint(): CheckpointFile | undefined {
        try {
            const parsed = JSON.parse(fs.readFileSync(this.#checkpointPath, 'utf8')) as Partial<CheckpointFile>;
            if (
                parsed.version === 1 &&
                typeof parsed.blockNumber === 'string' &&
                typeof parsed.transactionId === 'string' &&
                typeof parsed.indexBytes === 'number'
            ) {
                return parsed as CheckpointFile;
            }
        } catch {
            // missing or unreadable: start from scratch
        }
        return undefined;
    }
}

function encodeRecord(record: TransactionRecord): Buffer {
    const txId = Buffer.from(record.transactionId, 'utf8');
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32BE(HEADER_BYTES - 4 + txId.length + record.payload.length, 0);
    header.writeBigUInt64BE(record.blockNumber, 4);
    header.writeUInt16BE(txId.length, 12);
    return Buffer.concat([header, txId, record.payload]);
}

function readExactly(fd: number, position: number, length: number): Buffer {
    const bytes = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
        const read = fs.readSync(fd, bytes, done, length - done, position + done);
        if (read === 0) {
            throw new Error('corrupt event index');
        }
        done += read;
    }
    return bytes;
}

const SCAN_CHUNK_BYTES = 1 << 20;

/**
 * Read the records of the first `size` bytes of an index file through a fixed-size window (a record
 * larger than the window is read on its own), so loading never holds the whole file in memory.
 */
function scanRecords(
    fd: number,
    size: number,
    visit: (record: TransactionRecord, payloadPosition: number) => void,
): void {
    let window: Buffer = Buffer.alloc(0);
    let windowStart = 0;
    const view = (position: number, length: number): Buffer => {
        if (position + length > size) {
            throw new Error('corrupt event index');
        }
        if (position < windowStart || position + length > windowStart + window.length) {
            window = readExactly(fd, position, Math.min(size - position, Math.max(length, SCAN_CHUNK_BYTES)));
            windowStart = position;
        }
        return window.subarray(position - windowStart, position - windowStart + length);
    };
    let pos = 0;
    while (pos < size) {
        const length = view(pos, 4).readUInt32BE(0);
        if (length < HEADER_BYTES - 4) {
            throw new Error('corrupt event index');
        }
        const record = view(pos, 4 + length);
        const txLength = record.readUInt16BE(12);
        const payloadStart = HEADER_BYTES + txLength;
        if (payloadStart > record.length) {
            throw new Error('corrupt event index');
        }
        visit(
            {
                blockNumber: record.readBigUInt64BE(4),
                transactionId: record.toString('utf8', HEADER_BYTES, payloadStart),
                payload: record.subarray(payloadStart),
            },
            pos + payloadStart,
        );
        pos += 4 + length;
    }
}
