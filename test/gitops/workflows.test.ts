// The GitHub workflows: actionlint (with shellcheck on the run: scripts) finds nothing, every job has
// least-privilege permissions, and the release/promotion wiring is what the delivery path needs.
import t, { type Test } from 'tap';
/* eslint-disable @typescript-eslint/no-explicit-any -- parsed workflow YAML is untyped */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { requireBinary } from '../../tools/lib/proc.ts';
import { gitIn, pinnedCheckout, repoRoot } from './fixtures.ts';

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
    t.same(image.needs, ['ci', 'changes'], 'no image from a commit that failed CI');
    t.equal(image.if, "needs.changes.outputs.service == 'true'", 'an image only for a service change');
    t.equal(image.permissions['id-token'], 'write', 'cosign keyless needs the OIDC token');
    const build = image.steps.find((s: any) => String(s.uses).startsWith('docker/build-push-action'));
    t.same(
      [build.with.platforms, build.with.sbom, build.with.provenance],
      ['linux/amd64,linux/arm64', true, 'mode=max'],
    );
    t.ok(image.steps.some((s: any) => /cosign sign --yes/.test(s.run ?? '')));
    const edit = wf.jobs['minikube-edit'];
    t.same(
      edit.permissions,
      { contents: 'read' },
      'the edit runs the npm dependencies without a write token',
    );
    t.ok(edit.steps.some((s: any) => /npm run promote -- set minikube "\$TAG"/.test(s.run ?? '')));
    const deploy = wf.jobs['deploy-minikube'];
    t.same(deploy.permissions, { contents: 'write' });
    t.same(deploy.needs, ['image', 'minikube-edit']);
    const step = deploy.steps.find((s: any) => /git commit/.test(s.run ?? ''));
    t.match(step.run, /git commit -m "deploy: minikube runs \$TAG \[skip ci\]"/);
    t.match(
      step.run,
      'git apply --include=environments/minikube/values.yaml',
      'the patch may touch that file only',
    );
    t.match(step.run, 'core.hooksPath /dev/null', 'no hook runs next to the token');
    t.notMatch(JSON.stringify(deploy), /secrets\.(?!GITHUB_TOKEN)/, 'pushed with the GITHUB_TOKEN only');
  },
);

/** Runs a workflow step's `run:` script with bash in `cwd`; resolves with its exit code and output. */
function runStep(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-eo', 'pipefail', '-c', script],
      { cwd, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number(err.code ?? 1) : 0, output: stdout + stderr });
      },
    );
  });
}

const promoteJobs = async () => {
  const wf = (await workflows()).get('promote.yml')!;
  const step = (job: string, name: string) =>
    wf.jobs[job].steps.find((s: any) => s.id === name || s.name === name);
  return { wf, prepare: wf.jobs.prepare, pr: wf.jobs['pull-request'], step };
};

t.test('no job that can write the repository runs npm or project code', async (t) => {
  for (const [file, wf] of await workflows())
    for (const [name, job] of Object.entries<any>(wf.jobs)) {
      const writes = Object.entries(job.permissions ?? {}).some(
        ([scope, level]) => level === 'write' && ['contents', 'pull-requests'].includes(scope),
      );
      if (!writes) continue;
      const runs = (job.steps ?? []).map((s: any) => s.run ?? '').join('\n');
      t.notMatch(runs, /\b(npm|npx|node)\b|tools\/install\.sh/, `${file} ${name}: only git and actions`);
    }
});

t.test('every action is pinned by a full commit SHA, its tag in a comment', async (t) => {
  for (const file of (await readdir(workflowsDir)).filter((f) => f.endsWith('.yml'))) {
    const text = await readFile(path.join(workflowsDir, file), 'utf8');
    for (const [, ref, comment] of text.matchAll(/^\s*-?\s*uses:\s*(\S+)(.*)$/gm)) {
      if (ref!.startsWith('./')) continue;
      t.match(ref, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/, `${file}: ${ref} by SHA`);
      t.match(comment, /^ # v\d+\.\d+\.\d+$/, `${file}: ${ref} names its tag`);
    }
  }
});

t.test(
  'release: the chart is packaged with the pinned helm, pushed once per version and signed',
  async (t) => {
    const wf = (await workflows()).get('release.yml')!;
    t.ok(wf.on.push.paths.includes('charts/**'), 'a chart change starts the release');
    const chart = wf.jobs.chart;
    t.same(chart.needs, ['ci', 'changes'], 'no chart from a commit that failed CI');
    t.equal(chart.if, "needs.changes.outputs.chart == 'true'");
    t.same(chart.permissions, { contents: 'read', packages: 'write', 'id-token': 'write' });
    const runs = chart.steps.map((s: any) => s.run ?? '').join('\n');
    t.match(runs, 'bash tools/install.sh helm', 'the pinned Helm 3, built with Go (no npm in the job)');
    t.notMatch(runs, /\bnpm\b/, 'no dependency install scripts next to the write token');
    t.match(runs, 'repo="oci://$REGISTRY/${OWNER,,}/charts"');
    t.match(
      runs,
      /show chart "\$repo\/hit-counter" --version "\$version"[\s\S]*already published[\s\S]*exit 0/,
    );
    t.match(runs, /\$helm push "dist\/hit-counter-\$version\.tgz" "\$repo"/);
    t.match(runs, 'cosign sign --yes "$REF"', 'signed keyless by digest');
  },
);

t.test('release: the changes job tells a service change from a chart change', async (t) => {
  const wf = (await workflows()).get('release.yml')!;
  const script: string = wf.jobs.changes.steps.find((s: any) => s.id === 'diff').run;
  const dir = await mkdtemp(path.join(tmpdir(), 'hit-counter-changes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir }, (e, out) =>
        e ? reject(e) : resolve(out.trim()),
      ),
    );
  const commit = async (file: string) => {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), `${file}\n`);
    await git('add', '.');
    await git('commit', '-qm', file);
    return git('rev-parse', 'HEAD');
  };
  await git('init', '-q');
  const base = await commit('README.md');
  const chart = await commit('charts/hit-counter/values.yaml');
  const service = await commit('service/src/app.ts');
  const lock = await commit('package-lock.json');
  const outputs = async (env: Record<string, string>) => {
    const out = path.join(dir, '..', `${path.basename(dir)}.out`);
    await writeFile(out, '');
    await new Promise<void>((resolve, reject) =>
      execFile(
        'bash',
        ['-euo', 'pipefail', '-c', script],
        { cwd: dir, env: { ...process.env, GITHUB_OUTPUT: out, GITHUB_REF_TYPE: 'branch', ...env } },
        (e) => (e ? reject(e) : resolve()),
      ),
    );
    const text = await readFile(out, 'utf8');
    await rm(out);
    return text.trim().split('\n').sort().join(' ');
  };
  t.equal(await outputs({ BEFORE: base, GITHUB_SHA: chart }), 'chart=true service=false');
  t.equal(await outputs({ BEFORE: chart, GITHUB_SHA: service }), 'chart=false service=true');
  t.equal(await outputs({ BEFORE: service, GITHUB_SHA: lock }), 'chart=false service=true');
  t.equal(await outputs({ BEFORE: base, GITHUB_SHA: base }), 'chart=false service=false');
  t.equal(
    await outputs({ BEFORE: '0'.repeat(40), GITHUB_SHA: lock }),
    'chart=true service=true',
    'a new branch',
  );
  t.equal(
    await outputs({ BEFORE: '', GITHUB_SHA: lock, GITHUB_REF_TYPE: 'tag' }),
    'chart=true service=true',
    'a v* tag',
  );
});

t.test('promote: copy and the rendered diff in a read-only job, the pull request in another', async (t) => {
  const { wf, prepare, pr, step } = await promoteJobs();
  t.same(Object.keys(wf.on.workflow_dispatch.inputs), ['from', 'to']);
  t.same(prepare.permissions, { contents: 'read' }, 'the npm dependencies run with a read-only token');
  const promote = step('prepare', 'promote').run;
  t.match(promote, 'npm run --silent promote -- diff "$TO" --from "$FROM" >"$RUNNER_TEMP/rendered.diff"');
  t.match(promote, 'npm run --silent promote -- copy "$FROM" "$TO"');
  t.ok(promote.indexOf('promote -- diff') < promote.indexOf('promote -- copy'), 'the diff before the copy');
  t.same(pr.needs, 'prepare');
  t.same(Object.keys(pr.permissions).sort(), ['contents', 'pull-requests']);
  t.same(
    pr.steps.map((s: any) => (s.uses ? String(s.uses).replace(/@.*/, '') : 'run')),
    ['actions/checkout', 'run', 'peter-evans/create-pull-request'],
  );
  t.notMatch(
    pr.steps.map((s: any) => s.run ?? '').join('\n'),
    /\b(npm|npx|node|tools\/)/,
    'the job with the write token runs no dependency code',
  );
  const create = pr.steps.at(-1);
  t.equal(create.with['add-paths'], 'environments/${{ inputs.to }}/values.yaml\nargocd/values.yaml\n');
  t.equal(prepare.steps[0].with['fetch-depth'], 0, "the diff needs the pinned chart's commit");
  t.match(create.with.body, /\n\$\{\{ needs\.prepare\.outputs\.diff \}\}\n$/, 'the diff closes the body');
  t.equal(prepare.outputs.diff, '${{ steps.body.outputs.diff }}');
});

t.test('promote: the diff renders with the pinned helm of tools/install.sh', async (t) => {
  const { prepare } = await promoteJobs();
  const at = (f: (s: any) => boolean) => prepare.steps.findIndex(f);
  const helm = at((s) => s.run === 'bash tools/install.sh helm');
  const go = at((s) => String(s.uses).startsWith('actions/setup-go'));
  const diff = at((s) => /promote -- diff/.test(s.run ?? ''));
  t.ok(go >= 0 && go < helm && helm < diff, 'Go, then the pinned helm, then the diff');
});

/** The pull request body the workflow makes for a rendered diff (the body step, then the template). */
async function pullRequestBody(t: Test, diff: string): Promise<{ body: string; fenced: string }> {
  const { pr, step } = await promoteJobs();
  const dir = await mkdtemp(path.join(tmpdir(), 'promote-body-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'rendered.diff'), diff);
  const output = path.join(dir, 'output');
  const env = { RUNNER_TEMP: dir, GITHUB_OUTPUT: output, FROM: 'minikube', TO: 'eks' };
  const r = await runStep(step('prepare', 'body').run, dir, env);
  t.equal(r.code, 0, r.output);
  const m = /^diff<<(\w+)\n([\s\S]*)\n\1\n$/.exec(await readFile(output, 'utf8'));
  if (!m) throw new Error('the body step wrote no diff output');
  const values: Record<string, string> = {
    'inputs.to': 'eks',
    'inputs.from': 'minikube',
    'needs.prepare.outputs.tag': 'sha-0123abc',
    'needs.prepare.outputs.chart': '',
    'needs.prepare.outputs.diff': m[2]!,
  };
  const body = (pr.steps.at(-1).with.body as string).replace(/\$\{\{ ([\w.-]+) \}\}/g, (_, k: string) => {
    if (!(k in values)) throw new Error(`unexpected expression ${k} in the body`);
    return values[k]!;
  });
  return { body, fenced: m[2]! };
}

t.test('promote: the pull request body holds the rendered diff in a diff fence', async (t) => {
  const diff =
    'diff --git a/Deployment/hit-counter.yaml b/Deployment/hit-counter.yaml\n-          image: a:1\n+          image: a:2\n';
  const { body, fenced } = await pullRequestBody(t, diff);
  t.equal(fenced, '```diff\n' + diff + '```');
  t.match(body, 'Sets `image.tag` in `environments/eks/values.yaml` to `sha-0123abc`');
  t.ok(body.endsWith('```diff\n' + diff + '```\n'));
  const quoted = await pullRequestBody(t, '+ a ``` fence\n');
  t.equal(quoted.fenced, '````diff\n+ a ``` fence\n````', 'a longer fence than any in the diff');
});

t.test("promote: a diff beyond GitHub's 65,536 characters is cut at a line, with a note", async (t) => {
  const lines = Array.from({ length: 6000 }, (_, i) => `+  line ${i}: déjà vu ${'x'.repeat(i % 40)}`);
  const diff = lines.join('\n') + '\n';
  t.ok(diff.length > 200_000);
  const { body, fenced } = await pullRequestBody(t, diff);
  t.ok(body.length <= 65_536, `the body has ${body.length} characters`);
  t.ok(body.length > 60_000, 'and keeps most of the room for the diff');
  const kept = fenced.split('\n');
  t.equal(kept[0], '```diff');
  const end = kept.indexOf('```');
  t.same(kept.slice(1, end), lines.slice(0, end - 1), 'whole lines from the start of the diff');
  t.match(
    kept.slice(end + 1).join('\n'),
    /^The diff is cut here: .*\(6000 lines\); `npm run promote -- diff eks --from minikube` prints all of it\.$/,
  );
});

t.test(
  "promote: the write job applies prepare's edit of the target's values file and argocd/values.yaml only",
  async (t) => {
    const { step } = await promoteJobs();
    const script = step('pull-request', 'Apply the edit of npm run promote -- copy').run as string;
    const dir = await mkdtemp(path.join(tmpdir(), 'promote-apply-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const git = (...args: string[]) => runStep(`git ${args.map((a) => `'${a}'`).join(' ')}`, dir, {});
    const values = path.join(dir, 'environments', 'eks', 'values.yaml');
    const argo = path.join(dir, 'argocd', 'values.yaml');
    const minikube = path.join(dir, 'environments', 'minikube', 'values.yaml');
    const other = path.join(dir, 'other');
    for (const f of [values, argo, minikube]) await mkdir(path.dirname(f), { recursive: true });
    await writeFile(values, 'image:\n  tag: 1.0.0\n');
    await writeFile(argo, 'environments:\n  eks:\n    chartRevision: aaa\n');
    await writeFile(minikube, 'image:\n  tag: 1.0.0\n');
    await writeFile(other, 'x\n');
    await git('init', '-q');
    await git('add', '-A'); // the checkout: what the working tree is restored to
    // The patch as the prepare job makes it, with edits too many.
    await writeFile(values, 'image:\n  tag: 2.0.0\n');
    await writeFile(argo, 'environments:\n  eks:\n    chartRevision: bbb\n');
    await writeFile(minikube, 'image:\n  tag: 2.0.0\n');
    await writeFile(other, 'y\n');
    const patch = (await runStep('git diff | base64 -w0', dir, {})).output;
    await git('checkout', '-q', '--', '.');
    t.equal((await runStep(script, dir, { PATCH: '', TO: 'eks' })).code, 0, 'no edit, nothing to apply');
    t.equal((await git('diff')).output, '', 'the working tree is the checkout');
    const r = await runStep(script, dir, { PATCH: patch, TO: 'eks' });
    t.equal(r.code, 0, r.output);
    t.equal(await readFile(values, 'utf8'), 'image:\n  tag: 2.0.0\n');
    t.equal(await readFile(argo, 'utf8'), 'environments:\n  eks:\n    chartRevision: bbb\n');
    t.equal(await readFile(minikube, 'utf8'), 'image:\n  tag: 1.0.0\n', 'not the source environment');
    t.equal(await readFile(other, 'utf8'), 'x\n', 'nothing else');
  },
);

t.test('promote: prepare then the write job, on a checkout whose eks pins its chart', async (t) => {
  const { step } = await promoteJobs();
  const { root, first, second } = await pinnedCheckout(t);
  // `npm run --silent promote -- <args>` as package.json runs it, on this checkout.
  const bin = await mkdtemp(path.join(tmpdir(), 'promote-npm-'));
  t.teardown(() => rm(bin, { recursive: true, force: true }));
  await writeFile(
    path.join(bin, 'npm'),
    [
      '#!/usr/bin/env bash',
      '[[ "$1 $2 $3 $4" == "run --silent promote --" ]] || { echo "unexpected npm $*" >&2; exit 2; }',
      // The job's checkout is the repository promote.ts is in: here, the one it runs in.
      `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(repoRoot, 'tools/promote.ts'))} --root "$PWD" "\${@:5}"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const temp = await mkdtemp(path.join(tmpdir(), 'promote-runner-'));
  t.teardown(() => rm(temp, { recursive: true, force: true }));
  const output = path.join(temp, 'output');
  const env = {
    PATH: `${bin}:${process.env.PATH}`,
    FROM: 'minikube',
    TO: 'eks',
    RUNNER_TEMP: temp,
    GITHUB_OUTPUT: output,
  };
  // The write job's checkout: the same commit, untouched.
  const checkout = await mkdtemp(path.join(tmpdir(), 'promote-checkout-'));
  t.teardown(() => rm(checkout, { recursive: true, force: true }));
  await gitIn(checkout, ['clone', '--quiet', root, '.']);
  const r = await runStep(step('prepare', 'promote').run, root, env);
  t.equal(r.code, 0, r.output);
  const outputs = Object.fromEntries(
    (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  t.equal(outputs.tag, 'sha-0123456');
  t.equal(
    outputs.chart,
    ` It also sets \`environments.eks.chartRevision\` in \`argocd/values.yaml\` to \`${second}\`: \`eks\` then deploys the chart of that commit, the one \`minikube\` runs.`,
  );
  t.match(
    await readFile(path.join(temp, 'rendered.diff'), 'utf8'),
    'ConfigMap/hit-counter/chart-change.yaml',
  );
  const applied = await runStep(
    step('pull-request', 'Apply the edit of npm run promote -- copy').run,
    checkout,
    {
      PATCH: outputs.patch!,
      TO: 'eks',
    },
  );
  t.equal(applied.code, 0, applied.output);
  t.same(
    (await gitIn(checkout, ['diff', '--name-only'])).split('\n'),
    ['argocd/values.yaml', 'environments/eks/values.yaml'],
    'the pull request changes both files',
  );
  for (const f of ['argocd/values.yaml', 'environments/eks/values.yaml'])
    t.equal(await readFile(path.join(checkout, f), 'utf8'), await readFile(path.join(root, f), 'utf8'), f);
  t.match(await readFile(path.join(checkout, 'argocd/values.yaml'), 'utf8'), `chartRevision: ${second}`);
  t.notMatch(await readFile(path.join(checkout, 'argocd/values.yaml'), 'utf8'), first);
});

t.test('dependabot covers npm, the actions and the Dockerfile', async (t) => {
  const config = parse(await readFile(path.join(repoRoot, '.github', 'dependabot.yml'), 'utf8'));
  const ecosystems = config.updates.map((u: any) => `${u['package-ecosystem']} ${u.directory}`);
  t.same(ecosystems.sort(), ['docker /service', 'github-actions /', 'npm /']);
});
