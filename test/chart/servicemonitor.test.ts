// Every ServiceMonitor selects a rendered Service in the release namespace and names one of its
// ports, and the Prometheus selector label comes from values.
import t from 'tap';
import { selects } from '../../tools/lib/k8s-validate.ts';
import { namespace, render } from './chart.ts';

t.test('ServiceMonitors match Services and ports', async (t) => {
  const { objects } = await render(['servicemonitor.enabled=true', 'servicemonitor.labels.release=prom']);
  const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
  t.equal(monitors.length, 3);
  const services = objects.filter((o) => o.kind === 'Service');
  for (const sm of monitors) {
    t.equal(sm.metadata.labels?.release, 'prom', `${sm.metadata.name} carries the selector label`);
    t.same(sm.spec.namespaceSelector.matchNames, [namespace]);
    const matched = services.filter((s) => selects(sm.spec.selector.matchLabels, s.metadata.labels ?? {}));
    t.ok(matched.length > 0, `${sm.metadata.name} selects a Service`);
    for (const ep of sm.spec.endpoints) {
      const withPort = matched.filter((s) => s.spec.ports.some((p: { name: string }) => p.name === ep.port));
      t.ok(withPort.length > 0, `${sm.metadata.name} port ${ep.port} is a port of a selected Service`);
    }
  }
  const rule = objects.find((o) => o.kind === 'PrometheusRule');
  const alerts = rule?.spec.groups.flatMap((g: { rules: { alert: string }[] }) =>
    g.rules.map((r) => r.alert),
  );
  t.same(alerts, [
    'HitCounterDown',
    'HitCounterHigh5xxRatio',
    'HitCounterHighLatency',
    'HitCounterLogLinesDropped',
    'RedisDown',
    'RedisVolumeFilling',
    'RedisBackupStale',
    'RedisBackupFailed',
  ]);
  for (const g of rule?.spec.groups ?? [])
    for (const r of g.rules) {
      t.ok(r.labels.severity, `${r.alert} has a severity`);
      for (const a of ['summary', 'description', 'runbook_url'])
        t.ok(r.annotations[a], `${r.alert} has ${a}`);
    }
  t.match(
    JSON.stringify(rule),
    /absent\(redis_up\{job=\\"hit-counter-redis\\"/,
    'vanished exporter series alert',
  );
});

t.test('the dashboard is valid JSON with the required panels', async (t) => {
  const { objects } = await render(['servicemonitor.enabled=true']);
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
  t.equal(cm?.metadata.annotations?.grafana_folder, 'hit-counter');
  const dash = JSON.parse(cm?.data['hit-counter.json']);
  const exprs = JSON.stringify(dash.panels);
  for (const metric of [
    'hitcounter_hits_total',
    'http_request_duration_seconds_bucket',
    'status_code=~\\"5..\\"',
    'hitcounter_ready',
    'redis_memory_used_bytes',
    'redis_commands_processed_total',
    'redis_aof',
    'nginx_connections_active',
  ])
    t.ok(exprs.includes(metric), `a panel uses ${metric}`);
});
