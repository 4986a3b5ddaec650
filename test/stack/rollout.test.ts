// Zero-downtime rolling restart: every replica replaced in turn (SIGTERM + readiness drain + nginx
// endpoint removal, as Kubernetes does) while a continuous load runs through nginx.
import t from 'tap';
import { describe } from '../../tools/stack/load.ts';
import { backgroundLoad, withStack } from './fixture.ts';

t.test('rolling restart under load: no failed request, every 2xx counted once', async (t) => {
  const stack = await withStack(t, { replicas: 3 });
  const before = await stack.counter();
  const oldPids = stack.services.map((r) => r.pid);

  const load = backgroundLoad(t, { url: stack.url, concurrency: 16 });
  await load.seen(200, 'load running before the rollout');
  await stack.rollingRestart();
  await load.seen(200, 'load running after the rollout');
  const run = await load.finish();
  const delta = (await stack.counter()) - before;

  t.comment(`rollout: ${describe(run)}; failed ${run.failed}; over-count ${delta - BigInt(run.ok)}`);
  t.equal(run.failed, 0, 'no non-2xx response and no transport error during the rollout');
  t.equal(delta, BigInt(run.ok), 'counter delta equals the number of 2xx responses');
  t.equal(new Set(run.numbers.map(String)).size, run.numbers.length, 'every number answered is unique');
  t.ok(
    stack.services.every((r) => !oldPids.includes(r.pid) && !r.gone),
    'every replica was replaced and the new ones run',
  );
});
