// Temporary checkouts for the promotion and set-repo CLIs: environment files written with odd but
// valid formatting (comments, spacing, quoting, a flow mapping, no final newline) that an edit must
// keep byte for byte, a git checkout whose eks pins the chart of an older commit, a way to run a
// CLI of tools/ against them, and the bootstrap render of a checkout's argocd/ chart.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { helmTemplate, type Helm } from '../../tools/lib/helm.ts';
import { setYamlScalar } from '../../tools/promote.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export const environments: Record<string, string> = {
  minikube: [
    '# a minikube-like environment',
    'replicaCount: 1   # one pod is enough on one node',
    '',
    'image:',
    '  # where the image comes from',
    '  repository: hit-counter   # built locally',
    '  tag: "sha-0123456"  # the deployed tag',
    '  pullPolicy: IfNotPresent',
    '',
    'redis:',
    '  auth:',
    '    password: dev-only-password # DEV ONLY',
    '',
  ].join('\n'),
  // single-quoted tag, deeper indent, flow mapping, no newline at the end
  eks: [
    '# an eks-like environment',
    'image: # the service image',
    "    tag: '1.2.0'    # promoted from minikube",
    '    repository: acme/hit-counter',
    'global: {redis: {auth: {password: test-only}}}  # Redis needs a password source to render',
    'autoscaling: {enabled: true, minReplicas: 3}',
  ].join('\n'),
  // no image.tag yet: it runs the chart's appVersion
  staging: [
    '# a new environment',
    'image:',
    '  repository: hit-counter # the image',
    'ingress:',
    '  enabled: false',
    '',
  ].join('\n'),
};

/** A temporary checkout with environments/<env>/values.yaml (and copies of `copy`); removed by teardown. */
export async function tempCheckout(t: Test, copy: string[] = []): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'gitops-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const [env, text] of Object.entries(environments)) {
    await mkdir(path.join(root, 'environments', env), { recursive: true });
    await writeFile(path.join(root, 'environments', env, 'values.yaml'), text);
  }
  for (const rel of copy)
    // verbatimSymlinks: a relative symlink (the charts' common) stays inside the copy.
    await cp(path.join(repoRoot, rel), path.join(root, rel), { recursive: true, verbatimSymlinks: true });
  return root;
}

/** git in `cwd` as a test author; resolves with its trimmed output. */
export function gitIn(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      'git',
      ['-c', 'user.name=hit-counter tests', '-c', 'user.email=tests@hit-counter.invalid', ...args],
      { cwd },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout.trim())),
    ),
  );
}

/** A chart change: one more ConfigMap, rendered in every environment. */
export const CHART_CHANGE = [
  'apiVersion: v1',
  'kind: ConfigMap',
  'metadata:',
  '  name: chart-change',
  '  namespace: {{ .Release.Namespace }}',
  'data:',
  '  added: in the second commit',
  '',
].join('\n');

/** Where the chart change goes. */
export const CHART_CHANGE_FILE = 'charts/hit-counter/templates/chart-change.yaml';

/**
 * A git checkout (charts, argocd/values.yaml, the test environments) with two commits on main: the
 * first, whose chart eks pins, and a chart change on top. Resolves with both commits.
 */
export async function pinnedCheckout(t: Test): Promise<{ root: string; first: string; second: string }> {
  const root = await tempCheckout(t, ['charts', 'argocd/values.yaml']);
  const git = (...args: string[]) => gitIn(root, args);
  await git('init', '--quiet', '--initial-branch=main');
  await git('add', '--all');
  await git('commit', '--quiet', '-m', 'the chart eks runs');
  const first = await git('rev-parse', 'HEAD');
  const argo = path.join(root, 'argocd/values.yaml');
  await writeFile(
    argo,
    setYamlScalar(await readFile(argo, 'utf8'), ['environments', 'eks', 'chartRevision'], first),
  );
  await writeFile(path.join(root, CHART_CHANGE_FILE), CHART_CHANGE);
  await git('add', '--all');
  await git('commit', '--quiet', '-m', 'a chart change on main, eks pinned before it');
  return { root, first, second: await git('rev-parse', 'HEAD') };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node tools/<script> --root <root> ...args`. */
export function runCli(script: string, root: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(repoRoot, 'tools', script), '--root', root, ...args],
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * What the bootstrap renders from a checkout's argocd/ chart, `helm template argocd` with `values`
 * (at least `environment`) on top of its values.yaml: the same render Argo CD makes for the root
 * Application when `values` is the root's `helm.valuesObject`.
 */
export async function renderArgocd(
  root: string,
  values: Record<string, unknown>,
  helm: Helm = 'helm',
): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'argocd-values-'));
  try {
    const file = path.join(dir, 'values.json');
    await writeFile(file, JSON.stringify(values));
    return await helmTemplate({
      helm,
      chartDir: path.join(root, 'argocd'),
      releaseName: 'hit-counter-root',
      namespace: 'argocd',
      valueFiles: [file],
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
