// Supervision of the local network's processes, as Kubernetes does for pods: a process that dies while the
// network runs is started again after a delay that doubles per consecutive failure, with a log line saying so.
// Every process is started in a process group of its own (so a Ctrl-C in the terminal reaches only the
// launcher, which stops them in order) and recorded with its start time in a pid file, so that only processes
// we started are ever signalled.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { isAlive, pidRecord, type PidRecord, writePidRecords } from './pids';

export interface ProcessSpec {
    /** unique name, e.g. `peer0.org1`, `mycc/MyOrg1MSP` */
    name: string;
    command: string;
    args?: string[];
    cwd: string;
    env: NodeJS.ProcessEnv;
    logFile: string;
    /** resolves when the process serves; rejects or times out otherwise */
    ready?: (gone: () => boolean) => Promise<void>;
    /** stop order: lower first (chaincodes 0, peers 1, orderer 2) */
    stopOrder: number;
}

export interface SupervisedProcess {
    readonly name: string;
    readonly pid: number | undefined;
    readonly restarts: number;
    readonly logFile: string;
}

export interface SupervisorOptions {
    /** where the pid records of every running process are kept current; none when undefined */
    pidFile?: string;
    log: (line: string) => void;
    /** false: never restart; default 250 ms doubling to 10 s */
    restart?: false | { initialDelayMs?: number; maxDelayMs?: number };
}

/** A process that served this long starts a new series of restart delays. */
const HEALTHY_RUN_MS = 30_000;

interface Slot {
    spec: ProcessSpec;
    child: ChildProcess | undefined;
    restarts: number;
    failures: number;
    startedAt: number;
    timer: NodeJS.Timeout | undefined;
    /** resolves on the current child's exit */
    exited: Promise<void>;
    /** stopped on purpose (an outage under test): not restarted until resumed */
    held: boolean;
}

export function logTail(file: string, lines = 25): string {
    try {
        return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
        return '';
    }
}

const gone = (c: ChildProcess | undefined) => !c || c.exitCode !== null || c.signalCode !== null;

export class Supervisor {
    readonly #slots = new Map<string, Slot>();
    readonly #options: SupervisorOptions;
    #stopping = false;

    constructor(options: SupervisorOptions) {
        this.#options = options;
        process.on('exit', this.#killAll);
    }

    /** Starts `spec` and waits for its readiness check; a failure to get ready stops it and throws. */
    async start(spec: ProcessSpec, readyTimeoutMs = 60_000): Promise<void> {
        if (this.#slots.has(spec.name)) throw new Error(`process ${spec.name} already started`);
        const slot: Slot = {
            spec,
            child: undefined,
            restarts: 0,
            failures: 0,
            startedAt: 0,
            timer: undefined,
            exited: Promise.resolve(),
            held: false,
        };
        this.#slots.set(spec.name, slot);
        const child = this.#spawn(slot);
        await this.#waitReady(slot, child, readyTimeoutMs);
    }

    get processes(): SupervisedProcess[] {
        return [...this.#slots.values()].map((s) => ({
            name: s.spec.name,
            pid: gone(s.child) ? undefined : s.child?.pid,
            restarts: s.restarts,
            logFile: s.spec.logFile,
        }));
    }

    process(name: string): SupervisedProcess | undefined {
        return this.processes.find((p) => p.name === name);
    }

    /** Kills process `name` (SIGKILL) and keeps it down until {@link resume}: an outage, for tests. */
    async hold(name: string): Promise<void> {
        const slot = this.#slot(name);
        slot.held = true;
        clearTimeout(slot.timer);
        slot.timer = undefined;
        if (!gone(slot.child)) {
            slot.child?.kill('SIGKILL');
            await slot.exited;
        }
        this.#options.log(`[supervisor] ${name} held down`);
    }

    /** Starts a held process again and waits until it serves. */
    async resume(name: string, readyTimeoutMs = 60_000): Promise<void> {
        const slot = this.#slot(name);
        if (!slot.held) return;
        slot.held = false;
        slot.restarts++;
        const child = this.#spawn(slot);
        await this.#waitReady(slot, child, readyTimeoutMs);
        this.#options.log(`[supervisor] ${name} resumed (pid ${child.pid ?? '?'})`);
    }

    #slot(name: string): Slot {
        const slot = this.#slots.get(name);
        if (!slot) throw new Error(`no process named ${name}`);
        return slot;
    }

    async #waitReady(slot: Slot, child: ChildProcess, timeoutMs: number): Promise<void> {
        if (!slot.spec.ready) return;
        let timer: NodeJS.Timeout | undefined;
        const died = new Promise<never>((_, reject) => {
            child.once('exit', (code, signal) => {
                reject(
                    new Error(
                        `${slot.spec.name} exited (${signal ?? String(code)}) before it was ready; ` +
                            `log tail (${slot.spec.logFile}):\n${logTail(slot.spec.logFile)}`,
                    ),
                );
            });
        });
        const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
                reject(
                    new Error(
                        `${slot.spec.name} was not ready in ${timeoutMs} ms; log tail (${slot.spec.logFile}):\n` +
                            logTail(slot.spec.logFile),
                    ),
                );
            }, timeoutMs);
        });
        died.catch(() => undefined);
        timeout.catch(() => undefined);
        try {
            await Promise.race([slot.spec.ready(() => gone(child) || this.#stopping), died, timeout]);
        } finally {
            clearTimeout(timer);
        }
    }

    #spawn(slot: Slot): ChildProcess {
        const fd = openSync(slot.spec.logFile, 'a');
        let child: ChildProcess;
        try {
            child = spawn(slot.spec.command, slot.spec.args ?? [], {
                cwd: slot.spec.cwd,
                env: slot.spec.env,
                stdio: ['ignore', fd, fd],
                detached: true,
            });
        } finally {
            closeSync(fd);
        }
        slot.child = child;
        slot.startedAt = Date.now();
        slot.exited = new Promise((resolve) => {
            child.once('exit', () => {
                resolve();
            });
            child.once('error', () => {
                if (child.pid === undefined) resolve();
            });
        });
        child.on('error', (err) => {
            this.#options.log(`[supervisor] ${slot.spec.name} could not be started: ${err.message}`);
            if (child.pid === undefined) this.#scheduleRestart(slot, child, err.message);
        });
        child.on('exit', (code, signal) => {
            this.#writePids();
            this.#scheduleRestart(slot, child, signal ?? `exit code ${String(code)}`);
        });
        this.#writePids();
        return child;
    }

    #scheduleRestart(slot: Slot, child: ChildProcess, why: string): void {
        const policy = this.#options.restart ?? {};
        if (this.#stopping || slot.held || slot.child !== child || slot.timer || policy === false) return;
        if (Date.now() - slot.startedAt >= HEALTHY_RUN_MS) slot.failures = 0;
        slot.failures++;
        const initial = policy.initialDelayMs ?? 250;
        const max = policy.maxDelayMs ?? 10_000;
        const delay = Math.min(initial * 2 ** Math.min(slot.failures - 1, 20), max);
        this.#options.log(
            `[supervisor] ${slot.spec.name} (pid ${child.pid ?? '?'}) died (${why}); restarting it in ${delay} ms ` +
                `(attempt ${slot.failures})`,
        );
        slot.timer = setTimeout(() => {
            slot.timer = undefined;
            if (this.#stopping) return;
            slot.restarts++;
            const next = this.#spawn(slot);
            const t = Date.now();
            this.#waitReady(slot, next, 60_000).then(
                () => {
                    this.#options.log(
                        `[supervisor] ${slot.spec.name} restarted (pid ${next.pid ?? '?'}), serving again in ${Date.now() - t} ms`,
                    );
                },
                (err: unknown) => {
                    if (!this.#stopping && !gone(next)) {
                        this.#options.log(`[supervisor] ${slot.spec.name} restarted but not ready: ${String(err)}`);
                    }
                },
            );
        }, delay);
    }

    #writePids(): void {
        if (!this.#options.pidFile) return;
        const records: PidRecord[] = [];
        for (const s of this.#slots.values()) {
            if (s.child?.pid !== undefined && !gone(s.child)) records.push(pidRecord(s.child.pid, s.spec.name));
        }
        writePidRecords(this.#options.pidFile, records);
    }

    readonly #killAll = () => {
        for (const s of this.#slots.values()) if (!gone(s.child)) s.child?.kill('SIGKILL');
    };

    /** Stops every process (lowest stopOrder first): SIGTERM, then SIGKILL after `graceMs`. */
    async stop(graceMs = 10_000): Promise<void> {
        this.#stopping = true;
        for (const s of this.#slots.values()) clearTimeout(s.timer);
        const orders = [...new Set([...this.#slots.values()].map((s) => s.spec.stopOrder))].sort((a, b) => a - b);
        for (const order of orders) {
            const group = [...this.#slots.values()].filter((s) => s.spec.stopOrder === order && !gone(s.child));
            await Promise.all(
                group.map(async (s) => {
                    const child = s.child;
                    if (!child) return;
                    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
                    child.kill('SIGTERM');
                    await s.exited;
                    clearTimeout(timer);
                }),
            );
        }
        this.#writePids();
        process.off('exit', this.#killAll);
    }
}

/** Stops processes recorded by an earlier run that still run (same pid and start time), e.g. after the launcher was killed. */
export async function stopRecorded(records: readonly PidRecord[], log: (line: string) => void): Promise<void> {
    const alive = records.filter(isAlive);
    for (const r of alive) {
        log(`stopping ${r.what} (pid ${r.pid}) left running by an earlier run`);
        try {
            process.kill(r.pid, 'SIGTERM');
        } catch {
            // already gone
        }
    }
    const deadline = Date.now() + 10_000;
    while (alive.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const r of alive.filter(isAlive)) {
        try {
            process.kill(r.pid, 'SIGKILL');
        } catch {
            // already gone
        }
    }
}
