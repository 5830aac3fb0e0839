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

/** Where an event index keeps its transactions between restarts. */
export interface EventStore {
    /** Records saved so far, in append order, and the checkpoint (undefined when starting from scratch). */
    load(): { records: TransactionRecord[]; checkpoint: Checkpoint | undefined };
    append(record: TransactionRecord): void;
    close(): void;
}

/** Keeps nothing: the index is rebuilt from the chain at every start. */
export class MemoryEventStore implements EventStore {
    load(): { records: TransactionRecord[]; checkpoint: Checkpoint | undefined } {
        return { records: [], checkpoint: undefined };
    }

    append(): void {
        // nothing to keep
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
 * from block 0. No fsync: the rule above already covers data lost by a machine crash, and a synchronous
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

    load(): { records: TransactionRecord[]; checkpoint: Checkpoint | undefined } {
        fs.mkdirSync(this.#dir, { recursive: true });
        const saved = this.#readCheckpoint();
        let records: TransactionRecord[] = [];
        let checkpoint: Checkpoint | undefined;
        if (saved !== undefined && fs.existsSync(this.#indexPath)) {
            const bytes = fs.readFileSync(this.#indexPath);
            if (bytes.length >= saved.indexBytes) {
                try {
                    records = parseRecords(bytes.subarray(0, saved.indexBytes));
                    checkpoint = { blockNumber: BigInt(saved.blockNumber), transactionId: saved.transactionId };
                    this.#size = saved.indexBytes;
                } catch {
                    records = [];
                }
            }
        }
        if (checkpoint === undefined) {
            this.#size = 0;
            fs.rmSync(this.#checkpointPath, { force: true });
        }
        fs.writeFileSync(this.#indexPath, '', { flag: 'a' });
        fs.truncateSync(this.#indexPath, this.#size);
        this.#fd = fs.openSync(this.#indexPath, 'a');
        return { records, checkpoint };
    }

    append(record: TransactionRecord): void {
        if (this.#fd === undefined) {
            throw new Error('event store not loaded');
        }
        const bytes = encodeRecord(record);
        fs.writeSync(this.#fd, bytes);
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

function parseRecords(bytes: Buffer): TransactionRecord[] {
    const records: TransactionRecord[] = [];
    let pos = 0;
    while (pos < bytes.length) {
        const length = bytes.readUInt32BE(pos);
        const end = pos + 4 + length;
        if (end > bytes.length) {
            throw new Error('corrupt event index');
        }
        const blockNumber = bytes.readBigUInt64BE(pos + 4);
        const txLength = bytes.readUInt16BE(pos + 12);
        const txStart = pos + HEADER_BYTES;
        const transactionId = bytes.toString('utf8', txStart, txStart + txLength);
        records.push({ blockNumber, transactionId, payload: bytes.subarray(txStart + txLength, end) });
        pos = end;
    }
    return records;
}
