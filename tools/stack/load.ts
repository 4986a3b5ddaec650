// Load generator for the stack: a bounded pool of concurrent GETs over keep-alive connections, each with
// a timeout, stopping after `total` requests, at `until()` or after `maxMs`, whichever comes first.
// Every response is recorded so callers can check numbers, statuses and the slowest request.
import { Agent, request } from 'node:http';

export interface LoadOptions {
  url: string;
  concurrency: number;
  /** stop after this many requests (default: no count limit, then `until` or `maxMs` must stop it) */
  total?: number;
  /** stop starting new requests once this returns true */
  until?: () => boolean;
  /** hard limit on the run's duration (default 60 s) */
  maxMs?: number;
  /** per-request timeout (default 10 s); a timed-out request is recorded as an error */
  requestTimeoutMs?: number;
  headers?: Record<string, string>;
  /** called with every result as it arrives (progress, live checks) */
  onResult?: (r: LoadResult) => void;
}

export interface LoadResult {
  status: number; // 0 = transport error or timeout
  body: string;
  error?: string;
  startedAt: number; // ms, performance.now()
  ms: number;
  /** sent a second time after its keep-alive connection was closed under it (see one()) */
  retried: boolean;
}

export interface LoadSummary {
  results: LoadResult[];
  byStatus: Map<number, number>;
  ok: number; // 2xx
  failed: number; // everything else, transport errors included
  /** requests sent again after the server closed their idle keep-alive connection */
  retried: number;
  longestMs: number;
  /** counter values parsed from 2xx bodies ("... hit N times") as bigints */
  numbers: bigint[];
}

const NUMBER = /hit (\d+) times/;

export async function runLoad(o: LoadOptions): Promise<LoadSummary> {
  const deadline = performance.now() + (o.maxMs ?? 60_000);
  const timeout = o.requestTimeoutMs ?? 10_000;
  const results: LoadResult[] = [];
  let started = 0;
  const more = (): boolean =>
    (o.total === undefined || started < o.total) && !(o.until?.() ?? false) && performance.now() < deadline;

  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  async function worker(): Promise<void> {
    while (more()) {
      started++;
      const r = await one(agent, o.url, timeout, o.headers);
      results.push(r);
      o.onResult?.(r);
    }
  }
  try {
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return summarize(results);
}

function one(
  agent: Agent,
  url: string,
  timeoutMs: number,
  headers?: Record<string, string>,
): Promise<LoadResult> {
  const startedAt = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  const attempt = (retried: boolean): Promise<LoadResult> =>
    new Promise((resolve) => {
      const req = request(url, { agent: retried ? false : agent, headers, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            startedAt,
            ms: performance.now() - startedAt,
            retried,
          }),
        );
        res.on('error', (err) => resolve(failure(err, retried)));
      });
      let answered = false;
      req.on('response', () => (answered = true));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // The connection was reset before any answer: nginx closes idle connections (kept-alive
        // ones and freshly accepted ones whose request it has not read yet) when a reload retires
        // a worker. Such a request never reached the service, so it is sent once more on a new
        // connection, as browsers do (and Node documents with request.reusedSocket). Callers
        // check the counter, so a resend that had been counted would show as an over-count.
        if (!retried && !answered && err.code === 'ECONNRESET') resolve(attempt(true));
        else resolve(failure(err, retried));
      });
      req.end();
    });
  const failure = (err: NodeJS.ErrnoException, retried: boolean): LoadResult => ({
    status: 0,
    body: '',
    error: err.code ?? err.name,
    startedAt,
    ms: performance.now() - startedAt,
    retried,
  });
  return attempt(false);
}

export function summarize(results: LoadResult[]): LoadSummary {
  const byStatus = new Map<number, number>();
  let ok = 0;
  let retried = 0;
  let longestMs = 0;
  const numbers: bigint[] = [];
  for (const r of results) {
    byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    longestMs = Math.max(longestMs, r.ms);
    if (r.retried) retried++;
    if (r.status >= 200 && r.status < 300) {
      ok++;
      const m = NUMBER.exec(r.body);
      if (m?.[1]) numbers.push(BigInt(m[1]));
    }
  }
  return { results, byStatus, ok, failed: results.length - ok, retried, longestMs, numbers };
}

/** How many numbers appear more than once (0: each was handed out once). */
export function duplicates(numbers: bigint[]): number {
  return numbers.length - new Set(numbers.map(String)).size;
}

/** The largest number, 0 for none. */
export function largest(numbers: bigint[]): bigint {
  return numbers.reduce((a, b) => (a > b ? a : b), 0n);
}

/** A one-line description of a run, for test comments and CLI output. */
export function describe(s: LoadSummary): string {
  const statuses = [...s.byStatus].map(([k, v]) => `${k === 0 ? 'transport error' : k}: ${v}`).join(', ');
  const errors = new Map<string, number>();
  for (const r of s.results) if (r.error) errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
  const kinds = errors.size ? ` (${[...errors].map(([k, v]) => `${k}: ${v}`).join(', ')})` : '';
  return (
    `${s.results.length} requests [${statuses}]${kinds}, longest ${Math.round(s.longestMs)} ms, ` +
    `${s.retried} resent after the server closed an idle keep-alive connection`
  );
}
