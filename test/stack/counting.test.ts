// Through nginx: the sentence, counting, and exact numbers across replicas under concurrency.
import t from 'tap';
import { countedHits } from '../../tools/bench/probes.ts';
import { describe, runLoad } from '../../tools/stack/load.ts';
import { startStack } from '../../tools/stack/stack.ts';
import { withStack } from './fixture.ts';

const SENTENCE = /^Holla! we have hit (\d+) times\n$/;

t.test('the sentence and counting through nginx', async (t) => {
  const stack = await withStack(t, { replicas: 2 });
  const get = async () => {
    const res = await fetch(stack.url, { headers: { accept: 'text/plain' } });
    return { status: res.status, body: await res.text() };
  };
  const first = await get();
  t.equal(first.status, 200);
  t.match(first.body, SENTENCE);
  const n = BigInt(SENTENCE.exec(first.body)?.[1] ?? '-1');
  t.equal(await stack.counter(), n, 'the number answered is the number stored');

  const head = await fetch(stack.url, { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD / answers');
  const second = await get();
  t.equal(second.body, `Holla! we have hit ${n + 1n} times\n`, 'HEAD was not counted; the next GET is N+1');
});

t.test('exactness across replicas: 5000 requests at concurrency 64', async (t) => {
  const stack = await withStack(t, { replicas: 3 });
  const before = await stack.counter();
  const total = 5000;
  const run = await runLoad({ url: stack.url, concurrency: 64, total, maxMs: 120_000 });
  t.comment(`exactness: ${describe(run)}`);
  t.equal(run.ok, total, 'every request answered 2xx');
  const sorted = [...run.numbers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  t.equal(new Set(sorted.map(String)).size, total, 'every number is unique');
  t.equal(sorted[0], before + 1n, 'numbers start right after the previous count');
  t.equal(sorted.at(-1), before + BigInt(total), 'numbers end at previous count + requests');
  t.equal(await stack.counter(), before + BigInt(total), 'the stored count is exact');
  // Every replica served part of the load (nginx balanced it), and their counts add up.
  const perReplica = await Promise.all(stack.services.map((r) => countedHits(r.port)));
  t.comment(`hits per replica: ${perReplica.join(', ')}`);
  t.ok(
    perReplica.every((n) => n > 0),
    'every replica counted hits',
  );
  t.equal(
    perReplica.reduce((a, b) => a + b, 0),
    total,
    'the replicas together counted every request once',
  );
});

t.test('the embedded store (no Redis) and env overrides, as the benchmark starts it', async (t) => {
  const stack = await withStack(t, { replicas: 1, store: 'memory', env: { COUNTER_BATCH_MAX: '1' } });
  t.equal(stack.redis, undefined, 'no redis-server started');
  t.equal(stack.serviceEnv.REDIS_URL, undefined, 'the replica gets no REDIS_URL');
  t.equal(stack.serviceEnv.COUNTER_BATCH_MAX, '1', 'the override reaches the replica env');
  const run = await runLoad({ url: stack.url, concurrency: 8, total: 200 });
  t.equal(run.ok, 200, 'every request answered');
  const sorted = run.numbers.map(Number).sort((a, b) => a - b);
  t.same(
    sorted,
    Array.from({ length: 200 }, (_, i) => i + 1),
    'numbers 1..200, each once',
  );
  await t.rejects(stack.counter(), /embedded store/, 'counter() says there is no Redis');
  await t.rejects(
    startStack({ replicas: 2, store: 'memory' }),
    /use it with replicas: 1/,
    'the embedded store with several replicas is refused',
  );
});
