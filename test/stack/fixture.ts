// Test fixtures for the stack suites: a stack stopped by the test's teardown, a raw HTTP exchange
// for requests fetch refuses to send, and a running load whose progress can be awaited.
import { connect } from 'node:net';
import type { Test } from 'tap';
import { waitFor } from '../../tools/lib/proc.ts';
import { runLoad, type LoadOptions, type LoadResult, type LoadSummary } from '../../tools/stack/load.ts';
import { startStack, type Stack, type StackOptions } from '../../tools/stack/stack.ts';

export async function withStack(t: Test, o: StackOptions = {}): Promise<Stack> {
  const stack = await startStack(o);
  t.teardown(() => stack.stop());
  return stack;
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
