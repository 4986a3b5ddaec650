// The scrape configuration derived from the rendered ServiceMonitors: one job per endpoint with the
// operator's job label (the Service name), the container port behind the Service's targetPort, the
// path and interval from values; the resulting prometheus.yml passes `promtool check config`.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { stringify } from 'yaml';
import { requireBinary, tempDir } from '../../tools/lib/proc.ts';
import { scrapeConfigs, scrapeJobs, writeTargets } from '../../tools/lib/prometheus-config.ts';
import { rulesFile } from '../../tools/lib/prometheus-rules.ts';
import { NAMESPACE, renderMonitored } from '../../tools/stack/monitoring.ts';

const run = promisify(execFile);

t.test('jobs follow the ServiceMonitors, Services and pod templates', async (t) => {
  const objects = await renderMonitored(['servicemonitor.interval=7s', 'servicemonitor.scrapeTimeout=3s']);
  const jobs = scrapeJobs(objects, NAMESPACE);
  const summary = jobs.map((j) => ({
    pool: j.jobName,
    ...j.labels,
    workload: `${j.target.workload.kind}/${j.target.workload.name}`,
    port: j.target.port,
    path: j.path,
    interval: j.interval,
    timeout: j.scrapeTimeout,
  }));
  const common = { namespace: 'hit-counter', path: '/metrics', interval: '7s', timeout: '3s' };
  t.same(summary, [
    {
      ...common,
      pool: 'serviceMonitor/hit-counter/hit-counter-nginx/0',
      job: 'hit-counter-nginx-metrics',
      service: 'hit-counter-nginx-metrics',
      endpoint: 'metrics',
      container: 'exporter',
      workload: 'Deployment/hit-counter-nginx',
      port: 9113,
    },
    {
      ...common,
      pool: 'serviceMonitor/hit-counter/hit-counter-redis/0',
      job: 'hit-counter-redis',
      service: 'hit-counter-redis',
      endpoint: 'metrics',
      container: 'exporter',
      workload: 'StatefulSet/hit-counter-redis',
      port: 9121,
    },
    {
      ...common,
      pool: 'serviceMonitor/hit-counter/hit-counter/0',
      job: 'hit-counter',
      service: 'hit-counter',
      endpoint: 'http',
      container: 'hit-counter',
      workload: 'Deployment/hit-counter',
      port: 8000,
    },
  ]);
});

t.test('the job label follows jobLabel when a ServiceMonitor sets it', async (t) => {
  const objects = await renderMonitored();
  const sm = objects.find((o) => o.kind === 'ServiceMonitor' && o.metadata.name === 'hit-counter');
  t.ok(sm, 'the service ServiceMonitor is rendered');
  if (!sm) return;
  sm.spec.jobLabel = 'app.kubernetes.io/component';
  const job = scrapeJobs(objects, NAMESPACE).find((j) => j.jobName.endsWith('/hit-counter/0'));
  t.equal(job?.labels.job, 'service');
});

t.test('an endpoint field the translation does not know is an error, not ignored', async (t) => {
  const objects = await renderMonitored();
  const sm = objects.find((o) => o.kind === 'ServiceMonitor');
  if (!sm) return t.fail('no ServiceMonitor rendered');
  sm.spec.endpoints[0].bearerTokenFile = '/var/run/token';
  t.throws(() => scrapeJobs(objects, NAMESPACE), /fields not supported locally: bearerTokenFile/);
});

t.test('no ServiceMonitor rendered (servicemonitor off) is a clear error', async (t) => {
  const objects = await renderMonitored(['servicemonitor.enabled=false']);
  t.throws(() => scrapeJobs(objects, NAMESPACE), /no ServiceMonitor/);
  t.throws(() => rulesFile(objects), /no PrometheusRule/);
});

t.test('the generated prometheus.yml and targets pass promtool check config', async (t) => {
  const objects = await renderMonitored();
  const jobs = scrapeJobs(objects, NAMESPACE);
  const dir = tempDir('prom-config-', t);
  writeTargets(jobs, dir, (p) => [{ address: `127.0.0.1:${p.port}`, pod: `${p.workload.name}-0` }]);
  writeFileSync(join(dir, 'rules.yaml'), rulesFile(objects));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, stringify({ rule_files: ['rules.yaml'], scrape_configs: scrapeConfigs(jobs, dir) }));
  const { stdout } = await run(requireBinary('promtool'), ['check', 'config', config]);
  t.match(stdout, /SUCCESS: .*prometheus\.yml is valid prometheus config file syntax/);
  const rule = objects.find((o) => o.kind === 'PrometheusRule');
  const rules = (rule?.spec.groups ?? []).flatMap((g: { rules: unknown[] }) => g.rules);
  t.ok(rules.length >= 8, `the PrometheusRule holds the alerts (${rules.length})`);
  t.match(stdout, new RegExp(`SUCCESS: ${rules.length} rules found`), 'promtool loaded every one');
});
