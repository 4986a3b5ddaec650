// The probes against a hung Redis, with the real service process and its default timeouts. SIGSTOP
// keeps Redis's connection open while nothing answers, which the connection state alone does not
// show. /ready (readiness) turns 503 within a deadline, each answer within a probe's timeout;
// /health (liveness) stays 200 throughout; a hit meanwhile gets 503 + Retry-After within its
// deadline; after SIGCONT /ready is 200 again and hits are counted, without a restart.
import t from 'tap';
import { HIT_DEADLINE_FACTOR, COMMAND_TIMEOUT_MS } from '../src/counter/redis.ts';
import { startRedis } from '../../tools/lib/redis.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import { get, hitNumber, type Response } from './helpers/http.ts';
import { startService } from './helpers/service.ts';

/**
 * A probe's timeout: the chart's liveness and readiness probes give up after 2 s. /ready waits for
 * Redis at most 0.75 x the command timeout (750 ms); the rest is the slack of a loaded machine.
 */
const PROBE_TIMEOUT_MS = 2000;
/** Scheduling delays of a loaded 2-core machine, added to the bounds below. */
const SLACK_MS = 1500;

t.test('Redis hung: /ready 503 within a deadline, /health 200, then ready again', async (t) => {
  const redis = await startRedis();
  let stopped = false;
  t.teardown(async () => {
    if (stopped) redis.proc.signal('SIGCONT'); // a stopped process cannot act on SIGTERM
    await redis.stop();
  });
  const service = await startService(t, { REDIS_URL: redis.url });
  await waitFor(async () => (await get(`${service.url}/ready`)).status === 200, { what: '/ready 200' });
  const before = hitNumber((await get(`${service.url}/`)).body);

  const probes: { path: string; res: Response }[] = [];
  const probe = async (path: '/ready' | '/health'): Promise<Response> => {
    const res = await get(`${service.url}${path}`, { timeoutMs: 10_000 });
    probes.push({ path, res });
    return res;
  };

  redis.proc.signal('SIGSTOP');
  stopped = true;
  const notReady = await waitFor(
    async () => {
      const res = await probe('/ready');
      return res.status === 503 ? res : undefined;
    },
    {
      timeoutMs: 2 * COMMAND_TIMEOUT_MS + SLACK_MS,
      intervalMs: 200,
      what: '/ready 503 while Redis is stopped',
    },
  );
  t.match(JSON.parse(notReady.body), {
    status: 'NOT_READY',
    reason: /^store not ready: redis (did not answer PING|has not answered|timed out)/,
  });
  const hit = await get(`${service.url}/`, { timeoutMs: 10_000 });
  t.equal(hit.status, 503, 'a hit while Redis is stopped: 503');
  t.equal(hit.headers['retry-after'], '1', 'with Retry-After');
  const deadline = COMMAND_TIMEOUT_MS * HIT_DEADLINE_FACTOR;
  t.ok(
    hit.ms <= deadline + SLACK_MS,
    `within its deadline (${deadline} ms) + slack: ${Math.round(hit.ms)} ms`,
  );
  for (let i = 0; i < 3; i++) {
    t.equal((await probe('/health')).status, 200, '/health 200 while Redis is stopped');
    t.equal((await probe('/ready')).status, 503, '/ready stays 503 while Redis is stopped');
  }

  redis.proc.signal('SIGCONT');
  stopped = false;
  await waitFor(async () => (await probe('/ready')).status === 200, {
    timeoutMs: 2 * COMMAND_TIMEOUT_MS + SLACK_MS,
    intervalMs: 200,
    what: '/ready 200 after SIGCONT',
  });
  const after = hitNumber((await get(`${service.url}/`)).body);
  t.ok(after > before, `counting again without a restart (${before}, then ${after})`);

  const slowest = Math.max(...probes.map((p) => p.res.ms));
  t.ok(
    slowest <= PROBE_TIMEOUT_MS,
    `every probe answered within a probe's timeout (${PROBE_TIMEOUT_MS} ms): slowest ${Math.round(slowest)} ms`,
  );
  t.comment(
    `${probes.length} probes; /ready 503 answered in ${Math.round(notReady.ms)} ms; hit 503 in ${Math.round(hit.ms)} ms`,
  );
});
