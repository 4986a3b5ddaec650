// Shared by the Argo CD tests: local clusters running the real Argo CD (tools/cluster/argocd.ts)
// whose git server starts from this checkout's working tree, a clone of that repository pointed at
// it with `npm run gitops:set-repo` (the README's GitOps loop) and its pinned charts at the tree
// under test, the bootstrap of one environment from the clone's argocd/ chart, commits pushed to
// it, and the Applications' state read from the API with a deadline.
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Test } from 'tap';
import type { Cluster, ClusterOptions } from '../../tools/cluster/cluster.ts';
import { runCommand } from '../../tools/cluster/api.ts';
import { helmTemplate, parseManifests, type K8sObject } from '../../tools/lib/helm.ts';
import { tempDir, waitFor } from '../../tools/lib/proc.ts';
import { setYamlScalar } from '../../tools/promote.ts';
import { parse } from 'yaml';
import { clusterFor, REDIS_SECRET_KEYS } from '../cluster/fixture.ts';
import { renderArgocd, repoRoot, runCli } from './fixtures.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

export const ARGOCD_NS = 'argocd';
export const APP_NS = 'hit-counter';
export const ROOT_APP = 'hit-counter-root';

const author = {
  GIT_AUTHOR_NAME: 'hit-counter tests',
  GIT_AUTHOR_EMAIL: 'tests@hit-counter.invalid',
  GIT_COMMITTER_NAME: 'hit-counter tests',
  GIT_COMMITTER_EMAIL: 'tests@hit-counter.invalid',
};

export async function git(cwd: string, args: string[]): Promise<string> {
  return (await runCommand('git', args, { cwd, env: { ...process.env, ...author } })).stdout;
}

/**
 * A clone of this repository whose HEAD is the working tree as it is (uncommitted changes
 * included): what the git server starts from, so the tests deploy the code under test.
 */
export async function seedCheckout(t: Test): Promise<string> {
  const seed = tempDir('gitops-seed-', t);
  await git(seed, ['clone', '--quiet', '--no-checkout', repoRoot, '.']);
  await git(seed, ['checkout', '--quiet', '-B', 'main', 'HEAD']);
  const files = (await git(repoRoot, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']))
    .split('\0')
    .filter(Boolean);
  for (const f of files)
    // verbatimSymlinks: a relative symlink stays relative (resolved, it would point out of the clone).
    await cp(path.join(repoRoot, f), path.join(seed, f), { verbatimSymlinks: true }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // deleted in the working tree
      },
    );
  for (const f of (await git(repoRoot, ['ls-files', '-z', '--deleted'])).split('\0').filter(Boolean))
    await rm(path.join(seed, f), { force: true });
  await git(seed, ['add', '--all']);
  if ((await git(seed, ['status', '--porcelain'])).trim())
    await git(seed, ['commit', '--quiet', '-m', 'the working tree under test']);
  return seed;
}

/** A cluster with Argo CD for this test file (three kwok nodes), stopped at its end. */
export function argocdCluster(t: Test, o: ClusterOptions): Promise<Cluster> {
  return clusterFor(t, { argocd: true, ...o });
}

export interface Work {
  dir: string;
  /** the commit of the tree under test (the seed), where the pinned charts start */
  tree: string;
  /** edits, commits and pushes to main; returns the pushed commit */
  push(message: string, edit: (dir: string) => Promise<unknown>): Promise<string>;
}

/**
 * Sets every `chartRevision` of argocd/values.yaml in `dir` to `commit`: the committed ones name
 * commits of this repository, whose charts are not the tree under test.
 */
export async function pinCharts(dir: string, commit: string): Promise<void> {
  const file = path.join(dir, 'argocd/values.yaml');
  let text = await readFile(file, 'utf8');
  for (const [env, facts] of Object.entries<Obj>(parse(text).environments))
    if (facts.chartRevision) text = setYamlScalar(text, ['environments', env, 'chartRevision'], commit);
  await writeFile(file, text);
}

/**
 * A clone of the git server's repository, pointed at it with `npm run gitops:set-repo`, its pinned
 * charts at the tree under test (pushed).
 */
export async function workClone(t: Test, repoUrl: string): Promise<Work> {
  const dir = tempDir('gitops-work-', t);
  await git(dir, ['clone', '--quiet', repoUrl, '.']);
  const tree = (await git(dir, ['rev-parse', 'HEAD'])).trim();
  const push = async (message: string, edit: (dir: string) => Promise<unknown>): Promise<string> => {
    await edit(dir);
    await git(dir, ['add', '--all']);
    await git(dir, ['commit', '--quiet', '-m', message]);
    await git(dir, ['push', '--quiet', 'origin', 'HEAD:main']);
    return (await git(dir, ['rev-parse', 'HEAD'])).trim();
  };
  await push('point argocd/ at the local git server, pinned charts at the tree under test', async () => {
    const r = await runCli('set-repo.ts', dir, [repoUrl]);
    if (r.code !== 0) throw new Error(`gitops:set-repo failed: ${r.stderr}`);
    await pinCharts(dir, tree);
  });
  return { dir, tree, push };
}

/** Runs a CLI of tools/ (promote.ts, set-repo.ts) on a clone; fails with its stderr. */
export async function cli(script: string, dir: string, args: string[]): Promise<void> {
  const r = await runCli(script, dir, args);
  if (r.code !== 0) throw new Error(`${script} ${args.join(' ')} failed: ${r.stderr}`);
}

export function getApp(c: Cluster, name: string): Promise<Obj> {
  return c.getJson(['applications.argoproj.io', name, '-n', ARGOCD_NS]);
}

/** One line of what Argo CD says about an Application: sync, health, operation, conditions. */
export function describe(app: Obj | undefined): string {
  if (!app) return 'no such Application';
  const s = app.status ?? {};
  const conditions = (s.conditions ?? []).map((c: Obj) => `${c.type}: ${c.message}`).join('; ');
  const unhealthy = (s.resources ?? [])
    .filter((r: Obj) => r.health && r.health.status !== 'Healthy')
    .map(
      (r: Obj) => `${r.kind}/${r.name} ${r.health.status}${r.health.message ? ` (${r.health.message})` : ''}`,
    );
  return [
    `sync ${s.sync?.status} at ${s.sync?.revision?.slice(0, 8)}`,
    `health ${s.health?.status}`,
    `operation ${s.operationState?.phase ?? '-'}: ${s.operationState?.message ?? ''}`,
    conditions && `conditions: ${conditions}`,
    unhealthy.length ? `not healthy: ${unhealthy.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' | ');
}

/** Polls the Application until `ready(app)`; on timeout fails with what Argo CD says. */
export async function waitApp(
  c: Cluster,
  name: string,
  what: string,
  ready: (app: Obj) => boolean,
  timeoutMs = 120_000,
): Promise<Obj> {
  let last: Obj | undefined;
  try {
    return await waitFor(
      async () => {
        last = await getApp(c, name);
        return ready(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 250, what: `${name}: ${what}` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${describe(last)}`, { cause: err });
  }
}

/** Synced at `revision` (if given) after a sync operation that succeeded. */
export const syncedAt =
  (revision?: string) =>
  (app: Obj): boolean =>
    app.status?.sync?.status === 'Synced' &&
    (!revision || app.status.sync.revision === revision) &&
    app.status?.operationState?.phase === 'Succeeded' &&
    (!revision || app.status.operationState.syncResult?.revision === revision);

/** Compared with `revision` and Synced, whether or not a sync had anything to apply. */
export const comparedAt =
  (revision: string) =>
  (app: Obj): boolean =>
    app.status?.sync?.status === 'Synced' && app.status.sync.revision === revision;

export const healthy = (app: Obj): boolean => app.status?.health?.status === 'Healthy';

/**
 * Asks Argo CD to look at git now (what argocd-server does on a git webhook), instead of waiting
 * for the controller's poll (every 120 s plus up to 60 s of jitter by default).
 */
export async function refresh(c: Cluster, name: string): Promise<void> {
  await c.kubectl([
    'annotate',
    '--overwrite',
    '-n',
    ARGOCD_NS,
    `applications.argoproj.io/${name}`,
    'argocd.argoproj.io/refresh=normal',
  ]);
}

/**
 * Bootstraps a cluster's Argo CD from a clone, as the README says: `helm template argocd --set
 * environment=<env> | kubectl apply -n argocd -f -`, `values` holding `environment` (and, as an
 * installer passes them, `cluster` values). Resolves with the objects applied.
 */
export async function bootstrap(c: Cluster, dir: string, values: Record<string, unknown>): Promise<Obj[]> {
  const text = await renderArgocd(dir, values);
  await c.kubectl(['apply', '-n', ARGOCD_NS, '-f', '-'], { input: text });
  return parseManifests(text);
}

/** Applies files of a clone into the argocd namespace. */
export async function applyFiles(c: Cluster, dir: string, files: string[]): Promise<void> {
  await c.kubectl(['apply', '-n', ARGOCD_NS, ...files.flatMap((f) => ['-f', path.join(dir, f)])]);
}

/**
 * What `helm template` renders for an environment of a clone, as Argo CD's Applications ask
 * (release hit-counter, namespace hit-counter, the environment's values), without the Helm test
 * hooks Argo CD skips.
 */
export async function rendered(dir: string, env: string, apiVersions: string[] = []): Promise<K8sObject[]> {
  const objects = parseManifests(
    await helmTemplate({
      chartDir: path.join(dir, 'charts/hit-counter'),
      releaseName: 'hit-counter',
      namespace: APP_NS,
      valueFiles: [path.join(dir, 'environments', env, 'values.yaml')],
      set: [],
      apiVersions,
      includeCrds: true,
    }),
  );
  return objects.filter((o) => !o.metadata.annotations?.['helm.sh/hook']?.includes('test'));
}

/** The kubectl resource of an Argo CD resource entry: Kind.group, or Kind for the core group. */
export const resourceOf = (r: Obj): string => (r.group ? `${r.kind}.${r.group}` : r.kind);

/** kind/name of each object, sorted. */
export const names = (objects: readonly object[]): string[] =>
  (objects as Obj[]).map((o) => `${o.kind}/${o.name ?? o.metadata?.name}`).sort();

/** Registers a cluster with Argo CD as a cluster Secret (what `argocd cluster add` writes). */
export async function registerCluster(argo: Cluster, name: string, target: Cluster): Promise<void> {
  const b64 = async (f: string) => (await readFile(f)).toString('base64');
  const { credentials } = target;
  await argo.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: `cluster-${name}`,
        namespace: ARGOCD_NS,
        labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
      },
      stringData: {
        name,
        server: credentials.server,
        config: JSON.stringify({
          tlsClientConfig: {
            caData: await b64(credentials.caCert),
            certData: await b64(credentials.cert),
            keyData: await b64(credentials.key),
          },
        }),
      },
    }),
  });
}

/**
 * What an EKS cluster has before Argo CD deploys there: the Redis password Secret that External
 * Secrets would write, and a gp3 StorageClass (the EBS CSI driver's; here the hostPath provisioner).
 */
export async function prepareEks(c: Cluster): Promise<void> {
  await c.kubectl(['apply', '--server-side', '-f', '-'], {
    input: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: APP_NS } },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'hit-counter-redis-auth', namespace: APP_NS },
        // one password per Redis user, as the ExternalSecret writes them
        stringData: Object.fromEntries(REDIS_SECRET_KEYS.map((k) => [k, `eks-test-${k}`])),
      },
      {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'gp3' },
        provisioner: 'kubernetes.io/host-path',
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n'),
  });
}

/**
 * Under kwok two of the eks app's resources cannot be Healthy, and nothing else may be unhealthy:
 * the HPA has no metrics API to read (Degraded), and no load balancer controller fills the
 * Ingress's status (Progressing).
 */
export function eksHealthProblems(app: Obj): string[] {
  return (app.status?.resources ?? [])
    .filter((r: Obj) => r.health && r.health.status !== 'Healthy')
    .filter(
      (r: Obj) =>
        !(r.kind === 'HorizontalPodAutoscaler' && r.health.status === 'Degraded') &&
        !(r.kind === 'Ingress' && r.health.status === 'Progressing'),
    )
    .map((r: Obj) => `${r.kind}/${r.name}: ${r.health.status} ${r.health.message ?? ''}`);
}

/** The image of a Deployment's container `container`. */
export async function imageOf(c: Cluster, deployment: string, container = 'hit-counter'): Promise<string> {
  const d = await c.getJson(['deployment', deployment, '-n', APP_NS]);
  return d.spec.template.spec.containers.find((x: Obj) => x.name === container)?.image;
}
