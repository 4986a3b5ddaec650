// The `npm run stack` CLI: it prints every part and the URL, serves, and SIGINT stops every
// process it started; bad arguments and a missing binary get one clear line.
import { execFile } from 'node:child_process';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { requireBinary, spawnProcess, tempDir, waitFor, type Proc } from '../../tools/lib/proc.ts';
import { childPids, isAlive } from '../../tools/stack/procfs.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'tools', 'stack', 'cli.ts');

/** Every pid the CLI printed so far: the stack's parts and the monitoring processes. */
function printedPids(log: string): number[] {
  const parts = [...log.matchAll(/^\S+\s+pid (\d+)\s+port \d+\s+log \S+$/gm)].map((m) => Number(m[1]));
  const monitoring = [
    ...(/prometheus pid (\d+), redis_exporter pid (\d+), nginx exporter pid (\d+)/.exec(log) ?? []),
  ]
    .slice(1)
    .map(Number);
  return [...parts, ...monitoring];
}

/**
 * Teardown for a CLI run: SIGINT lets the CLI stop what it started; whatever it printed and is
 * still alive afterwards (the CLI hung or was killed) is killed by pid.
 */
async function stopCli(proc: Proc): Promise<void> {
  await proc.stop({ signal: 'SIGINT', timeoutMs: 30_000 });
  const left = printedPids(proc.log()).filter(isAlive);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(() => left.every((p) => !isAlive(p)), { what: 'the processes the CLI left to exit' });
  const kept = /kept in (\S+)/.exec(proc.log())?.[1];
  if (kept) rmSync(kept, { recursive: true, force: true });
}

/** SIGINT, as Ctrl-C: the CLI exits 0, says where its logs are, and none of `pids` is left. */
async function interrupt(t: Test, proc: Proc, pids: number[], what: string): Promise<void> {
  proc.signal('SIGINT');
  const exit = await proc.exited;
  t.equal(exit.code, 0, 'the CLI exits 0 after SIGINT');
  t.ok(
    pids.every((p) => !isAlive(p)),
    what,
  );
  const kept = /kept in (\S+)/.exec(proc.log())?.[1];
  t.ok(kept, 'it says where the logs are');
  if (kept) rmSync(kept, { recursive: true, force: true });
}

/** Starts the CLI with `args` and waits for its URL: the output, the part names, pids and the URL. */
async function upWith(t: Test, args: string[]) {
  const proc = spawnProcess(process.execPath, [cli, ...args]);
  t.teardown(() => stopCli(proc));
  const out = await waitFor(() => (/is up: (http:\S+)/.test(proc.log()) ? proc.log() : ''), {
    timeoutMs: 60_000,
    what: 'the stack CLI to print its URL',
  });
  const rows = [...out.matchAll(/^(\S+)\s+pid (\d+)\s+port (\d+)\s+log (\S+)$/gm)];
  return {
    proc,
    out,
    parts: rows.map((r) => r[1]),
    pids: rows.map((r) => Number(r[2])),
    url: /is up: (http:\S+)/.exec(out)?.[1] ?? '',
  };
}

t.test('starts, prints pids, ports, logs and the URL, and stops everything on SIGINT', async (t) => {
  const { proc, parts, pids, url } = await upWith(t, ['--replicas', '2']);
  t.same(parts, ['redis', 'service-0', 'service-1', 'nginx'], 'one row per part');
  t.ok(pids.every(isAlive), 'every printed pid runs');
  const res = await fetch(url);
  t.match(await res.text(), /^Holla! we have hit \d+ times\n$/, 'the URL serves the counter');

  await interrupt(t, proc, pids, 'no process it started is left');
});

t.test('--ha: three Redis nodes and three Sentinels, printed, serving, all stopped on SIGINT', async (t) => {
  const { proc, out, parts, pids, url } = await upWith(t, ['--replicas', '1', '--ha']);
  t.same(
    parts,
    ['redis-0', 'redis-1', 'redis-2', 'sentinel-0', 'sentinel-1', 'sentinel-2', 'service-0', 'nginx'],
    'one row per part',
  );
  t.match(out, /primary: redis-0 \(Sentinel name hit-counter\)/, 'it names the primary');
  t.ok(pids.every(isAlive), 'every printed pid runs');
  t.match(
    await (await fetch(url)).text(),
    /^Holla! we have hit 1 times\n$/,
    'the URL counts through Sentinel',
  );
  await interrupt(t, proc, pids, 'no process it started is left');
});

t.test('--monitoring adds Prometheus and the exporters, all scraped, all stopped on SIGINT', async (t) => {
  const proc = spawnProcess(process.execPath, [cli, '--replicas', '1', '--monitoring']);
  t.teardown(() => stopCli(proc));
  const out = await waitFor(() => (/Prometheus: (http:\S+)/.test(proc.log()) ? proc.log() : ''), {
    timeoutMs: 90_000,
    what: 'the stack CLI to print the Prometheus URL',
  });
  const prom = /Prometheus: (http:\S+)/.exec(out)?.[1] ?? '';
  // the stack's redis, service and nginx rows, then Prometheus and both exporters
  const pids = printedPids(out);
  t.equal(pids.length, 6, 'it prints the pids of the stack, Prometheus and both exporters');
  t.ok(pids.every(isAlive), 'and they run');
  const targets = (await (await fetch(`${prom}/api/v1/targets`)).json()) as {
    data: { activeTargets: { health: string; labels: { job: string } }[] };
  };
  const jobs = targets.data.activeTargets.map((x) => `${x.labels.job}:${x.health}`).sort();
  t.equal(jobs.length, 3, `a target each for the service and both exporters: ${jobs}`);
  t.ok(
    jobs.every((j) => j.endsWith(':up')),
    `every target is up: ${jobs}`,
  );

  await interrupt(t, proc, pids, 'the stack, Prometheus and the exporters are stopped');
});

t.test('bad arguments: exit 2 with the reason and the usage', async (t) => {
  for (const args of [
    ['--replicas', 'x'],
    ['--replicas', '0'],
    ['--port', '70000'],
    ['--bogus'],
    ['--ha', '--memory'],
    ['--ha', '--monitoring'],
  ]) {
    const err = await run(process.execPath, [cli, ...args]).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    t.equal(err?.code, 2, `${args.join(' ')}: exit 2`);
    t.match(err?.stderr ?? '', /^stack: .+\nusage: npm run stack/, `${args.join(' ')}: reason and usage`);
  }
});

t.test('a missing binary names the install command', async (t) => {
  // PATH holds sh and Redis but not nginx (node itself is run by its path)
  const bin = tempDir('stack-cli-path-', t);
  for (const name of ['sh', 'redis-server', 'redis-cli']) symlinkSync(requireBinary(name), join(bin, name));
  const err = await run(process.execPath, [cli], {
    env: { ...process.env, PATH: bin },
    timeout: 60_000,
    killSignal: 'SIGINT',
  }).then(
    () => undefined,
    (e: { code?: number; stderr?: string }) => e,
  );
  t.equal(err?.code, 1, 'exit 1');
  t.match(err?.stderr ?? '', 'stack: nginx not found: run `bash tools/install.sh`', 'names the fix');
});

t.test('SIGINT during startup stops whatever was started, and exits 0', async (t) => {
  const proc = spawnProcess(process.execPath, [cli, '--replicas', '2']);
  t.teardown(() => stopCli(proc));
  // Every process the CLI starts (and the nginx workers), seen while it runs.
  const seen = new Set<number>();
  const look = (): void => {
    for (const c of childPids(proc.pid)) {
      seen.add(c);
      for (const g of childPids(c)) seen.add(g);
    }
  };
  await waitFor(
    () => {
      look();
      return seen.size > 0;
    },
    { timeoutMs: 60_000, intervalMs: 5, what: 'the CLI to start its first process' },
  );
  t.notMatch(proc.log(), /is up:/, 'the signal comes before the stack is up');
  proc.signal('SIGINT');
  const poll = setInterval(look, 20);
  const exit = await proc.exited.finally(() => clearInterval(poll));
  t.equal(exit.code, 0, `the CLI exits 0:\n${proc.log()}`);
  t.match(proc.log(), /SIGINT: stopping/, 'it says it is stopping');
  t.ok(
    [...seen].every((p) => !isAlive(p)),
    `no process it started is left (${[...seen].join(', ')})`,
  );
});
