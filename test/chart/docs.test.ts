// The chart READMEs' values tables are generated (tools/docs.ts: helm-docs from the `# --` comments
// of each values.yaml): every committed README is what `npm run docs` writes, a stale one is named
// with the fix, and a value without a description stops the generation.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { fixCommand, generateReadmes, staleReadmes } from '../../tools/docs.ts';
import { repoRoot } from './chart.ts';

const run = promisify(execFile);
const charts = [
  'charts/hit-counter',
  ...['redis', 'nginx', 'servicemonitor'].map((c) => `charts/hit-counter/charts/${c}`),
];

/** A copy of the repository's charts/ in a temporary root, `edit`ed; removed after the test. */
async function checkout(t: Test, edit: Record<string, (text: string) => string> = {}): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'hit-counter-docs-test-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await cp(path.join(repoRoot, 'charts'), path.join(root, 'charts'), {
    recursive: true,
    verbatimSymlinks: true,
  });
  for (const [file, change] of Object.entries(edit)) {
    const text = await readFile(path.join(root, file), 'utf8');
    const changed = change(text);
    if (changed === text) throw new Error(`the edit of ${file} changed nothing`);
    await writeFile(path.join(root, file), changed);
  }
  return root;
}

t.test('every chart README is what `npm run docs` generates', async (t) => {
  const readmes = await generateReadmes(repoRoot);
  for (const chart of charts) t.ok(readmes.has(`${chart}/README.md`), `${chart} has a generated README`);
  t.same(await staleReadmes(repoRoot), [], 'no README differs from its generation');
});

t.test('a README its values no longer match is named, with the fix', async (t) => {
  const nginx = 'charts/hit-counter/charts/nginx';
  const redis = 'charts/hit-counter/charts/redis';
  const root = await checkout(t, {
    [`${nginx}/values.yaml`]: (s) => s.replace('# -- Number of nginx pods.', '# -- How many nginx pods run.'),
    [`${redis}/values.yaml`]: (s) => s.replace('  quorum: 2\n', '  quorum: 3\n'),
  });
  t.same(
    (await staleReadmes(root)).sort(),
    [
      `${redis}/README.md is not what its values.yaml and README.md.gotmpl generate: run \`${fixCommand}\``,
      `${nginx}/README.md is not what its values.yaml and README.md.gotmpl generate: run \`${fixCommand}\``,
    ].sort(),
  );
  const check = await run(process.execPath, [
    path.join(repoRoot, 'tools/docs.ts'),
    '--check',
    '--root',
    root,
  ]).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  t.equal(check.code, 1, '--check exits 1');
  t.match(check.stderr, `${nginx}/README.md is not what`);
  t.match(check.stderr, `run \`${fixCommand}\``);

  // The fix: generation writes both, and the check passes.
  await run(process.execPath, [path.join(repoRoot, 'tools/docs.ts'), '--root', root]);
  t.same(await staleReadmes(root), []);
  t.match(
    await readFile(path.join(root, nginx, 'README.md'), 'utf8'),
    /\| `replicaCount` +\| int +\| `2` +\| How many nginx pods run\. +\|/,
  );
});

t.test('a value without a description stops the generation, naming it', async (t) => {
  const umbrella = 'charts/hit-counter/values.yaml';
  const redis = 'charts/hit-counter/charts/redis/values.yaml';
  await t.rejects(
    generateReadmes(await checkout(t, { [umbrella]: (s) => `${s}newValue: 1\n` })),
    { message: `${umbrella}: newValue has no "# --" description` },
    'a new top-level value',
  );
  await t.rejects(
    generateReadmes(
      await checkout(t, { [redis]: (s) => s.replace('  # -- Port each Sentinel listens on.\n', '') }),
    ),
    { message: `${redis}: sentinel.port has no "# --" description (sentinel documents its keys one by one)` },
    'a key of a map whose other keys are documented one by one',
  );
  await t.rejects(
    generateReadmes(
      await checkout(t, {
        [umbrella]: (s) => s.replace('# -- Log level of the service', '# Log level of the service'),
      }),
    ),
    { message: `${umbrella}: logLevel has no "# --" description` },
    'a plain comment is no description',
  );
  await t.rejects(
    generateReadmes(
      await checkout(t, {
        [redis]: (s) => s.replace("(RDB via `redis-cli`'s `--rdb`", '(RDB via redis-cli --rdb'),
      }),
    ),
    /redis\/values\.yaml:\d+: " --" inside a "# --" line/,
    "a ' --' that helm-docs would read as the old `# key -- text` form",
  );
  await t.rejects(
    generateReadmes(
      await checkout(t, {
        'charts/hit-counter/charts/servicemonitor/README.md.gotmpl': (s) =>
          s.replace('{{ template "chart.valuesTable" . }}', ''),
      }),
    ),
    /charts\/hit-counter\/charts\/servicemonitor: README\.md\.gotmpl with .* is missing/,
    'a chart with values and no table',
  );
});

t.test('a chart with no values (a library chart) has no table and is left alone', async (t) => {
  const root = await checkout(t);
  const lib = path.join(root, 'charts/hit-counter/charts/library-example');
  await mkdir(lib);
  await writeFile(
    path.join(lib, 'Chart.yaml'),
    'apiVersion: v2\nname: library-example\nversion: 0.1.0\ntype: library\n',
  );
  const readmes = await generateReadmes(root);
  t.same([...readmes.keys()].sort(), charts.map((c) => `${c}/README.md`).sort());
});
