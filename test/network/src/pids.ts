// Pid records of the processes a launcher started. Each carries the process start time read from /proc, so that
// a reused pid is never mistaken for ours.

import { readFileSync, writeFileSync } from 'node:fs';

export interface PidRecord {
    pid: number;
    /** start time from /proc/<pid>/stat, to avoid signalling a reused pid */
    startTime: string | undefined;
    what: string;
}

export function processStartTime(pid: number): string | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // fields after the command name (which is in parentheses and may contain spaces)
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return rest[19];
    } catch {
        return undefined;
    }
}

export function pidRecord(pid: number, what: string): PidRecord {
    return { pid, startTime: processStartTime(pid), what };
}

/** Whether the recorded process still runs (same pid and, where known, same start time). */
export function isAlive(rec: PidRecord): boolean {
    try {
        process.kill(rec.pid, 0);
    } catch {
        return false;
    }
    return rec.startTime === undefined || processStartTime(rec.pid) === rec.startTime;
}

export function readPidRecords(file: string): PidRecord[] {
    try {
        const records = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        return Array.isArray(records) ? (records as PidRecord[]) : [];
    } catch {
        return [];
    }
}

export function writePidRecords(file: string, records: readonly PidRecord[]): void {
    writeFileSync(file, JSON.stringify(records, null, 2) + '\n');
}
