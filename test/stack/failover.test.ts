// The replication architecture (npm run stack -- --ha: the chart's redis-node.sh, redis.conf and
// sentinel.conf; 3 Redis nodes, 3 Sentinels) under load through nginx, every number answered 200
// collected: a replica lost, the primary SIGKILLed (Sentinel promotes a replica, the service
// follows without a restart), the old primary rejoining, a planned handover; and replicas cut off
// at the moment the primary dies, with WAIT (nothing answered is lost) and without it (the
// negative control: numbers are handed out twice).
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { waitFor } from '../../tools/lib/proc.ts';
import type { RedisServer } from '../../tools/lib/redis.ts';
import { describe, duplicates, type LoadResult, type LoadSummary } from '../../tools/stack/load.ts';
import type { Replication } from '../../tools/stack/replication.ts';
import type { Stack } from '../../tools/stack/stack.ts';
import { backgroundLoad, checkAnswers, withStack } from './fixture.ts';

/** First 503 at or after `from` to the end of the first 200 that started after it (ms), or 0. */
function outageMs(results: LoadResult[], from: number): number {
  const sorted = [...results].sort((a, b) => a.startedAt - b.startedAt);
  const first503 = sorted.find((r) => r.startedAt >= from && r.status === 503);
  if (!first503) return 0;
  const back = sorted.find((r) => r.startedAt > first503.startedAt && r.status === 200);
  return back ? Math.round(back.startedAt + back.ms - first503.startedAt) : Infinity;
}

type Load = ReturnType<typeof backgroundLoad>;

/**
 * Waits for `n` answers 200 that started after `since`. Sentinel retries a failed failover after
 * twice its failover-timeout (60 s), hence the 90 s. On a timeout the error carries what the
 * Sentinels and the service replicas logged last.
 */
async function succeededSince(
  stack: Stack,
  load: Load,
  since: number,
  n: number,
  what: string,
): Promise<void> {
  try {
    await waitFor(() => load.live.filter((r) => r.startedAt > since && r.status === 200).length >= n, {
      timeoutMs: 90_000,
      what,
    });
  } catch (err) {
    const tail = (text: string): string => text.trim().split('\n').slice(-8).join('\n');
    const sentinels = (stack.replication?.sentinels ?? []).map(
      (x, i) => `sentinel-${i}:\n${tail(x.proc.log())}`,
    );
    const services = stack.services.map(
      (r) => `service ${r.port}:\n${tail(readFileSync(r.logFile, 'utf8'))}`,
    );
    throw new Error(`${(err as Error).message}\n${[...sentinels, ...services].join('\n')}`, { cause: err });
  }
}

/** The checks every drill ends with (checkAnswers), on the counter the Sentinels' primary holds. */
async function counted(t: Test, stack: Stack, run: LoadSummary, label: string): Promise<void> {
  const counter = await stack.counter();
  t.comment(`${label}: ${describe(run)}; counter ${counter}`);
  checkAnswers(t, run, counter, label);
}

/** Waits until the Sentinels name a primary other than node `from`. */
async function promotedFrom(replication: Replication, from: number): Promise<void> {
  await waitFor(async () => (await replication.primary().catch(() => from)) !== from, {
    timeoutMs: 60_000,
    what: 'Sentinel to promote a replica',
  });
}

t.test('replica loss, primary crash, rejoin and a planned handover, under load', async (t) => {
  const stack = await withStack(t, { ha: true, replicas: 2 });
  const replication = stack.replication as Replication;
  t.equal(stack.serviceEnv.REDIS_WAIT_REPLICAS, '1', "the chart's default: WAIT for one replica");
  const servicePids = stack.services.map((r) => r.pid);
  const first = await replication.primary();
  const replicas = [0, 1, 2].filter((i) => i !== first);

  // 1. A replica lost: WAIT 1 is still satisfied by the other one.
  const lossLoad = backgroundLoad(t, { url: stack.url, concurrency: 16, requestTimeoutMs: 15_000 });
  await lossLoad.seen(200, 'load before the replica is stopped');
  await replication.stopNode(replicas[0] as number);
  const stoppedAt = performance.now();
  await succeededSince(stack, lossLoad, stoppedAt, 300, '300 answers with one replica down');
  const loss = await lossLoad.finish();
  t.equal(
    loss.results.filter((r) => r.startedAt > stoppedAt && r.status !== 200).length,
    0,
    'one replica down: every hit is still answered 200',
  );
  await counted(t, stack, loss, 'replica loss');
  await replication.startNode(replicas[0] as number);
  await replication.settled();

  // 2. The primary SIGKILLed mid-load: Sentinel promotes a replica and the service follows.
  const load = backgroundLoad(t, { url: stack.url, concurrency: 16, requestTimeoutMs: 15_000 });
  await load.seen(300, 'load before the primary is killed');
  await replication.stopNode(first, 'SIGKILL');
  const killedAt = performance.now();
  await promotedFrom(replication, first);
  await succeededSince(stack, load, killedAt, 200, '200 answers from the new primary');
  const crash = await load.finish();
  const crashOutage = outageMs(crash.results, killedAt);
  t.comment(`failover outage (first 503 to first 200 after it): ${crashOutage} ms`);
  t.ok(Number.isFinite(crashOutage), 'the service answered 200 again after the failover');
  await counted(t, stack, crash, 'primary crash');
  t.same(
    stack.services.map((r) => r.pid),
    servicePids,
    'the service followed the new primary without a restart',
  );

  // 3. The old primary comes back on its data and rejoins as a replica.
  await replication.startNode(first);
  const promoted = await replication.settled();
  t.not(promoted, first, 'the old primary rejoined as a replica');
  t.match(
    await (replication.nodes[first] as RedisServer).cli('ROLE'),
    /^slave\n/,
    'it reports the replica role',
  );

  // 4. A planned stop of the primary (the pod's preStop hook): a switchover under load.
  const planned = backgroundLoad(t, { url: stack.url, concurrency: 16, requestTimeoutMs: 15_000 });
  await planned.seen(300, 'load before the handover');
  const handoverAt = performance.now();
  await replication.handover(promoted);
  t.not(await replication.primary(), promoted, 'the handover promoted another node');
  await succeededSince(stack, planned, handoverAt, 200, '200 answers after the handover');
  const switchover = await planned.finish();
  t.comment(
    `handover outage (first 503 to first 200 after it): ${outageMs(switchover.results, handoverAt)} ms`,
  );
  await counted(t, stack, switchover, 'handover');
});

for (const wait of ['1', '0'] as const) {
  const title =
    wait === '1'
      ? 'replicas cut off when the primary dies, with WAIT 1: nothing answered is lost'
      : 'negative control, WAIT 0: the promoted replica lacks answered numbers, which are handed out again';
  t.test(title, async (t) => {
    const stack = await withStack(t, { ha: true, replicas: 2, env: { REDIS_WAIT_REPLICAS: wait } });
    const replication = stack.replication as Replication;
    const primary = await replication.primary();
    const replicas = replication.nodes.filter((_, i) => i !== primary);
    const load = backgroundLoad(t, { url: stack.url, concurrency: 16, requestTimeoutMs: 15_000 });
    await load.seen(200, 'load before the replicas stall');
    // Both replicas stall (SIGSTOP) and the primary drops their links (as on a network fault):
    // what it writes from now on reaches no replica.
    for (const r of replicas) r.proc.signal('SIGSTOP');
    t.teardown(() => replicas.forEach((r) => r.proc.signal('SIGCONT')));
    await (replication.nodes[primary] as RedisServer).cli('CLIENT', 'KILL', 'TYPE', 'replica');
    await load.seen(200, 'load while the replicas are cut off');
    await replication.stopNode(primary, 'SIGKILL');
    for (const r of replicas) r.proc.signal('SIGCONT');
    const killedAt = performance.now();
    await promotedFrom(replication, primary);
    await succeededSince(stack, load, killedAt, 200, '200 answers from the new primary');
    const run = await load.finish();
    t.comment(`WAIT ${wait}: outage ${outageMs(run.results, killedAt)} ms; ${describe(run)}`);
    if (wait === '1') {
      await counted(t, stack, run, 'WAIT 1');
    } else {
      const twice = duplicates(run.numbers);
      t.comment(`WAIT 0: ${twice} number(s) answered 200 twice; counter ${await stack.counter()}`);
      t.ok(twice > 0, 'without WAIT the failover hands out answered numbers again');
    }
  });
}
