// The real prometheus-operator (v0.85.0) turns the chart's ServiceMonitors and PrometheusRule, as
// helm installed them, into the configuration of a Prometheus object: one job per ServiceMonitor,
// whose relabelling gives each target the labels the alerts and the dashboard use, and the rule
// file. The local stack's scrape config (tools/lib/prometheus-config.ts) is compared with it job by
// job; it stays only because it is equal. (Debian's Prometheus, built without Kubernetes service
// discovery, cannot run the operator's config itself.)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { parse } from 'yaml';
import { parseManifests } from '../../tools/lib/helm.ts';
import { scrapeJobs } from '../../tools/lib/prometheus-config.ts';
import { requireBinary, waitFor } from '../../tools/lib/proc.ts';
import { NAMESPACE } from '../../tools/stack/monitoring.ts';
import { clusterFor, DEV_AUTH, installReady } from './fixture.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
const run = promisify(execFile);

const c = await clusterFor(t, { prometheusOperator: true });

// The chart as the local stack renders it (tools/stack/monitoring.ts), installed for real.
const set = ['servicemonitor.enabled=true', DEV_AUTH];
await installReady(c, { namespace: NAMESPACE, set });
const objects = parseManifests(await c.helm(['get', 'manifest', 'hit-counter', '-n', NAMESPACE]));
// The local stack's scrape jobs for the same objects, by job name.
const localJobs = new Map(scrapeJobs(objects, NAMESPACE).map((j) => [j.jobName, j]));
const labels = objects.find((o) => o.kind === 'ServiceMonitor')!.metadata.labels as Record<string, string>;

// A Prometheus object selecting the chart's monitors and rules by their release label, as
// kube-prometheus-stack's does; the version tells the operator which Prometheus to write for.
const promVersion = (await run(requireBinary('prometheus'), ['--version'])).stdout.match(
  /version (\d+\.\d+\.\d+)/,
)![1];
await c.kubectl(['apply', '--server-side', '-f', '-'], {
  input: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring' } },
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'Prometheus',
      metadata: { name: 'k8s', namespace: 'monitoring' },
      spec: {
        version: `v${promVersion}`,
        serviceMonitorSelector: { matchLabels: { release: labels.release } },
        serviceMonitorNamespaceSelector: {},
        ruleSelector: { matchLabels: { release: labels.release } },
        ruleNamespaceSelector: {},
      },
    },
  ]
    .map((o) => JSON.stringify(o))
    .join('\n'),
});

const jobsOf = (config: Obj): string[] => (config.scrape_configs as Obj[]).map((s) => s.job_name).sort();
const config = await waitFor(
  async () => {
    const secret = await c.getJson(['secret', 'prometheus-k8s', '-n', 'monitoring']);
    const gz = secret.data?.['prometheus.yaml.gz'];
    const parsed = gz && (parse(gunzipSync(Buffer.from(gz, 'base64')).toString()) as Obj);
    return parsed?.scrape_configs?.length === 3 ? parsed : undefined;
  },
  {
    timeoutMs: 60_000,
    intervalMs: 250,
    what: 'prometheus-operator to write three scrape jobs into Secret prometheus-k8s',
  },
);

t.test('the operator writes one job per ServiceMonitor, the ones the local stack derives', async (t) => {
  t.same(jobsOf(config), [
    'serviceMonitor/hit-counter/hit-counter-nginx/0',
    'serviceMonitor/hit-counter/hit-counter-redis/0',
    'serviceMonitor/hit-counter/hit-counter/0',
  ]);
  t.same([...localJobs.keys()].sort(), jobsOf(config));
  for (const job of config.scrape_configs as Obj[]) {
    const local = localJobs.get(job.job_name)!;
    t.equal(job.metrics_path, local.path, `${job.job_name}: path`);
    t.equal(job.scrape_interval, local.interval, `${job.job_name}: interval`);
    t.equal(job.scrape_timeout, local.scrapeTimeout, `${job.job_name}: timeout`);
  }
});

t.test("the operator loads the chart's PrometheusRule as it is", async (t) => {
  const rule = objects.find((o) => o.kind === 'PrometheusRule')!;
  const cm = await c.getJson(['configmap', 'prometheus-k8s-rulefiles-0', '-n', 'monitoring']);
  const files = Object.values(cm.data as Record<string, string>).map((text) => parse(text) as Obj);
  t.equal(files.length, 1);
  t.same(files[0]!.groups, rule.spec.groups);
});

// What each target's labels are made of: the operator's relabelling, read as the configuration says
// (the last rule that writes a label wins), against the labels the local stack gives its targets.
t.test(
  'each job labels its targets as the local stack does: job, namespace, service, pod, container, endpoint',
  async (t) => {
    for (const job of config.scrape_configs as Obj[]) {
      const local = localJobs.get(job.job_name)!;
      const rules = job.relabel_configs as Obj[];
      const writes = (label: string): Obj | undefined =>
        rules.filter((r) => r.target_label === label && (r.action ?? 'replace') === 'replace').at(-1);
      const from = (label: string): string[] | undefined => writes(label)?.source_labels;
      const name = job.job_name as string;
      t.same(
        job.kubernetes_sd_configs,
        [{ role: 'endpoints', namespaces: { names: [NAMESPACE] } }],
        `${name}: discovery`,
      );
      t.same(from('job'), ['__meta_kubernetes_service_name'], `${name}: job is the Service's name`);
      t.equal(local.labels.job, local.labels.service, `${name}: and so it is locally`);
      t.same(from('service'), ['__meta_kubernetes_service_name'], `${name}: service`);
      t.same(from('namespace'), ['__meta_kubernetes_namespace'], `${name}: namespace`);
      t.equal(local.labels.namespace, NAMESPACE);
      t.same(from('pod'), ['__meta_kubernetes_pod_name'], `${name}: pod`);
      t.same(from('container'), ['__meta_kubernetes_pod_container_name'], `${name}: container`);
      t.equal(
        writes('endpoint')?.replacement,
        local.labels.endpoint,
        `${name}: endpoint ${local.labels.endpoint}`,
      );
      t.ok(
        rules.some(
          (r) =>
            r.action === 'keep' &&
            r.source_labels?.[0] === '__meta_kubernetes_endpoint_port_name' &&
            r.regex === local.labels.endpoint,
        ),
        `${name}: only the ${local.labels.endpoint} port`,
      );
      // The Service the stack resolved is one the operator's selector keeps.
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === local.labels.service)!;
      for (const keep of rules.filter((r) => r.action === 'keep' && r.source_labels?.length === 2)) {
        const [valueLabel, presentLabel] = keep.source_labels as string[];
        if (!presentLabel!.startsWith('__meta_kubernetes_service_labelpresent_')) continue;
        const key = Object.keys(service.metadata.labels ?? {}).find(
          (k) => `__meta_kubernetes_service_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}` === valueLabel,
        );
        t.ok(
          key && new RegExp(`^(?:${keep.regex})$`).test(`${service.metadata.labels?.[key]};true`),
          `${name}: Service ${service.metadata.name} kept by ${valueLabel}`,
        );
      }
    }
  },
);
