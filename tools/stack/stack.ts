// The local stack: redis-server with the chart's redis.conf and ACL users, started by the chart's
// redis-node.sh (or, with `ha`, the chart's replication architecture: replication.ts), N service
// replicas configured like the chart's Deployment (the service's own Redis user), and
// nginx with the chart's nginx.conf in front of them. Kubernetes' moves
// (rolling restart with readiness drain, a crashed pod replaced, Redis restarted) are methods here,
// so the CLI and the tests share one implementation.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/ports.ts';
import { requireBinary, tempDir } from '../lib/proc.ts';
import { startRedis, type RedisServer } from '../lib/redis.ts';
import { runBackupScript, restoreFromRdb } from './backup.ts';
import { startNginx, type Nginx } from './nginx.ts';
import { renderNginxConf, renderStack, type Rendered } from './render.ts';
import { startReplication, type Replication } from './replication.ts';
import { startReplica, stopReplica, type Replica } from './service.ts';

export interface StackOptions {
  /** service replicas (default 3) */
  replicas?: number;
  /** nginx's port (default: a free port) */
  port?: number;
  /** 'redis' (default): redis-server with the chart's redis.conf; 'memory': the embedded store */
  store?: 'redis' | 'memory';
  /** the chart's replication architecture: 3 Redis nodes and 3 Sentinels (redis store only) */
  ha?: boolean;
  /** the script each replica runs (default: the service's sources; the bench runs the compiled build) */
  script?: string;
  /** service environment overrides, applied over the chart's Deployment env (e.g. COUNTER_BATCH_MAX) */
  env?: Record<string, string>;
  /** extra helm --set values for the render */
  set?: string[];
  /** working directory for configs, data and logs (default: a fresh temp dir, removed by stop()) */
  dir?: string;
  /** keep the fresh temp dir (logs, data) after stop() */
  keepDir?: boolean;
}

export interface Stack {
  url: string;
  dir: string;
  rendered: Rendered;
  /** the Redis (with ha: the node last seen as primary; call primary() to look again) */
  redis: RedisServer | undefined;
  /** with ha: the Redis nodes and Sentinels */
  replication: Replication | undefined;
  /** with ha: asks the Sentinels for the primary (and points `redis` at it) */
  primary(): Promise<RedisServer>;
  /** the Redis users' passwords by user (the chart's Secret); `redis.cli` logs in as admin */
  redisUsers: Record<string, string>;
  /** the admin user's password (redisUsers.admin): a client must log in with `--user admin` */
  redisPassword: string;
  /** the Secret as the pods mount it: one `<user>-password` file per user (redis-node.sh's AUTH_DIR) */
  authDir: string;
  /** the chart's node script (redis-node.sh), as the pods run it */
  nodeScript: string;
  /** the live replicas, in rotation order; replaced entries are new objects */
  services: Replica[];
  nginx: Nginx;
  /** where the logs are: nginx-access.log, nginx-error.log, service-<port>-<n>.log (Redis logs in its data dir) */
  logs: string;
  /** the service environment every replica gets (PORT and HOST are set per replica) */
  serviceEnv: Record<string, string>;
  /** the counter's current value, read from Redis */
  counter(): Promise<bigint>;
  /** one Kubernetes-style replacement of replica i: out of rotation + `signal`, exit, new one ready, back in */
  restartService(i: number, signal?: NodeJS.Signals): Promise<Replica>;
  /** restartService for every replica in turn */
  rollingRestart(): Promise<void>;
  /** SIGKILL replica i (a crash), then restart it on the same port, as the kubelet restarts a container */
  killService(i: number): Promise<Replica>;
  /** stop Redis (SIGTERM), wait `downMs`, start it again on the same port with the same data */
  restartRedis(o?: { downMs?: number; signal?: NodeJS.Signals }): Promise<void>;
  stopRedis(): Promise<void>;
  startRedis(extraArgs?: string[]): Promise<RedisServer>;
  /** the chart's backup script against the live Redis; resolves with the new RDB file's path */
  backupRedis(backupDir: string): Promise<string>;
  /** the redis chart README's restore from an RDB file (Redis must be stopped first) */
  restoreRedis(rdbFile: string): Promise<RedisServer>;
  stop(): Promise<void>;
}

export async function startStack(o: StackOptions = {}): Promise<Stack> {
  for (const bin of ['nginx', ...(o.store === 'memory' ? [] : ['redis-server', 'redis-cli'])])
    requireBinary(bin);
  if (o.ha && o.store === 'memory') throw new Error('ha runs Redis with Sentinel: it needs the redis store');
  const replicas = o.replicas ?? 3;
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new Error(`replicas must be a whole number >= 1, got ${replicas}`);
  if (o.store === 'memory' && replicas > 1)
    throw new Error('the embedded store keeps the count inside one process: use it with replicas: 1');
  const dir = o.dir ?? tempDir('hit-counter-stack-');
  const removeDir = o.dir === undefined && !o.keepDir;
  // nginx workers may run as an unprivileged user when the master runs as root: let them in.
  chmodSync(dir, 0o755);
  const nginxPrefix = join(dir, 'nginx');
  const redisDir = join(dir, 'redis');
  const logs = join(dir, 'logs');
  for (const d of [nginxPrefix, join(nginxPrefix, 'temp'), redisDir, logs])
    mkdirSync(d, { recursive: true, mode: 0o755 });
  const nginxPort = o.port ?? (await freePort());
  const nginxStatusPort = await freePort();
  // The development password source: the chart derives every Redis user's password from it.
  const authPassword = randomBytes(18).toString('base64url');

  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
    if (removeDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = await Promise.all(Array.from({ length: replicas }, () => freePort()));
    const renderOpts = {
      nginxPort,
      nginxStatusPort,
      prefix: nginxPrefix,
      accessLog: join(logs, 'nginx-access.log'),
      errorLog: join(logs, 'nginx-error.log'),
      password: authPassword,
      set: [...(o.ha ? ['redis.architecture=replication'] : []), ...(o.set ?? [])],
    };
    const rendered = await renderStack({ ...renderOpts, upstreams: ports.map(upstream) });
    const authDir = join(dir, 'redis-auth');
    rendered.writeAuthDir(authDir);
    const redisUsers = Object.fromEntries(
      Object.entries(rendered.redisSecret).map(([key, value]) => [key.replace(/-password$/, ''), value]),
    );
    const admin = { user: 'admin', password: redisUsers.admin };
    // The chart's files as the pods mount them: redis.conf, the ACL users, the node script.
    const files = {
      redisConf: join(dir, 'redis.conf'),
      usersAcl: join(dir, 'users.acl'),
      script: join(dir, 'redis-node.sh'),
      run: join(dir, 'redis-run'),
    };
    rendered.writeRedisConf(files.redisConf);
    writeFileSync(files.usersAcl, rendered.usersAcl);
    writeFileSync(files.script, rendered.redisNodeScript);
    mkdirSync(files.run, { recursive: true, mode: 0o700 });

    let redis: RedisServer | undefined;
    let redisPort = 0;
    const launchRedis = async (extraArgs: string[] = []): Promise<RedisServer> => {
      redisPort ||= await freePort();
      // The StatefulSet's redis container: `redis-node.sh redis`, extra redis-server arguments after.
      const r = await startRedis({
        dir: redisDir,
        port: redisPort,
        ...admin,
        launch: {
          command: 'sh',
          args: [files.script, 'redis', '--port', String(redisPort), '--bind', '127.0.0.1', ...extraArgs],
          env: {
            PATH: process.env.PATH,
            AUTH_DIR: authDir,
            REDIS_CONF: files.redisConf,
            USERS_ACL: files.usersAcl,
            RUN_DIR: files.run,
            DATA_DIR: redisDir,
          },
        },
      });
      return r;
    };
    let replication: Replication | undefined;
    if (o.ha) {
      replication = await startReplication({ dir: redisDir, rendered, authDir, admin, nodes: 3 });
      cleanups.push(() => (replication as Replication).stop());
      redis = replication.nodes[await replication.primary()];
    } else if (o.store !== 'memory') {
      redis = await launchRedis();
      cleanups.push(async () => void (await redis?.stop({ timeoutMs: 10_000 })));
    }
    const noSingleRedis = (what: string): Error =>
      new Error(`${what}: the stack runs Redis with Sentinel: use stack.replication (stopNode, startNode)`);

    // The chart's service env (its Redis user and password included), at the local addresses.
    const serviceEnv: Record<string, string> = { ...rendered.serviceEnv, ...o.env };
    delete serviceEnv.REDIS_URL;
    if (replication) {
      // the chart's Sentinel settings, at the local addresses
      serviceEnv.REDIS_SENTINELS = replication.sentinelList;
    } else if (redis) {
      // the chart's database number, at the local address
      const db = new URL(rendered.serviceEnv.REDIS_URL ?? 'redis://x/0').pathname || '/0';
      serviceEnv.REDIS_URL = `redis://127.0.0.1:${redis.port}${db}`;
    } else {
      delete serviceEnv.REDIS_USERNAME;
      delete serviceEnv.REDIS_PASSWORD;
    }
    if (o.env?.REDIS_URL) serviceEnv.REDIS_URL = o.env.REDIS_URL;

    let generation = 0;
    const launchReplica = (port: number): Promise<Replica> =>
      startReplica({
        script: o.script,
        port,
        env: serviceEnv,
        logFile: join(logs, `service-${port}-${generation++}.log`),
      });
    const services: Replica[] = [];
    cleanups.push(async () => {
      await Promise.all(services.map((r) => stopReplica(r, 'SIGINT', 10_000)));
    });
    for (const port of ports) services.push(await launchReplica(port));

    const nginx = await startNginx({
      confText: rendered.nginxConf,
      prefix: nginxPrefix,
      port: nginxPort,
      logFile: join(logs, 'nginx.log'),
    });
    cleanups.push(() => nginx.stop());

    const setRotation = async (members: Replica[]): Promise<void> => {
      const conf = await renderNginxConf({ ...renderOpts, upstreams: members.map((r) => upstream(r.port)) });
      await nginx.reload(conf);
    };
    const terminateReplicaTimeoutMs = Number(serviceEnv.SHUTDOWN_DELAY_MS ?? 0) + 20_000;

    const stack: Stack = {
      url: `http://127.0.0.1:${nginxPort}/`,
      dir,
      rendered,
      get redis() {
        return redis;
      },
      replication,
      async primary() {
        if (!replication) throw new Error('primary(): the stack runs no Sentinel (start it with ha)');
        redis = replication.nodes[await replication.primary()] as RedisServer;
        return redis;
      },
      redisUsers,
      redisPassword: redisUsers.admin ?? '',
      authDir,
      nodeScript: files.script,
      services,
      nginx,
      logs,
      serviceEnv,
      async counter() {
        if (!redis)
          throw new Error('counter(): the stack runs the embedded store, there is no Redis to read');
        const key = serviceEnv.COUNTER_KEY ?? 'hits';
        const from = replication ? await stack.primary() : redis;
        return BigInt((await from.cli('GET', key)) || '0');
      },
      async restartService(i, signal = 'SIGTERM') {
        const old = at(services, i);
        // Kubernetes sends SIGTERM and removes the endpoint at the same time; the service's
        // SHUTDOWN_DELAY_MS covers the time the endpoint removal takes to reach nginx.
        old.proc.signal(signal);
        await setRotation(services.filter((r) => r !== old));
        await stopReplica(old, signal, terminateReplicaTimeoutMs);
        const fresh = await launchReplica(await freePort());
        services[i] = fresh;
        await setRotation(services);
        return fresh;
      },
      async rollingRestart() {
        for (let i = 0; i < services.length; i++) await stack.restartService(i);
      },
      async killService(i) {
        // A crashed container is restarted in the same pod, at the same address: the new process
        // takes the same port and nginx's upstream list stays as it is.
        const old = at(services, i);
        await stopReplica(old, 'SIGKILL', 5000);
        const fresh = await launchReplica(old.port);
        services[i] = fresh;
        return fresh;
      },
      async stopRedis() {
        if (replication) throw noSingleRedis('stopRedis()');
        if (!redis) throw new Error('the stack runs the embedded store, there is no Redis to stop');
        await redis.stop({ timeoutMs: 10_000 });
      },
      async startRedis(extraArgs = []) {
        if (replication) throw noSingleRedis('startRedis()');
        if (o.store === 'memory')
          throw new Error('the stack runs the embedded store, there is no Redis to start');
        if (redis && !redis.proc.hasExited())
          throw new Error(`Redis (pid ${redis.pid}) is still running: stop it before starting another`);
        redis = await launchRedis(extraArgs);
        return redis;
      },
      async restartRedis({ downMs = 0, signal = 'SIGTERM' } = {}) {
        if (replication) throw noSingleRedis('restartRedis()');
        if (!redis) throw new Error('the stack runs the embedded store, there is no Redis to restart');
        await redis.stop({ signal, timeoutMs: 10_000 });
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs)); // the outage's length, not a sync
        await stack.startRedis();
      },
      async backupRedis(backupDir) {
        if (!redis) throw new Error('the stack runs the embedded store, there is no Redis to back up');
        const from = replication ? await stack.primary() : redis;
        return runBackupScript({
          script: rendered.backupScript,
          redis: from,
          env: rendered.backupEnv,
          backupDir,
        });
      },
      async restoreRedis(rdbFile) {
        if (replication) throw noSingleRedis('restoreRedis()');
        return restoreFromRdb({ rdbFile, dataDir: redisDir, startRedis: stack.startRedis });
      },
      stop: stopAll,
    };
    return stack;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Removes everything in the Redis data directory (the backup drill's "data lost"). */
export function wipeDir(path: string): void {
  for (const name of readdirSync(path)) rmSync(join(path, name), { recursive: true, force: true });
}

const upstream = (port: number): string => `127.0.0.1:${port}`;

function at(services: Replica[], i: number): Replica {
  const r = services[i];
  if (!r) throw new Error(`no replica ${i}: the stack has ${services.length} (0-based)`);
  return r;
}
