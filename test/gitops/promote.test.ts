// The promotion CLI edits only image.tag: every other byte, comments included, stays; it refuses bad
// tags and unknown environments with a non-zero exit; a second run changes nothing.
import t from 'tap';
import { readFile, stat } from 'node:fs/promises';
import { parseDocument, type Scalar } from 'yaml';
import path from 'node:path';
import { environments, runCli, tempCheckout } from './fixtures.ts';

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
    [['set', 'minikube', 'latest'], 1, /invalid image tag "latest": expected X.Y.Z/],
    [['set', 'minikube', '1.2'], 1, /invalid image tag "1.2"/],
    [['set', 'minikube', '1.2.3+build.5'], 1, /invalid image tag/],
    [['set', 'minikube', 'sha-XYZ1234'], 1, /invalid image tag/],
    [['set', 'minikube', 'sha-12345'], 1, /invalid image tag/],
    [['set', 'prod', '1.2.3'], 1, /unknown environment "prod": expected one of eks, minikube, staging/],
    [['copy', 'minikube', 'prod'], 1, /unknown environment "prod"/],
    [['copy', 'prod', 'eks'], 1, /unknown environment "prod"/],
    [['set', 'minikube'], 2, /usage: npm run promote -- set <env> <tag>/],
    [['deploy'], 2, /usage:/],
    [['--bogus'], 1, /Unknown option '--bogus'/],
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
