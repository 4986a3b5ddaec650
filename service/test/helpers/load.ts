// Concurrent GET / load for the tests that stop Redis under it: `workers` loops over one
// keep-alive agent, each answer recorded with the phase that was current when its request was
// sent. A request that fails at the connection level goes to `errors` ("<phase>: <message>") and
// its worker backs off 50 ms, so a failing connection is not retried in a tight loop. The load
// stops at the test's teardown, before what was started ahead of it (teardowns run last first).
import { Agent } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { get, hitNumber, type Response } from './http.ts';

export type Outcome<P extends string> = {
  phase: P;
  status: number;
  retryAfter?: string;
  /** the number of a 200 */
  n?: bigint;
  ms: number;
};

export type PhasedLoad<P extends string> = {
  outcomes: Outcome<P>[];
  errors: string[];
  /** the phase the next requests are sent in */
  setPhase(phase: P): void;
  /** answers with `status` among the requests sent in `phase` */
  count(phase: P, status: number): number;
  /** stops the workers and waits for their last requests */
  stop(): Promise<void>;
};

export function phasedLoad<P extends string>(
  t: { teardown(fn: () => unknown): void },
  url: string,
  o: { workers: number; timeoutMs: number; phase: P },
): PhasedLoad<P> {
  let phase = o.phase;
  let running = true;
  const outcomes: Outcome<P>[] = [];
  const errors: string[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: o.workers });
  const worker = async (): Promise<void> => {
    while (running) {
      const started = phase;
      let res: Response;
      try {
        res = await get(`${url}/`, { agent, timeoutMs: o.timeoutMs });
      } catch (err) {
        errors.push(`${started}: ${(err as Error).message}`);
        await delay(50);
        continue;
      }
      outcomes.push({
        phase: started,
        status: res.status,
        retryAfter: res.headers['retry-after'] as string | undefined,
        ms: res.ms,
        n: res.status === 200 ? hitNumber(res.body) : undefined,
      });
    }
  };
  const load = Promise.all(Array.from({ length: o.workers }, worker));
  const stop = async (): Promise<void> => {
    running = false;
    await load;
    agent.destroy();
  };
  t.teardown(stop);
  return {
    outcomes,
    errors,
    setPhase: (p) => (phase = p),
    count: (p, status) => outcomes.filter((x) => x.phase === p && x.status === status).length,
    stop,
  };
}
