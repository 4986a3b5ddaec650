// The Argo CD manifests under argocd/ as files: schema-valid against Argo CD's own CRDs (offline,
// before any cluster), one Application per environment named after its file, each pinning the
// release name and reading its environment's values. What Argo CD does with them (render, sync,
// project rules, the ApplicationSet) is tested on the real Argo CD: argocd-*.test.ts.
import t from 'tap';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { validateManifests } from '../../tools/lib/k8s-validate.ts';
import { repoRoot } from './fixtures.ts';

const argocd = path.join(repoRoot, 'argocd');
const appFiles = (await readdir(path.join(argocd, 'applications'))).filter((f) => f.endsWith('.yaml')).sort();

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

t.test('one Application per environment, named after its file, release name pinned', async (t) => {
  t.same(appFiles, ['hit-counter-eks.yaml', 'hit-counter-minikube.yaml']);
  for (const file of appFiles) {
    const app = parse(await readFile(path.join(argocd, 'applications', file), 'utf8'));
    const env = file.replace(/^hit-counter-|\.yaml$/g, '');
    t.equal(`${app.metadata.name}.yaml`, file);
    // Object names derive from the release name: renaming an Application must rename nothing.
    t.equal(app.spec.source.helm.releaseName, 'hit-counter', `${file}: helm.releaseName pinned`);
    t.same(app.spec.source.helm.valueFiles, [`../../environments/${env}/values.yaml`]);
    await access(path.join(repoRoot, app.spec.source.path, app.spec.source.helm.valueFiles[0]));
  }
});
