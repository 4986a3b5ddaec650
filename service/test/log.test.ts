// The log destination of the real process: lines are written asynchronously, in batches, yet one
// request's line reaches stdout soon on an idle service (the periodic flush), the lines pending at
// a fatal exit are written before the process ends, and dropped lines are a metric.
import t from 'tap';
import { waitFor } from '../../tools/lib/proc.ts';
import { get } from './helpers/http.ts';
import { parseLog, spawnService, startService } from './helpers/service.ts';

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
