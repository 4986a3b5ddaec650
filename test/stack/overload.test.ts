// Overload through the chart's nginx.conf in front of 2 replicas: wrk at 1,000 and 2,000
// connections, 2,500 slowloris clients and 2,000 slow request bodies, each with a probe sending
// legitimate GET / requests on fresh connections throughout. Every probe is answered (200, or 503
// with Retry-After), no 500/502/504, nginx never runs out of connections nor marks a replica down
// (a normal request right after each load gets 200), slow clients are cut, and the counter stays
// exact for the answered 200s.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runPhase, type Phase, type PhaseResult } from '../../tools/bench/overload.ts';
import { isAlive } from '../../tools/stack/procfs.ts';
import { withStack } from './fixture.ts';

const summary = (r: PhaseResult): string =>
  JSON.stringify({ ...r, probe: { ...r.probe, numbers: r.probe.numbers.length } });

/** What every phase must show, whatever the load. */
function checkPhase(t: Test, r: PhaseResult): void {
  t.comment(summary(r));
  const probe = r.probe;
  t.ok(probe.sent >= 10, `${r.name}: the probe sent requests throughout (${probe.sent})`);
  t.same(
    Object.keys(probe.byStatus).filter((s) => s !== '200' && s !== '503'),
    [],
    `${r.name}: every probe answered 200 or 503 (${JSON.stringify(probe.byStatus)}, errors ${JSON.stringify(probe.errors)})`,
  );
  t.equal(probe.bare503, 0, `${r.name}: every 503 carries Retry-After`);
  if (r.wrk) {
    const { statuses, errors } = r.wrk;
    t.same(
      Object.keys(statuses).filter((s) => s !== '200' && s !== '503'),
      [],
      `${r.name}: the load got only 200 and 503 (${JSON.stringify(statuses)})`,
    );
    const transport = errors.connect + errors.read + errors.write + errors.timeout;
    t.equal(transport, 0, `${r.name}: no connection of the load failed (${JSON.stringify(errors)})`);
  }
  t.ok(r.after.firstOkMs >= 0, `${r.name}: a normal request after the load gets 200`);
  t.same(r.after.beforeOk, {}, `${r.name}: the first one right after the load already does`);
  t.same(r.after.statuses, { 200: 20 }, `${r.name}: and so do the next 20: no replica is marked down`);
  t.equal(r.duplicates, 0, `${r.name}: no number was answered 200 twice`);
  // Exact but for GETs wrk may leave in flight when it stops (at most one per connection): every
  // other request was answered 200 or refused before any server saw it.
  const inFlight = r.wrk?.connections ?? 0;
  t.ok(
    r.countedWithout200 >= 0 && r.countedWithout200 <= inFlight,
    `${r.name}: the counter moved by the 200s answered (+${r.countedWithout200}, at most ${inFlight})`,
  );
}

t.test('nginx under overload', async (t) => {
  const stack = await withStack(t, { replicas: 2 });
  const errorLog = join(stack.logs, 'nginx-error.log');
  const phase = (p: Phase): Promise<PhaseResult> => runPhase(stack, p);

  t.test('wrk -c1000', async (t) => {
    checkPhase(t, await phase({ name: 'wrk -c1000', kind: 'wrk', connections: 1000, seconds: 6 }));
  });

  t.test('wrk -c2000: excess load is shed with 503 + Retry-After', async (t) => {
    const r = await phase({ name: 'wrk -c2000', kind: 'wrk', connections: 2000, seconds: 6 });
    checkPhase(t, r);
    t.ok((r.wrk?.statuses[200] ?? 0) > 0, 'hits were still served');
  });

  t.test('2500 slowloris clients, reconnecting', async (t) => {
    const r = await phase({
      name: 'slowloris',
      kind: 'headers',
      clients: 2500,
      seconds: 8,
      intervalMs: 1000,
      reconnect: true,
    });
    checkPhase(t, r);
    // The header deadline (5 s) is shorter than the phase: every first connection was cut.
    t.ok(
      (r.slow?.closedByServer ?? 0) >= 2500,
      `nginx cut the slow headers (${r.slow?.closedByServer} closed)`,
    );
  });

  t.test('2000 slow request bodies', async (t) => {
    const r = await phase({
      name: 'slow body',
      kind: 'body',
      clients: 2000,
      seconds: 6,
      intervalMs: 1000,
      reconnect: false,
    });
    checkPhase(t, r);
    t.equal(r.slow?.heldToEnd, 0, 'no slow body held its connection to the end');
    t.same(r.slow?.answered, { 413: 2000 }, 'each was refused with 413');
  });

  t.test("nginx's own view", async (t) => {
    const log = readFileSync(errorLog, 'utf8');
    const count = (re: RegExp): number => log.split('\n').filter((l) => re.test(l)).length;
    t.equal(count(/worker_connections are not enough/), 0, 'nginx never ran out of connections');
    t.equal(count(/upstream server temporarily disabled/), 0, 'no upstream server was marked down');
    t.equal(count(/no live upstreams/), 0, 'and none was reported unavailable');
    t.ok(isAlive(stack.nginx.pid), 'nginx master alive');
  });
});
