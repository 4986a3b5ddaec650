// The umbrella chart's whole rendered output (chart.ts's render: Helm 3's `helm template`), byte for
// byte, for a fixed set of inputs, against golden/<case>.golden (not .yaml, so that no formatter
// rewrites them): a change to a shared helper (the common library chart) or to any template that
// alters a rendered byte fails here. After a deliberate change to the output, regenerate them and
// review their diff with the chart change:
//   UPDATE_GOLDEN=1 bash tools/run tap test/chart/library-render.test.ts
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { helm, helmTemplate } from '../../tools/lib/helm.ts';
import { tempDir } from '../../tools/lib/proc.ts';
import { chartDir, devAuthValues, monitoringApi, namespace, releaseName, render, repoRoot } from './chart.ts';

const goldenDir = path.join(import.meta.dirname, 'golden');
const update = process.env.UPDATE_GOLDEN === '1';
const envValues = (env: string) => path.join(repoRoot, 'environments', env, 'values.yaml');

// Each case renders as the other chart tests do: release and namespace hit-counter, the monitoring
// API (monitoring.coreos.com/v1) among the cluster's APIs, and test/chart/values/dev-auth.yaml first
// (the development password source the bare chart refuses to render without).
const cases: Record<string, { set?: string[]; values?: string[] }> = {
  defaults: {},
  // The environments' image tags move with every promotion: a fixed tag keeps the cases still.
  minikube: { values: [envValues('minikube')], set: ['image.tag=0.0.0-golden'] },
  eks: { values: [envValues('eks')], set: ['image.tag=0.0.0-golden'] },
  'redis-replication': { set: ['redis.architecture=replication'] },
  servicemonitor: { set: ['servicemonitor.enabled=true'] },
};
const goldenFile = (name: string) => path.join(goldenDir, `${name}.golden`);

if (update) mkdirSync(goldenDir, { recursive: true });

for (const [name, { set = [], values = [] }] of Object.entries(cases)) {
  t.test(`${name}: the rendered output equals golden/${name}.golden`, async (t) => {
    const { yaml } = await render(set, values);
    if (update) writeFileSync(goldenFile(name), yaml);
    t.equal(yaml, readFileSync(goldenFile(name), 'utf8'));
  });
}

t.test('golden/ holds exactly one file per case', async (t) => {
  const expected = Object.keys(cases).map((c) => `${c}.golden`);
  t.same(readdirSync(goldenDir).sort(), expected.sort());
});

t.test('the packaged chart (what the release publishes) renders as the directory does', async (t) => {
  const dir = tempDir('hit-counter-package-', t);
  await helm(['package', chartDir, '--destination', dir]);
  const [archive] = readdirSync(dir);
  t.match(archive, /^hit-counter-\d+\.\d+\.\d+\.tgz$/);
  const packaged = await helmTemplate({
    chartDir: path.join(dir, archive!),
    releaseName,
    namespace,
    valueFiles: [devAuthValues],
    apiVersions: [monitoringApi],
  });
  t.equal(packaged, (await render()).yaml, 'the library reaches every subchart in the archive');
});
