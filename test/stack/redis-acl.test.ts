// Redis least privilege on real redis-server and redis-sentinel 7.0, with the chart's rendered ACL
// users and Secret, as the local stack runs them (the chart's redis-node.sh): every component
// (service, backup, exporter, replication, Sentinel, probes, handover) does its job without one ACL
// denial, and each user can do nothing more. redis_exporter's /scrape endpoint sends no password to
// a foreign target with the chart's settings, and does with a plain REDIS_PASSWORD (the control).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { freePort } from '../../tools/lib/ports.ts';
import { requireBinary, spawnProcess, waitFor } from '../../tools/lib/proc.ts';
import type { RedisServer } from '../../tools/lib/redis.ts';
import { runLoad } from '../../tools/stack/load.ts';
import { startRedisExporter } from '../../tools/stack/monitoring.ts';
import type { Stack } from '../../tools/stack/stack.ts';
import { backgroundLoad, withStack } from './fixture.ts';

const run = promisify(execFile);

/**
 * redis-cli against 127.0.0.1:`port` logged in as `user` with its password from the chart's Secret
 * (`password` overrides it; user '' = no login at all); resolves with what it printed, errors included.
 */
async function as(
  stack: Stack,
  port: number,
  user: string,
  cmd: string[],
  password?: string,
): Promise<string> {
  const login = user ? ['--user', user] : [];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  if (user) env.REDISCLI_AUTH = password ?? stack.redisUsers[user];
  try {
    const { stdout, stderr } = await run(
      requireBinary('redis-cli'),
      ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', ...login, ...cmd],
      { env, timeout: 10_000 },
    );
    return `${stdout}${stderr}`.trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
  }
}

/** The ACL LOG of a server (read as admin), one "<username> <reason> <object>" line per entry. */
async function aclLog(server: RedisServer): Promise<string[]> {
  const out = await server.cli('ACL', 'LOG', '128'); // every entry Redis keeps (acllog-max-len)
  if (!out) return [];
  // redis-cli prints each entry's field/value pairs one per line, each entry starting with "count".
  const entries: Record<string, string>[] = [];
  const lines = out.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    if (lines[i] === 'count') entries.push({});
    const entry = entries.at(-1);
    if (entry) entry[lines[i] as string] = lines[i + 1] as string;
  }
  return entries.length ? entries.map((e) => `${e.username} ${e.reason} ${e.object}`) : [out];
}

/** A TCP listener posing as Redis: it records what clients send and answers each command with an error. */
async function fakeRedis(t: Test): Promise<{ port: number; received: () => string }> {
  let received = '';
  const server: Server = createServer((socket) => {
    socket.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      received += text;
      const commands = text.split('\r\n').filter((l) => /^\*\d+$/.test(l)).length;
      socket.write('-ERR not a Redis\r\n'.repeat(Math.max(commands, 1)));
    });
    socket.on('error', () => {});
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port, received: () => received };
}

const NOPERM = /NOPERM/;

t.test('standalone: every component works with no ACL denial, and each user can do no more', async (t) => {
  const stack = await withStack(t, { replicas: 2 });
  const redis = stack.redis!;
  const port = redis.port;
  await redis.cli('ACL', 'LOG', 'RESET');

  // The service counts exactly as its own user.
  const load = await runLoad({ url: stack.url, concurrency: 8, total: 300 });
  t.equal(load.ok, 300, 'every hit answered 200');
  t.equal(await stack.counter(), 300n, 'the count is exact');
  // The backup job's script as the backup user.
  const backups = join(stack.dir, 'backups');
  mkdirSync(backups);
  const rdb = await stack.backupRedis(backups);
  t.equal(readFileSync(rdb).subarray(0, 5).toString(), 'REDIS', `the backup user made an RDB (${rdb})`);
  // redis_exporter as the pod runs it.
  const exporter = await startRedisExporter(stack, { dir: stack.dir });
  t.teardown(() => exporter.proc.stop());
  const metrics = await (await fetch(`http://127.0.0.1:${exporter.port}/metrics`)).text();
  t.match(metrics, /^redis_up 1$/m, 'the exporter user reads the metrics');
  t.match(metrics, /^redis_commands_processed_total \d+/m);
  t.match(metrics, /^redis_aof_enabled 1$/m, 'the metrics the alerts use');
  // The probes as the node user.
  for (const probe of ['alive', 'ready'])
    await t.resolves(
      run('sh', [stack.nodeScript, probe, String(port)], {
        env: { PATH: process.env.PATH, AUTH_DIR: stack.authDir },
      }),
      `redis-node.sh ${probe}`,
    );
  t.same(await aclLog(redis), [], 'no command of any component was refused');

  const service = (...cmd: string[]) => as(stack, port, 'service', cmd);
  t.match(await service('INCRBY', 'hits', '1'), /^301$/, 'service: INCRBY on its key');
  t.match(await service('GET', 'hits'), /^301$/, 'service: GET on its key');
  t.match(await service('CONFIG', 'SET', 'appendonly', 'no'), NOPERM, 'service: no CONFIG SET');
  t.match(await service('CONFIG', 'GET', 'maxmemory'), NOPERM, 'service: no CONFIG GET');
  t.match(await service('SHUTDOWN', 'NOSAVE'), NOPERM, 'service: no SHUTDOWN');
  t.match(await service('FLUSHALL'), /NOPERM|unknown command/, 'service: no FLUSHALL');
  t.match(await service('KEYS', '*'), /NOPERM|unknown command/, 'service: no KEYS');
  t.match(await service('SCAN', '0'), NOPERM, 'service: no SCAN');
  t.match(await service('SET', 'other', '1'), NOPERM, 'service: no other key (write)');
  t.match(await service('GET', 'other'), NOPERM, 'service: no other key (read)');
  t.match(await service('INCRBY', 'hits2', '1'), NOPERM, 'service: not even a key that starts like its own');
  t.match(await service('SET', 'hits', '0'), NOPERM, 'service: no SET, not even on its key');
  t.match(await service('DEL', 'hits'), NOPERM, 'service: no DEL');
  t.match(await service('SYNC'), NOPERM, 'service: no SYNC (a copy of every key)');
  t.match(await service('ACL', 'SETUSER', 'x', 'on'), NOPERM, 'service: no ACL');
  t.match(await service('CLIENT', 'KILL', 'TYPE', 'normal'), NOPERM, 'service: no CLIENT KILL');
  t.match(await service('EVAL', 'return 1', '0'), NOPERM, 'service: no scripts');

  const exporterCli = (...cmd: string[]) => as(stack, port, 'exporter', cmd);
  t.match(await exporterCli('INFO', 'server'), /redis_version:/, 'exporter: INFO');
  t.match(await exporterCli('INCRBY', 'hits', '1'), NOPERM, 'exporter: cannot write');
  t.match(await exporterCli('SET', 'x', '1'), NOPERM, 'exporter: cannot write any key');
  t.match(await exporterCli('GET', 'hits'), NOPERM, 'exporter: no key at all');
  t.match(await exporterCli('CONFIG', 'GET', '*'), NOPERM, 'exporter: no CONFIG GET');
  t.match(await exporterCli('CONFIG', 'SET', 'maxmemory', '1'), NOPERM, 'exporter: no CONFIG SET');

  t.match(await as(stack, port, 'backup', ['GET', 'hits']), NOPERM, 'backup: SYNC only, no key');
  t.match(await as(stack, port, 'backup', ['INFO']), NOPERM, 'backup: not even INFO');
  t.match(await as(stack, port, 'node', ['GET', 'hits']), NOPERM, 'node: no key');
  t.match(await as(stack, port, 'node', ['CONFIG', 'SET', 'appendonly', 'no']), NOPERM, 'node: no CONFIG');
  for (const user of ['replication', 'sentinel'])
    t.match(
      await as(stack, port, user, ['PING']),
      /WRONGPASS/,
      `${user}: no such user on a standalone Redis`,
    );

  t.match(await as(stack, port, '', ['PING']), /NOAUTH/, 'no login: nothing');
  t.match(
    await as(stack, port, 'default', ['PING'], ''),
    /WRONGPASS|disabled/,
    'default user: cannot log in',
  );
  t.match(await as(stack, port, 'default', ['PING'], 'anything'), /WRONGPASS/, 'not with any password');
  t.match(await as(stack, port, 'service', ['PING'], 'wrong'), /WRONGPASS/, 'a wrong password is refused');
  t.match(
    await as(stack, port, 'service', ['PING'], stack.redisUsers.exporter),
    /WRONGPASS/,
    "another user's password is refused",
  );
  t.equal(
    await redis.cli('CONFIG', 'GET', 'maxmemory-policy'),
    'maxmemory-policy\nnoeviction',
    'admin: CONFIG',
  );
  const refused = await aclLog(redis);
  t.ok(
    refused.some((e) => e.startsWith('service command')),
    'the refusals above are in the ACL LOG (the empty log earlier was no accident)',
  );
});

t.test(
  "redis_exporter's /scrape sends no password to a foreign target (a REDIS_PASSWORD would)",
  async (t) => {
    const stack = await withStack(t, { replicas: 1 });
    const password = stack.redisUsers.exporter as string;
    const scrape = async (exporterPort: number, target: number): Promise<void> => {
      const res = await fetch(`http://127.0.0.1:${exporterPort}/scrape?target=redis://127.0.0.1:${target}`);
      await res.arrayBuffer();
    };

    // The chart's settings: the password file, for the pod's own Redis only.
    const fake = await fakeRedis(t);
    const chart = await startRedisExporter(stack, { dir: stack.dir });
    t.teardown(() => chart.proc.stop());
    await scrape(chart.port, fake.port);
    await waitFor(() => /INFO/.test(fake.received()), { what: 'the exporter scraping the foreign target' });
    t.notMatch(fake.received(), password, 'the foreign target got no password');
    t.notMatch(fake.received(), /AUTH/i, 'nor an AUTH at all');
    const own = await (await fetch(`http://127.0.0.1:${chart.port}/metrics`)).text();
    t.match(own, /^redis_up 1$/m, 'while its own Redis is scraped with it');

    // The control: the same exporter with REDIS_PASSWORD (how the chart configured it before).
    const leaky = await fakeRedis(t);
    const port = await freePort();
    const proc = spawnProcess(requireBinary('prometheus-redis-exporter'), [], {
      env: {
        PATH: process.env.PATH,
        REDIS_ADDR: `redis://127.0.0.1:${stack.redis!.port}`,
        REDIS_USER: 'exporter',
        REDIS_PASSWORD: password,
        REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${port}`,
      },
      logFile: join(stack.dir, 'redis-exporter-control.log'),
    });
    t.teardown(() => proc.stop());
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok ?? false,
      { what: 'the control exporter up' },
    );
    await scrape(port, leaky.port);
    await waitFor(() => /AUTH/i.test(leaky.received()), { what: 'the control exporter authenticating' });
    t.match(leaky.received(), password, 'control: REDIS_PASSWORD goes to whatever target /scrape names');
  },
);

t.test('replication: nodes, Sentinels, the service and a handover with no ACL denial', async (t) => {
  const stack = await withStack(t, { replicas: 2, ha: true });
  const replication = stack.replication!;
  const all = [...replication.nodes, ...replication.sentinels];
  for (const s of all) await s.cli('ACL', 'LOG', 'RESET');

  const load = backgroundLoad(t, { url: stack.url, concurrency: 4 });
  await load.seen(200, '200 answers before the handover');
  const primary = await replication.primary();
  const since = performance.now();
  await replication.handover(primary);
  t.not(await replication.primary(), primary, 'the handover promoted another node');
  await waitFor(() => load.live.filter((r) => r.startedAt > since && r.status === 200).length >= 100, {
    timeoutMs: 60_000,
    what: '100 answers 200 from the new primary',
  });
  const summary = await load.finish();
  t.same(
    [...summary.byStatus.keys()].filter((s) => s !== 200 && s !== 503),
    [],
    'only 200 and 503',
  );
  await replication.settled();
  // The backup job: the primary's address from a Sentinel, then SYNC, as the backup user.
  const backupEnv = {
    PATH: process.env.PATH,
    ...stack.rendered.backupEnv,
    SENTINELS: replication.sentinelList.replace(/,/g, ' '),
  };
  const { stdout } = await run('sh', [stack.nodeScript, 'primary'], { env: backupEnv });
  t.equal(
    stdout.trim(),
    `127.0.0.1:${(await stack.primary()).port}`,
    'the backup user asks a Sentinel for the primary',
  );
  // The pods' probes, as the node user: every node answers and serves (the replicas in sync), every
  // Sentinel names the primary.
  const probe = (...args: string[]) =>
    run('sh', [stack.nodeScript, ...args], {
      env: { PATH: process.env.PATH, AUTH_DIR: stack.authDir, PRIMARY_NAME: replication.primaryName },
    });
  for (const n of replication.nodes) {
    await t.resolves(probe('alive', String(n.port)), `node ${n.port}: alive`);
    await t.resolves(probe('ready', String(n.port)), `node ${n.port}: ready`);
  }
  for (const s of replication.sentinels) {
    await t.resolves(probe('alive', String(s.port)), `sentinel ${s.port}: alive`);
    await t.resolves(probe('sentinel-ready', String(s.port)), `sentinel ${s.port}: ready`);
  }
  for (const [i, s] of all.entries())
    t.same(
      await aclLog(s),
      [],
      `${i < replication.nodes.length ? 'node' : 'sentinel'} ${s.port}: nothing refused`,
    );

  const sentinel = replication.sentinels[0]!.port;
  const name = replication.primaryName;
  t.match(await as(stack, sentinel, '', ['PING']), /NOAUTH/, 'Sentinel: no login, nothing');
  t.match(
    await as(stack, sentinel, 'service', ['SENTINEL', 'get-master-addr-by-name', name]),
    /^127\.0\.0\.1\n\d+$/,
  );
  t.match(
    await as(stack, sentinel, 'service', ['SENTINEL', 'SET', name, 'quorum', '1']),
    NOPERM,
    'service: no SENTINEL SET',
  );
  t.match(
    await as(stack, sentinel, 'service', ['SENTINEL', 'FAILOVER', name]),
    NOPERM,
    'service: no failover',
  );
  t.match(await as(stack, sentinel, 'service', ['SENTINEL', 'REMOVE', name]), NOPERM, 'service: no REMOVE');
  t.match(await as(stack, sentinel, 'backup', ['SENTINEL', 'FAILOVER', name]), NOPERM, 'backup: no failover');
  t.match(
    await as(stack, sentinel, 'node', ['SENTINEL', 'SET', name, 'quorum', '1']),
    NOPERM,
    'node: no SENTINEL SET',
  );
  t.match(
    await as(stack, sentinel, 'sentinel', ['SENTINEL', 'MONITOR', 'x', '127.0.0.1', '1', '1']),
    NOPERM,
    'sentinel: no MONITOR',
  );
  const node = (await stack.primary()).port;
  t.match(await as(stack, node, 'replication', ['GET', 'hits']), NOPERM, 'replication: no key');
  t.match(await as(stack, node, 'sentinel', ['GET', 'hits']), NOPERM, 'sentinel: no key');
  t.match(
    await as(stack, node, 'sentinel', ['CONFIG', 'GET', 'masterauth']),
    NOPERM,
    'sentinel: no CONFIG GET',
  );
  t.match(
    await as(stack, node, 'service', ['INCRBY', 'hits', '1']),
    /^\d+$/,
    'service: counts on the new primary',
  );

  // The probes can fail: a Sentinel asked for a name it does not know, a replica cut off.
  await t.rejects(
    run('sh', [stack.nodeScript, 'sentinel-ready', String(sentinel)], {
      env: { PATH: process.env.PATH, AUTH_DIR: stack.authDir, PRIMARY_NAME: 'nope' },
    }),
    { code: 1, stdout: /no primary named/ },
  );
  const replica = replication.nodes.find((n) => n.port !== node)!;
  await replica.cli('REPLICAOF', '127.0.0.1', String(await freePort()));
  await t.rejects(probe('ready', String(replica.port)), {
    code: 1,
    stdout: /a replica not in sync with its primary: master_link_status:down/,
  });
  await t.resolves(probe('alive', String(replica.port)), 'while it is still alive');
});
