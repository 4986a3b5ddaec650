// Scrape configuration for a plain Prometheus, derived from rendered ServiceMonitors the way
// prometheus-operator derives it: each ServiceMonitor endpoint selects Services (labels, namespaces)
// and a named Service port; the Service's targetPort leads to a container port of the pods the
// Service selects. One scrape job per endpoint (serviceMonitor/<namespace>/<name>/<index>); every
// target carries the labels the operator's relabelling gives it (job = the Service name or the
// value of its jobLabel label, namespace, service, pod, container, endpoint). Where a pod would run,
// the caller names the local process (locate); targets are files Prometheus watches (file_sd), so
// a replaced process is picked up without a restart.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { K8sObject } from './helm.ts';

type Labels = Record<string, string>;
interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A container port of a workload's pod template: what a ServiceMonitor endpoint ends up scraping. */
export interface WorkloadPort {
  workload: { kind: string; name: string; labels: Labels };
  container: string;
  port: number;
}

/** Where a pod's port runs locally. */
export interface LocalTarget {
  address: string; // host:port
  pod: string;
}

/** One ServiceMonitor endpoint resolved against one Service. */
export interface ScrapeJob {
  jobName: string;
  labels: { job: string; namespace: string; service: string; endpoint: string; container: string };
  path: string;
  interval?: string;
  scrapeTimeout?: string;
  scheme?: string;
  honorLabels?: boolean;
  params?: Record<string, string[]>;
  relabelings: Record<string, unknown>[];
  metricRelabelings: Record<string, unknown>[];
  target: WorkloadPort;
}

// Endpoint fields this translation understands; any other field is an error rather than ignored.
const ENDPOINT_FIELDS = new Set([
  'port',
  'path',
  'interval',
  'scrapeTimeout',
  'scheme',
  'honorLabels',
  'params',
  'relabelings',
  'metricRelabelings',
]);

/**
 * Every scrape job of every ServiceMonitor in `objects`, resolved against the rendered Services and
 * workloads; objects without a namespace (helm template output) are in `releaseNamespace`.
 */
export function scrapeJobs(objects: K8sObject[], releaseNamespace: string): ScrapeJob[] {
  const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
  if (monitors.length === 0) throw new Error('the rendered manifests contain no ServiceMonitor');
  const jobs: ScrapeJob[] = [];
  for (const sm of monitors) {
    const smNs = sm.metadata.namespace ?? releaseNamespace;
    const where = `ServiceMonitor ${sm.metadata.name}`;
    const namespaces: string[] | undefined = sm.spec.namespaceSelector?.any
      ? undefined
      : (sm.spec.namespaceSelector?.matchNames ?? [smNs]);
    const services = objects.filter(
      (o) =>
        o.kind === 'Service' &&
        (namespaces === undefined || namespaces.includes(o.metadata.namespace ?? smNs)) &&
        matches(sm.spec.selector ?? {}, o.metadata.labels ?? {}),
    );
    (sm.spec.endpoints as Record<string, unknown>[]).forEach((ep, i) => {
      const unknown = Object.keys(ep).filter((k) => !ENDPOINT_FIELDS.has(k));
      if (unknown.length)
        throw new Error(`${where} endpoint ${i}: fields not supported locally: ${unknown.join(', ')}`);
      if (typeof ep.port !== 'string')
        throw new Error(`${where} endpoint ${i}: only named ports (endpoints[].port) are supported`);
      // The operator keeps only the Services that have a port of that name.
      for (const svc of services) {
        const svcPort = (
          svc.spec.ports as { name?: string; port: number; targetPort?: string | number }[]
        ).find((p) => p.name === ep.port);
        if (!svcPort) continue;
        const jobLabel = sm.spec.jobLabel as string | undefined;
        jobs.push({
          jobName: `serviceMonitor/${smNs}/${sm.metadata.name}/${i}`,
          labels: {
            job: (jobLabel && svc.metadata.labels?.[jobLabel]) || svc.metadata.name,
            namespace: svc.metadata.namespace ?? smNs,
            service: svc.metadata.name,
            endpoint: ep.port,
            container: '',
          },
          path: (ep.path as string | undefined) ?? '/metrics',
          interval: ep.interval as string | undefined,
          scrapeTimeout: ep.scrapeTimeout as string | undefined,
          scheme: ep.scheme as string | undefined,
          honorLabels: ep.honorLabels as boolean | undefined,
          params: ep.params as Record<string, string[]> | undefined,
          relabelings: (ep.relabelings as Record<string, unknown>[] | undefined) ?? [],
          metricRelabelings: (ep.metricRelabelings as Record<string, unknown>[] | undefined) ?? [],
          target: containerPort(
            objects,
            svc,
            svcPort.targetPort ?? svcPort.port,
            `${where} -> Service ${svc.metadata.name}`,
          ),
        });
      }
    });
  }
  for (const j of jobs) j.labels.container = j.target.container;
  return jobs;
}

/** The prometheus.yml scrape_configs for these jobs; targets come from `<targetsDir>/<n>.json`. */
export function scrapeConfigs(jobs: ScrapeJob[], targetsDir: string): Record<string, unknown>[] {
  return jobs.map((j, n) => ({
    job_name: j.jobName,
    metrics_path: j.path,
    ...(j.interval && { scrape_interval: j.interval }),
    ...(j.scrapeTimeout && { scrape_timeout: j.scrapeTimeout }),
    ...(j.scheme && { scheme: j.scheme }),
    ...(j.honorLabels !== undefined && { honor_labels: j.honorLabels }),
    ...(j.params && { params: j.params }),
    file_sd_configs: [{ files: [join(targetsDir, `${n}.json`)], refresh_interval: '1s' }],
    ...(j.relabelings.length && { relabel_configs: j.relabelings.map(relabelConfig) }),
    ...(j.metricRelabelings.length && { metric_relabel_configs: j.metricRelabelings.map(relabelConfig) }),
  }));
}

/** Writes each job's targets file (atomically, so Prometheus never reads half a file). */
export function writeTargets(
  jobs: ScrapeJob[],
  targetsDir: string,
  locate: (p: WorkloadPort) => LocalTarget[],
): void {
  jobs.forEach((j, n) => {
    const groups = locate(j.target).map((t) => ({
      targets: [t.address],
      labels: { ...j.labels, pod: t.pod },
    }));
    const file = join(targetsDir, `${n}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(groups, null, 2));
    renameSync(`${file}.tmp`, file);
  });
}

// A Service's targetPort (name or number) -> the container port of a workload whose pods it selects.
function containerPort(
  objects: K8sObject[],
  svc: K8sObject,
  targetPort: string | number,
  where: string,
): WorkloadPort {
  const selector = svc.spec.selector as Labels | undefined;
  if (!selector) throw new Error(`${where}: the Service has no selector, so no pods to scrape`);
  for (const w of objects) {
    const template = w.spec?.template ?? w.spec?.jobTemplate?.spec?.template;
    const podLabels = template?.metadata?.labels as Labels | undefined;
    if (!podLabels || !Object.entries(selector).every(([k, v]) => podLabels[k] === v)) continue;
    for (const c of (template.spec?.containers ?? []) as {
      name: string;
      ports?: { name?: string; containerPort: number }[];
    }[]) {
      const port = c.ports?.find((p) => p.name === targetPort || p.containerPort === targetPort);
      if (port)
        return {
          workload: { kind: w.kind, name: w.metadata.name, labels: w.metadata.labels ?? {} },
          container: c.name,
          port: port.containerPort,
        };
    }
  }
  throw new Error(`${where}: no rendered pod template has a container port ${targetPort}`);
}

function matches(sel: LabelSelector, labels: Labels): boolean {
  const byLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return (
    byLabels &&
    (sel.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const has = key in labels;
      if (operator === 'In') return has && values.includes(labels[key] as string);
      if (operator === 'NotIn') return !has || !values.includes(labels[key] as string);
      if (operator === 'Exists') return has;
      if (operator === 'DoesNotExist') return !has;
      throw new Error(`unknown label selector operator ${operator}`);
    })
  );
}

// prometheus-operator RelabelConfig (camelCase) -> Prometheus relabel_config (snake_case).
function relabelConfig(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  return out;
}
