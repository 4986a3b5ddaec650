// Backup and restore of the stack's Redis the way the chart does it: the backup CronJob's script
// (taken from the rendered chart) and the restore procedure of charts/hit-counter/charts/redis/README.md.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../lib/proc.ts';
import type { RedisServer } from '../lib/redis.ts';

const run = promisify(execFile);

/**
 * Runs the chart's backup.sh against a live Redis with the backup container's env (`env`: its Redis
 * user and password) at the local address; resolves with the path of the new RDB file.
 */
export async function runBackupScript(o: {
  script: string;
  redis: RedisServer;
  env: Record<string, string>;
  backupDir: string;
  keep?: number;
}): Promise<string> {
  const file = join(o.backupDir, '..', 'backup.sh');
  writeFileSync(file, o.script);
  const env = {
    PATH: process.env.PATH,
    ...o.env,
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(o.redis.port),
    BACKUP_DIR: o.backupDir,
    BACKUP_KEEP: String(o.keep ?? 8),
  };
  try {
    const { stdout } = await run('sh', [file], { env, timeout: 60_000 });
    return stdout.trim().split('\n').at(-1) ?? '';
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`the chart's backup.sh failed: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

/** True when `INFO persistence` says AOF is on and no rewrite is running or due (a new AOF is written). */
export function aofRewritten(info: string): boolean {
  return ['aof_enabled:1', 'aof_rewrite_in_progress:0', 'aof_rewrite_scheduled:0'].every((l) =>
    info.includes(l),
  );
}

/**
 * The README's restore, steps 2-5 (step 1, stopping writes and Redis, is the caller's):
 * move appendonlydir aside, put the RDB in place as dump.rdb, start Redis once with
 * --appendonly no so it loads the RDB, CONFIG SET appendonly yes and wait for the new AOF,
 * then restart Redis with its normal arguments.
 */
export async function restoreFromRdb(o: {
  rdbFile: string;
  dataDir: string;
  startRedis: (extraArgs?: string[]) => Promise<RedisServer>;
}): Promise<RedisServer> {
  const aofDir = join(o.dataDir, 'appendonlydir');
  if (existsSync(aofDir)) renameSync(aofDir, join(o.dataDir, `appendonlydir.before-restore-${Date.now()}`));
  copyFileSync(o.rdbFile, join(o.dataDir, 'dump.rdb'));

  const loading = await o.startRedis(['--appendonly', 'no']);
  await loading.cli('CONFIG', 'SET', 'appendonly', 'yes');
  await waitFor(
    async () => {
      const info = await loading.cli('INFO', 'persistence');
      return aofRewritten(info);
    },
    { timeoutMs: 60_000, what: 'Redis to write the restored data into a new AOF' },
  );
  await loading.stop({ timeoutMs: 10_000 });
  return o.startRedis();
}
