// The exactness check: the numbers the clients received must be exactly the numbers the counters
// handed out. A counter that went from `after - delta` to `after` handed out each of the numbers in
// between once; with several counters (the embedded store: one per replica) the ranges add up.
// Equal multisets mean: counter delta == 2xx responses, every number unique within its counter,
// no gap (a counted hit nobody received) and no number the counter never reached.

/** A counter's numbers: (from, to], i.e. from+1 … to. */
export interface CounterRange {
  from: bigint;
  to: bigint;
}

export interface Exactness {
  ok: boolean;
  /** sum of the counters' deltas */
  counted: number;
  /** numbers received (2xx bodies) */
  received: number;
  duplicates: number;
  missing: number;
  unexpected: number;
  /** human-readable findings, at most a few examples each; [] when ok */
  problems: string[];
}

const EXAMPLES = 5;

export function checkExactness(received: readonly bigint[], ranges: readonly CounterRange[]): Exactness {
  const expected = new Map<bigint, number>();
  let counted = 0;
  for (const { from, to } of ranges) {
    if (to < from) throw new RangeError(`a counter range ends before it starts: (${from}, ${to}]`);
    for (let n = from + 1n; n <= to; n++) expected.set(n, (expected.get(n) ?? 0) + 1);
    counted += Number(to - from);
  }
  const dupes: bigint[] = [];
  const strays: bigint[] = [];
  let duplicates = 0;
  let unexpected = 0;
  for (const n of received) {
    const left = expected.get(n);
    if (left === undefined) {
      unexpected++;
      if (strays.length < EXAMPLES) strays.push(n);
    } else if (left === 0) {
      duplicates++;
      if (dupes.length < EXAMPLES) dupes.push(n);
    } else {
      expected.set(n, left - 1);
    }
  }
  const gaps: bigint[] = [];
  let missing = 0;
  for (const [n, left] of expected) {
    if (left === 0) continue;
    missing += left;
    if (gaps.length < EXAMPLES) gaps.push(n);
  }
  const problems: string[] = [];
  if (counted !== received.length)
    problems.push(`the counters moved by ${counted} but ${received.length} numbers were received`);
  const list = (ns: bigint[], total: number): string =>
    ns.join(', ') + (total > ns.length ? `, … (${total} in all)` : '');
  if (duplicates) problems.push(`numbers received more than once: ${list(dupes, duplicates)}`);
  if (missing) problems.push(`numbers counted but never received: ${list(gaps, missing)}`);
  if (unexpected) problems.push(`numbers outside what the counters handed out: ${list(strays, unexpected)}`);
  return {
    ok: problems.length === 0,
    counted,
    received: received.length,
    duplicates,
    missing,
    unexpected,
    problems,
  };
}
