// Renders the chart with helm for the local stack and takes what the stack runs out of the rendered
// objects: redis.conf and nginx.conf from their ConfigMaps, the service environment from the
// Deployment, the backup script and the helm test's check script from theirs. The chart is the only
// source of this configuration; the stack keeps no copy of it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { helmTemplate, parseManifests, type K8sObject } from '../lib/helm.ts';

export const chartDir = join(import.meta.dirname, '..', '..', 'charts', 'hit-counter');
/** The release and namespace the local stack renders: labels such as job and namespace follow. */
export const RELEASE = 'hit-counter';
export const NAMESPACE = 'hit-counter';

const TEMPLATES = {
  deployment: 'templates/deployment.yaml',
  hitCheck: 'templates/tests/hit-check-configmap.yaml',
  redisConf: 'charts/redis/templates/configmap.yaml',
  backup: 'charts/redis/templates/backup-configmap.yaml',
  nginxConf: 'charts/nginx/templates/configmap.yaml',
};

export interface RenderOptions {
  /** host:port of every service replica nginx proxies to */
  upstreams: string[];
  nginxPort: number;
  nginxStatusPort: number;
  /** nginx's prefix directory: pid file and temp files go here */
  prefix: string;
  /** nginx's access and error logs (files: nginx cannot open /dev/stdout when it is a socket) */
  accessLog: string;
  errorLog: string;
  /** extra helm --set values */
  set: string[];
}

export interface Rendered {
  redisConf: string;
  /** the replication architecture only: Sentinel's config template and the node start script */
  sentinelConf: string | undefined;
  redisNodeScript: string | undefined;
  nginxConf: string;
  /** the service container's literal env of the rendered Deployment (valueFrom entries left out) */
  serviceEnv: Record<string, string>;
  /** the backup CronJob's script (sh) */
  backupScript: string;
  /** the helm test Pod's check script (sh) */
  hitCheckScript: string;
  writeRedisConf(path: string): void;
}

function values(o: RenderOptions): string[] {
  return [
    // Auth on, as in both environments; the password itself is passed to redis-server at start.
    'global.redis.auth.enabled=true',
    'global.redis.auth.password=rendered-only',
    `nginx.config.upstreamServers={${o.upstreams.join(',')}}`,
    `nginx.ports.http=${o.nginxPort}`,
    `nginx.ports.status=${o.nginxStatusPort}`,
    `nginx.config.paths.pid=${join(o.prefix, 'nginx.pid')}`,
    `nginx.config.paths.temp=${join(o.prefix, 'temp')}`,
    `nginx.config.paths.accessLog=${o.accessLog}`,
    `nginx.config.paths.errorLog=${o.errorLog}`,
    ...o.set,
  ];
}

async function render(o: RenderOptions, showOnly: string[]): Promise<K8sObject[]> {
  const text = await helmTemplate({
    chartDir,
    releaseName: RELEASE,
    namespace: NAMESPACE,
    set: values(o),
    showOnly,
  });
  return parseManifests(text);
}

function optionalKey(objects: K8sObject[], key: string): string | undefined {
  for (const o of objects) {
    const value = o.kind === 'ConfigMap' ? (o.data as Record<string, string> | undefined)?.[key] : undefined;
    if (typeof value === 'string') return value;
  }
  return undefined;
}

function dataKey(objects: K8sObject[], key: string): string {
  const value = optionalKey(objects, key);
  if (value === undefined) throw new Error(`the rendered chart has no ConfigMap with the key ${key}`);
  return value;
}

function serviceEnv(objects: K8sObject[]): Record<string, string> {
  const deployment = objects.find((o) => o.kind === 'Deployment');
  const containers = (deployment?.spec?.template?.spec?.containers ?? []) as {
    env?: { name: string; value?: string }[];
  }[];
  const container = containers.find((c) => c.env?.some((e) => e.name === 'COUNTER_KEY'));
  if (!container)
    throw new Error('the rendered chart has no Deployment container with COUNTER_KEY in its env');
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
  return env;
}

/** Everything the stack takes from the chart, in one helm run. */
export async function renderStack(o: RenderOptions): Promise<Rendered> {
  const objects = await render(o, Object.values(TEMPLATES));
  const redisConf = dataKey(objects, 'redis.conf');
  return {
    redisConf,
    sentinelConf: optionalKey(objects, 'sentinel.conf'),
    redisNodeScript: optionalKey(objects, 'redis-node.sh'),
    nginxConf: dataKey(objects, 'nginx.conf'),
    serviceEnv: serviceEnv(objects),
    backupScript: dataKey(objects, 'backup.sh'),
    hitCheckScript: dataKey(objects, 'hit-check.sh'),
    writeRedisConf: (path) => writeFileSync(path, redisConf),
  };
}

/** nginx.conf alone, e.g. with a replica taken out of the upstream list. */
export async function renderNginxConf(o: RenderOptions): Promise<string> {
  return dataKey(await render(o, [TEMPLATES.nginxConf]), 'nginx.conf');
}
