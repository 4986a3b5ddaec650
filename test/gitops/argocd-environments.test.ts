// The real Argo CD (v3.2.11) deploys each environment as the README says: two clusters, each with
// its own Argo CD, both reading one git server (minikube's). Each is bootstrapped from argocd/
// (after `npm run gitops:set-repo`) with its own environment: its root Application keeps the
// AppProjects and Applications (itself included) equal to git, and the environment's Application
// syncs everything `helm template` renders for it. Then promotion, end to end: a pushed
// `npm run promote -- set minikube <tag>` rolls out on minikube only, and a pushed
// `npm run promote -- copy minikube eks` on eks, which also moves the chart eks pins; last, a chart
// change pushed to main reaches minikube at once and eks, which keeps its pinned chart (a values
// change still reaches it), only when promoted. kwok plays the nodes: pods are not executed.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import type { Cluster } from '../../tools/cluster/cluster.ts';
import { setYamlScalar } from '../../tools/promote.ts';
import { notReady } from '../cluster/fixture.ts';
import { CHART_CHANGE, CHART_CHANGE_FILE, runCli } from './fixtures.ts';
import {
  APP_NS,
  ARGOCD_NS,
  argocdCluster,
  bootstrap,
  cli,
  comparedAt,
  eksHealthProblems,
  getApp,
  healthy,
  imageOf,
  names,
  prepareEks,
  refresh,
  rendered,
  resourceOf,
  ROOT_APP,
  seedCheckout,
  syncedAt,
  waitApp,
  workClone,
  type Obj,
} from './argocd-fixture.ts';

const MONITORING_APIS = ['monitoring.coreos.com/v1'];

const seed = await seedCheckout(t);
const minikube = await argocdCluster(t, { gitSeed: seed });
// eks: its own Argo CD and prometheus-operator's CRDs (its values enable the ServiceMonitors).
const eks = await argocdCluster(t, { gitRepoUrl: minikube.argocd!.repoUrl, prometheusOperator: true });
const work = await workClone(t, minikube.argocd!.repoUrl);
await prepareEks(eks);

/** Every managed object of the namespace as the API has it, by kind/name, without status. */
async function snapshot(c: Cluster, app: Obj): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const r of app.status.resources as Obj[]) {
    if (r.namespace !== APP_NS) continue;
    const o = await c.getJson([resourceOf(r), r.name, '-n', APP_NS]);
    const { labels, annotations } = o.metadata;
    out.set(`${r.kind}/${r.name}`, JSON.stringify({ labels, annotations, spec: o.spec, data: o.data }));
  }
  return out;
}

const apps: Record<string, Obj> = {};

const clusters: Record<string, Cluster> = { minikube, eks };
/** What each cluster's bootstrap applied: the argocd/ chart rendered for its environment. */
const bootstrapped: Record<string, Obj[]> = {};

/** The commit whose chart `env` pins in the work clone's argocd/values.yaml. */
const pinOf = async (env: string): Promise<string> =>
  parse(await readFile(path.join(work.dir, 'argocd/values.yaml'), 'utf8')).environments[env].chartRevision;

/** eks's Application, refreshed (Argo CD drops the annotation once it compared again), still at `rev`. */
async function stillAt(c: Cluster, rev: string): Promise<void> {
  await refresh(c, 'hit-counter-eks');
  await waitApp(
    c,
    'hit-counter-eks',
    `refreshed, still at ${rev.slice(0, 8)}`,
    (a) => !a.metadata.annotations?.['argocd.argoproj.io/refresh'] && comparedAt(rev)(a),
  );
}

t.test('each environment syncs on its own cluster: every rendered object, Healthy', async (t) => {
  for (const [env, c] of Object.entries(clusters))
    bootstrapped[env] = await bootstrap(c, work.dir, { environment: env });
  const [m, e] = await Promise.all([
    waitApp(minikube, 'hit-counter-minikube', 'Synced and Healthy', (a) => syncedAt()(a) && healthy(a)),
    waitApp(eks, 'hit-counter-eks', 'Synced', (a) => syncedAt()(a) && eksHealthProblems(a).length === 0),
  ]);
  apps.minikube = m;
  apps.eks = e;
  const managed = (a: Obj) => (a.status.resources as Obj[]).filter((r) => r.kind !== 'Namespace');
  t.same(names(managed(m)), names(await rendered(work.dir, 'minikube')), 'minikube: what helm renders');
  t.same(
    names(managed(e)),
    names(await rendered(work.dir, 'eks', MONITORING_APIS)),
    'eks: what helm renders',
  );
  for (const [env, app] of Object.entries(apps)) {
    t.same(
      managed(app).filter((r: Obj) => r.status !== 'Synced'),
      [],
      `${env}: every resource Synced`,
    );
  }
  t.same(
    eksHealthProblems(e),
    [],
    'eks: all Healthy but the HPA (no metrics API) and the Ingress (no load balancer)',
  );
  t.same(await notReady(minikube, APP_NS), [], 'minikube: every workload ready');
  // The cluster holds them (Argo CD's view is not taken on trust).
  const inCluster = async (c: Cluster, app: Obj) =>
    names(
      (
        await c.getJson<{ items: Obj[] }>([
          [...new Set(managed(app).map(resourceOf))].join(','),
          '-n',
          APP_NS,
        ])
      ).items.filter((o) => o.metadata.annotations?.['argocd.argoproj.io/tracking-id']),
    );
  t.same(await inCluster(minikube, m), names(managed(m)), 'minikube: in the cluster');
  t.same(await inCluster(eks, e), names(managed(e)), 'eks: in the cluster');
});

t.test('each root keeps exactly what the bootstrap applied, itself included, Synced', async (t) => {
  for (const [env, c] of Object.entries(clusters)) {
    const root = await waitApp(c, ROOT_APP, 'Synced and Healthy', (a) => syncedAt()(a) && healthy(a));
    const resources = root.status.resources as Obj[];
    t.same(names(resources), names(bootstrapped[env]!), `${env}: the root manages what argocd/ renders`);
    t.same(
      resources.filter((r) => r.status !== 'Synced'),
      [],
      `${env}: git and the cluster agree, the root itself included`,
    );
    const all = await c.getJson<{ items: Obj[] }>(['applications.argoproj.io', '-n', ARGOCD_NS]);
    t.same(
      names(all.items),
      [`Application/hit-counter-${env}`, `Application/${ROOT_APP}`],
      `${env}: its own environment only`,
    );
  }
});

t.test('the project whitelists exactly the namespaced kinds the two environments deploy', async (t) => {
  const kinds = new Set(
    Object.values(apps)
      .flatMap((a) => a.status.resources as Obj[])
      .filter((r) => r.namespace)
      .map((r) => `${r.group ?? ''}/${r.kind}`),
  );
  for (const [env, c] of Object.entries(clusters)) {
    const project = await c.getJson(['appprojects.argoproj.io', 'hit-counter', '-n', ARGOCD_NS]);
    const whitelist = (project.spec.namespaceResourceWhitelist as Obj[]).map((g) => `${g.group}/${g.kind}`);
    t.same([...kinds].sort(), whitelist.sort(), env);
    t.same(project.spec.clusterResourceWhitelist, [{ group: '', kind: 'Namespace' }], env);
    t.same(project.spec.destinations, [apps[env]!.spec.destination], `${env}: its own destination only`);
  }
});

t.test('the real sync applies config, accounts and volumes before the workloads that use them', async (t) => {
  for (const [env, app] of Object.entries(apps)) {
    const order = (app.status.operationState.syncResult.resources as Obj[]).map((r) => r.kind as string);
    const last = (kinds: string[]) => Math.max(...kinds.map((k) => order.lastIndexOf(k)));
    const first = (kinds: string[]) => Math.min(...kinds.map((k) => order.indexOf(k)).filter((i) => i >= 0));
    t.ok(
      last(['Secret', 'ConfigMap', 'ServiceAccount', 'PersistentVolumeClaim']) <
        first(['Deployment', 'StatefulSet', 'CronJob']),
      `${env}: ${order.join(' ')}`,
    );
  }
});

t.test('promotion by git push: minikube first, then eks, nothing else changes', async (t) => {
  const tag = '9.9.9-promoted';
  const before = {
    minikube: await snapshot(minikube, apps.minikube!),
    eks: await snapshot(eks, apps.eks!),
  };
  const eksImage = await imageOf(eks, 'hit-counter');

  const pushed = await work.push(`deploy ${tag} to minikube`, (dir) =>
    cli('promote.ts', dir, ['set', 'minikube', tag]),
  );
  const t0 = Date.now();
  await refresh(minikube, 'hit-counter-minikube');
  await waitApp(minikube, 'hit-counter-minikube', `synced at ${pushed.slice(0, 8)}`, syncedAt(pushed));
  t.match(await imageOf(minikube, 'hit-counter'), new RegExp(`:${tag}$`), 'minikube runs the promoted tag');
  await waitApp(minikube, 'hit-counter-minikube', 'Healthy after the rollout', healthy);
  t.same(await notReady(minikube, APP_NS), [], 'the rollout finished');
  t.comment(`minikube: push → rolled out in ${Date.now() - t0} ms (refresh annotation, as a git webhook)`);

  const after = await snapshot(minikube, apps.minikube!);
  const changed = [...after.keys()].filter((k) => after.get(k) !== before.minikube.get(k));
  t.same(changed, ['Deployment/hit-counter'], 'only the service Deployment changed');
  await refresh(eks, ROOT_APP);
  await waitApp(eks, ROOT_APP, `compared at ${pushed.slice(0, 8)}`, comparedAt(pushed));
  await stillAt(eks, work.tree);
  t.equal(await imageOf(eks, 'hit-counter'), eksImage, 'eks still runs its own tag');

  const copied = await work.push(`promote minikube to eks`, (dir) =>
    cli('promote.ts', dir, ['copy', 'minikube', 'eks']),
  );
  t.equal(await pinOf('eks'), pushed, "eks's chart moves to the commit minikube runs");
  const t1 = Date.now();
  await refresh(eks, ROOT_APP);
  await waitApp(eks, ROOT_APP, `synced at ${copied.slice(0, 8)}`, syncedAt(copied));
  await waitApp(eks, 'hit-counter-eks', `synced at ${pushed.slice(0, 8)}`, syncedAt(pushed));
  t.match(await imageOf(eks, 'hit-counter'), new RegExp(`:${tag}$`), 'eks runs the promoted tag');
  t.comment(`eks: push → synced in ${Date.now() - t1} ms (the root, then the Application)`);
  const eksAfter = await snapshot(eks, apps.eks!);
  t.same(
    [...eksAfter.keys()].filter((k) => eksAfter.get(k) !== before.eks.get(k)),
    ['Deployment/hit-counter'],
    'eks: only the service Deployment changed',
  );
});

t.test('a chart change on main reaches minikube at once, eks only when promoted', async (t) => {
  const pinned = await pinOf('eks');
  const configMap = async (c: Cluster) =>
    (
      await c.kubectl(['get', 'configmap', 'chart-change', '-n', APP_NS, '--ignore-not-found', '-o', 'name'])
    ).trim();

  const change = await work.push('a chart change: one more ConfigMap', (dir) =>
    writeFile(path.join(dir, CHART_CHANGE_FILE), CHART_CHANGE),
  );
  for (const c of Object.values(clusters)) await refresh(c, ROOT_APP);
  await refresh(minikube, 'hit-counter-minikube');
  await waitApp(minikube, 'hit-counter-minikube', `synced at ${change.slice(0, 8)}`, syncedAt(change));
  t.equal(await configMap(minikube), 'configmap/chart-change', 'minikube runs the changed chart');
  await waitApp(eks, ROOT_APP, `compared at ${change.slice(0, 8)}`, comparedAt(change));
  await stillAt(eks, pinned);
  t.equal(await configMap(eks), '', 'eks runs its pinned chart');

  // A change to eks's values on main reaches it, with its pinned chart.
  const tag = '9.9.10-values-only';
  const values = await work.push(`eks runs ${tag} (its values file only)`, async (dir) => {
    const file = path.join(dir, 'environments/eks/values.yaml');
    await writeFile(file, setYamlScalar(await readFile(file, 'utf8'), ['image', 'tag'], tag));
  });
  await refresh(eks, ROOT_APP);
  await waitApp(eks, ROOT_APP, `synced at ${values.slice(0, 8)}`, syncedAt(values));
  await waitApp(
    eks,
    'hit-counter-eks',
    `synced with ${tag}, still at ${pinned.slice(0, 8)}`,
    (a) =>
      syncedAt(pinned)(a) &&
      a.status.operationState.syncResult.source?.helm?.valuesObject?.image?.tag === tag,
  );
  t.match(await imageOf(eks, 'hit-counter'), new RegExp(`:${tag}$`), 'eks runs the tag of its values file');
  t.equal(await configMap(eks), '', 'with its pinned chart');

  // The promotion: its diff shows the chart change; merged, eks runs minikube's chart.
  const diff = await runCli('promote.ts', work.dir, ['diff', 'eks', '--from', 'minikube']);
  t.equal(diff.code, 0, diff.stderr);
  t.match(
    diff.stdout,
    /^diff --git b\/ConfigMap\/hit-counter\/chart-change\.yaml /m,
    'promote diff: the chart change',
  );
  const promoted = await work.push('promote minikube to eks', (dir) =>
    cli('promote.ts', dir, ['copy', 'minikube', 'eks']),
  );
  t.equal(await pinOf('eks'), values, 'the pin moves to what minikube runs: main at the promotion');
  await refresh(eks, ROOT_APP);
  await waitApp(eks, ROOT_APP, `synced at ${promoted.slice(0, 8)}`, syncedAt(promoted));
  await waitApp(eks, 'hit-counter-eks', `synced at ${values.slice(0, 8)}`, syncedAt(values));
  t.equal(await configMap(eks), 'configmap/chart-change', 'eks runs the promoted chart');
  t.equal(await imageOf(eks, 'hit-counter'), await imageOf(minikube, 'hit-counter'), "and minikube's tag");
  t.equal(
    (await getApp(minikube, 'hit-counter-minikube')).spec.source.targetRevision,
    'main',
    'minikube still tracks main',
  );
});
