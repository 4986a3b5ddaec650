// The `npm run stack` CLI: it prints every part and the URL, serves, and SIGINT stops every
// process it started; bad arguments and a missing binary get one clear line.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { spawnProcess, waitFor } from '../../tools/lib/proc.ts';
import { isAlive } from '../../tools/stack/procfs.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'tools', 'stack', 'cli.ts');

t.test('starts, prints pids, ports, logs and the URL, and stops everything on SIGINT', async (t) => {
  const proc = spawnProcess(process.execPath, [cli, '--replicas', '2']);
  t.teardown(() => proc.stop({ signal: 'SIGKILL' }));
  const out = await waitFor(() => (/is up: (http:\S+)/.test(proc.log()) ? proc.log() : ''), {
    timeoutMs: 60_000,
    what: 'the stack CLI to print its URL',
  });
  const rows = [...out.matchAll(/^(\S+)\s+pid (\d+)\s+port (\d+)\s+log (\S+)$/gm)];
  t.same(
    rows.map((r) => r[1]),
    ['redis', 'service-0', 'service-1', 'nginx'],
    'one row per part',
  );
  const pids = rows.map((r) => Number(r[2]));
  t.ok(pids.every(isAlive), 'every printed pid runs');
  const url = /is up: (http:\S+)/.exec(out)?.[1] ?? '';
  const res = await fetch(url);
  t.match(await res.text(), /^Holla! we have hit \d+ times\n$/, 'the URL serves the counter');

  proc.signal('SIGINT');
  const exit = await proc.exited;
  t.equal(exit.code, 0, 'the CLI exits 0 after SIGINT');
  t.ok(
    pids.every((p) => !isAlive(p)),
    'no process it started is left',
  );
  const kept = /kept in (\S+)/.exec(proc.log())?.[1];
  t.ok(kept, 'it says where the logs are');
  if (kept) rmSync(kept, { recursive: true, force: true });
});

t.test('--monitoring adds Prometheus and the exporters, all scraped, all stopped on SIGINT', async (t) => {
  const proc = spawnProcess(process.execPath, [cli, '--replicas', '1', '--monitoring']);
  t.teardown(() => proc.stop({ signal: 'SIGKILL' }));
  const out = await waitFor(() => (/Prometheus: (http:\S+)/.test(proc.log()) ? proc.log() : ''), {
    timeoutMs: 90_000,
    what: 'the stack CLI to print the Prometheus URL',
  });
  const prom = /Prometheus: (http:\S+)/.exec(out)?.[1] ?? '';
  const monitoringPids = [
    ...(/prometheus pid (\d+), redis_exporter pid (\d+), nginx exporter pid (\d+)/.exec(out) ?? []),
  ]
    .slice(1)
    .map(Number);
  t.equal(monitoringPids.length, 3, 'it prints the pids of Prometheus and both exporters');
  t.ok(monitoringPids.every(isAlive), 'and they run');
  const targets = (await (await fetch(`${prom}/api/v1/targets`)).json()) as {
    data: { activeTargets: { health: string; labels: { job: string } }[] };
  };
  const jobs = targets.data.activeTargets.map((x) => `${x.labels.job}:${x.health}`).sort();
  t.equal(jobs.length, 3, `a target each for the service and both exporters: ${jobs}`);
  t.ok(
    jobs.every((j) => j.endsWith(':up')),
    `every target is up: ${jobs}`,
  );

  proc.signal('SIGINT');
  const exit = await proc.exited;
  t.equal(exit.code, 0, 'the CLI exits 0 after SIGINT');
  t.ok(
    monitoringPids.every((p) => !isAlive(p)),
    'Prometheus and the exporters are stopped',
  );
  const kept = /kept in (\S+)/.exec(proc.log())?.[1];
  if (kept) rmSync(kept, { recursive: true, force: true });
});

t.test('bad arguments: exit 2 with the reason and the usage', async (t) => {
  for (const args of [['--replicas', 'x'], ['--replicas', '0'], ['--port', '70000'], ['--bogus']]) {
    const err = await run(process.execPath, [cli, ...args]).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    t.equal(err?.code, 2, `${args.join(' ')}: exit 2`);
    t.match(err?.stderr ?? '', /^stack: .+\nusage: npm run stack/, `${args.join(' ')}: reason and usage`);
  }
});

t.test('a missing binary names the install command', async (t) => {
  // /usr/bin has sh, node's siblings and redis, but not nginx (/usr/sbin)
  const err = await run(process.execPath, [cli], { env: { ...process.env, PATH: '/usr/bin' } }).then(
    () => undefined,
    (e: { code?: number; stderr?: string }) => e,
  );
  t.equal(err?.code, 1, 'exit 1');
  t.match(err?.stderr ?? '', 'stack: nginx not found: run `bash tools/install.sh`', 'names the fix');
});
