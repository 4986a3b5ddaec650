// The replication architecture on loopback: N redis-server and N redis-sentinel processes, each
// started by the chart's own redis-node.sh with the chart's rendered redis.conf, ACL users and
// sentinel.conf and the users' password files, as the StatefulSet's containers start them (only the
// addresses differ: 127.0.0.1 and a port each instead of pod DNS names).
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../lib/ports.ts';
import { requireBinary, waitFor } from '../lib/proc.ts';
import { startRedis, type RedisServer } from '../lib/redis.ts';
import type { Rendered } from './render.ts';

const run = promisify(execFile);

export interface Replication {
  /** the redis-server nodes by index (a stopped node keeps its entry until it is started again) */
  nodes: RedisServer[];
  sentinels: RedisServer[];
  /** Sentinel's name for the primary (the chart's sentinel.primaryName) */
  primaryName: string;
  /** host:port of every Sentinel, comma-separated (the service's REDIS_SENTINELS) */
  sentinelList: string;
  /** the index of the node the Sentinels name as primary */
  primary(): Promise<number>;
  /** stops node i by pid with `signal` (SIGKILL: a crash) */
  stopNode(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** starts node i again on its port and data, through redis-node.sh (it rejoins the primary) */
  startNode(i: number): Promise<RedisServer>;
  /** the preStop hook of node i: `redis-node.sh handover` */
  handover(i: number): Promise<void>;
  /** resolves once every Sentinel names the same primary, sees `nodes - 1` replicas and the other Sentinels, and the replicas are online */
  settled(timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startReplication(o: {
  dir: string;
  rendered: Rendered;
  /** the users' password files (redis-node.sh's AUTH_DIR) */
  authDir: string;
  /** the user and password the helper's own redis-cli calls log in as */
  admin: { user: string; password: string | undefined };
  nodes: number;
}): Promise<Replication> {
  requireBinary('redis-sentinel');
  const { sentinelConf, redisNodeScript } = o.rendered;
  if (!sentinelConf)
    throw new Error('the chart rendered no sentinel.conf: is redis.architecture=replication set?');
  const primaryName = /^sentinel monitor (\S+) /m.exec(sentinelConf)?.[1];
  if (!primaryName) throw new Error('the rendered sentinel.conf has no "sentinel monitor" line');
  const files = {
    script: join(o.dir, 'redis-node.sh'),
    redisConf: join(o.dir, 'redis.conf'),
    usersAcl: join(o.dir, 'users.acl'),
    sentinelConf: join(o.dir, 'sentinel.conf'),
  };
  writeFileSync(files.script, redisNodeScript);
  writeFileSync(files.sentinelConf, sentinelConf);
  writeFileSync(files.usersAcl, o.rendered.usersAcl);
  o.rendered.writeRedisConf(files.redisConf);

  const nodePorts = await Promise.all(Array.from({ length: o.nodes }, () => freePort()));
  const sentinelPorts = await Promise.all(Array.from({ length: o.nodes }, () => freePort()));
  const address = (port: number): string => `127.0.0.1:${port}`;
  const common = {
    PATH: process.env.PATH,
    SENTINELS: sentinelPorts.map(address).join(' '),
    PRIMARY_NAME: primaryName,
    INITIAL_PRIMARY: address(nodePorts[0] as number),
    AUTH_DIR: o.authDir,
  };
  const dirOf = (kind: string, i: number): string => {
    const d = join(o.dir, `${kind}-${i}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
  /** redis-node.sh `role` for node i: redis-server on its node port, or Sentinel on its own. */
  const launch = (role: 'redis' | 'sentinel', i: number): Promise<RedisServer> => {
    const port = (role === 'redis' ? nodePorts : sentinelPorts)[i] as number;
    const dir = dirOf(role, i);
    const own =
      role === 'redis'
        ? { REDIS_CONF: files.redisConf, USERS_ACL: files.usersAcl, RUN_DIR: dirOf('run', i), DATA_DIR: dir }
        : { SENTINEL_CONF: files.sentinelConf, SENTINEL_DIR: dir };
    return startRedis({
      port,
      dir,
      ...o.admin,
      launch: {
        command: 'sh',
        args: [files.script, role, '--bind', '127.0.0.1'],
        env: { ...common, SELF: address(port), ...own },
      },
    });
  };

  const nodes: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(sentinels.map((s) => s.stop({ timeoutMs: 10_000 })));
    await Promise.all(nodes.map((n) => n.stop({ timeoutMs: 10_000 })));
  };
  const askSentinel = async (s: RedisServer): Promise<string> =>
    s.cli('SENTINEL', 'get-master-addr-by-name', primaryName).then((a) => a.split('\n').join(':'));
  const indexOf = (addr: string): number => nodePorts.findIndex((p) => address(p) === addr);

  const replication: Replication = {
    nodes,
    sentinels,
    primaryName,
    sentinelList: sentinelPorts.map(address).join(','),
    async primary() {
      for (const s of sentinels) {
        if (s.proc.hasExited()) continue;
        const i = indexOf(await askSentinel(s).catch(() => ''));
        if (i >= 0) return i;
      }
      throw new Error(`no Sentinel names a primary for ${primaryName}`);
    },
    async stopNode(i, signal = 'SIGTERM') {
      const node = nodes[i];
      if (!node) throw new Error(`no Redis node ${i}: there are ${nodes.length} (0-based)`);
      await node.stop({ signal, timeoutMs: 10_000 });
    },
    async startNode(i) {
      const node = nodes[i];
      if (node && !node.proc.hasExited())
        throw new Error(`Redis node ${i} (pid ${node.pid}) is still running: stop it first`);
      const fresh = await launch('redis', i);
      nodes[i] = fresh;
      return fresh;
    },
    async handover(i) {
      const port = nodePorts[i];
      if (port === undefined) throw new Error(`no Redis node ${i}`);
      try {
        await run('sh', [files.script, 'handover'], {
          env: { ...common, SELF: address(port) },
          timeout: 30_000,
        });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`redis-node.sh handover: ${(e.stderr || e.message).trim()}`, { cause: err });
      }
    },
    async settled(timeoutMs = 30_000) {
      let primary = -1;
      await waitFor(
        async () => {
          const views = await Promise.all(
            sentinels.map(async (s) => {
              const fields = (await s.cli('SENTINEL', 'master', primaryName)).split('\n');
              const field = (k: string): string => fields[fields.indexOf(k) + 1] ?? '';
              return {
                primary: indexOf(`${field('ip')}:${field('port')}`),
                replicas: Number(field('num-slaves')),
                others: Number(field('num-other-sentinels')),
                flags: field('flags'),
              };
            }),
          );
          primary = views[0]?.primary ?? -1;
          return views.every(
            (v) =>
              v.primary === primary &&
              primary >= 0 &&
              v.flags === 'master' &&
              v.replicas === o.nodes - 1 &&
              v.others === o.nodes - 1,
          );
        },
        { timeoutMs, what: `every Sentinel agreeing on one primary with ${o.nodes - 1} replicas` },
      );
      // Every replica is online: its initial sync is done and it acknowledges writes (WAIT counts it).
      const p = nodes[primary] as RedisServer;
      await waitFor(
        async () =>
          ((await p.cli('INFO', 'replication')).match(/^slave\d+:.*state=online/gm) ?? []).length ===
          o.nodes - 1,
        { timeoutMs, what: `the primary with ${o.nodes - 1} replicas online` },
      );
      return primary;
    },
    stop: stopAll,
  };
  try {
    for (let i = 0; i < o.nodes; i++) nodes.push(await launch('redis', i));
    for (let i = 0; i < o.nodes; i++) sentinels.push(await launch('sentinel', i));
    await replication.settled();
    return replication;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
