// gitops:set-repo sets the repository URL in its one place, argocd/values.yaml (and, with --image,
// the image repository in every environment), on a copy of the repository, touching nothing else;
// every Argo CD object rendered from the copy then names the new repository.
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { parseManifests } from '../../tools/lib/helm.ts';
import { environments, renderArgocd, repoRoot, runCli, tempCheckout } from './fixtures.ts';

const setRepo = (root: string, ...args: string[]) => runCli('set-repo.ts', root, args);
const fork = 'https://git.example.org/someone/hit-counter-fork.git';

async function argocdFiles(root: string): Promise<Map<string, string>> {
  const dir = path.join(root, 'argocd');
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
  return new Map(
    await Promise.all(files.map(async (f) => [f, await readFile(path.join(dir, f), 'utf8')] as const)),
  );
}

const repoUrlOf = (files: Map<string, string>): string => parse(files.get('values.yaml')!).repoURL;

/** Every repository the Argo CD objects rendered for each environment name, deduplicated. */
async function renderedRepos(root: string): Promise<string[]> {
  const repos = new Set<string>();
  for (const environment of ['minikube', 'eks'])
    for (const o of parseManifests(await renderArgocd(root, { environment })))
      if (o.apiVersion.startsWith('argoproj.io/'))
        for (const r of o.kind === 'AppProject' ? o.spec.sourceRepos : [o.spec.source.repoURL]) repos.add(r);
  return [...repos];
}

t.test('the repository URL is written once in argocd/, and every object takes it from there', async (t) => {
  const files = await argocdFiles(repoRoot);
  const url = repoUrlOf(files);
  t.match(url, /^https:\/\/\S+\.git$/);
  const count = [...files.values()].reduce((n, text) => n + text.split(url).length - 1, 0);
  t.equal(count, 1, 'once, in values.yaml');
  t.same(await renderedRepos(repoRoot), [url]);
});

t.test(
  'a fork URL replaces it: one line changes, every object follows, a second run changes nothing',
  async (t) => {
    const root = await tempCheckout(t, ['argocd']);
    const before = await argocdFiles(root);
    const url = repoUrlOf(before);
    const r = await setRepo(root, fork);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'updated: argocd/values.yaml\n');
    const after = await argocdFiles(root);
    t.equal(
      after.get('values.yaml'),
      before.get('values.yaml')!.replace(`repoURL: ${url}\n`, `repoURL: ${fork}\n`),
    );
    for (const [file, text] of before) if (file !== 'values.yaml') t.equal(after.get(file), text, file);
    t.same(await renderedRepos(root), [fork]);
    for (const env of Object.keys(environments)) {
      t.equal(await readFile(path.join(root, 'environments', env, 'values.yaml'), 'utf8'), environments[env]);
    }
    const again = await setRepo(root, fork);
    t.equal(again.stdout, 'nothing to change\n');
  },
);

t.test('--image sets image.repository in every environment', async (t) => {
  const root = await tempCheckout(t, ['argocd']);
  const r = await setRepo(
    root,
    'git@git.example.org:someone/hit-counter.git',
    '--image',
    'registry.example.org:5000/someone/hit-counter',
  );
  t.equal(r.code, 0, r.stderr);
  const read = (env: string) => readFile(path.join(root, 'environments', env, 'values.yaml'), 'utf8');
  t.equal(
    await read('minikube'),
    environments.minikube!.replace(
      'repository: hit-counter',
      'repository: registry.example.org:5000/someone/hit-counter',
    ),
  );
  t.equal(
    await read('eks'),
    environments.eks!.replace(
      'repository: acme/hit-counter',
      'repository: registry.example.org:5000/someone/hit-counter',
    ),
  );
  t.match(
    (await argocdFiles(root)).get('values.yaml'),
    '\nrepoURL: git@git.example.org:someone/hit-counter.git\n',
  );
});

t.test('bad URLs and image repositories are refused and change nothing', async (t) => {
  const root = await tempCheckout(t, ['argocd']);
  const before = await argocdFiles(root);
  const cases: [string[], RegExp][] = [
    [['not a url'], /not a git repository URL: "not a url"/],
    [['ftp://git.example.org/a/b.git'], /not a git repository URL/],
    [['https://git.example.org/'], /not a git repository URL/],
    [['https://user:secret@git.example.org/a/b.git'], /carries a password/],
    [[fork, '--image', 'Upper/Case'], /not an image repository: "Upper\/Case"/],
    [[fork, '--image', 'someone/hit-counter:1.0.0'], /not an image repository/],
    [[], /usage: npm run gitops:set-repo -- <git-url>/],
  ];
  for (const [args, message] of cases) {
    const r = await setRepo(root, ...args);
    t.equal(r.code, 1, `${args.join(' ')} exits 1`);
    t.match(r.stderr, message);
  }
  t.same(await argocdFiles(root), before);
});

t.test('a checkout without argocd/values.yaml is refused', async (t) => {
  const root = await tempCheckout(t);
  const r = await setRepo(root, fork);
  t.equal(r.code, 1);
  t.match(r.stderr, /set-repo: no argocd\/values\.yaml at /);
});
