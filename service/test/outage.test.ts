// Redis stopped and restarted under load: fast 503s with Retry-After (no request hangs), /ready 503
// and /health 200 meanwhile, recovery without a service restart, and the count kept (AOF).
import t from 'tap';
import { startRedis } from '../../tools/lib/redis.ts';
import { tempDir, waitFor } from '../../tools/lib/proc.ts';
import { get } from './helpers/http.ts';
import { phasedLoad } from './helpers/load.ts';
import { startService } from './helpers/service.ts';

const WORKERS = 8;
/** A request taking longer than this fails the test (the contract is ~1.5 s). */
const HANG_MS = 5000;

type Phase = 'up' | 'down' | 'restarted';

t.test('Redis stopped and restarted during requests', async (t) => {
  // Kept across the restart below; removed after the last Redis on it is stopped (teardowns run
  // last registered first).
  const dir = tempDir('redis-aof-', t);
  const aof = ['--appendonly', 'yes', '--appendfsync', 'always'];
  let redis = await startRedis({ dir, args: aof });
  t.teardown(() => redis.stop());
  const service = await startService(t, { REDIS_URL: redis.url });
  await waitFor(async () => (await get(`${service.url}/ready`)).status === 200, { what: '/ready 200' });

  // Started after the service, so stopped before it, also when a wait below times out.
  const load = phasedLoad<Phase>(t, service.url, { workers: WORKERS, timeoutMs: HANG_MS, phase: 'up' });
  const { outcomes, errors, count } = load;

  await waitFor(() => count('up', 200) >= 200, { timeoutMs: 30_000, what: '200 hits before the outage' });
  await redis.stop();
  load.setPhase('down');
  await waitFor(() => count('down', 503) >= 100, { timeoutMs: 30_000, what: '503s during the outage' });
  const ready = await get(`${service.url}/ready`);
  t.equal(ready.status, 503, '/ready 503 while Redis is down');
  t.match(JSON.parse(ready.body), { status: 'NOT_READY', reason: /^store not ready: redis / });
  t.equal((await get(`${service.url}/health`)).status, 200, '/health 200 while Redis is down');

  redis = await startRedis({ dir, port: redis.port, args: aof });
  await waitFor(async () => (await get(`${service.url}/ready`)).status === 200, {
    timeoutMs: 15_000,
    what: 'reconnection without a restart',
  });
  load.setPhase('restarted');
  await waitFor(() => count('restarted', 200) >= 200, {
    timeoutMs: 30_000,
    what: '200 hits after the restart',
  });
  await load.stop();

  t.same(errors, [], 'no request hung or failed at the connection level');
  const failed = outcomes.filter((o) => o.status !== 200);
  t.same([...new Set(failed.map((o) => o.status))], [503], 'failures are 503');
  t.ok(
    failed.every((o) => o.retryAfter === '1'),
    'every 503 carries Retry-After',
  );
  const numbers = outcomes.flatMap((o) => (o.n === undefined ? [] : [o.n]));
  t.equal(new Set(numbers).size, numbers.length, 'numbers unique');
  const maxBefore = outcomes
    .filter((o) => o.phase === 'up' && o.n)
    .reduce((m, o) => (o.n! > m ? o.n! : m), 0n);
  const after = outcomes.filter((o) => o.phase === 'restarted' && o.n).map((o) => o.n!);
  t.ok(
    after.every((n) => n > maxBefore),
    `the count survived the restart (before: up to ${maxBefore})`,
  );
  const final = BigInt(await redis.cli('GET', 'hits'));
  const maxSeen = numbers.reduce((m, n) => (n > m ? n : m), 0n);
  t.equal(final, maxSeen, 'the last answered number is the stored value');
  const overCount = final - BigInt(numbers.length);
  t.ok(
    overCount >= 0n && overCount <= BigInt(failed.length),
    `over-count ${overCount} bounded by failed INCRBYs`,
  );
  const worst503 = Math.max(...failed.map((o) => o.ms));
  t.comment(
    `outage: ${numbers.length} answered, ${failed.length} 503s, slowest 503 ${worst503.toFixed(0)} ms, over-count ${overCount}`,
  );
});
