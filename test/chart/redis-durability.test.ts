// Node loss cannot be staged with a process kill (the page cache survives it), so this proves the
// mechanism instead: strace on the chart's redis-server shows, for every INCRBY reply, whether an
// fdatasync of the AOF completed between the command's AOF write and the reply's write to the
// client. With the default appendfsync always every reply waits for it; with everysec replies go
// out before their fsync (the negative control: the check fails there).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { requireBinary, spawnProcess, tempDir, waitFor } from '../../tools/lib/proc.ts';
import { startRedis } from '../../tools/lib/redis.ts';
import { find, render } from './chart.ts';

const password = 'test-password-not-real';

interface Replies {
  /** INCRBY replies written after an fdatasync of the AOF that followed the command's AOF write */
  synced: number;
  /** INCRBY replies written while the command's AOF write was not yet fsynced */
  unsynced: number;
}

/**
 * Reads `strace -f -y` output in order. An AOF write makes the file dirty; a completed
 * fdatasync/fsync of the AOF makes it clean; an integer reply (":N\r\n") written to a socket counts
 * as synced when the file is clean at that moment.
 */
function classifyReplies(trace: string): Replies {
  const pending = new Map<string, boolean>(); // pid -> its unfinished call is an AOF sync
  let dirty = false;
  const out: Replies = { synced: 0, unsynced: 0 };
  for (const line of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid = '', call = ''] = m;
    const syncCall = /^f(?:data)?sync\(\d+<[^>]*\.aof>/.test(call);
    if (syncCall && call.includes('<unfinished ...>')) {
      pending.set(pid, true);
    } else if (syncCall || (/^<\.\.\. f(?:data)?sync resumed>/.test(call) && pending.get(pid))) {
      pending.delete(pid);
      if (/= 0$/.test(call)) dirty = false;
    } else if (/^write\(\d+<[^>]*\.aof>/.test(call)) {
      dirty = true;
    } else if (/^writev?\(\d+<socket:\[\d+\]>, .*":\d+\\r\\n"/.test(call)) {
      if (dirty) out.unsynced++;
      else out.synced++;
    }
  }
  return out;
}

async function traceIncrBys(t: Test, appendfsync: 'always' | 'everysec', commands: number): Promise<Replies> {
  const strace = requireBinary('strace');
  const { objects } = await render(
    appendfsync === 'always' ? [] : [`redis.config.appendfsync=${appendfsync}`],
  );
  const conf = find(objects, 'ConfigMap', 'hit-counter-redis').data['redis.conf'] as string;
  if (!new RegExp(`^appendfsync ${appendfsync}$`, 'm').test(conf))
    throw new Error(`the rendered redis.conf does not say appendfsync ${appendfsync}`);
  const dir = tempDir('redis-fsync-', t);
  const file = path.join(dir, 'redis.conf');
  writeFileSync(file, conf);
  // The rendered redis.conf alone (the ACL users play no part in fsync): its default user with a password.
  const redis = await startRedis({ configFile: file, dir, password, args: ['--requirepass', password] });
  const traceFile = path.join(dir, 'strace.txt');
  const tracer = spawnProcess(strace, [
    ...['-f', '-qq', '-y', '-e', 'trace=write,writev,fdatasync,fsync', '-o', traceFile],
    ...['-p', String(redis.pid)],
  ]);
  try {
    // strace -f -p attaches to every thread (the main loop and the background fsync thread)
    const tracedBy = (tid: string): number =>
      Number(
        /^TracerPid:\s+(\d+)/m.exec(readFileSync(`/proc/${redis.pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0,
      );
    await waitFor(() => readdirSync(`/proc/${redis.pid}/task`).every((tid) => tracedBy(tid) === tracer.pid), {
      what: 'strace attached to every redis-server thread',
    });
    for (let i = 0; i < commands; i++) await redis.cli('INCRBY', 'hits', '1');
  } finally {
    await tracer.stop({ signal: 'SIGINT', timeoutMs: 10_000 });
    await redis.stop();
  }
  return classifyReplies(readFileSync(traceFile, 'utf8'));
}

t.test('the trace reading itself: a reply before its fsync counts as unsynced', async (t) => {
  const aof = '7</d/appendonlydir/appendonly.aof.1.incr.aof>';
  const write = `1 write(${aof}, "*3\\r\\n$6\\r\\nINCRBY"..., 33) = 33`;
  const reply = (n: number): string => `1 write(8<socket:[99]>, ":${n}\\r\\n", 4) = 4`;
  t.same(classifyReplies([write, `1 fdatasync(${aof}) = 0`, reply(1)].join('\n')), {
    synced: 1,
    unsynced: 0,
  });
  t.same(classifyReplies([write, reply(1), `2 fdatasync(${aof}) = 0`].join('\n')), {
    synced: 0,
    unsynced: 1,
  });
  t.same(
    classifyReplies(
      [
        write,
        `2 fdatasync(${aof} <unfinished ...>`,
        reply(1),
        '2 <... fdatasync resumed>) = 0',
        reply(2),
      ].join('\n'),
    ),
    { synced: 1, unsynced: 1 },
    'an unfinished fsync counts when it completes',
  );
});

t.test(
  'appendfsync always (the default): every INCRBY reply follows the fsync of its AOF write',
  async (t) => {
    const replies = await traceIncrBys(t, 'always', 20);
    t.comment(`always: ${JSON.stringify(replies)}`);
    t.equal(replies.synced + replies.unsynced, 20, 'every reply was traced');
    t.equal(replies.unsynced, 0, 'no reply left before its increment was on disk');
  },
);

t.test('appendfsync everysec (negative control): replies leave before their fsync', async (t) => {
  const replies = await traceIncrBys(t, 'everysec', 20);
  t.comment(`everysec: ${JSON.stringify(replies)}`);
  t.equal(replies.synced + replies.unsynced, 20, 'every reply was traced');
  t.ok(replies.unsynced > 0, 'some replies were answered with their increment not yet on disk');
});
