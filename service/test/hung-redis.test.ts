// Redis hung (SIGSTOP: its connection stays open, nothing answers) under concurrent load, with a real
// redis-server and the app on a real listener: every hit is answered within its deadline counted
// from its own arrival, also a hit queued behind a batch that is still waiting for the hung Redis,
// with 200 or 503 + Retry-After; no number is answered twice; /ready turns 503 and /health stays
// 200 while Redis is stopped; after SIGCONT hits are answered 200 again and /ready is 200.
//
// The Redis command timeout is raised to 3 s here (the deadline is 1.5 x that: 4.5 s) so the bound
// stands well apart from what a queued hit used to wait (two command timeouts: 6 s), and the slack
// for a loaded machine can be generous. Redis stays stopped longer than two command timeouts.
import t from 'tap';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { HIT_DEADLINE_FACTOR } from '../src/counter/redis.ts';
import { startRedis } from '../../tools/lib/redis.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import { get } from './helpers/http.ts';
import { phasedLoad } from './helpers/load.ts';

const COMMAND_TIMEOUT_MS = 3000;
const DEADLINE_MS = COMMAND_TIMEOUT_MS * HIT_DEADLINE_FACTOR;
/** Scheduling delays of a loaded 2-core machine (the bound asserted is the deadline plus this). */
const SLACK_MS = 1200;
const STOP_MS = 2 * COMMAND_TIMEOUT_MS + 1000;
const WORKERS = 32;

type Phase = 'up' | 'stopped' | 'resumed';

t.test('Redis hung under load: each hit answered within its deadline, then served again', async (t) => {
  const redis = await startRedis();
  let stopped = false;
  t.teardown(async () => {
    if (stopped) redis.proc.signal('SIGCONT'); // a stopped process cannot act on SIGTERM
    await redis.stop();
  });
  const app = buildApp(loadConfig({ REDIS_URL: redis.url }), {
    logger: false,
    redisCommandTimeoutMs: COMMAND_TIMEOUT_MS,
  });
  t.teardown(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  await waitFor(async () => (await get(`${url}/ready`)).status === 200, { what: '/ready 200' });

  // Started after the app, so stopped before it.
  const load = phasedLoad<Phase>(t, url, { workers: WORKERS, timeoutMs: DEADLINE_MS + 20_000, phase: 'up' });
  const { outcomes, count } = load;

  await waitFor(() => count('up', 200) >= 200, { timeoutMs: 30_000, what: '200 hits before the stop' });
  redis.proc.signal('SIGSTOP');
  stopped = true;
  load.setPhase('stopped');
  const stoppedAt = performance.now();

  // Readiness follows Redis's answers, not its (still open) connection.
  await waitFor(async () => (await get(`${url}/ready`, { timeoutMs: 10_000 })).status === 503, {
    timeoutMs: COMMAND_TIMEOUT_MS + SLACK_MS,
    what: '/ready 503 while Redis is stopped',
  });
  const health = await get(`${url}/health`, { timeoutMs: 10_000 });
  t.equal(health.status, 200, '/health 200 while Redis is stopped');

  // Redis stays stopped longer than two command timeouts, with hits answered 503 meanwhile.
  await waitFor(() => performance.now() - stoppedAt >= STOP_MS && count('stopped', 503) >= 2 * WORKERS, {
    timeoutMs: STOP_MS + 30_000,
    what: `Redis stopped for ${STOP_MS} ms with hits answered 503`,
  });
  redis.proc.signal('SIGCONT');
  stopped = false;
  load.setPhase('resumed');
  await waitFor(() => count('resumed', 200) >= 200, {
    timeoutMs: 30_000,
    what: '200 hits after SIGCONT',
  });
  await waitFor(async () => (await get(`${url}/ready`)).status === 200, {
    timeoutMs: 10_000,
    what: '/ready 200 after SIGCONT',
  });
  await load.stop();

  t.same(load.errors, [], 'every request was answered');
  t.same(
    [...new Set(outcomes.map((o) => o.status))].filter((s) => s !== 200 && s !== 503),
    [],
    'only 200 and 503 answers',
  );
  const unavailable = outcomes.filter((o) => o.status === 503);
  t.ok(unavailable.length > 0, 'the stop was seen as 503s');
  t.ok(
    unavailable.every((o) => o.retryAfter === '1'),
    'every 503 carries Retry-After: 1',
  );
  const longest = Math.max(...outcomes.map((o) => o.ms));
  t.ok(
    longest <= DEADLINE_MS + SLACK_MS,
    `every request answered within the deadline (${DEADLINE_MS} ms) + ${SLACK_MS} ms: longest ${Math.round(longest)} ms`,
  );
  const numbers = outcomes.flatMap((o) => (o.n === undefined ? [] : [o.n]));
  t.equal(new Set(numbers).size, numbers.length, 'no number answered 200 twice');
  const stored = BigInt(await redis.cli('GET', 'hits'));
  const top = numbers.reduce((m, n) => (n > m ? n : m), 0n);
  t.ok(stored >= top, `the counter (${stored}) is at least the largest number answered (${top})`);
  const overCount = stored - BigInt(numbers.length);
  t.ok(
    overCount >= 0n && overCount <= BigInt(unavailable.length),
    `over-count ${overCount} bounded by the ${unavailable.length} 503s`,
  );
  t.comment(
    `${outcomes.length} requests: ${numbers.length} answered 200, ${unavailable.length} 503; ` +
      `longest ${Math.round(longest)} ms; over-count ${overCount}`,
  );
});
