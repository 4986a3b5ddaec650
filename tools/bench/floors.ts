// The floors every mode is read against, measured in the same run by the same wrk script:
//   service  the service alone: one replica, the embedded store, the chart's environment, no nginx;
//   fastify  a bare Fastify app answering the same sentence with a bigint counter, logger off
//            (bare-fastify.js): what the framework itself costs;
//   nginx    nginx with the chart's nginx.conf whose `location /` answers `return 200` with the
//            sentence instead of proxying: what the load balancer itself costs.
// Also start → listening of the bare Fastify app, the floor of the service's start → ready.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/ports.ts';
import { tempDir, type Proc } from '../lib/proc.ts';
import { startNginx } from '../stack/nginx.ts';
import { renderNginxConf } from '../stack/render.ts';
import { startServiceProcess } from '../stack/service.ts';

export const FLOORS = ['service', 'fastify', 'nginx'] as const;
export type Floor = (typeof FLOORS)[number];

export const FLOOR_LABELS: Record<Floor, string> = {
  service: 'the service alone (embedded store, no nginx)',
  fastify: 'bare Fastify (logger off)',
  nginx: "nginx return 200 (the chart's nginx.conf)",
};

const BARE = join(import.meta.dirname, 'bare-fastify.js');
const SENTENCE = 'Holla! we have hit 1 times';

export interface FloorServer {
  floor: Floor;
  url: string;
  /** its process (nginx: the master; its workers are its children) */
  pid: number;
}

export interface Floors {
  servers: FloorServer[];
  /** stops every floor by pid and removes their files */
  stop(): Promise<void>;
}

/** Spawns the bare Fastify app on `port`; resolves once GET / answers 200, polled every `intervalMs`. */
function startBare(port: number, logFile: string, intervalMs: number, nodeOptions: string): Promise<Proc> {
  const { NODE_OPTIONS: _inherited, ...env } = process.env;
  return startServiceProcess({
    script: BARE,
    port,
    env: nodeOptions ? { ...env, NODE_OPTIONS: nodeOptions } : env,
    logFile,
    readyPath: '/',
    intervalMs,
  });
}

/** A service environment with its Redis settings dropped: the embedded store, all else kept. */
export function embeddedStoreEnv(serviceEnv: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(serviceEnv).filter(([k]) => !k.startsWith('REDIS_')));
}

/**
 * Starts the three floors. `serviceEnv` is a stack's service environment: its Redis settings are
 * dropped, so the replica runs the embedded store with everything else as the chart sets it; the
 * bare Fastify app gets its NODE_OPTIONS (the same heap), so the two compare like for like.
 * `script` is the service's entry point: the compiled build, as for the stacks.
 */
export async function startFloors(serviceEnv: Record<string, string>, script: string): Promise<Floors> {
  const dir = tempDir('bench-floors-');
  const servers: FloorServer[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const env = embeddedStoreEnv(serviceEnv);
    const servicePort = await freePort();
    const service = await startServiceProcess({
      script,
      port: servicePort,
      env: { ...process.env, ...env },
      logFile: join(dir, 'service.log'),
    });
    stops.push(() => service.stop({ signal: 'SIGTERM', timeoutMs: 10_000 }));
    servers.push({ floor: 'service', url: `http://127.0.0.1:${servicePort}/`, pid: service.pid });

    const barePort = await freePort();
    const bare = await startBare(barePort, join(dir, 'fastify.log'), 50, env.NODE_OPTIONS ?? '');
    stops.push(() => bare.stop({ signal: 'SIGTERM', timeoutMs: 10_000 }));
    servers.push({ floor: 'fastify', url: `http://127.0.0.1:${barePort}/`, pid: bare.pid });

    const nginxPort = await freePort();
    const prefix = join(dir, 'nginx');
    mkdirSync(join(prefix, 'temp'), { recursive: true });
    const conf = await renderNginxConf({
      upstreams: [`127.0.0.1:${barePort}`],
      nginxPort,
      nginxStatusPort: await freePort(),
      prefix,
      accessLog: join(dir, 'nginx-access.log'),
      errorLog: join(dir, 'nginx-error.log'),
      password: 'bench-floor',
      set: [],
    });
    const proxied = /^(\s*)proxy_pass http:\/\/hit_counter;$/m;
    if (!proxied.test(conf))
      throw new Error("the chart's nginx.conf has no `proxy_pass http://hit_counter;`");
    const nginx = await startNginx({
      confText: conf.replace(proxied, `$1return 200 "${SENTENCE}\\n";`),
      prefix,
      port: nginxPort,
      logFile: join(dir, 'nginx.log'),
    });
    stops.push(() => nginx.stop());
    servers.push({ floor: 'nginx', url: `http://127.0.0.1:${nginxPort}/`, pid: nginx.pid });
  } catch (err) {
    await stop();
    throw err;
  }
  return { servers, stop };
}

/**
 * Spawn → first GET / answered 200 of the bare Fastify app (ms), polled every 2 ms like /ready,
 * with the replicas' NODE_OPTIONS.
 */
export async function bareStartMs(nodeOptions: string): Promise<number> {
  const dir = tempDir('bench-bare-');
  try {
    const port = await freePort();
    const started = performance.now();
    const proc = await startBare(port, join(dir, 'fastify.log'), 2, nodeOptions);
    const ms = Math.round(performance.now() - started);
    await proc.stop({ signal: 'SIGTERM', timeoutMs: 10_000 });
    return ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
