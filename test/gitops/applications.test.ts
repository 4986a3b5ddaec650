// Every Argo CD manifest under argocd/ is schema-valid (Argo CD's own CRDs), and every Application
// (the two in argocd/applications/ and the ones the ApplicationSet generates) renders through
// tools/lib/argocd.ts into manifests that pass the chart validation and that the AppProject permits.
/* eslint-disable @typescript-eslint/no-explicit-any -- parsed ApplicationSet YAML is untyped */
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import {
  appliedObjects,
  loadApplication,
  planApplication,
  type Application,
} from '../../tools/lib/argocd.ts';
import { parseManifests, type K8sObject } from '../../tools/lib/helm.ts';
import { validateManifests } from '../../tools/lib/k8s-validate.ts';
import { repoRoot } from './fixtures.ts';
import {
  groupKind,
  isClusterScoped,
  projectProblems,
  releaseNameProblems,
  type AppProject,
} from './project-rules.ts';

const argocd = path.join(repoRoot, 'argocd');
/** What each cluster serves beyond the builtin APIs: kube-prometheus-stack, or nothing. */
const clusters: Record<string, string[]> = {
  'without prometheus-operator': [],
  'with prometheus-operator': [
    'monitoring.coreos.com/v1',
    'monitoring.coreos.com/v1/ServiceMonitor',
    'monitoring.coreos.com/v1/PrometheusRule',
  ],
};

const project = parse(await readFile(path.join(argocd, 'project.yaml'), 'utf8')) as AppProject;
const appFiles = (await readdir(path.join(argocd, 'applications'))).filter((f) => f.endsWith('.yaml')).sort();
const apps = await Promise.all(appFiles.map((f) => loadApplication(path.join(argocd, 'applications', f))));

/** The Applications an ApplicationSet's list generator makes (Go templates `{{.key}}` only). */
function generate(appSet: Record<string, any>): Application[] {
  const elements = appSet.spec.generators.flatMap((g: any) => g.list?.elements ?? []) as Record<
    string,
    string
  >[];
  return elements.map((e) => {
    const text = JSON.stringify(appSet.spec.template).replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, k: string) => {
      if (!(k in e)) throw new Error(`ApplicationSet template uses .${k}, which the generator does not set`);
      return e[k]!;
    });
    const template = JSON.parse(text);
    return {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { ...template.metadata, namespace: 'argocd' },
      spec: template.spec,
    };
  });
}

t.test('every manifest under argocd/ is valid against the Argo CD CRDs', async (t) => {
  const files = (await readdir(argocd, { recursive: true })).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 4);
  for (const f of files) t.same(await validateManifests(await readFile(path.join(argocd, f), 'utf8')), [], f);
});

t.test('the schema check can fail: an unknown field and a wrong type are rejected', async (t) => {
  const text = await readFile(path.join(argocd, 'applications', appFiles[0]!), 'utf8');
  const problems = await validateManifests(
    text.replace('  project: hit-counter', '  project: hit-counter\n  projekt: typo') +
      '---\n' +
      text.replace('limit: 5', 'limit: five'),
  );
  t.equal(problems.length, 2, problems.join('\n'));
  t.match(problems[0], /projekt/);
});

t.test('one Application per environment, each file named after it', async (t) => {
  t.same(appFiles, ['hit-counter-eks.yaml', 'hit-counter-minikube.yaml']);
  for (const [i, app] of apps.entries()) t.equal(`${app.metadata.name}.yaml`, appFiles[i]);
  const appSet = parseAllDocuments(
    await readFile(path.join(argocd, 'applicationset.yaml'), 'utf8'),
  )[0]!.toJS();
  const generated = generate(appSet);
  t.same(generated.map((a) => a.metadata.name).sort(), apps.map((a) => a.metadata.name).sort());
  for (const g of generated) {
    const own = apps.find((a) => a.metadata.name === g.metadata.name)!;
    const { destination: _g, ...genSpec } = g.spec;
    const { destination: _o, ...ownSpec } = own.spec;
    t.same(genSpec, ownSpec, `${g.metadata.name}: the ApplicationSet generates the same Application`);
    t.equal(g.spec.destination.namespace, own.spec.destination.namespace);
  }
});

const rendered = new Map<string, K8sObject[]>();
const allApps = [
  ...apps,
  ...generate(
    parseAllDocuments(await readFile(path.join(argocd, 'applicationset.yaml'), 'utf8'))[0]!.toJS(),
  ).map((a) => ({ ...a, metadata: { ...a.metadata, name: `${a.metadata.name} (applicationset)` } })),
];

for (const app of allApps) {
  t.test(`${app.metadata.name}: release name pinned, paths exist, renders valid, permitted`, async (t) => {
    t.same(releaseNameProblems(app), []);
    t.ok(app.spec.syncPolicy, 'has a sync policy');
    for (const [cluster, apiVersions] of Object.entries(clusters)) {
      const plan = await planApplication(app, { apiVersions });
      t.ok(plan.valueFiles.length >= 1, 'has value files, all present');
      const yaml = await plan.render();
      const objects = parseManifests(yaml);
      t.ok(objects.length > 0, `${cluster}: renders objects`);
      t.same(await validateManifests(yaml), [], `${cluster}: schema-valid`);
      t.same(
        projectProblems(project, app, appliedObjects(objects)),
        [],
        `${cluster}: the project permits it`,
      );
      rendered.set(`${app.metadata.name} ${cluster}`, appliedObjects(objects));
    }
  });
}

t.test('the namespaced whitelist is exactly the kinds the Applications render', async (t) => {
  const key = (g: { group: string; kind: string }) => `${g.group}/${g.kind}`;
  const kinds = new Set(
    [...rendered.values()]
      .flat()
      .filter((o) => !isClusterScoped(o))
      .map((o) => key(groupKind(o))),
  );
  t.same([...kinds].sort(), (project.spec.namespaceResourceWhitelist ?? []).map(key).sort());
  t.same(project.spec.clusterResourceWhitelist, [{ group: '', kind: 'Namespace' }]);
});

t.test('negative: each rule can fail', async (t) => {
  const app = structuredClone(apps[0]!);
  const objects = rendered.values().next().value as K8sObject[];

  const missing = structuredClone(app);
  missing.spec.source!.helm!.valueFiles = ['../../environments/nowhere/values.yaml'];
  await t.rejects(planApplication(missing), {
    message: /value file '..\/..\/environments\/nowhere\/values.yaml' does not exist/,
  });

  const unpinned = structuredClone(app);
  delete unpinned.spec.source!.helm!.releaseName;
  t.match(releaseNameProblems(unpinned), [/has no helm.releaseName/]);

  const elsewhere = structuredClone(app);
  elsewhere.spec.destination.namespace = 'kube-system';
  t.match(projectProblems(project, elsewhere, []), [/namespace "kube-system" is not permitted/]);

  const stray = { ...objects[0]!, metadata: { ...objects[0]!.metadata, namespace: 'default' } };
  t.match(projectProblems(project, app, [stray]), [/namespace "default" is not permitted/]);

  const role: K8sObject = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'x' },
  };
  const job: K8sObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'y' } };
  t.match(projectProblems(project, app, [role, job]), [
    /ClusterRole\/x: cluster-scoped kind not permitted/,
    /Job\/y: kind batch\/Job not permitted/,
  ]);

  const otherRepo = structuredClone(app);
  otherRepo.spec.source!.repoURL = 'https://git.example.org/elsewhere/x.git';
  t.match(projectProblems(project, otherRepo, []), [
    /source https:\/\/git.example.org\/elsewhere\/x.git is not permitted/,
  ]);
});
