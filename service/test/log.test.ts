// The log destination of the real process: lines are written asynchronously, in batches, yet one
// request's line reaches stdout soon on an idle service (the periodic flush), the lines pending at
// a fatal exit are written before the process ends, and lines stdout cannot take are dropped and
// counted, never waited for.
import { spawn } from 'node:child_process';
import t from 'tap';
import { freePort } from '../../tools/lib/ports.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import { MAIN } from '../../tools/stack/service.ts';
import { get } from './helpers/http.ts';
import { baseEnv, parseLog, spawnService, startService } from './helpers/service.ts';

t.test('an idle service: one request line reaches stdout without more traffic', async (t) => {
  const s = await startService(t, { LOG_LEVEL: 'info' });
  t.equal((await get(`${s.url}/`)).status, 200);
  // Far below the batch size: only the periodic flush writes it. The deadline only bounds a
  // failing run; the flush comes every 100 ms.
  await waitFor(
    () => s.logLines().some((l) => l.msg === 'request' && l.url === '/' && l.statusCode === 200),
    {
      timeoutMs: 10_000,
      what: 'the request line in the log',
    },
  );
  const metrics = (await get(`${s.url}/metrics`)).body;
  t.match(metrics, /^hitcounter_log_lines_dropped_total 0$/m, 'no line dropped');
});

t.test('a fatal exit writes the lines still pending first', async (t) => {
  // Its port is taken: listen fails, the fatal line is logged and the process exits at once.
  const first = await startService(t, {});
  const proc = spawnService(t, {}, first.port);
  const exit = await proc.exited;
  t.equal(exit.code, 1, 'exit 1');
  const lines = parseLog(proc.log());
  t.ok(
    lines.some((l) => l.msg === 'could not start listening' && l.level === 60),
    'the fatal line was written before the exit',
  );
  t.ok(
    lines.some((l) => /embedded in-memory store/.test(String(l.msg))),
    'and the warning logged before it',
  );
});

t.test(
  'stdout that stops being read: lines past the buffer are dropped and counted, hits go on',
  async (t) => {
    // The service's stdout is a pipe nobody reads: once the pipe (64 KiB) and the line buffer
    // (LOG_BUFFER_BYTES, 1 MiB) are full, each further line is dropped, never waited for.
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { ...baseEnv(), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    t.teardown(async () => {
      // SIGKILL: a clean exit would wait to write the pending lines to a pipe nobody reads
      const gone = new Promise((resolve) => child.once('exit', resolve));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await gone;
      child.stdout?.destroy();
    });
    child.stdout?.pause();
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await get(`${url}/health`).catch(() => undefined))?.status === 200, {
      timeoutMs: 20_000,
      what: 'the service to answer /health',
    });
    // ~180 bytes a line: 12,000 request lines are about twice what the pipe and buffer hold
    const total = 12_000;
    let next = 0;
    let ok = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < total) {
          next += 1;
          if ((await get(`${url}/`)).status === 200) ok += 1;
        }
      }),
    );
    t.equal(ok, total, 'every hit answered 200 while stdout was stalled');
    const dropped = Number(
      /^hitcounter_log_lines_dropped_total (\d+)$/m.exec((await get(`${url}/metrics`)).body)?.[1],
    );
    t.ok(dropped > 1000 && dropped < total, `lines dropped and counted: ${dropped} of ${total}`);
  },
);
