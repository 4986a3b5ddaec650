// gitops:set-repo rewrites the repository URL in every argocd/ manifest (and, with --image, the image
// repository in every environment) on a copy of the repository, touching nothing else.
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { environments, repoRoot, runCli, tempCheckout } from './fixtures.ts';

const setRepo = (root: string, ...args: string[]) => runCli('set-repo.ts', root, args);
const fork = 'https://git.example.org/someone/hit-counter-fork.git';

async function manifests(root: string): Promise<Map<string, string>> {
  const dir = path.join(root, 'argocd');
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.yaml')).sort();
  return new Map(
    await Promise.all(files.map(async (f) => [f, await readFile(path.join(dir, f), 'utf8')] as const)),
  );
}

t.test('the repository URL appears exactly once in every manifest', async (t) => {
  const all = await manifests(repoRoot);
  const url = /https:\/\/\S+\.git/.exec(all.get('project.yaml')!)![0];
  t.ok(all.size >= 4, 'project, two Applications, ApplicationSet');
  for (const [file, text] of all) t.equal(text.split(url).length - 1, 1, file);
});

t.test(
  'a fork URL replaces it everywhere, nothing else changes, and a second run changes nothing',
  async (t) => {
    const root = await tempCheckout(t, ['argocd']);
    const before = await manifests(root);
    const url = /https:\/\/\S+\.git/.exec(before.get('project.yaml')!)![0];
    const r = await setRepo(root, fork);
    t.equal(r.code, 0, r.stderr);
    const after = await manifests(root);
    for (const [file, text] of before) t.equal(after.get(file), text.replaceAll(url, fork), file);
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
  t.match((await manifests(root)).get('project.yaml'), '- git@git.example.org:someone/hit-counter.git\n');
});

t.test('bad URLs and image repositories are refused and change nothing', async (t) => {
  const root = await tempCheckout(t, ['argocd']);
  const before = await manifests(root);
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
  t.same(await manifests(root), before);
});
