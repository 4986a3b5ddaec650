// The chart's redis.conf and ACL users run a real redis-server 7.0 as rendered, started by the
// chart's redis-node.sh with the rendered Secret as the pod mounts it; the backup script dumps a live
// Redis as the backup user, with retention; the restore procedure of the redis chart README brings
// the data back.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { requireBinary, tempDir } from '../../tools/lib/proc.ts';
import { freePort } from '../../tools/lib/ports.ts';
import { startRedis, type RedisServer } from '../../tools/lib/redis.ts';
import { restoreFromRdb } from '../../tools/stack/backup.ts';
import { chartDir, find, render } from './chart.ts';

const run = promisify(execFile);
const backupScript = path.join(chartDir, 'charts/redis/files/backup.sh');

/** The rendered ConfigMap's files and the Secret (one file per key, as the pod mounts it) in a dir. */
interface Conf {
  dir: string;
  authDir: string;
  /** the users' passwords by user */
  passwords: Record<string, string>;
}

async function renderedConf(t: Test): Promise<Conf> {
  const { objects } = await render();
  const dir = tempDir('redis-conf-', t);
  const data = find(objects, 'ConfigMap', 'hit-counter-redis').data as Record<string, string>;
  for (const [name, text] of Object.entries(data)) writeFileSync(path.join(dir, name), text);
  const authDir = path.join(dir, 'auth');
  mkdirSync(authDir, { mode: 0o700 });
  const passwords: Record<string, string> = {};
  for (const [key, b64] of Object.entries(
    find(objects, 'Secret', 'hit-counter-redis').data as Record<string, string>,
  )) {
    const value = Buffer.from(b64, 'base64').toString();
    writeFileSync(path.join(authDir, key), value, { mode: 0o600 });
    passwords[key.replace(/-password$/, '')] = value;
  }
  mkdirSync(path.join(dir, 'run'), { mode: 0o700 });
  return { dir, authDir, passwords };
}

/** The redis container as the StatefulSet starts it (`redis-node.sh redis`), on a local port. */
async function start(
  t: Test,
  conf: Conf,
  dataDir = tempDir('redis-data-', t),
  args: string[] = [],
): Promise<RedisServer> {
  const port = await freePort();
  const redis = await startRedis({
    port,
    dir: dataDir,
    user: 'admin',
    password: conf.passwords.admin,
    launch: {
      command: 'sh',
      args: [
        path.join(conf.dir, 'redis-node.sh'),
        'redis',
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        ...args,
      ],
      env: {
        PATH: process.env.PATH,
        AUTH_DIR: conf.authDir,
        REDIS_CONF: path.join(conf.dir, 'redis.conf'),
        USERS_ACL: path.join(conf.dir, 'users.acl'),
        RUN_DIR: path.join(conf.dir, 'run'),
        DATA_DIR: dataDir,
      },
    },
  });
  t.teardown(() => redis.stop());
  return redis;
}

/** The backup job's Redis login: its own user. */
const backupLogin = (conf: Conf) => ({ REDIS_USER: 'backup', REDISCLI_AUTH: conf.passwords.backup ?? '' });

function backup(env: Record<string, string>) {
  requireBinary('redis-cli');
  return run('sh', [backupScript], { env: { PATH: process.env.PATH, ...env } });
}

t.test('the rendered redis.conf runs redis-server 7.0 with the chart settings', async (t) => {
  const redis = await start(t, await renderedConf(t));
  t.equal(await redis.cli('CONFIG', 'GET', 'protected-mode'), 'protected-mode\nyes');
  t.equal(await redis.cli('CONFIG', 'GET', 'appendonly'), 'appendonly\nyes');
  t.equal(await redis.cli('CONFIG', 'GET', 'appendfsync'), 'appendfsync\nalways', 'durable by default');
  t.equal(await redis.cli('CONFIG', 'GET', 'maxmemory-policy'), 'maxmemory-policy\nnoeviction');
  t.equal(await redis.cli('CONFIG', 'GET', 'maxmemory'), `maxmemory\n${200 * 1024 * 1024}`);
  for (const cmd of ['FLUSHALL', 'FLUSHDB', 'KEYS'])
    t.match(await redis.cli(cmd, ...(cmd === 'KEYS' ? ['*'] : [])), /unknown command/, `${cmd} is disabled`);
  t.equal(await redis.cli('INCRBY', 'hits', '5'), '5');
  const noAuth = await run('redis-cli', ['-p', String(redis.port), 'GET', 'hits']);
  t.match(noAuth.stdout, /NOAUTH/, 'a login is required');
});

t.test('backup.sh dumps a live Redis as the backup user, keeps the newest BACKUP_KEEP', async (t) => {
  const conf = await renderedConf(t);
  const redis = await start(t, conf);
  await redis.cli('SET', 'hits', '41');
  const dir = tempDir('backups-', t);
  // Three older backups, named as the script names them.
  for (const stamp of ['20200101T000000Z', '20200102T000000Z', '20200103T000000Z'])
    writeFileSync(path.join(dir, `dump-${stamp}.rdb`), 'REDIS-old');
  writeFileSync(path.join(dir, 'notes.txt'), 'not a backup');
  const env = {
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(redis.port),
    ...backupLogin(conf),
    BACKUP_DIR: dir,
    BACKUP_KEEP: '2',
  };
  const { stdout } = await backup(env);
  const made = stdout.trim();
  t.match(path.basename(made), /^dump-\d{8}T\d{6}Z\.rdb$/);
  t.same(
    readdirSync(dir).sort(),
    [path.basename(made), 'dump-20200103T000000Z.rdb', 'notes.txt'].sort(),
    'retention by count',
  );

  // The dump holds the data: a fresh Redis loads it.
  const restoreDir = tempDir('redis-load-', t);
  copyFileSync(made, path.join(restoreDir, 'dump.rdb'));
  const loaded = await startRedis({ dir: restoreDir, args: ['--dbfilename', 'dump.rdb'] });
  t.teardown(() => loaded.stop());
  t.equal(await loaded.cli('GET', 'hits'), '41');
});

t.test('backup.sh refuses bad input with one clear line', async (t) => {
  const dir = tempDir('backups-', t);
  const base = { REDIS_HOST: '127.0.0.1', REDIS_PORT: '1', BACKUP_DIR: dir };
  await t.rejects(backup({ ...base, BACKUP_KEEP: 'many' }), {
    code: 2,
    stderr: /BACKUP_KEEP must be a whole number/,
  });
  await t.rejects(backup({ ...base, BACKUP_DIR: path.join(dir, 'missing') }), {
    code: 2,
    stderr: /is not a writable folder/,
  });
  await t.rejects(backup({ REDIS_PORT: '1', BACKUP_DIR: dir }), /REDIS_HOST/);
  await t.rejects(backup(base), { code: 1, stderr: /redis-cli --rdb from 127\.0\.0\.1:1 failed/ });
  t.same(readdirSync(dir), [], 'a failed backup leaves nothing behind');
});

t.test('the README restore procedure brings a backup back under AOF', async (t) => {
  const conf = await renderedConf(t);
  // A live Redis with data, backed up, then changed.
  const dataDir = tempDir('redis-data-', t);
  const live = await start(t, conf, dataDir);
  await live.cli('SET', 'hits', '1000');
  const backups = tempDir('backups-', t);
  const { stdout } = await backup({
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(live.port),
    ...backupLogin(conf),
    BACKUP_DIR: backups,
  });
  await live.cli('SET', 'hits', '5');
  // 1. stop Redis (scale the StatefulSet to 0).
  await live.stop();
  t.ok(existsSync(path.join(dataDir, 'appendonlydir')), 'the AOF directory existed');
  // 2-5, as the local stack's backup drill runs them: the AOF moved aside, the backup in place as
  // dump.rdb, one start with appendonly no (the RDB is loaded), AOF on, a normal restart.
  const normal = await restoreFromRdb({
    rdbFile: stdout.trim(),
    dataDir,
    startRedis: async (args = []) => {
      const redis = await start(t, conf, dataDir, args);
      if (args.includes('--appendonly')) t.equal(await redis.cli('GET', 'hits'), '1000', 'the RDB is loaded');
      return redis;
    },
  });
  t.equal(await normal.cli('GET', 'hits'), '1000', 'the restored value survives a normal restart');
  t.equal(await normal.cli('INCR', 'hits'), '1001');
});
