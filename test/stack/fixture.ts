// Test fixtures for the stack suites: a stack stopped by the test's teardown, a raw HTTP exchange
// for requests fetch refuses to send, and a running load whose progress can be awaited.
import { connect } from 'node:net';
import type { Test } from 'tap';
import { waitFor } from '../../tools/lib/proc.ts';
import {
  duplicates,
  largest,
  runLoad,
  type LoadOptions,
  type LoadResult,
  type LoadSummary,
} from '../../tools/stack/load.ts';
import { startStack, type Stack, type StackOptions } from '../../tools/stack/stack.ts';

export async function withStack(t: Test, o: StackOptions = {}): Promise<Stack> {
  const stack = await startStack(o);
  t.teardown(() => stack.stop());
  return stack;
}

// The service bounds a Redis command at about 1.5 s; anything near the client's own timeout is a
// hang. The margin absorbs a loaded CI machine; the measured figure is reported, not asserted.
export const HANG_BOUND_MS = 1500 + 3500;

/**
 * What every Redis outage drill ends with: only 200 and 503 answers, no request near a hang, no
 * number answered 200 twice, and the counter (read after the run) at least the largest answered.
 */
export function checkAnswers(t: Test, run: LoadSummary, counter: bigint, label: string): void {
  t.same(
    [...run.byStatus.keys()].filter((s) => s !== 200 && s !== 503),
    [],
    `${label}: only 200 and 503 answers`,
  );
  t.ok(run.longestMs < HANG_BOUND_MS, `${label}: no request hung (longest ${Math.round(run.longestMs)} ms)`);
  t.equal(duplicates(run.numbers), 0, `${label}: no number was answered 200 twice`);
  const top = largest(run.numbers);
  t.ok(counter >= top, `${label}: the counter (${counter}) is at least the largest number answered (${top})`);
}

/** A load running in the background until `finish()` (or the test's end); `seen(n)` waits for n more results. */
export function backgroundLoad(t: Test, o: Omit<LoadOptions, 'until' | 'onResult'>) {
  let done = false;
  let count = 0;
  const live: LoadResult[] = [];
  const summary = runLoad({
    maxMs: 120_000,
    ...o,
    until: () => done,
    onResult: (r) => {
      count++;
      live.push(r);
    },
  });
  t.teardown(async () => {
    done = true; // a failed test must not leave its load running
    await summary;
  });
  return {
    live,
    /** waits until `n` more results have arrived than when called */
    async seen(n: number, what = `${n} more responses`): Promise<void> {
      const target = count + n;
      await waitFor(() => count >= target, { timeoutMs: 60_000, what });
    },
    finish(): Promise<LoadSummary> {
      done = true;
      return summary;
    },
  };
}

/**
 * Sends `request` verbatim on a fresh connection and resolves with everything the server sent
 * until it closed the connection (send `Connection: close`). The client side stays open: nginx
 * treats a half-closed client as gone (499) and would not answer.
 */
export function rawExchange(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(request));
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) =>
      chunks.length ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(err),
    );
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** The status code of a raw HTTP response, or 0 when there is no status line. */
export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0);
}
