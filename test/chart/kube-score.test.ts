// kube-score (pinned, from the Go module proxy) on the rendered chart, next to checkov: each
// environment and the main toggles score no WARNING or CRITICAL beyond the checks .kube-score.yaml
// ignores with its reasons.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse } from 'yaml';
import { requireBinary } from '../../tools/lib/proc.ts';
import { render, repoRoot } from './chart.ts';

const run = promisify(execFile);
const config = parse(readFileSync(path.join(repoRoot, '.kube-score.yaml'), 'utf8')) as {
  ignoreContainerCpuLimit: boolean;
  ignore: { test: string; reason: string; only?: string[] }[];
};
const ignoredFor = (name: string): string[] =>
  config.ignore.filter((i) => !i.only || i.only.includes(name)).map((i) => i.test);

/** kube-score's findings (WARNING and CRITICAL lines of its CI output) for a YAML stream. */
async function score(yaml: string, ignore: string[]): Promise<string[]> {
  const args = ['score', '--output-format', 'ci', '-'];
  if (config.ignoreContainerCpuLimit) args.push('--ignore-container-cpu-limit');
  for (const test of ignore) args.push('--ignore-test', test);
  // It exits 1 when it finds something: the output is read either way.
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      requireBinary('kube-score'),
      args,
      { maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err && !stdout) reject(new Error(`kube-score failed: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(yaml);
  });
  return out.split('\n').filter((l) => /^\[(WARNING|CRITICAL)\]/.test(l));
}

const env = (name: string) => path.join(repoRoot, 'environments', name, 'values.yaml');
const cases: [string, string[], string[]][] = [
  ['minikube', [], [env('minikube')]],
  ['eks', [], [env('eks')]],
  ['eks with replication', ['redis.architecture=replication'], [env('eks')]],
];

t.test('every ignored check says why', async (t) => {
  t.ok(config.ignore.length > 0);
  for (const i of config.ignore) t.ok(i.reason?.length > 40, `${i.test}: ${i.reason}`);
  const { stdout } = await run(requireBinary('kube-score'), ['list']);
  const known = new Set(stdout.split('\n').map((l) => l.split(',')[0]));
  for (const i of config.ignore) t.ok(known.has(i.test), `${i.test} is one of kube-score's checks`);
});

for (const [name, set, values] of cases)
  t.test(`kube-score finds nothing on ${name} beyond the ignored checks`, async (t) => {
    const { yaml } = await render(set, values);
    t.same(await score(yaml, ignoredFor(name.split(' ')[0]!)), []);
  });

t.test('kube-score can fail: without the ignores it reports the pull policy', async (t) => {
  const { yaml } = await render([], [env('minikube')]);
  const findings = await score(yaml, []);
  t.ok(
    findings.some((f) => /ImagePullPolicy is not set to Always/.test(f)),
    findings.join('\n'),
  );
});
