// tools/lib/argocd.ts renders an Application as Argo CD's repo-server does: release name, namespace,
// value file resolution and order, inline values, parameters, API versions, CRDs. A small chart in
// a temporary repository echoes what helm received; real helm renders it.
import t, { type Test } from 'tap';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseManifests } from '../../tools/lib/helm.ts';
import { planApplication, type Application } from '../../tools/lib/argocd.ts';

const chart = {
  'Chart.yaml': 'apiVersion: v2\nname: echo\nversion: 0.1.0\n',
  'values.yaml': 'a: chart\nb: chart\nc: chart\nd: chart\nlist: x\n',
  'crds/thing.yaml': [
    'apiVersion: apiextensions.k8s.io/v1',
    'kind: CustomResourceDefinition',
    'metadata: {name: things.example.org}',
    '',
  ].join('\n'),
  'templates/echo.yaml': [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: {{ .Release.Name }}',
    '  namespace: {{ .Release.Namespace }}',
    'data:',
    '  a: {{ .Values.a | quote }}',
    '  b: {{ .Values.b | quote }}',
    '  c: {{ .Values.c | quote }}',
    '  d: {{ .Values.d | quote }}',
    '  list: {{ .Values.list | toJson | quote }}',
    '  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}',
    '',
  ].join('\n'),
};

async function makeRepo(t: Test): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'argocd-render-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    ...Object.fromEntries(Object.entries(chart).map(([f, text]) => [`charts/echo/${f}`, text])),
    'environments/one/values.yaml': 'a: one\nb: one\n',
    'environments/two/values.yaml': 'b: two\n',
  };
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  }
  return root;
}

function app(helm: Record<string, unknown>, extra: Partial<Application['spec']> = {}): Application {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'echo-app', namespace: 'argocd' },
    spec: {
      project: 'p',
      source: { repoURL: 'https://example.org/r.git', path: 'charts/echo', helm },
      destination: { server: 'https://kubernetes.default.svc', namespace: 'target' },
      ...extra,
    },
  };
}

async function render(root: string, a: Application, apiVersions: string[] = []) {
  const plan = await planApplication(a, { repoRoot: root, apiVersions });
  const objects = parseManifests(await plan.render());
  const cm = objects.find((o) => o.kind === 'ConfigMap');
  return { plan, objects, cm, data: cm?.data as Record<string, string> };
}

t.test('value files in order, then inline values, then parameters', async (t) => {
  const root = await makeRepo(t);
  const { plan, data, cm } = await render(
    root,
    app({
      releaseName: 'pinned',
      valueFiles: ['../../environments/one/values.yaml', '/environments/two/values.yaml'],
      valuesObject: { c: 'inline' },
      parameters: [
        { name: 'd', value: 'param' },
        { name: 'list', value: 'p,q' },
      ],
    }),
  );
  t.same(data, { a: 'one', b: 'two', c: 'inline', d: 'param', list: '"p,q"', monitoring: 'false' });
  t.equal(cm?.metadata.name, 'pinned', 'helm.releaseName is the release name');
  t.equal(cm?.metadata.namespace, 'target', 'destination.namespace is the release namespace');
  t.same(plan.args, [
    'template',
    '.',
    '--name-template',
    'pinned',
    '--namespace',
    'target',
    '--set',
    'd=param',
    '--set',
    'list=p\\,q',
    '--values',
    path.join(root, 'environments/one/values.yaml'),
    '--values',
    path.join(root, 'environments/two/values.yaml'),
    '--values',
    '<inline values>',
    '--include-crds',
  ]);
});

t.test('the app name is the release name when none is pinned; helm.namespace wins', async (t) => {
  const root = await makeRepo(t);
  const { cm } = await render(root, app({ namespace: 'other', values: 'a: text\n' }));
  t.equal(cm?.metadata.name, 'echo-app');
  t.equal(cm?.metadata.namespace, 'other');
  t.equal((cm?.data as Record<string, string>).a, 'text', 'values (a string) apply too');
});

t.test('$values/ resolves from the root of the source with ref: values', async (t) => {
  const root = await makeRepo(t);
  const { data } = await render(root, {
    ...app({}),
    spec: {
      project: 'p',
      sources: [
        {
          repoURL: 'https://example.org/r.git',
          path: 'charts/echo',
          helm: { valueFiles: ['$values/environments/two/values.yaml'] },
        },
        { repoURL: 'https://example.org/r.git', ref: 'values' },
      ],
      destination: { namespace: 'target' },
    },
  });
  t.equal(data.b, 'two');
  await t.rejects(
    planApplication(app({ valueFiles: ['$nope/environments/two/values.yaml'] }), { repoRoot: root }),
    /names no source with ref \$nope/,
  );
});

t.test('cluster API versions reach .Capabilities; CRDs are included unless skipCrds', async (t) => {
  const root = await makeRepo(t);
  const withApis = await render(root, app({}), ['monitoring.coreos.com/v1']);
  t.equal(withApis.data.monitoring, 'true');
  t.ok(
    withApis.objects.some((o) => o.kind === 'CustomResourceDefinition'),
    '--include-crds',
  );
  const skip = await render(root, app({ skipCrds: true }));
  t.notOk(
    skip.objects.some((o) => o.kind === 'CustomResourceDefinition'),
    'skipCrds',
  );
  t.notOk(skip.plan.args.includes('--include-crds'));
});

t.test('a missing value file is an error unless ignoreMissingValueFiles', async (t) => {
  const root = await makeRepo(t);
  const missing = ['../../environments/three/values.yaml', '../../environments/one/values.yaml'];
  await t.rejects(planApplication(app({ valueFiles: missing }), { repoRoot: root }), {
    message: /value file '..\/..\/environments\/three\/values.yaml' does not exist/,
  });
  const { data } = await render(root, app({ valueFiles: missing, ignoreMissingValueFiles: true }));
  t.equal(data.a, 'one', 'the missing file is skipped, the others apply');
});

t.test('paths may not leave the repository; the source must be a chart', async (t) => {
  const root = await makeRepo(t);
  await t.rejects(planApplication(app({ valueFiles: ['../../../outside.yaml'] }), { repoRoot: root }), {
    message: /resolved to outside repository root/,
  });
  const notChart = app({});
  notChart.spec.source!.path = 'environments';
  await t.rejects(planApplication(notChart, { repoRoot: root }), { message: /is not a Helm chart/ });
  await t.rejects(planApplication({ ...app({}), kind: 'AppProject' }, { repoRoot: root }), {
    message: /expected kind Application/,
  });
});
