// The real Argo CD (v3.2.11) deploys each environment as the README says: two clusters, each with
// its own Argo CD, both reading one git server (minikube's). Each is bootstrapped from argocd/
// (after `npm run gitops:set-repo`) with its own environment: its root Application keeps the
// AppProjects and Applications (itself included) equal to git, and the environment's Application
// syncs everything `helm template` renders for it. Then promotion, end to end: a pushed
// `npm run promote -- set minikube <tag>` rolls out on minikube only, and a pushed
// `npm run promote -- copy minikube eks` on eks; last, a revision pinned for eks in
// argocd/values.yaml holds eks there while minikube moves on. kwok plays the nodes: pods are not
// executed.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Cluster } from '../../tools/cluster/cluster.ts';
import { setYamlScalar } from '../../tools/promote.ts';
import { notReady } from '../cluster/fixture.ts';
import {
  APP_NS,
  ARGOCD_NS,
  argocdCluster,
  bootstrap,
  cli,
  comparedAt,
  eksHealthProblems,
  getApp,
  git,
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
  await refresh(eks, 'hit-counter-eks');
  await waitApp(eks, 'hit-counter-eks', `compared at ${pushed.slice(0, 8)}`, comparedAt(pushed));
  t.equal(await imageOf(eks, 'hit-counter'), eksImage, 'eks still runs its own tag');

  const copied = await work.push(`promote minikube to eks`, (dir) =>
    cli('promote.ts', dir, ['copy', 'minikube', 'eks']),
  );
  const t1 = Date.now();
  await refresh(eks, 'hit-counter-eks');
  await waitApp(eks, 'hit-counter-eks', `synced at ${copied.slice(0, 8)}`, syncedAt(copied));
  t.match(await imageOf(eks, 'hit-counter'), new RegExp(`:${tag}$`), 'eks runs the promoted tag');
  t.comment(`eks: push → synced in ${Date.now() - t1} ms`);
  const eksAfter = await snapshot(eks, apps.eks!);
  t.same(
    [...eksAfter.keys()].filter((k) => eksAfter.get(k) !== before.eks.get(k)),
    ['Deployment/hit-counter'],
    'eks: only the service Deployment changed',
  );
});

t.test(
  'a revision pinned for eks in argocd/values.yaml: its root moves its Application there, minikube moves on',
  async (t) => {
    const pin = (await git(work.dir, ['rev-parse', 'HEAD'])).trim();
    const pinned = await work.push('pin eks to the promoted commit', async (dir) => {
      const file = path.join(dir, 'argocd/values.yaml');
      await writeFile(
        file,
        setYamlScalar(await readFile(file, 'utf8'), ['environments', 'eks', 'targetRevision'], pin),
      );
    });
    for (const c of Object.values(clusters)) await refresh(c, ROOT_APP);
    await waitApp(eks, ROOT_APP, `synced at ${pinned.slice(0, 8)}`, syncedAt(pinned));
    await waitApp(minikube, ROOT_APP, `compared at ${pinned.slice(0, 8)}`, comparedAt(pinned));
    const e = await waitApp(
      eks,
      'hit-counter-eks',
      `pinned to ${pin.slice(0, 8)}`,
      (a) => a.spec.source.targetRevision === pin && comparedAt(pin)(a),
    );
    t.equal(e.spec.source.targetRevision, pin, "eks's Application follows argocd/values.yaml");
    t.equal(
      (await getApp(minikube, 'hit-counter-minikube')).spec.source.targetRevision,
      'main',
      'minikube still tracks main',
    );

    const eksImage = await imageOf(eks, 'hit-counter');
    const tag = '9.9.10-after-the-pin';
    const next = await work.push(`deploy ${tag} to both`, async (dir) => {
      await cli('promote.ts', dir, ['set', 'minikube', tag]);
      await cli('promote.ts', dir, ['set', 'eks', tag]);
    });
    for (const c of Object.values(clusters)) await refresh(c, ROOT_APP);
    await refresh(minikube, 'hit-counter-minikube');
    await refresh(eks, 'hit-counter-eks');
    await waitApp(minikube, 'hit-counter-minikube', `synced at ${next.slice(0, 8)}`, syncedAt(next));
    t.match(await imageOf(minikube, 'hit-counter'), new RegExp(`:${tag}$`), 'minikube runs the new tag');
    await waitApp(eks, ROOT_APP, `compared at ${next.slice(0, 8)}`, comparedAt(next));
    // Argo CD drops the refresh annotation once it has compared again.
    await waitApp(
      eks,
      'hit-counter-eks',
      `refreshed, still at ${pin.slice(0, 8)}`,
      (a) => !a.metadata.annotations?.['argocd.argoproj.io/refresh'] && comparedAt(pin)(a),
    );
    t.equal(await imageOf(eks, 'hit-counter'), eksImage, 'eks stays at the pinned revision');
  },
);
