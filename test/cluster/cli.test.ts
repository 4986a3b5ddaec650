// `npm run cluster`: up prints every part and the KUBECONFIG, status and env find the running
// cluster, kubectl works with that KUBECONFIG, and down (or SIGINT) stops every part by pid and
// removes the cluster's directory; bad arguments get one line and exit 2.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startCluster } from '../../tools/cluster/cluster.ts';
import { requireBinary, spawnProcess, tempDir, waitFor, type Proc } from '../../tools/lib/proc.ts';
import { isAlive, pidsIn } from '../../tools/stack/procfs.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'tools', 'cluster', 'cli.ts');
// The state file and the CLI's logs live in one temp dir, removed at the end.
const scratch = tempDir('cluster-cli-', t);
const env = { ...process.env, HIT_COUNTER_CLUSTER_STATE: join(scratch, 'state.json') };
let runs = 0;
const launch = (...args: string[]): Proc =>
  spawnProcess(process.execPath, [cli, 'up', ...args], { env, logFile: join(scratch, `up-${runs++}.log`) });
const command = (...args: string[]) => run(process.execPath, [cli, ...args], { env });

const printedPids = (log: string): number[] =>
  [...log.matchAll(/^\S+\s+pid (\d+)\s+port \d+\s+log \S+$/gm)].map((m) => Number(m[1]));

/** Teardown: SIGINT the CLI; kill by pid whatever part it printed is still alive after it. */
async function stopCli(proc: Proc): Promise<void> {
  await proc.stop({ signal: 'SIGINT', timeoutMs: 60_000 });
  for (const pid of printedPids(proc.log()).filter(isAlive)) process.kill(pid, 'SIGKILL');
}

async function up(
  ...args: string[]
): Promise<{ proc: Proc; kubeconfig: string; pids: number[]; dir: string }> {
  const proc = launch(...args);
  t.teardown(() => stopCli(proc));
  const kubeconfig = await waitFor(
    () => {
      if (proc.hasExited()) throw new Error(`cluster up exited:\n${proc.log()}`);
      return /export KUBECONFIG=(\S+)/.exec(proc.log())?.[1];
    },
    { timeoutMs: 120_000, intervalMs: 200, what: 'the KUBECONFIG line' },
  );
  return { proc, kubeconfig, pids: printedPids(proc.log()), dir: join(kubeconfig, '..') };
}

t.test('up --argocd, status, env, kubectl, the git server, down', async (t) => {
  const { proc, kubeconfig, pids, dir } = await up('--argocd');
  t.same(
    [...proc.log().matchAll(/^(\S+)\s+pid \d+/gm)].map((m) => m[1]),
    [
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
      'git-daemon',
      'argocd-redis',
      'argocd-repo-server',
      'argocd-application-controller',
      'argocd-applicationset-controller',
    ],
    'every part printed with pid, port and log',
  );
  t.ok(pids.every(isAlive));
  const status = await command('status');
  t.match(status.stdout, /API server https:\/\/127\.0\.0\.1:\d+: ready/);
  const repoUrl = /git server \(Argo CD reads it\): (git:\/\/127\.0\.0\.1:\d+\/hit-counter\.git)/.exec(
    status.stdout,
  )?.[1];
  t.ok(repoUrl, 'status names the git server');
  const [remote, head] = await Promise.all([
    run('git', ['ls-remote', repoUrl!, 'refs/heads/main']),
    run('git', ['rev-parse', 'HEAD'], { cwd: join(import.meta.dirname, '..', '..') }),
  ]);
  t.equal(remote.stdout.split('\t')[0], head.stdout.trim(), "its main is this checkout's HEAD");
  t.equal(
    (await command('env')).stdout.trim(),
    `export KUBECONFIG=${kubeconfig} KUBECACHEDIR=${join(dir, 'kube-cache')}`,
  );
  const nodes = await run(requireBinary('kubectl'), ['get', 'nodes', '-o', 'name'], {
    env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'kube-cache') },
  });
  t.equal(nodes.stdout.trim(), 'node/kwok-node-0');
  await t.rejects(command('up'), /a cluster is already running/, 'a second up is refused');

  const down = await command('down');
  t.match(down.stdout, /stopped/);
  t.equal((await proc.exited).code, 0);
  t.ok(
    pids.every((p) => !isAlive(p)),
    'every part is stopped',
  );
  t.notOk(existsSync(dir), 'the cluster directory is removed');
  t.match((await command('status').catch((e: { stdout: string }) => e)).stdout, /no cluster is running/);
});

t.test('a launcher killed with SIGKILL: down stops the parts it left running', async (t) => {
  const { proc, pids, dir } = await up();
  proc.signal('SIGKILL');
  await proc.exited;
  t.ok(pids.every(isAlive), 'the parts outlive a SIGKILLed launcher (their own process group)');
  const down = await command('down');
  t.match(down.stdout, /stopping kube-apiserver \(pid \d+\), left running by a launcher that died/);
  t.ok(
    pids.every((p) => !isAlive(p)),
    'every part is stopped',
  );
  t.notOk(existsSync(dir), 'the cluster directory is removed');
});

t.test('SIGINT during startup stops what was started', async (t) => {
  const proc = launch();
  t.teardown(() => stopCli(proc));
  await waitFor(() => /starting kube-apiserver/.test(proc.log()), {
    timeoutMs: 60_000,
    what: 'the API server step',
  });
  const dir = /directory (\S+)/.exec(proc.log())?.[1] as string;
  proc.signal('SIGINT');
  t.equal((await proc.exited).code, 0);
  t.match(proc.log(), /SIGINT during startup/);
  t.notOk(existsSync(dir), 'the cluster directory is removed');
  t.same(pidsIn(dir), [], 'no process runs in it');
});

t.test('bad arguments get one line and exit 2', async (t) => {
  for (const args of [['up', '--nodes', '0'], ['up', '--node', 'virtual'], ['sideways'], []]) {
    const err = (await command(...args).catch((e: unknown) => e)) as { code: number; stderr: string };
    t.equal(err.code, 2, `${args.join(' ') || '(none)'}: exit 2`);
    t.match(err.stderr, /^cluster: .+\nusage: npm run cluster/);
  }
});

t.test(
  'a part that exits during startup fails it at once, with its log, and leaves nothing running',
  async (t) => {
    const dir = tempDir('cluster-broken-', t);
    writeFileSync(join(dir, 'etcd'), 'a file where etcd wants its data directory');
    await t.rejects(
      startCluster({ dir, timeoutMs: 600_000 }),
      /etcd exited during startup; last lines of \S+etcd\.log:\n[\s\S]*etcd/,
    );
    // The message is the exit's, not the deadline's ("timed out waiting for ...").
    t.same(pidsIn(dir), [], 'no process runs in its directory');
  },
);
