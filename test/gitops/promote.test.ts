// The promotion CLI edits only image.tag (and, for an environment that pins its chart, its
// chartRevision in argocd/values.yaml): every other byte, comments included, stays; it refuses bad
// tags and unknown environments with exit 2; a second run changes nothing. `diff` shows what a
// promotion does to the rendered manifests (the tag, and the chart between the two commits),
// rendered with the real chart and the pinned helm.
import t from 'tap';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { parseDocument, type Scalar } from 'yaml';
import path from 'node:path';
import { renderEnvironment } from '../../tools/lib/environment.ts';
import { setYamlScalar, splitRendered } from '../../tools/promote.ts';
import { environments, gitIn, pinnedCheckout, runCli, tempCheckout } from './fixtures.ts';

const promote = (root: string, ...args: string[]) => runCli('promote.ts', root, args);
const read = (root: string, env: string) =>
  readFile(path.join(root, 'environments', env, 'values.yaml'), 'utf8');

t.test('set changes the tag and nothing else, whatever the quoting', async (t) => {
  const root = await tempCheckout(t);
  let r = await promote(root, 'set', 'minikube', 'sha-abcdef0');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'minikube: image.tag sha-0123456 -> sha-abcdef0');
  t.equal(await read(root, 'minikube'), environments.minikube!.replace('"sha-0123456"', '"sha-abcdef0"'));

  r = await promote(root, 'set', 'eks', 'v1.3.0-rc.1');
  t.equal(r.code, 0, r.stderr);
  t.equal(await read(root, 'eks'), environments.eks!.replace("'1.2.0'", "'v1.3.0-rc.1'"));
});

t.test('set adds a missing tag on its own commented line under image', async (t) => {
  const root = await tempCheckout(t);
  const r = await promote(root, 'set', 'staging', '2.0.0');
  t.equal(r.code, 0, r.stderr);
  t.equal(
    await read(root, 'staging'),
    environments.staging!.replace(
      'image:\n',
      'image:\n  tag: "2.0.0"  # the image tag deployed here; set by `npm run promote`\n',
    ),
  );
});

t.test('copy takes the tag of one environment into another', async (t) => {
  const root = await tempCheckout(t);
  const r = await promote(root, 'copy', 'minikube', 'eks');
  t.equal(r.code, 0, r.stderr);
  t.equal(await read(root, 'eks'), environments.eks!.replace("'1.2.0'", "'sha-0123456'"));
  t.equal(await read(root, 'minikube'), environments.minikube, 'the source is untouched');
  const none = await promote(root, 'copy', 'staging', 'eks');
  t.equal(none.code, 1);
  t.match(none.stderr, 'staging sets no image.tag');
});

t.test('show lists every environment and its tag', async (t) => {
  const root = await tempCheckout(t);
  const r = await promote(root, 'show');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'eks       1.2.0\nminikube  sha-0123456\nstaging   (chart appVersion)\n');
});

t.test('a second run writes nothing', async (t) => {
  const root = await tempCheckout(t);
  t.equal((await promote(root, 'set', 'minikube', '1.4.0')).code, 0);
  const file = path.join(root, 'environments/minikube/values.yaml');
  const [before, mtime] = [await read(root, 'minikube'), (await stat(file)).mtimeMs];
  for (const args of [
    ['set', 'minikube', '1.4.0'],
    ['copy', 'minikube', 'minikube'],
  ]) {
    const r = await promote(root, ...args);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, 'already 1.4.0; nothing changed');
  }
  t.equal(await read(root, 'minikube'), before);
  t.equal((await stat(file)).mtimeMs, mtime, 'the file was not rewritten');
});

t.test('bad tags, unknown environments and bad usage exit non-zero and change nothing', async (t) => {
  const root = await tempCheckout(t);
  const cases: [string[], number, RegExp][] = [
    [['set', 'minikube', 'latest'], 2, /invalid image tag "latest": expected X.Y.Z/],
    [['set', 'minikube', '1.2'], 2, /invalid image tag "1.2"/],
    [['set', 'minikube', '1.2.3+build.5'], 2, /invalid image tag/],
    [['set', 'minikube', 'sha-XYZ1234'], 2, /invalid image tag/],
    [['set', 'minikube', 'sha-12345'], 2, /invalid image tag/],
    [['set', 'prod', '1.2.3'], 2, /unknown environment "prod": expected one of eks, minikube, staging/],
    [['copy', 'minikube', 'prod'], 2, /unknown environment "prod"/],
    [['copy', 'prod', 'eks'], 2, /unknown environment "prod"/],
    [['set', 'minikube'], 2, /usage: npm run promote -- set <env> <tag>/],
    [['set', 'minikube', '1.2.3', '--tag', '1.2.3'], 2, /usage:/],
    [['deploy'], 2, /usage:/],
    [['--bogus'], 2, /Unknown option '--bogus'/],
  ];
  for (const [args, code, message] of cases) {
    const r = await promote(root, ...args);
    t.equal(r.code, code, `${args.join(' ')} exits ${code}`);
    t.match(r.stderr, message);
  }
  for (const env of Object.keys(environments))
    t.equal(await read(root, env), environments[env], `${env} unchanged`);
});

t.test("the repository's own environment files: only the tag line changes", async (t) => {
  const root = await tempCheckout(t, ['environments']);
  for (const env of ['minikube', 'eks']) {
    const before = await read(root, env);
    const r = await promote(root, 'set', env, 'sha-0123abc');
    t.equal(r.code, 0, r.stderr);
    const after = (await read(root, env)).split('\n');
    const node = parseDocument(before).getIn(['image', 'tag'], true) as Scalar | undefined;
    const lines = before.split('\n');
    if (node?.range) {
      const at = before.slice(0, node.range[0]).split('\n').length - 1;
      t.match(after[at], /^\s+tag: ["']?sha-0123abc["']?(\s+#.*)?$/, `${env}: the tag line`);
      t.same(
        [...after.slice(0, at), ...after.slice(at + 1)],
        [...lines.slice(0, at), ...lines.slice(at + 1)],
        `${env}: the rest`,
      );
    } else {
      const at = after.findIndex((l) => l.includes('sha-0123abc'));
      t.same(
        [...after.slice(0, at), ...after.slice(at + 1)],
        lines,
        `${env}: one line added, the rest unchanged`,
      );
    }
  }
});

/** The files a unified diff touches (`diff --git` headers) and the lines it removes and adds. */
function changes(diff: string): { files: string[]; removed: string[]; added: string[] } {
  const files: string[] = [];
  const removed: string[] = [];
  const added: string[] = [];
  let header = false;
  for (const line of diff.split('\n')) {
    // A file only in b (a new object) is `b/<file> b/<file>`.
    const file = /^diff --git [ab]\/(\S+) b\//.exec(line);
    if (file) {
      files.push(file[1]!);
      header = true;
    } else if (line.startsWith('@@')) header = false;
    else if (!header && line.startsWith('-')) removed.push(line.slice(1));
    else if (!header && line.startsWith('+')) added.push(line.slice(1));
  }
  return { files, removed, added };
}

t.test('diff: a tag change changes the image line of the service Deployment, nothing else', async (t) => {
  const root = await tempCheckout(t, ['charts']);
  for (const [args, image] of [
    [['--tag', 'sha-abcdef0'], 'acme/hit-counter:sha-abcdef0'],
    [['--from', 'minikube'], 'acme/hit-counter:sha-0123456'],
  ] as const) {
    const r = await promote(root, 'diff', 'eks', ...args);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^diff --git a\/Deployment\/hit-counter\.yaml b\/Deployment\/hit-counter\.yaml\n/);
    t.same(
      changes(r.stdout),
      {
        files: ['Deployment/hit-counter.yaml'],
        removed: ['          image: acme/hit-counter:1.2.0'],
        added: [`          image: ${image}`],
      },
      `diff eks ${args.join(' ')}`,
    );
  }
  for (const env of Object.keys(environments))
    t.equal(await read(root, env), environments[env], `${env} is not written`);
});

t.test('diff: the same tag is "no rendered change"', async (t) => {
  const root = await tempCheckout(t, ['charts']);
  const r = await promote(root, 'diff', 'eks', '--tag', '1.2.0');
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'eks: no rendered change with image.tag 1.2.0\n');
});

t.test('diff: bad input is one line and exit 2; a source without a tag is exit 1', async (t) => {
  const root = await tempCheckout(t, ['charts']);
  const cases: [string[], number, RegExp][] = [
    [
      ['diff', 'prod', '--tag', '1.2.3'],
      2,
      /^promote: unknown environment "prod": expected one of eks, minikube, staging\n$/,
    ],
    [['diff', 'eks', '--tag', 'latest'], 2, /^promote: invalid image tag "latest": expected X.Y.Z[^\n]*\n$/],
    [['diff', 'eks', '--from', 'prod'], 2, /^promote: unknown environment "prod"[^\n]*\n$/],
    [['diff', 'eks', '--from', 'staging'], 1, /^promote: staging sets no image.tag[^\n]*\n$/],
    [['diff', 'eks'], 2, /usage:/],
    [['diff', 'eks', '--tag', '1.2.3', '--from', 'minikube'], 2, /usage:/],
    [['diff', 'eks', 'minikube', '--tag', '1.2.3'], 2, /usage:/],
    [['diff', 'eks', '--tag'], 2, /argument missing/],
  ];
  for (const [args, code, message] of cases) {
    const r = await promote(root, ...args);
    t.equal(r.code, code, `${args.join(' ')} exits ${code}`);
    t.match(r.stderr, message);
    t.equal(r.stdout, '');
  }
});

t.test("diff on the repository's own environments: the image line only, or no change", async (t) => {
  const root = await tempCheckout(t, ['environments', 'charts']);
  for (const env of ['minikube', 'eks']) {
    const text = await read(root, env);
    const tag = parseDocument(text).getIn(['image', 'tag']) as string;
    const r = await promote(root, 'diff', env, '--tag', 'sha-0123abc');
    t.equal(r.code, 0, r.stderr);
    const { files, removed, added } = changes(r.stdout);
    t.same(files, ['Deployment/hit-counter.yaml'], `${env}: only the service Deployment`);
    t.same([removed.length, added.length], [1, 1], `${env}: one line`);
    t.match(removed[0], new RegExp(`^ +image: \\S+:${tag.replaceAll('.', '\\.')}$`));
    t.equal(added[0], removed[0]!.replace(`:${tag}`, ':sha-0123abc'));
    const same = await promote(root, 'diff', env, '--tag', tag);
    t.equal(same.stdout, `${env}: no rendered change with image.tag ${tag}\n`);
    t.equal(await read(root, env), text, `${env} is not written`);
  }
});

t.test('the rendered stream splits into the same files whatever the order of its objects', async (t) => {
  const yaml = await renderEnvironment('eks');
  const files = splitRendered(yaml);
  const docs = yaml.split(/^---$/m);
  const reordered = splitRendered([...docs.slice(1).reverse(), docs[0]].join('---'));
  t.ok(files.size > 10, `one file per object (${files.size})`);
  t.ok(files.has('Deployment/hit-counter.yaml'));
  t.same(Object.fromEntries(reordered), Object.fromEntries(files));
  t.throws(() => splitRendered(`${yaml}---\n${docs[1]}`), /two rendered objects are both/);
});

// ---- an environment that pins its chart (chartRevision in argocd/values.yaml) ----------------

const readArgo = (root: string) => readFile(path.join(root, 'argocd/values.yaml'), 'utf8');
const chartRevisionOf = (text: string) =>
  parseDocument(text).getIn(['environments', 'eks', 'chartRevision']) as string;

t.test('copy to a pinned environment moves its chart to the commit the source runs', async (t) => {
  const { root, first, second } = await pinnedCheckout(t);
  const argo = await readArgo(root);
  const r = await promote(root, 'copy', 'minikube', 'eks');
  t.equal(r.code, 0, r.stderr);
  t.equal(
    r.stdout,
    `eks: image.tag 1.2.0 -> sha-0123456, chartRevision ${first.slice(0, 12)} -> ${second.slice(0, 12)}\n`,
  );
  t.equal(await read(root, 'eks'), environments.eks!.replace("'1.2.0'", "'sha-0123456'"));
  t.equal(await readArgo(root), argo.replace(first, second), 'argocd/values.yaml: that line only');
  t.match(argo, /# -- Instead of `targetRevision`/, 'its comments kept');
  const again = await promote(root, 'copy', 'minikube', 'eks');
  t.equal(
    again.stdout,
    `eks: image.tag is already sha-0123456, chartRevision is already ${second.slice(0, 12)}; nothing changed\n`,
  );
  const back = await promote(root, 'copy', 'eks', 'minikube');
  t.equal(back.code, 0, back.stderr);
  t.equal(back.stdout, 'minikube: image.tag is already sha-0123456; nothing changed\n');
  t.equal(await readArgo(root), argo.replace(first, second), 'minikube pins nothing: no chart edit');
});

t.test("set on a pinned environment pins the checkout's HEAD, only from the branch", async (t) => {
  const { root, second } = await pinnedCheckout(t);
  const r = await promote(root, 'set', 'eks', '2.0.0');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `chartRevision`);
  t.equal(chartRevisionOf(await readArgo(root)), second);
  const show = await promote(root, 'show');
  t.equal(
    show.stdout,
    [
      `eks       2.0.0        chart ${second}`,
      'minikube  sha-0123456  chart main',
      'staging   (chart appVersion)',
      '',
    ].join('\n'),
  );
  // A commit off main: promoting its chart would pin a commit main does not hold.
  await gitIn(root, ['checkout', '--quiet', '-b', 'feature']);
  await gitIn(root, ['commit', '--quiet', '--allow-empty', '-m', 'a commit off main']);
  const off = await promote(root, 'set', 'eks', '2.0.1');
  t.equal(off.code, 1);
  t.match(
    off.stderr,
    /the checkout's HEAD \(\w{12}\) is not refs\/heads\/main \(\w{12}\): promote from a checkout of main/,
  );
  t.match(await read(root, 'eks'), "tag: '2.0.0'", 'nothing written');
});

t.test('diff on a pinned environment: the chart between the two commits, and the tag', async (t) => {
  const { root, first, second } = await pinnedCheckout(t);
  const r = await promote(root, 'diff', 'eks', '--from', 'minikube');
  t.equal(r.code, 0, r.stderr);
  const { files, removed, added } = changes(r.stdout);
  t.same(files, ['ConfigMap/hit-counter/chart-change.yaml', 'Deployment/hit-counter.yaml']);
  t.same(removed, ['          image: acme/hit-counter:1.2.0']);
  t.same(added.slice(-1), ['          image: acme/hit-counter:sha-0123456']);
  t.match(added.join('\n'), /kind: ConfigMap\n[\s\S]*name: chart-change[\s\S]*added: in the second commit/);
  t.equal(chartRevisionOf(await readArgo(root)), first, 'nothing written');

  // At the same chart, only the tag; at the same chart and tag, nothing.
  await promote(root, 'copy', 'minikube', 'eks');
  const same = await promote(root, 'diff', 'eks', '--from', 'minikube');
  t.equal(
    same.stdout,
    `eks: no rendered change with image.tag sha-0123456 and the chart at ${second.slice(0, 12)}\n`,
  );
});

t.test('a pinned chart the checkout does not hold is a failure that says so', async (t) => {
  const { root } = await pinnedCheckout(t);
  const missing = 'f'.repeat(40);
  const argo = path.join(root, 'argocd/values.yaml');
  await writeFile(
    argo,
    setYamlScalar(await readArgo(root), ['environments', 'eks', 'chartRevision'], missing),
  );
  const r = await promote(root, 'diff', 'eks', '--tag', '1.2.0');
  t.equal(r.code, 1);
  t.match(r.stderr, `${missing} is not a commit of the checkout`);
  const none = await tempCheckout(t, ['argocd/values.yaml']);
  const notGit = await promote(none, 'set', 'eks', '1.2.1');
  t.equal(notGit.code, 1);
  t.match(notGit.stderr, /is not a git checkout: the chart is promoted from its HEAD/);
  t.equal(await read(none, 'eks'), environments.eks, 'nothing written');
});
