// The chart's redis.conf runs a real redis-server 7.0 as rendered; the backup script dumps a live
// Redis with retention; the restore procedure of the redis chart README brings the data back.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { requireBinary, tempDir } from '../../tools/lib/proc.ts';
import { startRedis, type RedisServer } from '../../tools/lib/redis.ts';
import { restoreFromRdb } from '../../tools/stack/backup.ts';
import { chartDir, find, render } from './chart.ts';

const run = promisify(execFile);
const password = 'test-password-not-real';
const backupScript = path.join(chartDir, 'charts/redis/files/backup.sh');

async function renderedConf(): Promise<string> {
  const { objects } = await render([
    'global.redis.auth.enabled=true',
    `global.redis.auth.password=${password}`,
  ]);
  const file = path.join(tempDir('redis-conf-'), 'redis.conf');
  writeFileSync(file, find(objects, 'ConfigMap', 'hit-counter-redis').data['redis.conf']);
  return file;
}

async function start(t: Test, conf: string, dir?: string, args: string[] = []): Promise<RedisServer> {
  const redis = await startRedis({
    configFile: conf,
    dir,
    password,
    args: ['--requirepass', password, ...args],
  });
  t.teardown(() => redis.stop());
  return redis;
}

function backup(env: Record<string, string>) {
  requireBinary('redis-cli');
  return run('sh', [backupScript], { env: { PATH: process.env.PATH, ...env } });
}

t.test('the rendered redis.conf runs redis-server 7.0 with the chart settings', async (t) => {
  const redis = await start(t, await renderedConf());
  t.equal(await redis.cli('CONFIG', 'GET', 'appendonly'), 'appendonly\nyes');
  t.equal(await redis.cli('CONFIG', 'GET', 'appendfsync'), 'appendfsync\nalways', 'durable by default');
  t.equal(await redis.cli('CONFIG', 'GET', 'maxmemory-policy'), 'maxmemory-policy\nnoeviction');
  t.equal(await redis.cli('CONFIG', 'GET', 'maxmemory'), `maxmemory\n${200 * 1024 * 1024}`);
  for (const cmd of ['FLUSHALL', 'FLUSHDB', 'KEYS'])
    t.match(await redis.cli(cmd, ...(cmd === 'KEYS' ? ['*'] : [])), /unknown command/, `${cmd} is disabled`);
  t.equal(await redis.cli('INCRBY', 'hits', '5'), '5');
  const noAuth = await run('redis-cli', ['-p', String(redis.port), 'GET', 'hits']);
  t.match(noAuth.stdout, /NOAUTH/, 'the password is required');
});

t.test('backup.sh dumps a live Redis, keeps the newest BACKUP_KEEP', async (t) => {
  const redis = await start(t, await renderedConf());
  await redis.cli('SET', 'hits', '41');
  const dir = tempDir('backups-');
  // Three older backups, named as the script names them.
  for (const stamp of ['20200101T000000Z', '20200102T000000Z', '20200103T000000Z'])
    writeFileSync(path.join(dir, `dump-${stamp}.rdb`), 'REDIS-old');
  writeFileSync(path.join(dir, 'notes.txt'), 'not a backup');
  const env = {
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(redis.port),
    REDISCLI_AUTH: password,
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
  const restoreDir = tempDir('redis-load-');
  copyFileSync(made, path.join(restoreDir, 'dump.rdb'));
  const loaded = await startRedis({ dir: restoreDir, args: ['--dbfilename', 'dump.rdb'] });
  t.teardown(() => loaded.stop());
  t.equal(await loaded.cli('GET', 'hits'), '41');
});

t.test('backup.sh refuses bad input with one clear line', async (t) => {
  const dir = tempDir('backups-');
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
  const conf = await renderedConf();
  // A live Redis with data, backed up, then changed.
  const dataDir = tempDir('redis-data-');
  const live = await start(t, conf, dataDir);
  await live.cli('SET', 'hits', '1000');
  const backups = tempDir('backups-');
  const { stdout } = await backup({
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(live.port),
    REDISCLI_AUTH: password,
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
