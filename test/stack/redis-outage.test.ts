// Redis restarted under load: fast 503s during the outage, recovery without restarting a
// replica, and the count kept across the restart by the chart's AOF configuration.
import t from 'tap';
import { waitFor } from '../../tools/lib/proc.ts';
import { describe } from '../../tools/stack/load.ts';
import { backgroundLoad, withStack } from './fixture.ts';

// The service bounds a Redis command at about 1.5 s; anything near the client's own timeout is a
// hang. The margin absorbs a loaded CI machine; the measured figure is reported, not asserted.
const HANG_BOUND_MS = 1500 + 3500;

t.test('Redis restart under load', async (t) => {
  const stack = await withStack(t, { replicas: 3 });
  const pids = stack.services.map((r) => r.pid);
  const before = await stack.counter();

  const load = backgroundLoad(t, { url: stack.url, concurrency: 16, requestTimeoutMs: 15_000 });
  await load.seen(200, 'load running before the outage');
  await stack.stopRedis();
  await waitFor(() => load.live.slice(-16).every((r) => r.status === 503), {
    timeoutMs: 20_000,
    what: 'the outage to show as 503s',
  });
  await load.seen(100, 'load running during the outage');
  await stack.startRedis();
  const restartedAt = performance.now();
  await waitFor(() => load.live.filter((r) => r.startedAt > restartedAt && r.status === 200).length >= 100, {
    timeoutMs: 30_000,
    what: '100 successful requests after Redis came back (recovery without a restart)',
  });
  const run = await load.finish();
  const delta = (await stack.counter()) - before;
  const unavailable = run.byStatus.get(503) ?? 0;

  t.comment(`redis outage: ${describe(run)}; failed ${run.failed}; over-count ${delta - BigInt(run.ok)}`);
  t.same(
    [...run.byStatus.keys()].filter((s) => s !== 200 && s !== 503),
    [],
    'only 200 and 503 answers',
  );
  t.ok(unavailable > 0, 'the outage was seen as 503s');
  t.ok(run.longestMs < HANG_BOUND_MS, `no request hung (longest ${Math.round(run.longestMs)} ms)`);
  t.ok(delta >= BigInt(run.ok), 'every 2xx answer survived the restart (AOF)');
  t.ok(delta - BigInt(run.ok) <= BigInt(unavailable), 'any over-count is bounded by the 503s');
  t.equal(new Set(run.numbers.map(String)).size, run.numbers.length, 'no number was handed out twice');
  t.same(
    stack.services.map((r) => r.pid),
    pids,
    'no replica was restarted',
  );
});
