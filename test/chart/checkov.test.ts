// checkov's Kubernetes checks (the linter this project uses; kube-linter is not installable here)
// pass on the rendered chart: the defaults, each environment and the main toggles. The checks the
// chart skips are listed with their reasons in .checkov.yaml.
import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { stringify } from 'yaml';
import { requireBinary, tempDir } from '../../tools/lib/proc.ts';
import { find, render, repoRoot } from './chart.ts';

const run = promisify(execFile);
const config = path.join(repoRoot, '.checkov.yaml');

interface Finding {
  check_id: string;
  resource: string;
  file_path: string;
}
interface Report {
  summary: { passed: number; failed: number; parsing_errors: number };
  results: { failed_checks: Finding[] };
}

/** Runs checkov on every file in dir; it exits 1 when a check fails, so read the report either way. */
async function checkov(dir: string): Promise<Report> {
  const bin = requireBinary('checkov');
  const args = ['-d', dir, '--config-file', config, '-o', 'json', '--quiet', '--skip-download'];
  const { stdout } = await run(bin, args, { maxBuffer: 64 << 20 }).catch(
    (err: { code?: number; stdout?: string; stderr?: string }) => {
      if (err.code !== 1 || !err.stdout) throw new Error(`checkov failed: ${err.stderr ?? String(err)}`);
      return { stdout: err.stdout };
    },
  );
  const parsed = JSON.parse(stdout) as Report | Report[] | { passed: 0; failed: 0 };
  const report = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!report || !('results' in report)) throw new Error(`checkov found nothing to check in ${dir}`);
  return report;
}

const cases: [string, string[], string[]][] = [
  ['defaults', [], []],
  ['minikube', [], ['environments/minikube/values.yaml']],
  ['eks', [], ['environments/eks/values.yaml']],
  [
    'hpa, ingress, S3 backup',
    [
      'autoscaling.enabled=true',
      'nginx.ingress.enabled=true',
      'redis.backup.s3.enabled=true',
      'redis.backup.s3.uri=s3://bucket/prefix',
    ],
    [],
  ],
  ['servicemonitor on', ['servicemonitor.enabled=true'], []],
  ['eks with replication', ['redis.architecture=replication'], ['environments/eks/values.yaml']],
];

t.test('the rendered chart passes checkov', async (t) => {
  const dir = tempDir('hit-counter-checkov-', t);
  for (const [name, set, files] of cases) {
    const { yaml } = await render(
      set,
      files.map((f) => path.join(repoRoot, f)),
    );
    writeFileSync(path.join(dir, `${name.replace(/\W+/g, '-')}.yaml`), yaml);
  }
  t.equal(readdirSync(dir).length, cases.length);
  const report = await checkov(dir);
  const failed = report.results.failed_checks.map((f) => `${f.file_path}: ${f.check_id} ${f.resource}`);
  t.same(failed, [], 'no failed check');
  t.equal(report.summary.parsing_errors, 0, 'every file parsed');
  t.ok(report.summary.passed > 300, `checks really ran (${report.summary.passed} passed)`);
});

// What Pod Security admission does not judge (test/cluster/ runs the real admission) is checkov's:
// each of these changes must fail its check.
t.test('checkov catches what admission does not judge (the lint can fail)', async (t) => {
  const dir = tempDir('hit-counter-checkov-', t);
  const { objects } = await render();
  const d = structuredClone(find(objects, 'Deployment', 'hit-counter'));
  const pod = d.spec.template.spec;
  const c = pod.containers[0];
  c.securityContext.privileged = true;
  delete c.securityContext.readOnlyRootFilesystem;
  delete c.readinessProbe;
  delete c.livenessProbe;
  delete c.resources;
  c.image = 'hit-counter:latest';
  delete pod.automountServiceAccountToken;
  writeFileSync(path.join(dir, 'broken.yaml'), stringify(d));
  const failed = new Set((await checkov(dir)).results.failed_checks.map((f) => f.check_id));
  for (const [id, what] of [
    ['CKV_K8S_16', 'privileged container'],
    ['CKV_K8S_22', 'read-only root filesystem'],
    ['CKV_K8S_9', 'readiness probe'],
    ['CKV_K8S_8', 'liveness probe'],
    ['CKV_K8S_10', 'CPU request'],
    ['CKV_K8S_12', 'memory request'],
    ['CKV_K8S_13', 'memory limit'],
    ['CKV_K8S_14', 'image tag not latest'],
    ['CKV_K8S_38', 'service account token not mounted'],
  ])
    t.ok(failed.has(id as string), `${id} (${what}) fails`);
});
