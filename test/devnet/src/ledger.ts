// One channel's ledger: block store, transaction index, world state, and the committer that validates each
// transaction of a block in order (creator signature, duplicate id, endorsement policy, MVCC and phantom reads)
// before applying the valid ones. Also the "orderer": a batch cutter with a timeout and a maximum count.

import { common, ledger, peer } from '@hyperledger/fabric-protos';
import { EventEmitter } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MspRegistry } from './msp';
import {
    blockHeaderHash,
    buildBlock,
    computeTxId,
    genesisEnvelope,
    ParsedTransaction,
    parseTransaction,
    proposalHash,
} from './protoutil';
import { compareKeys, CommitLock, sameVersion, Version, WorldState, WriteOp } from './state';
import { TxSimulator } from './simulator';

const Code = peer.TxValidationCode;

export type EndorsementPolicy = 'or' | 'and';

export interface TxRecord {
    txId: string;
    blockNum: number;
    txNum: number;
    code: number;
}

export interface BlockTx {
    txId: string;
    code: number;
    /** chaincode event of the transaction (with chaincode id and tx id set), if it emitted one */
    event?: peer.ChaincodeEvent;
}

export interface StoredBlock {
    block: common.Block;
    number: number;
    txs: BlockTx[];
}

export interface LedgerOptions {
    channelId: string;
    /** chaincode names defined on the channel (their namespaces) */
    chaincodes: string[];
    msps: MspRegistry;
    /** MSP ids of the channel's member orgs */
    orgs: string[];
    policy: EndorsementPolicy;
    batchTimeoutMs: number;
    maxMessageCount: number;
    log?: (line: string) => void;
    /** file the blocks are appended to (length-prefixed common.Block); none: memory only */
    blockFile?: string;
    /** rebuild the ledger and world state from blockFile instead of starting a new chain */
    restore?: boolean;
}

export class ChannelLedger {
    readonly channelId: string;
    readonly state = new WorldState();
    readonly lock = new CommitLock();
    readonly #opts: LedgerOptions;
    readonly #blocks: StoredBlock[] = [];
    readonly #txIndex = new Map<string, TxRecord>();
    readonly #events = new EventEmitter();
    #pending: { txId: string; envelope: Uint8Array }[] = [];
    #pendingIds = new Set<string>();
    #timer: NodeJS.Timeout | undefined;
    #committing: Promise<void> = Promise.resolve();
    #closed = false;

    constructor(opts: LedgerOptions) {
        this.#opts = opts;
        this.channelId = opts.channelId;
        this.#events.setMaxListeners(0);
        if (opts.blockFile && opts.restore && existsSync(opts.blockFile)) {
            this.#restore(opts.blockFile);
        }
        if (this.#blocks.length === 0) {
            if (opts.blockFile) {
                mkdirSync(path.dirname(opts.blockFile), { recursive: true });
                writeFileSync(opts.blockFile, new Uint8Array(0));
            }
            this.#append([genesisEnvelope(opts.channelId)], [Code.VALID], [{ txId: '', code: Code.VALID }]);
        }
    }

    /** Replays stored blocks: the validation codes recorded in each block decide which writes apply. */
    #restore(file: string): void {
        const buf = readFileSync(file);
        let off = 0;
        while (off + 4 <= buf.length) {
            const len = buf.readUInt32BE(off);
            if (off + 4 + len > buf.length) break; // torn write at the end: ignore it
            const block = common.Block.deserializeBinary(buf.subarray(off + 4, off + 4 + len));
            off += 4 + len;
            const number = block.getHeader()?.getNumber() ?? -1;
            if (number !== this.#blocks.length)
                throw new Error(`${file}: expected block ${this.#blocks.length}, found ${number}`);
            const filter = block.getMetadata()?.getMetadataList_asU8()[2] ?? new Uint8Array(0);
            const txs: BlockTx[] = [];
            (block.getData()?.getDataList_asU8() ?? []).forEach((data, txNum) => {
                const code = filter[txNum] ?? Code.NOT_VALIDATED;
                let tx: ParsedTransaction | undefined;
                try {
                    tx = parseTransaction(common.Envelope.deserializeBinary(data));
                } catch {
                    tx = undefined;
                }
                const bt: BlockTx = { txId: number === 0 ? '' : (tx?.txId ?? ''), code };
                if (code === Code.VALID && tx?.endorser) {
                    const { writes, event } = actionEffects(tx.endorser.action);
                    this.state.apply(writes, { blockNum: number, txNum });
                    if (event) bt.event = event;
                }
                txs.push(bt);
            });
            this.#store(block, txs, false);
        }
        this.#opts.log?.(`[${this.channelId}] restored ${this.#blocks.length} blocks from ${file}`);
    }

    get height(): number {
        return this.#blocks.length;
    }

    block(n: number): StoredBlock | undefined {
        return this.#blocks[n];
    }

    txRecord(txId: string): TxRecord | undefined {
        return this.#txIndex.get(txId);
    }

    hasChaincode(name: string): boolean {
        return this.#opts.chaincodes.includes(name);
    }

    /**
     * Starts a simulation on committed state; the caller must finish() it. `lockHeld`: the caller already holds
     * the shared lock (several endorsements of one proposal then see the same state).
     */
    async newSimulator(namespace: string, txId: string, lockHeld = false): Promise<TxSimulator> {
        const release = lockHeld ? () => undefined : await this.lock.acquireShared();
        return new TxSimulator(this.state, namespace, txId, release);
    }

    /** Waits until the transaction is committed (resolves immediately if it already is). */
    waitForTx(txId: string, signal?: AbortSignal): Promise<TxRecord> {
        const rec = this.#txIndex.get(txId);
        if (rec) return Promise.resolve(rec);
        return new Promise((resolve, reject) => {
            const onCommit = (r: TxRecord) => {
                signal?.removeEventListener('abort', onAbort);
                resolve(r);
            };
            const onAbort = () => {
                this.#events.off(`tx:${txId}`, onCommit);
                reject(new Error('cancelled'));
            };
            this.#events.once(`tx:${txId}`, onCommit);
            signal?.addEventListener('abort', onAbort, { once: true });
        });
    }

    /** Waits until the ledger height exceeds n. */
    waitForBlock(n: number, signal?: AbortSignal): Promise<void> {
        if (this.height > n) return Promise.resolve();
        return new Promise((resolve, reject) => {
            const onBlock = () => {
                if (this.height > n) {
                    this.#events.off('block', onBlock);
                    signal?.removeEventListener('abort', onAbort);
                    resolve();
                }
            };
            const onAbort = () => {
                this.#events.off('block', onBlock);
                reject(new Error('cancelled'));
            };
            this.#events.on('block', onBlock);
            signal?.addEventListener('abort', onAbort, { once: true });
        });
    }

    /**
     * Orderer-side admission of an envelope: well-formed, for this channel, signed by a valid member.
     * Returns an error text for a FORBIDDEN/BAD_REQUEST broadcast response, or undefined when accepted.
     */
    broadcast(envelope: common.Envelope): { status: string; info: string } | undefined {
        if (this.#closed) return { status: 'SERVICE_UNAVAILABLE', info: 'the network is stopping' };
        let tx: ParsedTransaction;
        try {
            tx = parseTransaction(envelope);
        } catch (err) {
            return { status: 'BAD_REQUEST', info: (err as Error).message };
        }
        if (tx.channelId !== this.channelId) {
            return { status: 'BAD_REQUEST', info: `channel [${tx.channelId}] does not match [${this.channelId}]` };
        }
        try {
            const creator = this.#opts.msps.verify(tx.signatureHeader.getCreator_asU8(), tx.payloadBytes, tx.signature);
            if (!this.#opts.orgs.includes(creator.mspId)) throw new Error(`${creator.mspId} is not a channel member`);
        } catch (err) {
            return {
                status: 'FORBIDDEN',
                info: `implicit policy evaluation failed - the creator of the envelope does not satisfy /Channel/Writers: ${(err as Error).message}`,
            };
        }
        this.#pending.push({ txId: tx.txId, envelope: envelope.serializeBinary() });
        this.#pendingIds.add(tx.txId);
        if (this.#pending.length >= this.#opts.maxMessageCount) {
            this.#cut();
        } else {
            this.#timer ??= setTimeout(() => {
                this.#cut();
            }, this.#opts.batchTimeoutMs);
        }
        return undefined;
    }

    #cut(): void {
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = undefined;
        const batch = this.#pending;
        this.#pending = [];
        this.#pendingIds = new Set();
        if (batch.length === 0) return;
        this.#committing = this.#committing.then(() => this.#commit(batch.map((b) => b.envelope)));
    }

    async #commit(envelopes: Uint8Array[]): Promise<void> {
        const release = await this.lock.acquireExclusive();
        try {
            const blockNum = this.height;
            const codes: number[] = [];
            const txs: BlockTx[] = [];
            const blockWrites = new Map<string, Map<string, WriteOp>>();
            const seen = new Set<string>();
            const updates: { writes: WriteOp[]; version: Version }[] = [];
            envelopes.forEach((bytes, txNum) => {
                const { code, txId, writes, event } = this.#validate(bytes, seen, blockWrites);
                codes.push(code);
                txs.push({ txId, code, ...(code === Code.VALID && event ? { event } : {}) });
                if (code === Code.VALID) {
                    updates.push({ writes, version: { blockNum, txNum } });
                    for (const w of writes) {
                        let ns = blockWrites.get(w.namespace);
                        if (!ns) blockWrites.set(w.namespace, (ns = new Map<string, WriteOp>()));
                        ns.set(w.key, w);
                    }
                }
            });
            for (const u of updates) this.state.apply(u.writes, u.version);
            const records = this.#append(envelopes, codes, txs);
            const summary = codes.map((c) => (c === 0 ? 'VALID' : (codeName(c) ?? String(c)))).join(',');
            this.#opts.log?.(
                `[${this.channelId}] committed block ${blockNum} with ${envelopes.length} tx [${summary}]`,
            );
            for (const r of records) this.#events.emit(`tx:${r.txId}`, r);
            this.#events.emit('block', blockNum);
        } finally {
            release();
        }
    }

    #append(envelopes: Uint8Array[], codes: number[], txs: BlockTx[]): TxRecord[] {
        const number = this.#blocks.length;
        const prev = this.#blocks[number - 1];
        const prevHeader = prev?.block.getHeader();
        const previousHash = prevHeader ? blockHeaderHash(prevHeader) : new Uint8Array(0);
        return this.#store(buildBlock(number, previousHash, envelopes, codes), txs, true);
    }

    #store(block: common.Block, txs: BlockTx[], persist: boolean): TxRecord[] {
        const number = this.#blocks.length;
        if (persist && this.#opts.blockFile) {
            const bytes = block.serializeBinary();
            const len = Buffer.alloc(4);
            len.writeUInt32BE(bytes.length);
            appendFileSync(this.#opts.blockFile, Buffer.concat([len, bytes]));
        }
        this.#blocks.push({ block, number, txs });
        const records: TxRecord[] = [];
        txs.forEach((t, txNum) => {
            if (t.txId === '' || t.code === Code.DUPLICATE_TXID) return;
            const rec = { txId: t.txId, blockNum: number, txNum, code: t.code };
            this.#txIndex.set(t.txId, rec);
            records.push(rec);
        });
        return records;
    }

    #validate(
        bytes: Uint8Array,
        seen: Set<string>,
        blockWrites: Map<string, Map<string, WriteOp>>,
    ): { code: number; txId: string; writes: WriteOp[]; event?: peer.ChaincodeEvent } {
        let tx: ParsedTransaction;
        try {
            tx = parseTransaction(common.Envelope.deserializeBinary(bytes));
        } catch {
            return { code: Code.BAD_PAYLOAD, txId: '', writes: [] };
        }
        const txId = tx.txId;
        const fail = (code: number) => ({ code, txId, writes: [] });
        if (tx.type !== common.HeaderType.ENDORSER_TRANSACTION || !tx.endorser) return fail(Code.UNKNOWN_TX_TYPE);
        if (tx.channelId !== this.channelId) return fail(Code.TARGET_CHAIN_NOT_FOUND);
        try {
            this.#opts.msps.verify(tx.signatureHeader.getCreator_asU8(), tx.payloadBytes, tx.signature);
        } catch {
            return fail(Code.BAD_CREATOR_SIGNATURE);
        }
        if (computeTxId(tx.signatureHeader.getNonce_asU8(), tx.signatureHeader.getCreator_asU8()) !== txId) {
            return fail(Code.BAD_PROPOSAL_TXID);
        }
        if (seen.has(txId) || this.#txIndex.has(txId)) return fail(Code.DUPLICATE_TXID);
        seen.add(txId);

        const e = tx.endorser;
        const expectedHash = proposalHash(tx.header, e.chaincodeProposalPayload);
        if (Buffer.compare(expectedHash, Buffer.from(e.proposalHash)) !== 0) return fail(Code.BAD_RESPONSE_PAYLOAD);
        const ccName = e.action.getChaincodeId()?.getName() ?? '';
        if (!this.hasChaincode(ccName)) return fail(Code.INVALID_CHAINCODE);
        if (!this.#endorsementsSatisfyPolicy(e.prpBytes, e.endorsements)) return fail(Code.ENDORSEMENT_POLICY_FAILURE);
        const response = e.action.getResponse();
        if (!response || response.getStatus() < 200 || response.getStatus() >= 400) {
            return fail(Code.ENDORSEMENT_POLICY_FAILURE);
        }

        let txrw: ledger.rwset.TxReadWriteSet;
        try {
            txrw = ledger.rwset.TxReadWriteSet.deserializeBinary(e.action.getResults_asU8());
        } catch {
            return fail(Code.BAD_RWSET);
        }
        const writes: WriteOp[] = [];
        for (const ns of txrw.getNsRwsetList()) {
            const namespace = ns.getNamespace();
            if (namespace !== ccName) return fail(Code.ILLEGAL_WRITESET);
            let kv: ledger.rwset.kvrwset.KVRWSet;
            try {
                kv = ledger.rwset.kvrwset.KVRWSet.deserializeBinary(ns.getRwset_asU8());
            } catch {
                return fail(Code.BAD_RWSET);
            }
            const inBlock = blockWrites.get(namespace);
            for (const r of kv.getReadsList()) {
                if (inBlock?.has(r.getKey())) return fail(Code.MVCC_READ_CONFLICT);
                const committed = this.state.get(namespace, r.getKey())?.version;
                const v = r.getVersion();
                if (!sameVersion(committed, v ? { blockNum: v.getBlockNum(), txNum: v.getTxNum() } : undefined)) {
                    return fail(Code.MVCC_READ_CONFLICT);
                }
            }
            for (const q of kv.getRangeQueriesInfoList()) {
                if (!this.#rangeStillValid(namespace, q, inBlock)) return fail(Code.PHANTOM_READ_CONFLICT);
            }
            for (const w of kv.getWritesList()) {
                writes.push({
                    namespace,
                    key: w.getKey(),
                    isDelete: w.getIsDelete(),
                    value: Buffer.from(w.getValue_asU8()),
                });
            }
        }
        let event: peer.ChaincodeEvent | undefined;
        const evBytes = e.action.getEvents_asU8();
        if (evBytes.length > 0) {
            try {
                const ev = peer.ChaincodeEvent.deserializeBinary(evBytes);
                if (ev.getEventName() !== '') event = ev;
            } catch {
                return fail(Code.BAD_PAYLOAD);
            }
        }
        return { code: Code.VALID, txId, writes, ...(event ? { event } : {}) };
    }

    /** Re-runs a recorded range query over committed state plus this block's earlier valid writes. */
    #rangeStillValid(
        namespace: string,
        q: ledger.rwset.kvrwset.RangeQueryInfo,
        inBlock: Map<string, WriteOp> | undefined,
    ): boolean {
        const includeEnd = !q.getItrExhausted();
        const start = q.getStartKey();
        const end = q.getEndKey();
        const inRange = (key: string) =>
            compareKeys(key, start) >= 0 &&
            (end === '' || compareKeys(key, end) < 0 || (includeEnd && compareKeys(key, end) === 0));
        const current: { key: string; version: Version | 'new' }[] = [];
        for (const r of this.state.range(namespace, start, end, includeEnd)) {
            const w = inBlock?.get(r.key);
            if (w?.isDelete) continue;
            current.push({ key: r.key, version: w ? 'new' : r.version });
        }
        if (inBlock) {
            for (const w of inBlock.values()) {
                if (!w.isDelete && inRange(w.key) && !this.state.get(namespace, w.key)) {
                    current.push({ key: w.key, version: 'new' });
                }
            }
            current.sort((a, b) => compareKeys(a.key, b.key));
        }
        const reads = q.getRawReads()?.getKvReadsList() ?? [];
        if (reads.length !== current.length) return false;
        return reads.every((r, i) => {
            const c = current[i];
            const v = r.getVersion();
            return (
                c !== undefined &&
                c.key === r.getKey() &&
                c.version !== 'new' &&
                sameVersion(c.version, v ? { blockNum: v.getBlockNum(), txNum: v.getTxNum() } : undefined)
            );
        });
    }

    #endorsementsSatisfyPolicy(prpBytes: Uint8Array, endorsements: peer.Endorsement[]): boolean {
        const orgs = new Set<string>();
        for (const en of endorsements) {
            try {
                const id = this.#opts.msps.verify(
                    en.getEndorser_asU8(),
                    Buffer.concat([prpBytes, en.getEndorser_asU8()]),
                    en.getSignature_asU8(),
                );
                if (id.ou === 'peer' && this.#opts.orgs.includes(id.mspId)) orgs.add(id.mspId);
            } catch {
                // an invalid endorsement simply does not count
            }
        }
        if (this.#opts.policy === 'and') return this.#opts.orgs.every((o) => orgs.has(o));
        return orgs.size > 0;
    }

    /** Stops cutting blocks; pending envelopes are committed first. */
    async close(): Promise<void> {
        this.#cut();
        this.#closed = true;
        await this.#committing;
    }
}

/** Writes and chaincode event of a valid transaction's chaincode action. */
function actionEffects(action: peer.ChaincodeAction): { writes: WriteOp[]; event?: peer.ChaincodeEvent } {
    const writes: WriteOp[] = [];
    const txrw = ledger.rwset.TxReadWriteSet.deserializeBinary(action.getResults_asU8());
    for (const ns of txrw.getNsRwsetList()) {
        const kv = ledger.rwset.kvrwset.KVRWSet.deserializeBinary(ns.getRwset_asU8());
        for (const w of kv.getWritesList()) {
            writes.push({
                namespace: ns.getNamespace(),
                key: w.getKey(),
                isDelete: w.getIsDelete(),
                value: Buffer.from(w.getValue_asU8()),
            });
        }
    }
    const evBytes = action.getEvents_asU8();
    const ev = evBytes.length > 0 ? peer.ChaincodeEvent.deserializeBinary(evBytes) : undefined;
    return ev && ev.getEventName() !== '' ? { writes, event: ev } : { writes };
}

export function codeName(code: number): string | undefined {
    return Object.entries(peer.TxValidationCode).find(([, v]) => v === code)?.[0];
}
