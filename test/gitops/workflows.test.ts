// The GitHub workflows: actionlint (with shellcheck on the run: scripts) finds nothing, every job has
// least-privilege permissions, and the release/promotion wiring is what the delivery path needs.
import t from 'tap';
/* eslint-disable @typescript-eslint/no-explicit-any -- parsed workflow YAML is untyped */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { requireBinary } from '../../tools/lib/proc.ts';
import { repoRoot } from './fixtures.ts';

const workflowsDir = path.join(repoRoot, '.github', 'workflows');

function actionlint(files: string[]): Promise<{ code: number; output: string }> {
  const bin = requireBinary('actionlint');
  const shellcheck = requireBinary('shellcheck');
  return new Promise((resolve) => {
    execFile(bin, ['-no-color', '-shellcheck', shellcheck, ...files], (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

async function workflows(): Promise<Map<string, Record<string, any>>> {
  const files = (await readdir(workflowsDir)).filter((f) => f.endsWith('.yml')).sort();
  return new Map(
    await Promise.all(
      files.map(async (f) => [f, parse(await readFile(path.join(workflowsDir, f), 'utf8'))] as const),
    ),
  );
}

t.test('actionlint and shellcheck find nothing', async (t) => {
  const files = [...(await workflows()).keys()];
  t.same(files, ['ci.yml', 'infra.yml', 'promote.yml', 'release.yml']);
  const r = await actionlint(files.map((f) => path.join(workflowsDir, f)));
  t.equal(r.output, '');
  t.equal(r.code, 0);
});

t.test('actionlint catches a broken workflow (the check can fail)', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'actionlint-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const text = await readFile(path.join(workflowsDir, 'promote.yml'), 'utf8');
  const broken = path.join(dir, 'broken.yml');
  await writeFile(broken, text.replace('test "$FROM" != "$TO"', 'test $FROM != "$TO" && cd $UNSET_DIR'));
  const r = await actionlint([broken]);
  t.not(r.code, 0);
  t.match(r.output, /shellcheck reported issue/);
});

t.test('least privilege: nothing at the top level, an explicit grant per job', async (t) => {
  for (const [file, wf] of await workflows()) {
    t.same(wf.permissions, {}, `${file}: top-level permissions: {}`);
    for (const [name, job] of Object.entries<Record<string, any>>(wf.jobs)) {
      t.type(job.permissions, 'object', `${file} ${name} has permissions`);
      const writes = Object.entries(job.permissions as Record<string, string>).filter(
        ([, v]) => v === 'write',
      );
      for (const [scope] of writes)
        t.ok(
          ['contents', 'packages', 'id-token', 'pull-requests'].includes(scope),
          `${file} ${name}: ${scope}`,
        );
    }
  }
});

t.test(
  'release: image from vars.IMAGE_REGISTRY, signed, then a promotion that starts no workflow',
  async (t) => {
    const wf = (await workflows()).get('release.yml')!;
    t.same(wf.on.push.tags, ['v*']);
    t.ok(wf.on.push.paths.includes('service/**'));
    t.ok(wf.on.push.paths.includes('!environments/**'));
    const text = await readFile(path.join(workflowsDir, 'release.yml'), 'utf8');
    t.match(text, 'REGISTRY: ${{ vars.IMAGE_REGISTRY }}');
    t.equal(wf.jobs.ci.uses, './.github/workflows/ci.yml', 'the release runs the CI jobs first');
    const ci = (await workflows()).get('ci.yml')!;
    t.ok('workflow_call' in ci.on, 'ci.yml can be called by the release');
    const image = wf.jobs.image;
    t.same(image.needs, ['ci'], 'no image from a commit that failed CI');
    t.equal(image.permissions['id-token'], 'write', 'cosign keyless needs the OIDC token');
    const build = image.steps.find((s: any) => String(s.uses).startsWith('docker/build-push-action'));
    t.same(
      [build.with.platforms, build.with.sbom, build.with.provenance],
      ['linux/amd64,linux/arm64', true, 'mode=max'],
    );
    t.ok(image.steps.some((s: any) => /cosign sign --yes/.test(s.run ?? '')));
    const deploy = wf.jobs['deploy-minikube'];
    t.same(deploy.permissions, { contents: 'write' });
    const step = deploy.steps.find((s: any) => /npm run promote -- set minikube/.test(s.run ?? ''));
    t.match(step.run, /git commit -m "deploy: minikube runs \$TAG \[skip ci\]"/);
    t.notMatch(JSON.stringify(deploy), /secrets\.(?!GITHUB_TOKEN)/, 'pushed with the GITHUB_TOKEN only');
  },
);

t.test('promote: a pull request made by npm run promote -- copy', async (t) => {
  const wf = (await workflows()).get('promote.yml')!;
  t.same(Object.keys(wf.on.workflow_dispatch.inputs), ['from', 'to']);
  const steps = wf.jobs['pull-request'].steps;
  t.ok(steps.some((s: any) => /npm run --silent promote -- copy "\$FROM" "\$TO"/.test(s.run ?? '')));
  t.ok(steps.some((s: any) => String(s.uses).startsWith('peter-evans/create-pull-request')));
});

t.test('dependabot covers npm, the actions and the Dockerfile', async (t) => {
  const config = parse(await readFile(path.join(repoRoot, '.github', 'dependabot.yml'), 'utf8'));
  const ecosystems = config.updates.map((u: any) => `${u['package-ecosystem']} ${u.directory}`);
  t.same(ecosystems.sort(), ['docker /service', 'github-actions /', 'npm /']);
});
