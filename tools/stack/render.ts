// Renders the chart with helm for the local stack and takes what the stack runs out of the rendered
// objects: redis.conf, the ACL users, the node script and nginx.conf from their ConfigMaps, the
// Redis users' passwords from the Secret (derived from the stack's password as in development), the
// service environment from the Deployment, the exporter's from the StatefulSet, the backup's from the
// CronJob, the backup script and the helm test's check script from theirs. The chart is the only
// source of this configuration; the stack keeps no copy of it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { helmTemplate, parseManifests, type K8sObject } from '../lib/helm.ts';
import { freePort } from '../lib/ports.ts';

export const chartDir = join(import.meta.dirname, '..', '..', 'charts', 'hit-counter');
/** The release and namespace the local stack renders: labels such as job and namespace follow. */
export const RELEASE = 'hit-counter';
export const NAMESPACE = 'hit-counter';

const TEMPLATES = {
  deployment: 'templates/deployment.yaml',
  hitCheck: 'templates/tests/hit-check-configmap.yaml',
  redisConf: 'charts/redis/templates/configmap.yaml',
  redisSecret: 'charts/redis/templates/secret.yaml',
  redis: 'charts/redis/templates/statefulset.yaml',
  backup: 'charts/redis/templates/backup-configmap.yaml',
  backupJob: 'charts/redis/templates/backup-cronjob.yaml',
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
  /** global.redis.auth.password: every Redis user's password is derived from it (development) */
  password: string;
  /** extra helm --set values */
  set: string[];
}

export interface Rendered {
  redisConf: string;
  /** the ACL users of the Redis nodes, without passwords (redis-node.sh adds their hashes) */
  usersAcl: string;
  /** the node script: starts redis-server and Sentinel, the probes, the exporter's password file */
  redisNodeScript: string;
  /** the replication architecture only: Sentinel's config template */
  sentinelConf: string | undefined;
  nginxConf: string;
  /** the Redis Secret's data, decoded: `<user>-password` for every Redis user */
  redisSecret: Record<string, string>;
  /** the service container's env of the rendered Deployment, Secret references resolved */
  serviceEnv: Record<string, string>;
  /** the redis_exporter container's env (its literal values) */
  exporterEnv: Record<string, string>;
  /** the backup container's env, Secret references resolved (the backup user and its password) */
  backupEnv: Record<string, string>;
  /** the backup CronJob's script (sh) */
  backupScript: string;
  /** the helm test Pod's check script (sh) */
  hitCheckScript: string;
  writeRedisConf(path: string): void;
  /** writes the Secret as the pods mount it (one file per key, this user only) into `dir` */
  writeAuthDir(dir: string): void;
}

// nginx's readiness port, one per stack (its prefix), the same in every render of that stack.
const probePorts = new Map<string, Promise<number>>();
function probePort(prefix: string): Promise<number> {
  let port = probePorts.get(prefix);
  if (!port) probePorts.set(prefix, (port = freePort()));
  return port;
}

async function values(o: RenderOptions): Promise<string[]> {
  return [
    // The development password source: the chart derives each Redis user's password from it.
    `global.redis.auth.password=${o.password}`,
    `nginx.config.upstreamServers={${o.upstreams.join(',')}}`,
    `nginx.ports.http=${o.nginxPort}`,
    `nginx.ports.status=${o.nginxStatusPort}`,
    `nginx.ports.probe=${await probePort(o.prefix)}`,
    // Every local client is 127.0.0.1, so a per-client limit would be one limit for all of them
    // (the benchmark's and the tests' load): off here. The limits for all clients stay.
    'nginx.config.limits.perClient.connections=0',
    'nginx.config.limits.perClient.rate=0',
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
    set: await values(o),
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

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } };
type Container = { name: string; env?: EnvVar[] };

function secretData(objects: K8sObject[]): Record<string, string> {
  const secret = objects.find((o) => o.kind === 'Secret');
  if (!secret) throw new Error('the rendered chart has no Redis Secret');
  return Object.fromEntries(
    Object.entries(secret.data as Record<string, string>).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString(),
    ]),
  );
}

/** A container's env: literal values, and Secret references resolved from `secret` (others left out). */
function envOf(container: Container, secret: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const key = e.valueFrom?.secretKeyRef?.key;
    if (typeof e.value === 'string') env[e.name] = e.value;
    else if (key !== undefined) {
      const value = secret[key];
      if (value === undefined)
        throw new Error(`${container.name}: ${e.name} names ${key}, not in the Secret`);
      env[e.name] = value;
    }
  }
  return env;
}

function containerOf(objects: K8sObject[], kind: string, pick: (c: Container) => boolean): Container {
  for (const o of objects.filter((x) => x.kind === kind)) {
    const spec = kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.spec : o.spec?.template?.spec;
    const found = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find(pick);
    if (found) return found as Container;
  }
  throw new Error(`the rendered chart has no ${kind} with the container the stack needs`);
}

/** Everything the stack takes from the chart, in one helm run. */
export async function renderStack(o: RenderOptions): Promise<Rendered> {
  const objects = await render(o, Object.values(TEMPLATES));
  const redisConf = dataKey(objects, 'redis.conf');
  const redisSecret = secretData(objects);
  const hasEnv = (name: string) => (c: Container) => c.env?.some((e) => e.name === name) ?? false;
  return {
    redisConf,
    usersAcl: dataKey(objects, 'users.acl'),
    redisNodeScript: dataKey(objects, 'redis-node.sh'),
    sentinelConf: optionalKey(objects, 'sentinel.conf'),
    nginxConf: dataKey(objects, 'nginx.conf'),
    redisSecret,
    serviceEnv: envOf(containerOf(objects, 'Deployment', hasEnv('COUNTER_KEY')), redisSecret),
    exporterEnv: envOf(
      containerOf(objects, 'StatefulSet', (c) => c.name === 'exporter'),
      redisSecret,
    ),
    backupEnv: envOf(
      containerOf(objects, 'CronJob', (c) => c.name === 'backup'),
      redisSecret,
    ),
    backupScript: dataKey(objects, 'backup.sh'),
    hitCheckScript: dataKey(objects, 'hit-check.sh'),
    writeRedisConf: (path) => writeFileSync(path, redisConf),
    writeAuthDir(dir) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const [key, value] of Object.entries(redisSecret))
        writeFileSync(join(dir, key), value, { mode: 0o600 });
    },
  };
}

/** nginx.conf alone, e.g. with a replica taken out of the upstream list. */
export async function renderNginxConf(o: RenderOptions): Promise<string> {
  return dataKey(await render(o, [TEMPLATES.nginxConf]), 'nginx.conf');
}
