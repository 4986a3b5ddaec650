// Monitoring on top of a running local stack: redis_exporter and nginx-prometheus-exporter pointed
// at it, and Prometheus scraping them and the service replicas with the scrape configuration derived
// from the chart's rendered ServiceMonitors and the rules of its rendered PrometheusRule. Everything
// lives in a temp dir (config, targets, TSDB) and every process is stopped by pid.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { helmTemplate, parseManifests, type K8sObject } from '../lib/helm.ts';
import { freePort } from '../lib/ports.ts';
import { requireBinary, spawnProcess, tempDir, waitFor, type Proc } from '../lib/proc.ts';
import {
  scrapeConfigs,
  scrapeJobs,
  writeTargets,
  type LocalTarget,
  type WorkloadPort,
} from '../lib/prometheus-config.ts';
import { rulesFile } from '../lib/prometheus-rules.ts';
import { chartDir, NAMESPACE, RELEASE } from './render.ts';
import type { Stack } from './stack.ts';

// The release the local stack renders: labels such as job and namespace in the rules and the
// dashboard are computed from these.
export { NAMESPACE, RELEASE } from './render.ts';

export interface MonitoringOptions {
  /** scrape interval and timeout rendered into the ServiceMonitors (servicemonitor.interval; default: the chart's) */
  scrapeInterval?: string;
  /** Prometheus's rule evaluation interval (default 15s) */
  evaluationInterval?: string;
  /** Prometheus's port (default: a free port) */
  port?: number;
  /** extra helm --set values for the render */
  set?: string[];
  /** working directory (default: a fresh temp dir, removed by stop()) */
  dir?: string;
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
  value: string;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Monitoring {
  prometheusUrl: string;
  dir: string;
  /** the rendered objects the configuration came from */
  objects: K8sObject[];
  /** pids of Prometheus and the exporters */
  pids: { prometheus: number; redisExporter: number; nginxExporter: number };
  /** instant query; resolves with the result vector (throws on a query error) */
  query(q: string): Promise<Sample[]>;
  /** the active (pending or firing) alerts */
  alerts(): Promise<Alert[]>;
  /** the values of `label` on the series matching `match` (what Grafana's label_values() shows) */
  labelValues(label: string, match: string): Promise<string[]>;
  /** every target's health, by scrape pool */
  targets(): Promise<{ job: string; pool: string; health: string; lastError: string }[]>;
  /** waits until every target has been scraped successfully (targets are picked up within ~5 s) */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  /** rewrites the target files from the stack's current replicas (after a restart or kill) */
  refreshTargets(): void;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/**
 * redis_exporter (Debian's prometheus-redis-exporter) for the stack's Redis as the chart's pod runs
 * it: the exporter container's environment (its own Redis user, the password file instead of a
 * password), the file written by the chart's redis-node.sh as the pod's init container writes it,
 * and only the addresses local. Resolves once it answers /health; the caller stops it by pid.
 */
export async function startRedisExporter(
  stack: Stack,
  o: { dir: string; port?: number },
): Promise<{ proc: Proc; port: number }> {
  if (!stack.redis) throw new Error('redis_exporter needs the stack with Redis (not --memory)');
  const bin = requireBinary('prometheus-redis-exporter');
  const env = stack.rendered.exporterEnv;
  const address = `redis://127.0.0.1:${stack.redis.port}`;
  const passwordFile = join(o.dir, 'redis-exporter-passwords.json');
  try {
    await run('sh', [stack.nodeScript, 'exporter-auth', passwordFile, address], {
      env: { PATH: process.env.PATH, AUTH_DIR: stack.authDir },
      timeout: 10_000,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`redis-node.sh exporter-auth: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
  const port = o.port ?? (await freePort());
  const proc = spawnProcess(bin, [], {
    env: {
      PATH: process.env.PATH,
      ...env,
      REDIS_ADDR: address,
      REDIS_PASSWORD_FILE: passwordFile,
      REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${port}`,
    },
    logFile: join(o.dir, 'redis-exporter.log'),
  });
  proc.exited.catch(() => {});
  try {
    await waitFor(
      async () => {
        if (proc.hasExited()) return true;
        const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.ok;
      },
      { timeoutMs: 15_000, what: `redis_exporter answering on port ${port}` },
    );
  } catch (err) {
    await proc.stop({ signal: 'SIGKILL' });
    throw err;
  }
  if (proc.hasExited())
    throw new Error(`redis_exporter exited at start (log: ${proc.logFile}):\n${proc.log()}`);
  return { proc, port };
}

/** The chart rendered as the stack renders it, with the servicemonitor subchart and the operator's API on. */
export async function renderMonitored(set: string[] = []): Promise<K8sObject[]> {
  const text = await helmTemplate({
    chartDir,
    releaseName: RELEASE,
    namespace: NAMESPACE,
    // Redis auth needs a password source to render; only the monitoring objects are read here.
    set: ['servicemonitor.enabled=true', 'global.redis.auth.password=rendered-only', ...set],
    apiVersions: ['monitoring.coreos.com/v1'],
  });
  return parseManifests(text);
}

export async function startMonitoring(stack: Stack, o: MonitoringOptions = {}): Promise<Monitoring> {
  const bins = {
    prometheus: requireBinary('prometheus'),
    nginx: requireBinary('prometheus-nginx-exporter'),
  };
  if (!stack.redis) throw new Error('monitoring needs the stack with Redis (not --memory)');
  const interval = o.scrapeInterval
    ? [`servicemonitor.interval=${o.scrapeInterval}`, `servicemonitor.scrapeTimeout=${o.scrapeInterval}`]
    : [];
  const objects = await renderMonitored([...interval, ...(o.set ?? [])]);
  const jobs = scrapeJobs(objects, NAMESPACE);

  const dir = o.dir ?? tempDir('hit-counter-monitoring-');
  const removeDir = o.dir === undefined;
  const targetsDir = join(dir, 'targets');
  mkdirSync(targetsDir, { recursive: true });
  const procs: Proc[] = [];
  const stop = async (): Promise<void> => {
    for (const p of procs.splice(0).reverse()) await p.stop({ timeoutMs: 10_000 }).catch(() => {});
    if (removeDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const { proc: redisExporter, port: redisExporterPort } = await startRedisExporter(stack, { dir });
    procs.push(redisExporter);

    const nginxExporterPort = await freePort();
    const nginxExporter = spawnProcess(
      bins.nginx,
      [
        '-nginx.scrape-uri',
        stubStatusUrl(stack.rendered.nginxConf),
        '-web.listen-address',
        `127.0.0.1:${nginxExporterPort}`,
      ],
      { logFile: join(dir, 'nginx-exporter.log') },
    );
    procs.push(nginxExporter);

    // Where each pod's scraped port runs locally, by the workload's component.
    const locate = (p: WorkloadPort): LocalTarget[] => {
      const component = p.workload.labels['app.kubernetes.io/component'];
      const at = (port: number, pod: string): LocalTarget => ({ address: `127.0.0.1:${port}`, pod });
      if (component === 'service')
        return stack.services.filter((r) => !r.gone).map((r) => at(r.port, `${p.workload.name}-${r.port}`));
      if (component === 'redis' && p.container === 'exporter')
        return [at(redisExporterPort, `${p.workload.name}-0`)];
      if (component === 'nginx' && p.container === 'exporter')
        return [at(nginxExporterPort, `${p.workload.name}-0`)];
      throw new Error(
        `no local process for ${p.workload.kind} ${p.workload.name} container ${p.container} port ${p.port}`,
      );
    };
    const refreshTargets = (): void => writeTargets(jobs, targetsDir, locate);
    refreshTargets();

    const configFile = join(dir, 'prometheus.yml');
    const rulesPath = join(dir, 'hit-counter.rules.yaml');
    writeFileSync(rulesPath, rulesFile(objects));
    writeFileSync(
      configFile,
      stringify({
        global: { evaluation_interval: o.evaluationInterval ?? '15s' },
        rule_files: [rulesPath],
        scrape_configs: scrapeConfigs(jobs, targetsDir),
      }),
    );

    const port = o.port ?? (await freePort());
    const prometheus = spawnProcess(
      bins.prometheus,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1d',
      ],
      { logFile: join(dir, 'prometheus.log') },
    );
    procs.push(prometheus);
    const prometheusUrl = `http://127.0.0.1:${port}`;

    const parts = [
      ['prometheus', prometheus],
      ['redis_exporter', redisExporter],
      ['nginx-prometheus-exporter', nginxExporter],
    ] as const;
    for (const [, p] of parts) p.exited.catch(() => {});
    const gone = (): string => {
      const [name, p] = parts.find(([, x]) => x.hasExited()) ?? [];
      return name && p ? `${name} exited or could not start; see ${p.logFile}` : '';
    };
    await waitFor(
      async () => {
        if (gone()) return true;
        const res = await fetch(`${prometheusUrl}/-/ready`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.ok;
      },
      { timeoutMs: 30_000, what: `Prometheus ready at ${prometheusUrl}` },
    );
    if (gone()) throw new Error(gone());

    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${prometheusUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
      return body.data;
    };
    const monitoring: Monitoring = {
      prometheusUrl,
      dir,
      objects,
      pids: {
        prometheus: prometheus.pid,
        redisExporter: redisExporter.pid,
        nginxExporter: nginxExporter.pid,
      },
      async query(q) {
        const data = await api<{ resultType: string; result: Sample[] }>(
          `/api/v1/query?query=${encodeURIComponent(q)}`,
        );
        if (data.resultType !== 'vector') throw new Error(`query ${q}: a ${data.resultType}, not a vector`);
        return data.result;
      },
      async alerts() {
        return (await api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts;
      },
      async labelValues(label, match) {
        return api<string[]>(
          `/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(match)}`,
        );
      },
      async targets() {
        const data = await api<{
          activeTargets: {
            labels: Record<string, string>;
            scrapePool: string;
            health: string;
            lastError: string;
          }[];
        }>('/api/v1/targets?state=active');
        return data.activeTargets.map((t) => ({
          job: t.labels.job ?? '',
          pool: t.scrapePool,
          health: t.health,
          lastError: t.lastError,
        }));
      },
      // Prometheus scrapes a new target first at an offset within its scrape interval: the default
      // deadline covers two of the longest intervals, plus the target files' pick-up.
      async waitForTargetsUp(timeoutMs = 2 * longestIntervalMs(jobs) + 15_000) {
        const expected = jobs.length;
        await waitFor(
          async () => {
            const targets = await monitoring.targets();
            const pools = new Set(targets.map((t) => t.pool));
            return pools.size === expected && targets.every((t) => t.health === 'up');
          },
          { timeoutMs, intervalMs: 250, what: `every scrape target of ${prometheusUrl} up` },
        );
      },
      refreshTargets,
      stop,
    };
    return monitoring;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The stub_status URL of a rendered nginx.conf: the listener of the server with `stub_status;`. */
export function stubStatusUrl(nginxConf: string): string {
  for (const server of nginxConf.split(/\n\s*server\s*\{/).slice(1)) {
    const location = /location\s*=?\s*(\S+)\s*\{\s*stub_status;/.exec(server);
    const listen = /listen\s+(?:([\d.]+):)?(\d+)\s*;/.exec(server);
    if (location && listen) return `http://${listen[1] ?? '127.0.0.1'}:${listen[2]}${location[1]}`;
  }
  throw new Error('the rendered nginx.conf has no server with stub_status');
}

/** The longest scrape interval of the jobs in ms (Prometheus's default, 1m, where none is set). */
function longestIntervalMs(jobs: { interval?: string }[]): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const ms = (d: string): number => {
    let total = 0;
    for (const [, n, u] of d.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(n) * (unit[u as string] ?? 0);
    return total;
  };
  return Math.max(...jobs.map((j) => (j.interval ? ms(j.interval) : 60_000)), 0);
}
