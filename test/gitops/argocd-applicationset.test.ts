// argocd/applicationset.yaml on one central Argo CD (v3.2.11) managing two clusters registered as
// `minikube` and `eks` (cluster Secrets, what `argocd cluster add` writes): the real ApplicationSet
// controller generates the two Applications of argocd/applications/ (same spec, destination by
// name), and each syncs into its own cluster. kwok plays the nodes.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import {
  APP_NS,
  ARGOCD_NS,
  applyFiles,
  argocdCluster,
  eksHealthProblems,
  healthy,
  prepareEks,
  registerCluster,
  seedCheckout,
  syncedAt,
  waitApp,
  workClone,
  type Obj,
} from './argocd-fixture.ts';
import { clusterFor } from '../cluster/fixture.ts';

const central = await argocdCluster(t, { gitSeed: await seedCheckout(t) });
const eks = await clusterFor(t, { prometheusOperator: true });
const work = await workClone(t, central.argocd!.repoUrl);
await registerCluster(central, 'minikube', central);
await registerCluster(central, 'eks', eks);
await prepareEks(eks);

t.test('the ApplicationSet generates the Applications of argocd/applications/', async (t) => {
  await applyFiles(central, work.dir, ['argocd/project.yaml', 'argocd/applicationset.yaml']);
  for (const env of ['minikube', 'eks']) {
    const name = `hit-counter-${env}`;
    const generated = await waitApp(central, name, 'generated', (a) => a.metadata?.name === name);
    const own = parse(await readFile(path.join(work.dir, `argocd/applications/${name}.yaml`), 'utf8')) as Obj;
    const { destination: gotDestination, ...got } = generated.spec;
    const { destination: ownDestination, ...want } = own.spec;
    t.same(got, want, `${name}: the same spec as argocd/applications/${name}.yaml`);
    t.same(gotDestination, { name: env, namespace: ownDestination.namespace }, `${name}: to cluster ${env}`);
    t.same(
      generated.metadata.finalizers,
      own.metadata.finalizers,
      `${name}: deleting it deletes what it deployed`,
    );
    t.equal(
      generated.metadata.ownerReferences?.[0]?.kind,
      'ApplicationSet',
      `${name}: owned by the ApplicationSet`,
    );
  }
  const appSets = await central.getJson<{ items: Obj[] }>(['applicationsets.argoproj.io', '-n', ARGOCD_NS]);
  t.same(
    appSets.items[0]?.status?.conditions?.filter(
      (c: Obj) => c.type === 'ErrorOccurred' && c.status === 'True',
    ),
    [],
    'the ApplicationSet reports no error',
  );
});

t.test('each generated Application syncs into its own cluster', async (t) => {
  await waitApp(central, 'hit-counter-minikube', 'Synced and Healthy', (a) => syncedAt()(a) && healthy(a));
  const e = await waitApp(
    central,
    'hit-counter-eks',
    'Synced',
    (a) => syncedAt()(a) && eksHealthProblems(a).length === 0,
  );
  t.same(eksHealthProblems(e), []);
  // The eks cluster has the eks deployment (HPA, Ingress, ServiceMonitors); minikube's does not.
  const kinds = async (c: typeof eks, resources = 'hpa,ingress,deployments') =>
    (await c.getJson<{ items: Obj[] }>([resources, '-n', APP_NS])).items
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
  t.same(await kinds(eks, 'hpa,ingress,deployments,servicemonitors'), [
    'Deployment/hit-counter',
    'Deployment/hit-counter-nginx',
    'HorizontalPodAutoscaler/hit-counter',
    'Ingress/hit-counter-nginx',
    'ServiceMonitor/hit-counter',
    'ServiceMonitor/hit-counter-nginx',
    'ServiceMonitor/hit-counter-redis',
  ]);
  t.same(await kinds(central), ['Deployment/hit-counter', 'Deployment/hit-counter-nginx']);
});
