/**
 * Measurement helpers of the benchmark: latency samples with percentiles, memory snapshots, and the
 * result table printed at the end. No timing assertions anywhere: the bench prints numbers, people judge them.
 */
import { readFileSync } from 'node:fs';

/** Nanosecond clock as milliseconds (fractional). */
export function nowMs(): number {
    return Number(process.hrtime.bigint()) / 1e6;
}

export function percentile(sorted: readonly number[], p: number): number {
    if (sorted.length === 0) {
        return NaN;
    }
    // Nearest rank.
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank]!;
}

export interface LatencySummary {
    readonly n: number;
    readonly p50: number;
    readonly p95: number;
    readonly max: number;
    readonly mean: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
    const sorted = [...samples].sort((a, b) => a - b);
    const sum = sorted.reduce((a, b) => a + b, 0);
    return {
        n: sorted.length,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        max: sorted[sorted.length - 1] ?? NaN,
        mean: sorted.length === 0 ? NaN : sum / sorted.length,
    };
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Full GC when node runs with --expose-gc (the bench script does), so heap numbers are live data. */
export function collectGarbage(): void {
    gc?.();
}

export function gcAvailable(): boolean {
    return gc !== undefined;
}

export interface MemorySnapshot {
    readonly heapUsedMb: number;
    readonly rssMb: number;
}

export function memory(): MemorySnapshot {
    const m = process.memoryUsage();
    return { heapUsedMb: m.heapUsed / 2 ** 20, rssMb: m.rss / 2 ** 20 };
}

/** CPU time (user + system) of this process so far, ms: robust to other load on the machine, unlike wall time. */
export function cpuMs(): number {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
}

/** CPU time (user + system) of another process so far, ms (Linux /proc, 10 ms resolution). */
export function processCpuMs(pid: number | undefined): number | undefined {
    if (pid === undefined) {
        return undefined;
    }
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // fields[11] = utime, fields[12] = stime (fields 14 and 15 of proc(5)), in clock ticks of 10 ms
        return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
        return undefined;
    }
}

/** RSS of another process (Linux /proc), MB; undefined when unknown. */
export function processRssMb(pid: number | undefined): number | undefined {
    if (pid === undefined) {
        return undefined;
    }
    try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
        return match ? Number(match[1]) / 1024 : undefined;
    } catch {
        return undefined;
    }
}

/** High-water RSS of another process (VmHWM), MB. */
export function processPeakRssMb(pid: number | undefined): number | undefined {
    if (pid === undefined) {
        return undefined;
    }
    try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
        return match ? Number(match[1]) / 1024 : undefined;
    } catch {
        return undefined;
    }
}

/** One line of the result table. Empty cells are undefined. */
export interface Row {
    readonly scenario: string;
    readonly n: number;
    /** Operations (RPCs/transactions) per second; `unitsPerSec` counts items (tasks, samples) when relevant. */
    readonly opsPerSec?: number;
    readonly unitsPerSec?: number;
    readonly unit?: string;
    readonly p50Ms?: number;
    readonly p95Ms?: number;
    /** CPU time of the measuring process per operation. */
    readonly cpuMsPerOp?: number;
    readonly readsPerOp?: number;
    readonly writesPerOp?: number;
    /** Writes (or reads) per unit, e.g. per task. */
    readonly readsPerUnit?: number;
    readonly writesPerUnit?: number;
    readonly heapMb?: number;
    readonly heapDeltaMb?: number;
    readonly rssMb?: number;
    readonly note?: string;
}

function fmt(value: number | undefined, digits = 1): string {
    if (value === undefined || Number.isNaN(value)) {
        return '';
    }
    if (Math.abs(value) >= 1000) {
        return Math.round(value).toString();
    }
    if (Math.abs(value) >= 100) {
        return value.toFixed(Math.min(digits, 1));
    }
    if (Math.abs(value) >= 10) {
        return value.toFixed(Math.max(digits, 1));
    }
    return value.toFixed(Math.max(digits, 2));
}

const COLUMNS: readonly { title: string; cell: (r: Row) => string; left?: boolean }[] = [
    { title: 'scenario', cell: (r) => r.scenario, left: true },
    { title: 'n', cell: (r) => String(r.n) },
    { title: 'ops/s', cell: (r) => fmt(r.opsPerSec) },
    { title: 'units/s', cell: (r) => (r.unitsPerSec === undefined ? '' : `${fmt(r.unitsPerSec)} ${r.unit ?? ''}`) },
    { title: 'p50 ms', cell: (r) => fmt(r.p50Ms, 2) },
    { title: 'p95 ms', cell: (r) => fmt(r.p95Ms, 2) },
    { title: 'cpu ms/op', cell: (r) => fmt(r.cpuMsPerOp, 2) },
    { title: 'reads/op', cell: (r) => fmt(r.readsPerOp) },
    { title: 'writes/op', cell: (r) => fmt(r.writesPerOp) },
    { title: 'r/unit', cell: (r) => fmt(r.readsPerUnit) },
    { title: 'w/unit', cell: (r) => fmt(r.writesPerUnit) },
    { title: 'heap MB', cell: (r) => fmt(r.heapMb) },
    { title: 'Δheap MB', cell: (r) => fmt(r.heapDeltaMb) },
    { title: 'RSS MB', cell: (r) => fmt(r.rssMb) },
    { title: 'note', cell: (r) => r.note ?? '', left: true },
];

/** The rows as an aligned plain-text table (also valid Markdown when `markdown`). */
export function formatTable(rows: readonly Row[], markdown = false): string {
    const cells = rows.map((r) => COLUMNS.map((c) => c.cell(r)));
    const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((line) => line[i]!.length)));
    const pad = (text: string, i: number): string =>
        COLUMNS[i]!.left === true ? text.padEnd(widths[i]!) : text.padStart(widths[i]!);
    const sep = markdown ? ' | ' : '  ';
    const wrap = (line: string): string => (markdown ? `| ${line} |` : line.trimEnd());
    const out = [wrap(COLUMNS.map((c, i) => pad(c.title, i)).join(sep))];
    out.push(
        markdown
            ? wrap(
                  widths
                      .map((w, i) => (COLUMNS[i]!.left === true ? ':' + '-'.repeat(w - 1) : '-'.repeat(w - 1) + ':'))
                      .join(sep),
              )
            : widths.map((w) => '-'.repeat(w)).join(sep),
    );
    for (const line of cells) {
        out.push(wrap(line.map((text, i) => pad(text, i)).join(sep)));
    }
    return out.join('\n');
}

/** Collects rows and echoes each one as it is measured (long runs show progress). */
export class Report {
    readonly rows: Row[] = [];
    readonly #echo: boolean;

    constructor(echo = true) {
        this.#echo = echo;
    }

    add(row: Row): void {
        this.rows.push(row);
        if (this.#echo) {
            const parts = [
                `${row.scenario}: n=${row.n}`,
                row.opsPerSec === undefined ? '' : `${fmt(row.opsPerSec)} ops/s`,
                row.unitsPerSec === undefined ? '' : `${fmt(row.unitsPerSec)} ${row.unit ?? 'units'}/s`,
                row.p50Ms === undefined ? '' : `p50 ${fmt(row.p50Ms, 2)} ms`,
                row.p95Ms === undefined ? '' : `p95 ${fmt(row.p95Ms, 2)} ms`,
            ].filter((p) => p !== '');
            process.stderr.write(`  · ${parts.join(', ')}\n`);
        }
    }
}

/** One goal of the performance issue: its target, what this run measured, and whether it is met. */
export interface Goal {
    readonly goal: string;
    readonly target: string;
    readonly measured: string;
    /** undefined: not measurable in this run (e.g. a process gone) */
    readonly met: boolean | undefined;
}

/** The goals measured in one run, printed after the table. */
export class Goals {
    readonly goals: Goal[] = [];

    add(goal: Goal): void {
        this.goals.push(goal);
        const verdict = goal.met === undefined ? '?' : goal.met ? 'met' : 'NOT met';
        process.stderr.write(`  ◦ goal ${goal.goal}: ${goal.measured} (target ${goal.target}) ${verdict}\n`);
    }

    format(markdown = false): string {
        const rows: Row[] = this.goals.map((g) => ({
            scenario: g.goal,
            n: 0,
            note: `${g.met === undefined ? '?' : g.met ? 'met' : 'NOT met'} | ${g.target} | ${g.measured}`,
        }));
        if (!markdown) {
            return rows.map((r) => `${r.scenario}: ${r.note ?? ''}`).join('\n');
        }
        const lines = ['| goal | verdict | target | measured |', '| :-- | :-- | :-- | :-- |'];
        for (const g of this.goals) {
            lines.push(
                `| ${g.goal} | ${g.met === undefined ? '?' : g.met ? 'met' : '**not met**'} | ${g.target} | ${g.measured} |`,
            );
        }
        return lines.join('\n');
    }
}

/** `×1.23` (the ratio a/b), or '?' when either is unknown. */
export function ratio(a: number | undefined, b: number | undefined): string {
    return a === undefined || b === undefined || !(b > 0) ? '?' : `×${(a / b).toFixed(2)}`;
}
