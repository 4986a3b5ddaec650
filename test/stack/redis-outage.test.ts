// Redis stopped under load and started again on its data, by SIGTERM (a restart) and by SIGKILL (a
// crash) with the chart's default config: fast 503s during the outage, recovery without restarting a
// replica, no number answered 200 twice, and the counter after the restart at least the largest
// number answered (the AOF with appendfsync always; test/chart/redis-durability.test.ts shows the
// fsync precedes each reply, which is what a node crash needs on top). Then Redis hung (SIGSTOP)
// and resumed: each replica not ready but alive meanwhile, every hit answered, counting resumes.
import t from 'tap';
import { waitFor } from '../../tools/lib/proc.ts';
import { describe } from '../../tools/stack/load.ts';
import { backgroundLoad, checkAnswers, withStack } from './fixture.ts';

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  t.test(`Redis stopped by ${signal} under load, started again on its data`, async (t) => {
    const stack = await withStack(t, { replicas: 3 });
    t.match(stack.rendered.redisConf, /^appendfsync always$/m, "the chart's default durability");
    const pids = stack.services.map((r) => r.pid);
    const before = await stack.counter();

    const load = backgroundLoad(t, { url: stack.url, concurrency: 16, requestTimeoutMs: 15_000 });
    await load.seen(200, 'load running before the outage');
    await stack.redis?.stop({ signal, timeoutMs: 10_000 });
    await waitFor(() => load.live.slice(-16).every((r) => r.status === 503), {
      timeoutMs: 20_000,
      what: 'the outage to show as 503s',
    });
    await load.seen(100, 'load running during the outage');
    await stack.startRedis();
    const restartedAt = performance.now();
    await waitFor(
      () => load.live.filter((r) => r.startedAt > restartedAt && r.status === 200).length >= 100,
      {
        timeoutMs: 30_000,
        what: '100 successful requests after Redis came back (recovery without a restart)',
      },
    );
    const run = await load.finish();
    const after = await stack.counter();
    const delta = after - before;
    const unavailable = run.results.filter((r) => r.status === 503);
    const longest503 = Math.max(...unavailable.map((r) => r.ms));

    t.comment(
      `${signal}: ${describe(run)}; over-count ${delta - BigInt(run.ok)}; slowest 503 ${Math.round(longest503)} ms`,
    );
    checkAnswers(t, run, after, signal);
    t.ok(unavailable.length > 0, 'the outage was seen as 503s');
    t.ok(delta >= BigInt(run.ok), 'every 2xx answer survived the restart (AOF)');
    t.ok(delta - BigInt(run.ok) <= BigInt(unavailable.length), 'any over-count is bounded by the 503s');
    t.same(
      stack.services.map((r) => r.pid),
      pids,
      'no replica was restarted',
    );
  });
}

// A hung Redis keeps its connections open and answers nothing: each replica turns not ready but
// stays alive, every hit is answered (200, or 503 at its deadline) and counting resumes on SIGCONT.
t.test('Redis hung (SIGSTOP) under load, then resumed (SIGCONT)', async (t) => {
  const stack = await withStack(t, { replicas: 2 });
  const redis = stack.redis!;
  let stopped = false;
  t.teardown(() => {
    if (stopped) redis.proc.signal('SIGCONT'); // before the stack stops it (LIFO)
  });
  const pids = stack.services.map((r) => r.pid);
  const before = await stack.counter();
  const probe = (port: number, path: string) =>
    fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });

  const load = backgroundLoad(t, { url: stack.url, concurrency: 16, requestTimeoutMs: 15_000 });
  await load.seen(200, 'load running before Redis hangs');
  redis.proc.signal('SIGSTOP');
  stopped = true;
  const stoppedAt = performance.now();
  for (const replica of stack.services) {
    await waitFor(async () => (await probe(replica.port, '/ready')) === 503, {
      timeoutMs: 10_000,
      what: `replica ${replica.port}: /ready 503 while Redis hangs`,
    });
    t.equal(await probe(replica.port, '/health'), 200, `replica ${replica.port}: /health 200 (alive)`);
  }
  await waitFor(() => load.live.slice(-16).every((r) => r.status === 503), {
    timeoutMs: 20_000,
    what: 'the hang to show as 503s',
  });
  // Redis stays stopped for 3 s at least, as long as the measured drill.
  await waitFor(() => performance.now() - stoppedAt >= 3000, { timeoutMs: 10_000, what: '3 s of hang' });
  redis.proc.signal('SIGCONT');
  stopped = false;
  const resumedAt = performance.now();
  await waitFor(() => load.live.filter((r) => r.startedAt > resumedAt && r.status === 200).length >= 100, {
    timeoutMs: 30_000,
    what: '100 successful requests after SIGCONT',
  });
  for (const replica of stack.services)
    await waitFor(async () => (await probe(replica.port, '/ready')) === 200, {
      timeoutMs: 10_000,
      what: `replica ${replica.port}: /ready 200 after SIGCONT`,
    });
  const run = await load.finish();
  const after = await stack.counter();
  const unavailable = run.results.filter((r) => r.status === 503);
  const longest503 = Math.max(...unavailable.map((r) => r.ms));
  t.comment(
    `SIGSTOP: ${describe(run)}; over-count ${after - before - BigInt(run.ok)}; slowest 503 ${Math.round(longest503)} ms`,
  );
  checkAnswers(t, run, after, 'SIGSTOP');
  t.ok(unavailable.length > 0, 'the hang was seen as 503s');
  t.ok(after - before >= BigInt(run.ok), 'every 2xx answer is counted');
  t.ok(
    after - before - BigInt(run.ok) <= BigInt(unavailable.length),
    'any over-count is bounded by the 503s',
  );
  t.same(
    stack.services.map((r) => r.pid),
    pids,
    'no replica was restarted',
  );
});
