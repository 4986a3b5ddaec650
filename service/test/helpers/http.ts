// A small HTTP client for tests: node:http with an explicit agent, raw status/headers/body, and a
// deadline so a hanging request fails the test instead of stalling it.
import { Agent, request } from 'node:http';

export type Response = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
};

export type GetOptions = {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  agent?: Agent | false;
  timeoutMs?: number;
};

export function get(url: string, o: GetOptions = {}): Promise<Response> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method ?? 'GET',
        headers: o.headers,
        agent: o.agent ?? false,
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** The N of `Holla! we have hit N times`, as a bigint. */
export function hitNumber(body: string): bigint {
  const m = /^Holla! we have hit (\d+) times\n$/.exec(body);
  if (!m?.[1]) throw new Error(`not a hit answer: ${JSON.stringify(body.slice(0, 200))}`);
  return BigInt(m[1]);
}

/** Asserts that the numbers are unique and form the range first..last; returns [first, last]. */
export function contiguousRange(numbers: bigint[]): [bigint, bigint] {
  const sorted = [...numbers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] !== sorted[i - 1]! + 1n) {
      throw new Error(`numbers not unique and contiguous: ${sorted[i - 1]} then ${sorted[i]}`);
    }
  }
  return [sorted[0]!, sorted[sorted.length - 1]!];
}
