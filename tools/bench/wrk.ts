// Drives load with wrk and counter.lua: GET / for `seconds`, then one more second in which every
// connection is parked on a HEAD / (never counted; wrk, not knowing it sent HEAD, waits for a body
// that never comes, so these requests stay out of every statistic). When wrk stops, no counted GET
// is still in flight, so the counter's delta can be compared exactly with the numbers wrk received.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary, tempDir } from '../lib/proc.ts';

const run = promisify(execFile);
const script = join(import.meta.dirname, 'counter.lua');
const DRAIN_SECONDS = 1;

export interface WrkResult {
  connections: number;
  threads: number;
  /** length of the GET phase, seconds */
  seconds: number;
  /** GET / answered 2xx with a number */
  gets2xx: number;
  /** responses by status code (HTTP only; socket errors are in `errors`) */
  statuses: Record<string, number>;
  /** responses that were not 2xx, plus connect/read/write/timeout errors */
  non2xx: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** the numbers in the 2xx bodies, as received */
  numbers: bigint[];
}

interface LuaSummary {
  durationUs: number;
  requests: number;
  gets2xx: number;
  heads2xx: number;
  statuses: Record<string, number>;
  errors: WrkResult['errors'];
  latencyUs: Record<'p50' | 'p90' | 'p99' | 'p999' | 'max' | 'mean', number>;
}

export async function runWrk(o: {
  url: string;
  connections: number;
  seconds: number;
  threads?: number;
  /** seconds of the HEAD-only drain after the GETs (default 1); longer under heavy overload */
  drainSeconds?: number;
  /** aborting kills wrk */
  signal?: AbortSignal;
}): Promise<WrkResult> {
  const bin = requireBinary('wrk');
  if (!Number.isInteger(o.seconds) || o.seconds < 1) throw new Error(`seconds must be an integer >= 1`);
  const threads = Math.min(o.threads ?? 2, o.connections);
  const drain = o.drainSeconds ?? DRAIN_SECONDS;
  const numbersFile = join(tempDir('bench-wrk-'), 'numbers.txt');
  const args = [
    `-t${threads}`,
    `-c${o.connections}`,
    `-d${o.seconds + drain}s`,
    '--timeout',
    `${o.seconds + drain + 5}s`,
    '--latency',
    '-s',
    script,
    o.url,
  ];
  const env = { ...process.env, BENCH_GET_SECONDS: String(o.seconds), BENCH_NUMBERS_FILE: numbersFile };
  let stdout: string;
  let numbersText: string;
  try {
    ({ stdout } = await run(bin, args, {
      env,
      timeout: (o.seconds + 60) * 1000,
      maxBuffer: 1 << 24,
      signal: o.signal,
    }));
    numbersText = readFileSync(numbersFile, 'utf8');
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`wrk failed: ${(e.stderr || e.stdout || e.message).trim()}`, { cause: err });
  } finally {
    rmSync(dirname(numbersFile), { recursive: true, force: true });
  }
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk printed no BENCH_JSON line:\n${stdout}`);
  const s = JSON.parse(line.slice('BENCH_JSON '.length)) as LuaSummary;
  const numbers = numbersText
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => BigInt(l));
  const { connect, read, write, timeout } = s.errors;
  const http = Object.entries(s.statuses).reduce(
    (sum, [code, n]) => sum + (Number(code) >= 200 && Number(code) < 300 ? 0 : n),
    0,
  );
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    connections: o.connections,
    threads,
    seconds: o.seconds,
    gets2xx: s.gets2xx,
    statuses: s.statuses,
    non2xx: http + connect + read + write + timeout,
    errors: s.errors,
    latencyMs: {
      p50: ms(s.latencyUs.p50),
      p90: ms(s.latencyUs.p90),
      p99: ms(s.latencyUs.p99),
      p999: ms(s.latencyUs.p999),
      max: ms(s.latencyUs.max),
      mean: ms(s.latencyUs.mean),
    },
    numbers,
  };
}
