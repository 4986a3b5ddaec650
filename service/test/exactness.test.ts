// Exactness under concurrency with real processes: several service instances on one Redis, and the
// embedded store in one instance. Every number is unique, the range is contiguous, the final value exact.
import { Agent } from 'node:http';
import t, { type Test } from 'tap';
import { startRedis } from '../../tools/lib/redis.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import { contiguousRange, get, hitNumber } from './helpers/http.ts';
import { startService, type Service } from './helpers/service.ts';

const REQUESTS = 3000;

async function hammer(t: Test, services: Service[], requests: number): Promise<bigint[]> {
  const agents = services.map(() => new Agent({ keepAlive: true, maxSockets: 64 }));
  t.teardown(() => agents.forEach((a) => a.destroy()));
  const answers = await Promise.all(
    Array.from({ length: requests }, (_, i) =>
      get(`${services[i % services.length]!.url}/`, {
        agent: agents[i % services.length]!,
        timeoutMs: 60_000,
      }),
    ),
  );
  const statuses = new Set(answers.map((a) => a.status));
  t.same([...statuses], [200], 'every request answered 200');
  return answers.map((a) => hitNumber(a.body));
}

t.test(`${REQUESTS} concurrent GETs across 3 processes on one Redis`, async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const services = await Promise.all(
    [1, 2, 3].map(() => startService(t, { REDIS_URL: redis.url, LOG_LEVEL: 'warn' })),
  );
  for (const s of services) {
    await waitFor(async () => (await get(`${s.url}/ready`)).status === 200, { what: `${s.url}/ready` });
  }
  const numbers = await hammer(t, services, REQUESTS);
  t.same(contiguousRange(numbers), [1n, BigInt(REQUESTS)], 'unique and contiguous 1..N');
  t.equal(await redis.cli('GET', 'hits'), String(REQUESTS), 'final value exact');
});

t.test(`${REQUESTS} concurrent GETs on the embedded store`, async (t) => {
  const service = await startService(t, { LOG_LEVEL: 'warn' });
  // Log lines are written in batches (at most 100 ms late): polled for.
  const warning = await waitFor(
    () =>
      service
        .logLines()
        .find((l) => l.level === 40 && /REDIS_URL and REDIS_SENTINELS are unset/.test(String(l.msg))),
    { what: 'the embedded store warning in the log' },
  );
  t.ok(warning, 'the embedded store is announced with a warning');
  const numbers = await hammer(t, [service], REQUESTS);
  t.same(contiguousRange(numbers), [1n, BigInt(REQUESTS)], 'unique and contiguous 1..N');
  const next = await get(`${service.url}/`);
  t.equal(hitNumber(next.body), BigInt(REQUESTS) + 1n, 'final value exact');
});
