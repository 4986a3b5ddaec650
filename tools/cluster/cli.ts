// npm run cluster -- up [--nodes N] [--keep] | down | status | env
// `up` starts the local cluster (cluster.ts) in the foreground, prints every part's pid, port and
// log and the KUBECONFIG to export, and stops everything on Ctrl-C or `down` (from another shell).
import { existsSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { waitFor } from '../lib/proc.ts';
import { apiGet } from './api.ts';
import {
  KUBERNETES_VERSION,
  readState,
  startCluster,
  stateFile,
  writeState,
  type Cluster,
  type State,
} from './cluster.ts';

const usage = 'usage: npm run cluster -- up [--nodes N (default 1)] [--keep] | down | status | env';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The recorded cluster, if its launcher still runs (a stale record is removed). */
function current(): State | undefined {
  const s = readState();
  if (s && !alive(s.launcherPid)) {
    rmSync(stateFile(), { force: true });
    return undefined;
  }
  return s;
}

async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { nodes: { type: 'string', default: '1' }, keep: { type: 'boolean', default: false } },
  });
  const nodes = Number(values.nodes);
  if (!/^\d+$/.test(values.nodes) || nodes < 1 || nodes > 50)
    throw new UsageError(`--nodes must be a whole number from 1 to 50, got "${values.nodes}"`);
  const running = current();
  if (running)
    throw new Error(
      `a cluster is already running (launcher pid ${running.launcherPid}): npm run cluster -- down`,
    );

  // Set once startup is done; a signal before that is acted on then.
  const started: { cluster?: Cluster } = {};
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(
      `\n${sig}: stopping kwok, the scheduler, the controller-manager, the API server and etcd ...`,
    );
    (started.cluster?.stop() ?? Promise.resolve()).then(
      () => {
        rmSync(stateFile(), { force: true });
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
  console.log(`starting a Kubernetes ${KUBERNETES_VERSION} control plane with ${nodes} kwok node(s) ...`);
  const cluster = await startCluster({ nodes, keepDir: values.keep, log: (l) => console.log(`  ${l}`) });
  started.cluster = cluster;
  if (pending) return shutdown(pending);
  const parts = cluster.parts();
  for (const p of parts)
    console.log(
      `${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} port ${String(p.port).padEnd(6)} log ${p.logFile}`,
    );
  writeState({
    launcherPid: process.pid,
    dir: cluster.dir,
    kubeconfig: cluster.kubeconfig,
    server: cluster.server,
    parts,
  });
  console.log(
    `\nready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${cluster.server}, nodes ${cluster.nodeNames.join(', ')}`,
  );
  console.log('pods are scheduled but not executed: kwok marks them Running and Ready');
  console.log(
    `\n  export KUBECONFIG=${cluster.kubeconfig}\n\n(Ctrl-C or \`npm run cluster -- down\` stops everything)`,
  );
}

async function down(): Promise<void> {
  const s = current();
  if (!s) {
    console.log('no cluster is running');
    return;
  }
  console.log(`stopping the cluster (launcher pid ${s.launcherPid}) ...`);
  process.kill(s.launcherPid, 'SIGTERM');
  await waitFor(() => !alive(s.launcherPid), {
    timeoutMs: 90_000,
    intervalMs: 100,
    what: 'the launcher to stop',
  });
  console.log('stopped');
}

async function status(): Promise<boolean> {
  const s = current();
  if (!s) {
    console.log('no cluster is running (npm run cluster -- up)');
    return false;
  }
  let ok = true;
  for (const p of s.parts) {
    const up = alive(p.pid);
    ok &&= up;
    console.log(
      `${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${up ? 'running' : 'GONE'}   log ${p.logFile}`,
    );
  }
  const admin = {
    server: s.server,
    caCert: `${s.dir}/pki/ca.crt`,
    cert: `${s.dir}/pki/admin.crt`,
    key: `${s.dir}/pki/admin.key`,
  };
  const ready = existsSync(admin.cert) ? await apiGet(admin, '/readyz').catch(() => undefined) : undefined;
  ok &&= ready?.status === 200;
  console.log(
    `API server ${s.server}: ${ready?.status === 200 ? 'ready' : `not ready (${ready?.body.trim() ?? 'no answer'})`}`,
  );
  console.log(`KUBECONFIG=${s.kubeconfig}`);
  return ok;
}

function env(): boolean {
  const s = current();
  if (!s) {
    console.error('no cluster is running (npm run cluster -- up)');
    return false;
  }
  console.log(`export KUBECONFIG=${s.kubeconfig}`);
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
      if (!env()) process.exitCode = 1;
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
