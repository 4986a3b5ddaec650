// Backup drill: the chart's backup script against the live Redis, Redis stopped and its data
// wiped, then the restore procedure of the redis chart's README: the count comes back exactly.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { waitFor } from '../../tools/lib/proc.ts';
import { runLoad } from '../../tools/stack/load.ts';
import { wipeDir } from '../../tools/stack/stack.ts';
import { withStack } from './fixture.ts';

t.test('backup, data loss, restore: the count is preserved exactly', async (t) => {
  const stack = await withStack(t, { replicas: 2 });
  const run = await runLoad({ url: stack.url, concurrency: 8, total: 300 });
  t.equal(run.ok, 300, 'hits counted before the backup');
  const counted = await stack.counter();
  t.ok(counted >= 300n, `the count to preserve: ${counted}`);

  const backupDir = join(stack.dir, 'backups');
  mkdirSync(backupDir);
  const rdb = await stack.backupRedis(backupDir);
  t.ok(existsSync(rdb), `the backup script wrote ${rdb}`);
  t.match(rdb, /dump-\d{8}T\d{6}Z\.rdb$/, 'named by its UTC time');

  await stack.stopRedis();
  const dataDir = stack.redis!.dir;
  wipeDir(dataDir);
  t.same(readdirSync(dataDir), [], 'the Redis data is gone');

  const restored = await stack.restoreRedis(rdb);
  t.equal(await stack.counter(), counted, 'the restored count equals the count at backup time');
  t.ok(existsSync(join(dataDir, 'appendonlydir')), 'Redis runs on a fresh AOF again');
  t.match(
    await restored.cli('CONFIG', 'GET', 'appendonly'),
    /appendonly\s+yes/,
    'with AOF on (the normal config)',
  );

  // The service finds the restored Redis by itself (a replica still reconnecting answers 503
  // without counting) and counts on from the restored value.
  const body = await waitFor(
    async () => {
      const res = await fetch(stack.url);
      const text = await res.text();
      return res.status === 200 ? text : undefined;
    },
    { timeoutMs: 30_000, what: 'a 200 from the stack after the restore' },
  );
  t.equal(
    body,
    `Holla! we have hit ${counted + 1n} times\n`,
    'the next hit continues from the restored count',
  );
});
