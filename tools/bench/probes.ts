// What the benchmark reads around a run: the replicas' counted hits (/metrics), Redis's command
// counts (INFO commandstats), and memory and CPU time of processes (/proc, Linux).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { procStat } from '../stack/procfs.ts';

export interface ReplicaCounts {
  /** hitcounter_hits_total */
  hits: number;
  /** prom-client's nodejs_heap_size_used_bytes and nodejs_heap_size_total_bytes, MiB */
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** hitcounter_batch_size: INCRBY commands, of them those that carried one hit, and hits carried */
  batches: number;
  singleHitBatches: number;
  batchedHits: number;
}

/** The counting metrics of one replica, read from its own /metrics (not through nginx). */
export async function replicaCounts(port: number): Promise<ReplicaCounts> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const value = (pattern: RegExp): number | undefined => {
    const m = pattern.exec(text);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  const hits = value(/^hitcounter_hits_total (\S+)$/m);
  if (res.status !== 200 || hits === undefined)
    throw new Error(`replica on port ${port}: /metrics answered ${res.status} without hitcounter_hits_total`);
  return {
    hits,
    heapUsedMiB: (value(/^nodejs_heap_size_used_bytes (\S+)$/m) ?? 0) / 2 ** 20,
    heapTotalMiB: (value(/^nodejs_heap_size_total_bytes (\S+)$/m) ?? 0) / 2 ** 20,
    batches: value(/^hitcounter_batch_size_count (\S+)$/m) ?? 0,
    singleHitBatches: value(/^hitcounter_batch_size_bucket\{le="1"\} (\S+)$/m) ?? 0,
    batchedHits: value(/^hitcounter_batch_size_sum (\S+)$/m) ?? 0,
  };
}

/** hitcounter_hits_total of one replica. */
export async function countedHits(port: number): Promise<number> {
  return (await replicaCounts(port)).hits;
}

/** Commands that change the counter. */
export const COUNTING_COMMANDS = ['incr', 'incrby', 'incrbyfloat', 'set', 'getset', 'eval', 'evalsha'];

export function commandDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [cmd, n] of Object.entries(after)) {
    const d = n - (before[cmd] ?? 0);
    if (d > 0) delta[cmd] = d;
  }
  return delta;
}

/** VmRSS and VmHWM (peak RSS since the process started) in MiB; undefined once the process is gone. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number; fileMiB: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024, fileMiB: kb('RssFile') / 1024 };
}

let ticksPerSecond: number | undefined;

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function cpuSecondsOf(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const fields = procStat(pid);
  return fields ? (Number(fields[11]) + Number(fields[12])) / ticksPerSecond : 0;
}

/** Busy and total CPU seconds of the whole machine so far (from /proc/stat's "cpu" line). */
export function machineCpuSeconds(): { busy: number; total: number } {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: (total - idle) / ticksPerSecond, total: total / ticksPerSecond };
}
