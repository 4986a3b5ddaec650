// npm run cluster -- up [--node kwok|real] [--nodes N] [--keep] [--argocd] [--prometheus-operator] | down | status | env
// `up` starts the local cluster (cluster.ts) in the foreground, prints every part's pid, port and
// log and the KUBECONFIG to export, and stops everything on Ctrl-C or `down` (from another shell).
// A state file records the running cluster for `down`, `status` and `env`.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { waitFor } from '../lib/proc.ts';
import { isAlive, runsIn } from '../stack/procfs.ts';
import { apiGet } from './api.ts';
import { KUBERNETES_VERSION, startCluster, type Cluster, type Part } from './cluster.ts';
import { undoNodeHost } from './node-host.ts';

const usage =
  'usage: npm run cluster -- up [--node kwok|real (default kwok)] [--nodes N (default 1, kwok)] [--keep] [--argocd] [--prometheus-operator] | down | status | env';

interface State {
  launcherPid: number;
  /** set once the cluster is ready */
  dir?: string;
  kubeconfig?: string;
  server?: string;
  parts?: Part[];
  /** the git server's repository, when Argo CD runs */
  repoUrl?: string;
}

/** Per user; HIT_COUNTER_CLUSTER_STATE moves it (e.g. for a second cluster). */
function stateFile(): string {
  return (
    process.env.HIT_COUNTER_CLUSTER_STATE ??
    join(process.env.XDG_RUNTIME_DIR ?? tmpdir(), `hit-counter-cluster-${userInfo().uid}.json`)
  );
}

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(), 'utf8')) as State;
  } catch {
    return undefined;
  }
}

/**
 * The recorded cluster if its launcher still runs. A record whose launcher died (SIGKILL) is
 * cleared: its parts that still run in its directory (not reused pids) are stopped by pid, the API server before etcd.
 */
async function current(): Promise<State | undefined> {
  const s = readState();
  if (!s || isAlive(s.launcherPid)) return s;
  const orphans = (s.parts ?? []).filter((p) => s.dir && runsIn(p.pid, s.dir)).reverse();
  for (const p of orphans) {
    console.log(`stopping ${p.name} (pid ${p.pid}), left running by a launcher that died`);
    process.kill(p.pid, 'SIGTERM');
    await waitFor(() => !isAlive(p.pid), { timeoutMs: 30_000, what: `${p.name} to stop` }).catch(() =>
      process.kill(p.pid, 'SIGKILL'),
    );
  }
  if (s.dir) {
    // A real node's changes to the machine (network, cgroups, mounts), from its record.
    const left = undoNodeHost(s.dir);
    if (left.length) throw new Error(`could not remove what the real node left: ${left.join('; ')}`);
    rmSync(s.dir, { recursive: true, force: true });
  }
  rmSync(stateFile(), { force: true });
  return undefined;
}

function removeOwnState(): void {
  if (readState()?.launcherPid === process.pid) rmSync(stateFile(), { force: true });
}

async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      node: { type: 'string', default: 'kwok' },
      nodes: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
      argocd: { type: 'boolean', default: false },
      'prometheus-operator': { type: 'boolean', default: false },
    },
  });
  const node = values.node;
  if (node !== 'kwok' && node !== 'real') throw new UsageError(`--node must be kwok or real, got "${node}"`);
  const nodes = Number(values.nodes);
  if (!/^\d+$/.test(values.nodes) || nodes < 1 || nodes > 50)
    throw new UsageError(`--nodes must be a whole number from 1 to 50, got "${values.nodes}"`);
  const running = await current();
  if (running)
    throw new Error(
      `a cluster is already running (launcher pid ${running.launcherPid}): npm run cluster -- down`,
    );
  // Claimed before startup ('wx' fails if another up got there first).
  try {
    writeFileSync(stateFile(), JSON.stringify({ launcherPid: process.pid }), { flag: 'wx' });
  } catch {
    throw new Error(`another cluster is starting (${stateFile()}): npm run cluster -- down`);
  }

  // Set once startup is done; a signal before that is acted on then.
  const started: { cluster?: Cluster } = {};
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(
      `\n${sig}: stopping the add-ons, the node${node === 'real' ? ' (and removing its network)' : 's'}, the scheduler, the controller-manager, the API server and etcd ...`,
    );
    (started.cluster?.stop() ?? Promise.resolve()).then(
      () => {
        removeOwnState();
        console.log(
          values.keep && started.cluster
            ? `stopped; logs and data kept in ${started.cluster.dir}`
            : 'stopped',
        );
        process.exit(0);
      },
      (err: unknown) => {
        console.error(`cluster: stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  let pending: string | undefined;
  const onSignal = (sig: string): void => {
    if (started.cluster) shutdown(sig);
    else if (!pending) {
      pending = sig;
      console.log(`\n${sig} during startup: stopping once startup is done ...`);
    }
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const t0 = Date.now();
  console.log(
    `starting a Kubernetes ${KUBERNETES_VERSION} control plane with ${node === 'real' ? 'a real node' : `${nodes} kwok node(s)`} ...`,
  );
  let cluster: Cluster;
  try {
    cluster = await startCluster({
      node,
      nodes,
      keepDir: values.keep,
      argocd: values.argocd,
      prometheusOperator: values['prometheus-operator'],
      log: (l) => console.log(`  ${l}`),
    });
  } catch (err) {
    removeOwnState();
    throw err;
  }
  started.cluster = cluster;
  if (pending) return shutdown(pending);
  try {
    const parts = cluster.parts();
    for (const p of parts)
      console.log(
        `${p.name.padEnd(34)} pid ${String(p.pid).padEnd(8)} port ${String(p.port || '-').padEnd(6)} log ${p.logFile}`,
      );
    const state: State = {
      launcherPid: process.pid,
      dir: cluster.dir,
      kubeconfig: cluster.kubeconfig,
      server: cluster.server,
      parts,
      repoUrl: cluster.argocd?.repoUrl,
    };
    writeFileSync(stateFile(), JSON.stringify(state, null, 2));
    console.log(
      `\nready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${cluster.server}, nodes ${cluster.nodeNames.join(', ')}`,
    );
    console.log(
      cluster.realNode
        ? `pods run on ${cluster.realNode.name} (containerd); NodePorts answer on ${cluster.realNode.ip}; images: ${cluster.realNode.images.join(' ')}`
        : 'pods are scheduled but not executed: kwok marks them Running and Ready',
    );
    if (cluster.argocd) console.log(gitopsHelp(cluster.argocd.repoUrl));
    console.log(`\n  ${exports(state)}\n\n(Ctrl-C or \`npm run cluster -- down\` stops everything)`);
  } catch (err) {
    await cluster.stop();
    removeOwnState();
    throw err;
  }
}

/** What to do with the git server: the loop of README "Try the GitOps loop locally". */
function gitopsHelp(repoUrl: string): string {
  return [
    `\nArgo CD syncs from ${repoUrl} (main = this checkout's HEAD). The loop, from this checkout:`,
    `  git clone ${repoUrl} /tmp/hc && npm run gitops:set-repo -- ${repoUrl} --root /tmp/hc`,
    "  git -C /tmp/hc commit -qam 'Argo CD reads the local git server' && git -C /tmp/hc push",
    '  helm template /tmp/hc/argocd --set environment=minikube | kubectl apply -n argocd -f -',
    '  npm run promote -- set minikube <tag> --root /tmp/hc && git -C /tmp/hc commit -qam deploy && git -C /tmp/hc push',
  ].join('\n');
}

/** The shell line that points kubectl and helm at the cluster (their discovery cache inside it). */
function exports(s: State): string {
  return `export KUBECONFIG=${s.kubeconfig} KUBECACHEDIR=${s.dir}/kube-cache`;
}

async function down(): Promise<void> {
  const s = await current();
  if (!s) {
    console.log('no cluster is running');
    return;
  }
  console.log(`stopping the cluster (launcher pid ${s.launcherPid}) ...`);
  process.kill(s.launcherPid, 'SIGTERM');
  await waitFor(() => !isAlive(s.launcherPid), {
    timeoutMs: 90_000,
    intervalMs: 100,
    what: 'the launcher to stop',
  });
  console.log('stopped');
}

async function status(): Promise<boolean> {
  const s = await current();
  if (!s?.dir || !s.server) {
    console.log(
      s
        ? `a cluster is starting (launcher pid ${s.launcherPid})`
        : 'no cluster is running (npm run cluster -- up)',
    );
    return false;
  }
  let ok = true;
  for (const p of s.parts ?? []) {
    const up = runsIn(p.pid, s.dir); // not a reused pid
    ok &&= up;
    console.log(
      `${p.name.padEnd(34)} pid ${String(p.pid).padEnd(8)} ${up ? 'running' : 'GONE'}   log ${p.logFile}`,
    );
  }
  const pki = join(s.dir, 'pki');
  const admin = {
    server: s.server,
    caCert: join(pki, 'ca.crt'),
    cert: join(pki, 'admin.crt'),
    key: join(pki, 'admin.key'),
  };
  const ready = existsSync(admin.cert) ? await apiGet(admin, '/readyz').catch(() => undefined) : undefined;
  ok &&= ready?.status === 200;
  console.log(
    `API server ${s.server}: ${ready?.status === 200 ? 'ready' : `not ready (${ready?.body.trim() ?? 'no answer'})`}`,
  );
  if (s.repoUrl) console.log(`git server (Argo CD reads it): ${s.repoUrl}`);
  console.log(exports(s));
  return ok;
}

async function env(): Promise<boolean> {
  const s = await current();
  if (!s?.kubeconfig) {
    console.error('no cluster is running (npm run cluster -- up)');
    return false;
  }
  console.log(exports(s));
  return true;
}

class UsageError extends Error {}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'up':
      return up(rest);
    case 'down':
      return down();
    case 'status':
      if (!(await status())) process.exitCode = 1;
      return;
    case 'env':
      if (!(await env())) process.exitCode = 1;
      return;
    case '-h':
    case '--help':
      console.log(usage);
      return;
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'a command is needed');
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`cluster: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
  console.error(`cluster: ${(err as Error).message}`);
  process.exit(1);
});
