// The benchmark: its exactness check (including that it fails on a duplicate, a gap, a stray
// number), a short real run through the CLI (one mode, small connection counts) checked for its
// output format, clear answers to bad options, and SIGINT stopping everything it started. No timing
// is asserted.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import t, { type Test } from 'tap';
import { checkExactness } from '../../tools/bench/exactness.ts';
import type { BenchResults } from '../../tools/bench/results.ts';
import { spawnProcess, tempDir, waitFor } from '../../tools/lib/proc.ts';
import { childPids, isAlive } from '../../tools/stack/procfs.ts';

const cli = join(import.meta.dirname, '..', '..', 'tools', 'bench', 'cli.ts');

/** Runs the bench CLI to its end (stopped by pid at the test's end if it is still running). */
async function bench(t: Test, args: string[]): Promise<{ code: number | null; log: string }> {
  const proc = spawnProcess(process.execPath, [cli, ...args]);
  t.teardown(() => proc.stop({ signal: 'SIGINT', timeoutMs: 30_000 }));
  const exit = await proc.exited;
  return { code: exit.code, log: proc.log() };
}

t.test('the exactness check', async (t) => {
  const range = (from: bigint, to: bigint) => ({ from, to });
  const seq = (a: number, b: number): bigint[] => Array.from({ length: b - a + 1 }, (_, i) => BigInt(a + i));

  const ok = checkExactness([...seq(11, 20)].reverse(), [range(10n, 20n)]);
  t.ok(ok.ok, 'every number of the counter received once, in any order');
  t.same(ok.problems, []);
  t.equal(ok.counted, 10);

  const dup = checkExactness([...seq(11, 19), 15n], [range(10n, 20n)]);
  t.notOk(dup.ok, 'a duplicate fails');
  t.equal(dup.duplicates, 1);
  t.equal(dup.missing, 1, 'and the number it displaced is missing');
  t.match(dup.problems.join('\n'), /more than once: 15/);
  t.match(dup.problems.join('\n'), /counted but never received: 20/);

  const gap = checkExactness(seq(11, 19), [range(10n, 20n)]);
  t.notOk(gap.ok, 'a counted hit nobody received fails');
  t.match(gap.problems.join('\n'), /moved by 10 but 9 numbers were received/);

  const stray = checkExactness([...seq(11, 20), 21n], [range(10n, 20n)]);
  t.notOk(stray.ok, 'a number the counter never reached fails');
  t.equal(stray.unexpected, 1);

  const big = 2n ** 63n - 3n;
  t.ok(checkExactness([big + 1n, big + 2n], [range(big, big + 2n)]).ok, 'exact beyond 2^53');

  // The embedded store: one counter per replica, so each number may come once per replica.
  const perReplica = [range(0n, 3n), range(0n, 2n)];
  t.ok(checkExactness([1n, 1n, 2n, 2n, 3n], perReplica).ok, 'two counters: their ranges add up');
  t.notOk(checkExactness([1n, 1n, 2n, 3n, 3n], perReplica).ok, 'a number beyond one counter fails');
  t.throws(() => checkExactness([], [range(5n, 4n)]), /ends before it starts/);
});

t.test('a short real run: the default and the replication modes, small connection counts', async (t) => {
  const out = tempDir('bench-smoke-', t);
  const args = ['--duration', '2', '--connections', '1,4', '--replicas', '2', '--modes', 'batch,ha'];
  args.push(
    '--out',
    out,
    '--warmup',
    '0',
    '--ready-runs',
    '1',
    '--redis-bench-requests',
    '2000',
    '--rss-hits',
    '0',
  );
  const run = await bench(t, args);
  t.equal(run.code, 0, `the bench exits 0:\n${run.log}`);

  const files = readdirSync(out).sort();
  const stamp = files.find((f) => f.endsWith('.json'))?.slice(0, -'.json'.length) ?? '(none)';
  t.same(files, [`${stamp}.json`, `${stamp}.md`, `${stamp}.svg`, 'latest.svg'].sort(), 'the four files');

  const r = JSON.parse(readFileSync(join(out, `${stamp}.json`), 'utf8')) as BenchResults;
  t.equal(r.version, 2);
  t.same(
    r.modes.map((m) => m.mode),
    ['batch', 'ha'],
  );
  const mode = r.modes[0] as BenchResults['modes'][number];
  const ha = r.modes[1] as BenchResults['modes'][number];
  for (const s of ha.steps) {
    t.ok(s.exactness.ok && s.non2xx === 0, `replication c=${s.connections}: exact, all 2xx`);
    t.equal(s.redis?.commands.wait, s.redis?.commands.incrby, 'replication: one WAIT per INCRBY');
  }
  t.same(
    mode.steps.map((s) => s.connections),
    [1, 4],
  );
  for (const s of mode.steps) {
    t.ok(s.hits > 0 && s.hitsPerSec > 0, `c=${s.connections}: hits were counted`);
    t.ok(s.exactness.ok, `c=${s.connections}: exact (${s.exactness.problems.join('; ')})`);
    t.equal(s.exactness.counted, s.hits, 'the counter delta equals the 2xx responses');
    t.equal(s.serviceCounted, s.hits, "the replicas' hitcounter_hits_total agrees");
    t.equal(s.non2xx, 0, 'no non-2xx responses');
    const { p50, p99, max } = s.latencyMs;
    t.ok(p50 > 0 && p50 <= p99 && p99 <= max, 'latency percentiles are ordered');
    t.ok(s.redis && (s.redis.commands.incrby ?? 0) > 0, 'Redis INCRBY calls were counted');
    t.ok(
      s.redis && s.redis.countingCommandsPerHit > 0 && s.redis.countingCommandsPerHit <= 1,
      'commands/hit in (0, 1]',
    );
    t.equal(s.batches?.count, s.redis?.commands.incrby, "the replicas' batch count is Redis's INCRBY count");
    t.equal(s.replicas.length, 2, 'one memory reading per replica');
    t.ok(
      s.replicas.every((x) => x.peakRssMiB > 0 && x.vmHwmMiB >= x.peakRssMiB - 1),
      'RSS read',
    );
  }
  // One connection: each hit waits for the previous answer, so a batch is always one hit.
  t.equal(mode.steps[0]?.redis?.countingCommandsPerHit, 1, 'at 1 connection: one INCRBY per hit');
  t.equal(mode.startToReady.samplesMs.length, 1);
  t.ok(mode.startToReady.medianMs > 0, 'start → ready measured');
  t.same(
    mode.redisBenchmark.map((x) => x.connections),
    [1, 4],
    'redis-benchmark at the same connections',
  );
  t.ok(mode.redisBenchmark.every((x) => x.opsPerSec > 0));
  t.same(
    r.floors.map((f) => `${f.floor} c=${f.connections}`),
    ['service', 'fastify', 'nginx', 'service', 'fastify', 'nginx'].map((f, i) => `${f} c=${i < 3 ? 1 : 4}`),
    'the three floors at each connection count, in turn',
  );
  for (const f of r.floors) {
    t.ok(f.hitsPerSec > 0 && f.non2xx === 0, `floor ${f.floor} c=${f.connections}: answered, all 2xx`);
    t.ok(f.cpuSeconds > 0, `floor ${f.floor} c=${f.connections}: its CPU was read`);
  }
  t.same(
    r.floorsAfter.map((f) => f.floor),
    ['service', 'fastify'],
    'the Node floors: RSS after the runs',
  );
  t.ok(
    r.floorsAfter.every((f) => f.rssMiB > 0),
    'read',
  );
  t.equal(r.bareStart.samplesMs.length, 1);
  t.ok(r.bareStart.medianMs > 0, "the bare Fastify app's start → listening measured");
  t.equal(r.targets.length, 11, 'every target reported');
  t.ok(
    r.targets.some((x) => x.met === undefined),
    'targets of modes not run are "not measured"',
  );

  const md = readFileSync(join(out, `${stamp}.md`), 'utf8');
  const main = md.split('## Through nginx (wrk)')[1]?.split('\n## ')[0] ?? '';
  const rows = main.split('\n').filter((l) => l.startsWith('| Redis, batching on (appendfsync always) | '));
  t.equal(rows.length, 2, 'one table row per connection count');
  const price = md.split('## The price of durability')[1]?.split('\n## ')[0] ?? '';
  t.equal(
    price.split('\n').filter((l) => /^\| \d+ \| Redis/.test(l)).length,
    4,
    'the durability table: both modes at both connection counts',
  );
  t.equal(rows[0]?.split('|').length, 18, 'each row has the 16 columns');
  t.match(
    md,
    /\| mode \| connections \| hits\/s \| × bare Fastify \| × nginx return 200 \| p50 ms \| p99 ms \| max ms \| non-2xx \|/,
  );
  t.match(rows[0] ?? '', /^\| [^|]+ \| 1 \| \d+ \| \d+\.\d\d \| \d+\.\d\d \|/, 'with both ratios');
  const floors = md.split('## Floors')[1]?.split('\n## ')[0] ?? '';
  t.equal(
    floors.split('\n').filter((l) => /^\| (the service alone|bare Fastify|nginx return 200)/.test(l)).length,
    6,
  );
  t.ok(run.log.includes(rows[0] ?? '(no row)'), 'the table is printed');

  const svg = readFileSync(join(out, `${stamp}.svg`), 'utf8');
  t.equal(XMLValidator.validate(svg), true, 'the SVG is well-formed XML');
  const doc = new XMLParser({ ignoreAttributes: false }).parse(svg) as {
    svg: { '@_xmlns': string; polyline: unknown };
  };
  t.equal(doc.svg['@_xmlns'], 'http://www.w3.org/2000/svg');
  const lines = ([] as unknown[]).concat(doc.svg.polyline);
  t.equal(lines.length, 4, 'one line per mode in each of the two panels');
  t.equal(readFileSync(join(out, 'latest.svg'), 'utf8'), svg, 'latest.svg is this run');
});

t.test('bad options get one clear line and exit 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--connections', '1,x'], /--connections must be a whole number from 1 to 10000, got "x"/],
    [
      ['--modes', 'batch,turbo'],
      /--modes: unknown mode "turbo"; use any of batch,everysec,ha,nobatch,memory/,
    ],
    [['--duration', '0'], /--duration must be a whole number from 1 to 3600, got "0"/],
    [['--colour'], /Unknown option '--colour'/],
  ];
  for (const [args, message] of cases) {
    const run = await bench(t, args);
    t.equal(run.code, 2, `${args.join(' ')}: exit 2`);
    t.match(run.log, message, `${args.join(' ')}: says what is wrong`);
    t.match(run.log, /usage: npm run bench/, 'and prints the usage');
  }
});

t.test('SIGINT during a run stops every stack and wrk, and exits non-zero', async (t) => {
  const out = tempDir('bench-sigint-', t);
  const proc = spawnProcess(process.execPath, [
    cli,
    ...['--duration', '600', '--connections', '1', '--modes', 'batch,memory', '--out', out],
    ...['--warmup', '0', '--ready-runs', '1', '--redis-bench-requests', '0', '--rss-hits', '0'],
  ]);
  t.teardown(() => proc.stop({ signal: 'SIGINT', timeoutMs: 30_000 }));
  // Every process the bench starts (and the nginx workers), seen while it runs.
  const seen = new Set<number>();
  const look = (): void => {
    for (const c of childPids(proc.pid)) {
      seen.add(c);
      for (const g of childPids(c)) seen.add(g);
    }
  };
  const comm = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  await waitFor(
    () => {
      look();
      return childPids(proc.pid).some((p) => comm(p) === 'wrk');
    },
    { timeoutMs: 90_000, intervalMs: 20, what: 'wrk to run (both stacks up)' },
  );
  proc.signal('SIGINT');
  const poll = setInterval(look, 20);
  const exit = await proc.exited.finally(() => clearInterval(poll));
  t.not(exit.code, 0, 'the bench exits non-zero');
  t.match(proc.log(), /SIGINT: stopping the stacks/, 'it says it is stopping');
  t.ok(
    [...seen].every((p) => !isAlive(p)),
    `no process it started is left (${[...seen].join(', ')})`,
  );
  t.same(readdirSync(out), [], 'no results are written');
});
