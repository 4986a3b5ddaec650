// The argocd/ chart, rendered as the bootstrap renders it (`helm template argocd --set
// environment=<env>`), before any cluster: valid against Argo CD's own CRDs and the Kubernetes API,
// each environment's render holding its own Application and nothing of another environment, paths
// that exist, a pinned chart at a commit that holds it with the values file inline, the namespace
// guard bound to the controller and the destination, the root Application rendering the chart
// again into the very same objects, and the installer's cluster values reaching the Application and
// the AppProject. What Argo CD does with them (sync, self-management, project rules, the guard) is
// tested on the real Argo CD: argocd-*.test.ts.
import t from 'tap';
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { helm, HELMS, parseManifests, type K8sObject } from '../../tools/lib/helm.ts';
import { validateManifests } from '../../tools/lib/k8s-validate.ts';
import { renderArgocd, repoRoot } from './fixtures.ts';

const values = parse(await readFile(path.join(repoRoot, 'argocd/values.yaml'), 'utf8'));
const environments = Object.keys(values.environments as object).sort();

const render = async (v: Record<string, unknown>) => parseManifests(await renderArgocd(repoRoot, v));
const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} rendered`);
  return o;
};
const names = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const envValues = async (env: string) =>
  parse(await readFile(path.join(repoRoot, values.environments[env].valuesFile), 'utf8'));
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
/** Helm's layering of values: maps merge, anything else replaces. */
const layer = (a: unknown, b: unknown): unknown =>
  isObject(a) && isObject(b)
    ? Object.fromEntries(
        [...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [
          k,
          k in b ? layer(a[k], b[k]) : a[k],
        ]),
      )
    : b;
/** The cluster-scoped kinds argocd/ renders. */
const CLUSTER_SCOPED = new Set(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

/** What infra/eks passes at bootstrap, in the shape it has there. */
const installer = {
  environment: 'eks',
  cluster: {
    repoURL: 'https://git.example.org/someone/hit-counter.git',
    values: { redis: { externalSecret: { enabled: true, remoteRef: { key: 'hit-counter/redis' } } } },
    namespaceResources: [{ group: 'external-secrets.io', kind: 'ExternalSecret' }],
  },
};

t.test('the environments are minikube and eks', async (t) => {
  t.same(environments, ['eks', 'minikube']);
});

t.test('each environment renders two AppProjects and two Applications, valid against the CRDs', async (t) => {
  for (const env of environments) {
    const text = await renderArgocd(repoRoot, { environment: env });
    t.same(await validateManifests(text), [], env);
    t.same(names(parseManifests(text)), [
      'AppProject/hit-counter',
      'AppProject/hit-counter-root',
      `Application/hit-counter-${env}`,
      'Application/hit-counter-root',
      'ValidatingAdmissionPolicy/hit-counter-namespaces',
      'ValidatingAdmissionPolicyBinding/hit-counter-namespaces',
    ]);
  }
  t.same(await validateManifests(await renderArgocd(repoRoot, installer)), [], 'with the installer values');
});

t.test('the schema check can fail: an unknown field and a wrong type are rejected', async (t) => {
  const text = await renderArgocd(repoRoot, { environment: 'minikube' });
  const problems = await validateManifests(
    text.replace('  project: hit-counter\n', '  project: hit-counter\n  projekt: typo\n') +
      '---\n' +
      text.replace('limit: 5', 'limit: five'),
  );
  t.ok(problems.length >= 2, problems.join('\n'));
  t.match(problems.join('\n'), /projekt/);
  t.match(problems.join('\n'), /limit/);
});

t.test('each environment deploys only itself, from paths that exist, release name pinned', async (t) => {
  for (const env of environments) {
    const text = await renderArgocd(repoRoot, { environment: env });
    for (const other of environments.filter((e) => e !== env))
      t.notMatch(text, other, `${env}: nothing of ${other} rendered`);
    const objects = parseManifests(text);
    const app = find(objects, 'Application', `hit-counter-${env}`);
    const facts = values.environments[env];
    const { source } = app.spec;
    t.notOk(app.spec.sources, `${env}: one source`);
    t.equal(source.repoURL, values.repoURL, `${env}: the repository`);
    t.same(app.spec.destination, facts.destination, `${env}: its own destination`);
    // Object names derive from the release name: renaming an Application must rename nothing.
    t.equal(source.helm.releaseName, 'hit-counter', `${env}: helm.releaseName pinned`);
    await access(path.join(repoRoot, source.path, 'Chart.yaml'));
    if (facts.chartRevision) {
      t.equal(source.targetRevision, facts.chartRevision, `${env}: the chart at its pinned commit`);
      t.notOk(source.helm.valueFiles, `${env}: no values file read at that commit`);
      t.same(source.helm.valuesObject, await envValues(env), `${env}: its values file, inline`);
    } else {
      t.equal(source.targetRevision, facts.targetRevision, `${env}: its own revision`);
      t.same(source.helm.valueFiles, [`../../environments/${env}/values.yaml`]);
      t.notOk(source.helm.valuesObject, `${env}: nothing on top of the values file`);
      await access(path.join(repoRoot, source.path, source.helm.valueFiles[0]));
    }
    const project = find(objects, 'AppProject', app.spec.project);
    t.same(
      project.spec.destinations,
      [app.spec.destination],
      `${env}: the project allows its destination only`,
    );
    t.same(project.spec.sourceRepos, [source.repoURL], `${env}: the project allows this repository only`);
  }
});

t.test('the root renders this chart again, into the very same objects (Argo CD stays Synced)', async (t) => {
  const bootstraps: { environment: string; cluster?: { repoURL?: string } }[] = [
    ...environments.map((environment) => ({ environment })),
    installer,
  ];
  for (const bootstrap of bootstraps) {
    const what = JSON.stringify(bootstrap);
    const text = await renderArgocd(repoRoot, bootstrap);
    const root = find(parseManifests(text), 'Application', 'hit-counter-root');
    t.same(root.spec.source.helm.valuesObject, bootstrap, `${what}: the root hands back what was chosen`);
    t.equal(root.spec.source.repoURL, bootstrap.cluster?.repoURL ?? values.repoURL);
    t.equal(root.spec.source.targetRevision, values.targetRevision);
    await access(path.join(repoRoot, root.spec.source.path, 'Chart.yaml'));
    // What Argo CD renders for the root: the chart at its path with its valuesObject.
    t.equal(await renderArgocd(repoRoot, root.spec.source.helm.valuesObject), text, `${what}: a fixed point`);
  }
});

t.test("the installer's cluster values reach the Application, the projects and the root", async (t) => {
  const objects = await render(installer);
  const app = find(objects, 'Application', 'hit-counter-eks');
  t.same(
    app.spec.source.helm.valuesObject,
    layer(await envValues('eks'), installer.cluster.values),
    "the cluster's values on top of the values file",
  );
  t.match(app.spec.source.helm.valuesObject, installer.cluster.values);
  const project = find(objects, 'AppProject', 'hit-counter');
  t.same(project.spec.namespaceResourceWhitelist.slice(-1), installer.cluster.namespaceResources);
  for (const o of objects.filter((o) => o.apiVersion.startsWith('argoproj.io/'))) {
    const repos = o.kind === 'AppProject' ? o.spec.sourceRepos : [o.spec.source.repoURL];
    t.same(repos, [installer.cluster.repoURL], `${o.kind}/${o.metadata.name}: the cluster's repository`);
  }
});

t.test("the root's project permits exactly the kinds of this chart, in Argo CD's namespace", async (t) => {
  const objects = await render({ environment: 'minikube' });
  const root = find(objects, 'Application', 'hit-counter-root');
  const project = find(objects, 'AppProject', root.spec.project);
  const kinds = (list: { group?: string; kind: string }[]) =>
    [...new Set(list.map((o) => `${o.group ?? ''}/${o.kind}`))].sort();
  const rendered = (clusterScoped: boolean) =>
    kinds(
      objects
        .filter((o) => CLUSTER_SCOPED.has(o.kind) === clusterScoped)
        .map((o) => ({ group: o.apiVersion.split('/')[0], kind: o.kind })),
    );
  t.same(kinds(project.spec.namespaceResourceWhitelist), rendered(false), 'namespaced');
  t.same(kinds(project.spec.clusterResourceWhitelist), rendered(true), 'cluster-scoped: the guard');
  t.same(project.spec.destinations, [root.spec.destination]);
  t.equal(root.spec.destination.namespace, values.argocdNamespace);
  for (const o of objects)
    t.equal(
      o.metadata.namespace,
      CLUSTER_SCOPED.has(o.kind) ? undefined : values.argocdNamespace,
      `${o.kind}/${o.metadata.name}`,
    );
});

t.test('the namespace guard binds the application controller to the destination namespace', async (t) => {
  for (const [what, bootstrap, user] of [
    ['default', { environment: 'minikube' }, 'system:serviceaccount:argocd:argocd-application-controller'],
    [
      'set by the installer',
      { environment: 'eks', cluster: { applicationControllerUser: 'system:serviceaccount:gitops:argo-ctl' } },
      'system:serviceaccount:gitops:argo-ctl',
    ],
  ] as const) {
    const objects = await render(bootstrap);
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'hit-counter-namespaces');
    const { namespace } = values.environments[bootstrap.environment].destination;
    t.same(
      policy.spec.matchConstraints.resourceRules,
      [
        {
          apiGroups: [''],
          apiVersions: ['*'],
          operations: ['CREATE', 'UPDATE', 'DELETE'],
          resources: ['namespaces'],
        },
      ],
      `${what}: every write to a Namespace`,
    );
    t.same(
      policy.spec.matchConditions.map((c: { expression: string }) => c.expression),
      [`request.userInfo.username == "${user}"`],
      `${what}: by ${user}`,
    );
    t.same(
      policy.spec.validations.map((v: { expression: string }) => v.expression),
      [`request.name == "${namespace}"`],
      `${what}: only ${namespace}`,
    );
    t.equal(policy.spec.failurePolicy, 'Fail');
    const binding = find(objects, 'ValidatingAdmissionPolicyBinding', 'hit-counter-namespaces');
    t.same(binding.spec, { policyName: policy.metadata.name, validationActions: ['Deny'] });
    const project = find(objects, 'AppProject', 'hit-counter');
    t.same(project.spec.clusterResourceWhitelist, [{ group: '', kind: 'Namespace' }], 'what it guards');
  }
});

t.test('a pinned chart: a commit of this repository that holds the chart', async (t) => {
  const pinned = Object.entries<{ chartRevision?: string }>(values.environments).filter(
    ([, e]) => e.chartRevision,
  );
  t.same(
    pinned.map(([env]) => env),
    ['eks'],
    'eks pins its chart; minikube follows its targetRevision',
  );
  const git = promisify(execFile);
  for (const [env, { chartRevision }] of pinned)
    await t.resolves(
      git('git', ['cat-file', '-e', `${chartRevision}:charts/hit-counter/Chart.yaml`], { cwd: repoRoot }),
      `${env}: ${chartRevision} holds charts/hit-counter`,
    );
});

t.test('an environment has a targetRevision or a chartRevision (a commit), not both', async (t) => {
  const sha = '0123456789abcdef0123456789abcdef01234567';
  for (const [what, environments, message] of [
    [
      'both',
      { minikube: { chartRevision: sha } },
      /at '\/environments\/minikube': 'oneOf' failed, subschemas 0, 1 matched/,
    ],
    [
      'a branch as chartRevision',
      { eks: { chartRevision: 'main' } },
      /at '\/environments\/eks\/chartRevision': 'main' does not match pattern/,
    ],
  ] as const)
    await t.rejects(renderArgocd(repoRoot, { environment: 'eks', environments }), message, what);
  const text = await renderArgocd(repoRoot, {
    environment: 'minikube',
    environments: { minikube: { targetRevision: null, chartRevision: sha } },
  });
  const app = find(parseManifests(text), 'Application', 'hit-counter-minikube');
  t.equal(app.spec.source.targetRevision, sha, 'any environment can pin its chart');
  t.same(app.spec.source.helm.valuesObject, await envValues('minikube'));
  t.same(await validateManifests(text), [], 'valid against the CRDs');
});

t.test('no environment, or an unknown one, renders nothing and says what to set', async (t) => {
  for (const environment of ['', 'staging'])
    await t.rejects(
      renderArgocd(repoRoot, { environment }),
      /environment must be one of: eks, minikube \(--set environment=<name>\)/,
    );
  await t.rejects(renderArgocd(repoRoot, { environment: 'eks', cluster: { valuez: {} } }), /valuez/);
});

t.test('helm lint --strict passes, with and without an environment (Helm 3 and 4)', async (t) => {
  for (const name of HELMS)
    for (const env of ['', ...environments]) {
      const set = env ? ['--set', `environment=${env}`] : [];
      t.match(
        await helm(['lint', '--strict', path.join(repoRoot, 'argocd'), ...set], undefined, name),
        /0 chart\(s\) failed/,
      );
    }
});
