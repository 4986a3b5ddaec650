// A crash: one replica SIGKILLed under load, then restarted at the same address. Only requests in
// flight on it may fail or be counted twice (nginx passes a failed GET to the next upstream).
import t from 'tap';
import { describe } from '../../tools/stack/load.ts';
import { backgroundLoad, withStack } from './fixture.ts';

t.test('SIGKILL one replica under load: failures bounded by in-flight requests', async (t) => {
  const concurrency = 24;
  const stack = await withStack(t, { replicas: 3 });
  const before = await stack.counter();
  const victim = stack.services[1]!;

  const load = backgroundLoad(t, { url: stack.url, concurrency });
  await load.seen(300, 'load running before the kill');
  const restarted = await stack.killService(1);
  await load.seen(300, 'load running after the replacement');
  const run = await load.finish();
  const delta = (await stack.counter()) - before;
  const overCount = delta - BigInt(run.ok);

  t.comment(`kill: ${describe(run)}; failed ${run.failed}; over-count ${overCount}`);
  t.ok(victim.gone, 'the killed replica is gone');
  t.not(restarted.pid, victim.pid, 'a new process replaced it');
  t.equal(restarted.port, victim.port, 'at the same address, as a restarted container');
  t.ok(run.failed <= concurrency, `failed requests (${run.failed}) <= requests in flight (${concurrency})`);
  t.ok(overCount >= 0n, 'every 2xx answer was counted');
  t.ok(overCount <= BigInt(concurrency), `over-count (${overCount}) <= requests in flight (${concurrency})`);
  t.equal(new Set(run.numbers.map(String)).size, run.numbers.length, 'every number answered is unique');
  const after = await fetch(stack.url);
  t.equal(after.status, 200, 'the stack serves after the replacement');
});
