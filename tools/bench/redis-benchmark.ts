// The store's own limit on this machine: `redis-benchmark -t incr` (one INCR per request, no
// pipelining) against the stack's Redis, at a given number of connections.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireBinary } from '../lib/proc.ts';

const run = promisify(execFile);

export interface RedisBenchmark {
  connections: number;
  requests: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Parses `redis-benchmark --csv` output (a header line, then one line per test). */
export function parseRedisBenchmarkCsv(csv: string): { rps: number; p50: number; p99: number; max: number } {
  const rows = csv
    .trim()
    .split('\n')
    .map((l) => l.split(',').map((c) => c.replace(/^"|"$/g, '')));
  const [head, row] = rows;
  if (!head || !row) throw new Error(`redis-benchmark printed no CSV result:\n${csv}`);
  const col = (name: string): number => {
    const i = head.indexOf(name);
    const v = Number(row[i]);
    if (i < 0 || !Number.isFinite(v)) throw new Error(`redis-benchmark CSV has no ${name} column:\n${csv}`);
    return v;
  };
  return {
    rps: col('rps'),
    p50: col('p50_latency_ms'),
    p99: col('p99_latency_ms'),
    max: col('max_latency_ms'),
  };
}

export async function redisBenchmark(o: {
  port: number;
  password: string;
  connections: number;
  requests: number;
  /** aborting kills redis-benchmark */
  signal?: AbortSignal;
}): Promise<RedisBenchmark> {
  const bin = requireBinary('redis-benchmark');
  // redis-benchmark reads no password from the environment: -a it is, as the stack's admin ACL
  // user (its password is a random one of this run).
  const args = ['-h', '127.0.0.1', '-p', String(o.port), '--user', 'admin', '-a', o.password, '-t', 'incr'];
  args.push('-c', String(o.connections), '-n', String(o.requests), '--csv');
  const { stdout } = await run(bin, args, { timeout: 300_000, signal: o.signal });
  const r = parseRedisBenchmarkCsv(stdout);
  return {
    connections: o.connections,
    requests: o.requests,
    opsPerSec: r.rps,
    p50Ms: r.p50,
    p99Ms: r.p99,
    maxMs: r.max,
  };
}
