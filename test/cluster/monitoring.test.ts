// The servicemonitor subchart against a real API server: without prometheus-operator's CRDs the
// chart installs and renders none of its kinds (helm reads the cluster's APIs); with the CRDs at the
// pinned version the tests validate against, the API server accepts the ServiceMonitors and the
// PrometheusRule under their schemas.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { crdsEstablished } from '../../tools/cluster/api.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import { clusterFor, envValues, installReady } from './fixture.ts';

const c = await clusterFor(t);
const crdDir = path.join(
  process.env.HIT_COUNTER_TOOLS ?? path.join(import.meta.dirname, '../../.tools'),
  'crds/prometheus-operator',
);

const names = async (kind: string, ns: string): Promise<string[]> =>
  (await c.getJson<{ items: { metadata: { name: string } }[] }>([kind, '-n', ns])).items
    .map((o) => o.metadata.name)
    .sort();

t.test(
  'without the monitoring CRDs, servicemonitor.enabled=true installs and renders none of them',
  async (t) => {
    await installReady(c, {
      namespace: 'no-crds',
      valueFiles: [envValues('minikube')],
      set: ['servicemonitor.enabled=true'],
    });
    const manifest = await c.helm(['get', 'manifest', 'hit-counter', '-n', 'no-crds']);
    t.notMatch(manifest, /kind: (ServiceMonitor|PrometheusRule)/);
    t.match(manifest, /grafana_dashboard/, 'the dashboard ConfigMap (no CRD needed) is installed');
  },
);

t.test('with the CRDs, the ServiceMonitors and the PrometheusRule are created and valid', async (t) => {
  const files = readdirSync(crdDir).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 2, `CRDs from ${crdDir}`);
  await c.kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', path.join(crdDir, f)])]);
  const crds = ['servicemonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com'];
  await waitFor(() => crdsEstablished(c.kubectl, crds), { timeoutMs: 60_000, what: 'the CRDs Established' });
  // helm reads the cluster's APIs afresh: wait until discovery serves the group.
  await waitFor(async () => (await c.kubectl(['api-versions'])).includes('monitoring.coreos.com/v1'), {
    timeoutMs: 30_000,
    what: 'monitoring.coreos.com/v1 in discovery',
  });
  await installReady(c, {
    namespace: 'with-crds',
    valueFiles: [envValues('minikube')],
    set: ['servicemonitor.enabled=true'],
  });
  t.same(await names('servicemonitors.monitoring.coreos.com', 'with-crds'), [
    'hit-counter',
    'hit-counter-nginx',
    'hit-counter-redis',
  ]);
  t.same(await names('prometheusrules.monitoring.coreos.com', 'with-crds'), ['hit-counter']);

  // The CRD schema is enforced by the API server: a wrong type in a rule is refused.
  const rule = await c.getJson(['prometheusrules.monitoring.coreos.com', 'hit-counter', '-n', 'with-crds']);
  rule.spec.groups[0].rules[0].for = 5;
  delete rule.metadata.managedFields;
  await t.rejects(
    c.kubectl(['apply', '--server-side', '--force-conflicts', '--validate=strict', '-f', '-'], {
      input: JSON.stringify(rule),
    }),
    /\.rules\[0\]\.for: expected string/,
  );
});
