// Redis stopped under load and started again on its data, by SIGTERM (a restart) and by SIGKILL (a
// crash) with the chart's default config: fast 503s during the outage, recovery without restarting a
// replica, no number answered 200 twice, and the counter after the restart at least the largest
// number answered (the AOF with appendfsync always; test/chart/redis-durability.test.ts shows the
// fsync precedes each reply, which is what a node crash needs on top).
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
