// The sync policy and the AppProjects of argocd/, enforced by the real Argo CD (v3.2.11) on the
// minikube environment: self-heal reverts a manual change (the root reverts one to the project and
// the Application too), prune removes what a commit removes (but never the backup volume marked
// Prune=false), the projects refuse kinds, repositories and destinations outside them with Argo
// CD's own words, and the namespace guard keeps Argo CD to the environment's own Namespace. kwok
// plays the nodes.
import t from 'tap';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RESTRICTED } from '../cluster/fixture.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import {
  APP_NS,
  ARGOCD_NS,
  argocdCluster,
  bootstrap,
  cli,
  getApp,
  git,
  healthy,
  imageOf,
  refresh,
  ROOT_APP,
  seedCheckout,
  syncedAt,
  waitApp,
  workClone,
  type Obj,
} from './argocd-fixture.ts';

const APP = 'hit-counter-minikube';

const cluster = await argocdCluster(t, { gitSeed: await seedCheckout(t) });
const work = await workClone(t, cluster.argocd!.repoUrl);
const bootstrapped = await bootstrap(cluster, work.dir, { environment: 'minikube' });
await waitApp(cluster, APP, 'Synced and Healthy', (a) => syncedAt()(a) && healthy(a));
await waitApp(cluster, ROOT_APP, 'Synced', syncedAt());
/** The environment's Application as the bootstrap applied it. */
const application = bootstrapped.find((o) => o.kind === 'Application' && o.metadata.name === APP)!;

const exists = async (kind: string, name: string): Promise<boolean> =>
  (await cluster.kubectl(['get', kind, name, '-n', APP_NS, '--ignore-not-found', '-o', 'name'])).trim() !==
  '';

t.test('selfHeal: a manual scale is reverted, a deleted object comes back', async (t) => {
  await cluster.kubectl(['scale', 'deployment/hit-counter', '-n', APP_NS, '--replicas=5']);
  const t0 = Date.now();
  await waitFor(
    async () => (await cluster.getJson(['deployment', 'hit-counter', '-n', APP_NS])).spec.replicas === 2,
    { timeoutMs: 60_000, intervalMs: 100, what: 'Argo CD to scale hit-counter back to 2 (values)' },
  );
  t.comment(`scale reverted in ${Date.now() - t0} ms`);
  t.pass('replicas back to the 2 of environments/minikube/values.yaml');

  await cluster.kubectl(['delete', 'networkpolicy/hit-counter', '-n', APP_NS, '--wait=true']);
  const t1 = Date.now();
  await waitFor(() => exists('networkpolicy', 'hit-counter'), {
    timeoutMs: 60_000,
    intervalMs: 100,
    what: 'Argo CD to recreate NetworkPolicy hit-counter',
  });
  t.comment(`deleted NetworkPolicy recreated in ${Date.now() - t1} ms`);
  t.pass('NetworkPolicy hit-counter recreated');
});

t.test(
  'the root reverts a manual widening of the AppProject and a manual change to the Application',
  async (t) => {
    const project = () => cluster.getJson(['appprojects.argoproj.io', 'hit-counter', '-n', ARGOCD_NS]);
    const want = (await project()).spec;
    // What the patch wrote (read back later, the root may have reverted it already).
    const widened = JSON.parse(
      await cluster.kubectl([
        'patch',
        'appprojects.argoproj.io/hit-counter',
        '-n',
        ARGOCD_NS,
        '--type=merge',
        '-o',
        'json',
        '-p',
        JSON.stringify({ spec: { sourceRepos: ['*'], destinations: [{ server: '*', namespace: '*' }] } }),
      ]),
    ) as Obj;
    await cluster.kubectl([
      'patch',
      `applications.argoproj.io/${APP}`,
      '-n',
      ARGOCD_NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { syncPolicy: { automated: { selfHeal: false } } } }),
    ]);
    t.same(widened.spec.sourceRepos, ['*'], 'widened by hand');
    const t0 = Date.now();
    await waitFor(
      async () => {
        const p = (await project()).spec;
        return (
          JSON.stringify([p.sourceRepos, p.destinations]) ===
          JSON.stringify([want.sourceRepos, want.destinations])
        );
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the root to restore the AppProject from git' },
    );
    await waitApp(
      cluster,
      APP,
      'self-heal back on',
      (a) => a.spec.syncPolicy.automated.selfHeal === true,
      60_000,
    );
    t.comment(`restored in ${Date.now() - t0} ms`);
    t.pass('the AppProject and the Application are as git says again');
  },
);

t.test('prune: templates removed in a commit leave the cluster, the backup volume stays', async (t) => {
  const removed = [
    'charts/hit-counter/templates/pdb.yaml',
    'charts/hit-counter/charts/redis/templates/backup-cronjob.yaml',
    'charts/hit-counter/charts/redis/templates/backup-configmap.yaml',
    'charts/hit-counter/charts/redis/templates/backup-serviceaccount.yaml',
    'charts/hit-counter/charts/redis/templates/backup-networkpolicy.yaml',
    'charts/hit-counter/charts/redis/templates/backup-pvc.yaml',
  ];
  const gone = [
    ['poddisruptionbudget', 'hit-counter'],
    ['cronjob', 'hit-counter-redis-backup'],
    ['configmap', 'hit-counter-redis-backup'],
    ['serviceaccount', 'hit-counter-redis-backup'],
    ['networkpolicy', 'hit-counter-redis-backup'],
  ] as const;
  for (const [kind, name] of gone) t.ok(await exists(kind, name), `${kind}/${name} is there before`);
  const rev = await work.push('remove the PDBs and the backup', async (dir) => {
    for (const f of removed) await rm(path.join(dir, f));
  });
  await refresh(cluster, APP);
  const app = await waitApp(
    cluster,
    APP,
    `synced at ${rev.slice(0, 8)}`,
    (a) =>
      a.status?.operationState?.syncResult?.revision === rev && a.status.operationState.phase === 'Succeeded',
  );
  for (const [kind, name] of gone) t.notOk(await exists(kind, name), `${kind}/${name} pruned`);
  t.ok(
    await exists('persistentvolumeclaim', 'hit-counter-redis-backup'),
    'the backup PVC (Prune=false) stays',
  );
  const pvc = (app.status.resources as Obj[]).find(
    (r) => r.kind === 'PersistentVolumeClaim' && r.name === 'hit-counter-redis-backup',
  );
  t.match(pvc, { requiresPruning: true }, 'Argo CD reports it as left to prune by hand');
});

/** The user the local cluster's application controller acts as (tools/cluster), the guard's default. */
const CONTROLLER = `system:serviceaccount:${ARGOCD_NS}:argocd-application-controller`;

/** A server-side dry run of creating Namespace `name` (as `user`): the API server's refusal, or ''. */
async function createRefusal(name: string, user?: string): Promise<string> {
  const as = user ? [`--as=${user}`] : [];
  return cluster.kubectl(['create', 'namespace', name, '--dry-run=server', ...as]).then(
    () => '',
    (err: Error) => err.message,
  );
}

const namespace = (name: string): Promise<Obj | undefined> =>
  cluster.getJson(['namespace', name]).catch(() => undefined);

t.test('the namespace guard: Argo CD keeps its own Namespace, adopts and creates no other', async (t) => {
  const guard =
    /ValidatingAdmissionPolicy 'hit-counter-namespaces' with binding 'hit-counter-namespaces' denied request: Argo CD may create, change or delete only the namespace hit-counter here, not /;
  // The API server enforces a new policy once its informer has it: wait for that, asking it.
  await waitFor(async () => guard.test(await createRefusal('guard-probe', CONTROLLER)), {
    timeoutMs: 60_000,
    intervalMs: 250,
    what: 'the namespace guard to refuse the application controller',
  });
  t.equal(await createRefusal('guard-probe'), '', 'anyone else may still create a Namespace');
  const root = await getApp(cluster, ROOT_APP);
  t.same(
    (root.status.resources as Obj[])
      .filter((r) => r.group === 'admissionregistration.k8s.io')
      .map((r) => `${r.kind}/${r.name} ${r.status}`),
    [
      'ValidatingAdmissionPolicy/hit-counter-namespaces Synced',
      'ValidatingAdmissionPolicyBinding/hit-counter-namespaces Synced',
    ],
    'the root keeps the guard',
  );

  // Its own namespace: Argo CD still applies its managedNamespaceMetadata there, under the guard
  // (on this push's sync, or on a self-heal one: the app stays OutOfSync after the prune test).
  const [label] = Object.keys(RESTRICTED);
  const removed = JSON.parse(
    await cluster.kubectl(['label', 'namespace', APP_NS, `${label}-`, '-o', 'json']),
  ) as Obj;
  t.notOk(removed.metadata.labels?.[label!], 'label removed by hand');
  const tag = '9.9.9-guarded';
  const rev = await work.push(`deploy ${tag}`, (dir) => cli('promote.ts', dir, ['set', 'minikube', tag]));
  await refresh(cluster, APP);
  // (OutOfSync after it: the prune test left the backup volume to prune by hand.)
  await waitApp(
    cluster,
    APP,
    `synced at ${rev.slice(0, 8)}`,
    (a) =>
      a.status?.operationState?.syncResult?.revision === rev && a.status.operationState.phase === 'Succeeded',
  );
  t.match(await imageOf(cluster, 'hit-counter'), new RegExp(`:${tag}$`), 'the sync went through');
  t.match((await namespace(APP_NS))?.metadata.labels, RESTRICTED, 'Argo CD labelled the namespace again');

  // A chart that renders two more Namespaces, one of them already there: an Application of the
  // project syncs it from a branch.
  await cluster.kubectl(['create', 'namespace', 'adopted']);
  const before = await namespace('adopted');
  await git(work.dir, ['checkout', '--quiet', '-b', 'namespaces']);
  await writeFile(
    path.join(work.dir, 'charts/hit-counter/templates/namespaces.yaml'),
    ['adopted', 'created']
      .map((n) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${n}\n`)
      .join('---\n'),
  );
  await git(work.dir, ['add', '--all']);
  await git(work.dir, ['commit', '--quiet', '-m', 'a chart that renders two more Namespaces']);
  await git(work.dir, ['push', '--quiet', 'origin', 'HEAD:namespaces']);
  const branch = (await git(work.dir, ['rev-parse', 'HEAD'])).trim();
  await git(work.dir, ['checkout', '--quiet', 'main']);

  const app = structuredClone(application);
  app.metadata.name = 'hit-counter-namespaces';
  delete app.metadata.finalizers;
  app.spec.source.targetRevision = 'namespaces';
  app.spec.syncPolicy.retry = { limit: 0 };
  await cluster.kubectl(['apply', '-n', ARGOCD_NS, '-f', '-'], { input: JSON.stringify(app) });
  t.teardown(() =>
    cluster.kubectl(['delete', '-n', ARGOCD_NS, 'applications.argoproj.io/hit-counter-namespaces']),
  );
  const seen = await waitApp(
    cluster,
    app.metadata.name,
    `its sync at ${branch.slice(0, 8)} over`,
    (a) =>
      a.status?.operationState?.syncResult?.revision === branch &&
      ['Failed', 'Error', 'Succeeded'].includes(a.status.operationState.phase),
  );
  const results = (seen.status.operationState.syncResult.resources as Obj[]).filter(
    (r) => r.kind === 'Namespace',
  );
  t.equal(seen.status.operationState.phase, 'Failed', seen.status.operationState.message);
  for (const name of ['adopted', 'created'])
    t.match(
      results.find((r) => r.name === name)?.message,
      new RegExp(`namespaces "${name}" is forbidden: ${guard.source}${name}`),
      `${name}: refused by the guard`,
    );
  t.notOk(await namespace('created'), 'no Namespace created');
  const after = await namespace('adopted');
  t.same(after?.metadata, before?.metadata, 'the existing Namespace untouched (not adopted)');
  t.match((await namespace(APP_NS))?.metadata.labels, RESTRICTED, 'its own namespace as it was');
});

t.test("the AppProject refuses a kind outside its whitelist, in Argo CD's words", async (t) => {
  const rev = await work.push('add a Role (not in the project)', async (dir) => {
    await writeFile(
      path.join(dir, 'charts/hit-counter/templates/role.yaml'),
      'apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: extra\nrules: []\n',
    );
  });
  await refresh(cluster, APP);
  // The sync is refused (and retried); Argo CD says why on the resource and the operation.
  const app = await waitApp(
    cluster,
    APP,
    'refused',
    (a) => a.status?.sync?.revision === rev && JSON.stringify(a.status).includes('not permitted in project'),
  );
  t.match(
    JSON.stringify(app.status),
    /resource rbac\.authorization\.k8s\.io:Role is not permitted in project hit-counter/,
  );
  t.match(app.status.operationState.message, /one or more synchronization tasks are not valid/);
  t.notOk(await exists('role', 'extra'), 'the Role was not created');
});

for (const [what, edit, message] of [
  [
    'a repository outside sourceRepos',
    (a: Obj) => (a.spec.source.repoURL = 'git://127.0.0.1:9/elsewhere.git'),
    /application repo git:\/\/127\.0\.0\.1:9\/elsewhere\.git is not permitted in project 'hit-counter'/,
  ],
  [
    'a destination outside the project',
    (a: Obj) => (a.spec.destination.namespace = 'kube-system'),
    /namespace 'kube-system' do not match any of the allowed destinations in project 'hit-counter'/,
  ],
] as const) {
  t.test(`the AppProject refuses an Application with ${what}`, async (t) => {
    const name = `hit-counter-${what.split(' ')[1]}`;
    const app = structuredClone(application);
    app.metadata.name = name;
    delete app.metadata.finalizers;
    edit(app);
    await cluster.kubectl(['apply', '-n', ARGOCD_NS, '-f', '-'], { input: JSON.stringify(app) });
    const seen = await waitApp(cluster, name, 'InvalidSpecError', (a) =>
      (a.status?.conditions ?? []).some((c: Obj) => c.type === 'InvalidSpecError'),
    );
    const condition = (seen.status.conditions as Obj[]).find((c) => c.type === 'InvalidSpecError');
    t.match(condition?.message, message);
    t.notOk(seen.status?.operationState, 'nothing was synced');
    t.ok((await getApp(cluster, APP)).status, 'the minikube app is untouched');
  });
}

t.test("the root's AppProject refuses a kind outside its whitelist, in Argo CD's words", async (t) => {
  const rev = await work.push('add a ConfigMap to argocd/ (not in the root project)', async (dir) => {
    await writeFile(
      path.join(dir, 'argocd/templates/extra.tpl'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: argocd\n',
    );
  });
  await refresh(cluster, ROOT_APP);
  const root = await waitApp(
    cluster,
    ROOT_APP,
    'refused',
    (a) => a.status?.sync?.revision === rev && JSON.stringify(a.status).includes('not permitted in project'),
  );
  t.match(JSON.stringify(root.status), /resource :ConfigMap is not permitted in project hit-counter-root/);
  t.notOk(
    (
      await cluster.kubectl([
        'get',
        'configmap',
        'extra',
        '-n',
        ARGOCD_NS,
        '--ignore-not-found',
        '-o',
        'name',
      ])
    ).trim(),
    'the ConfigMap was not created',
  );
});
