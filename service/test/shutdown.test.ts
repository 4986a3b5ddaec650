// Shutdown of the real process by signal: SIGTERM drains (readiness 503 during the delay while
// requests are still served), SIGINT cuts a running delay short or skips it (exit 0), and a drain
// that cannot finish hits the hard deadline with a non-zero exit. (drain.test.ts holds requests in
// flight across the close.)
import { connect } from 'node:net';
import t from 'tap';
import { startRedis } from '../../tools/lib/redis.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import { get, hitNumber } from './helpers/http.ts';
import { startService, type Service } from './helpers/service.ts';

function messages(s: Service): string[] {
  return s.logLines().map((l) => `${String(l.msg)} ${l.url ?? ''} ${l.statusCode ?? ''}`.trim());
}

t.test(
  'SIGTERM: readiness 503 during the delay while requests are served; SIGINT cuts the delay short, exit 0',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    // A delay far longer than the test: everything below happens inside it, however slow the machine.
    const s = await startService(t, { REDIS_URL: redis.url, SHUTDOWN_DELAY_MS: '600000' });
    await waitFor(async () => (await get(`${s.url}/ready`)).status === 200, { what: '/ready 200' });
    t.equal(hitNumber((await get(`${s.url}/`)).body), 1n);

    s.proc.signal('SIGTERM');
    const ready = await waitFor(
      async () => {
        const r = await get(`${s.url}/ready`);
        return r.status === 503 ? r : undefined;
      },
      { what: '/ready 503' },
    );
    t.same(JSON.parse(ready.body), { status: 'NOT_READY', reason: 'draining: shutting down' });
    t.equal((await get(`${s.url}/health`)).status, 200, 'liveness stays 200 while draining');
    const during = await Promise.all(Array.from({ length: 20 }, () => get(`${s.url}/`)));
    t.same([...new Set(during.map((r) => r.status))], [200], 'requests during the delay are served');
    t.equal((await get(`${s.url}/ready`)).status, 503, 'still draining after the requests');
    // Log lines are written in batches (at most 100 ms late): polled for.
    await waitFor(() => s.logLines().some((l) => l.signal === 'SIGTERM' && l.delayMs === 600000), {
      what: 'the SIGTERM shutdown with the configured delay in the log',
    });
    t.pass('the SIGTERM shutdown waits the configured delay');

    s.proc.signal('SIGINT');
    t.same(await s.proc.exited, { code: 0, signal: null }, 'SIGINT cuts the delay short: exit 0');

    const log = messages(s);
    const signalled = log.findIndex((m) => m.startsWith('shutdown: not ready'));
    const served = log.flatMap((m, i) => (m === 'request / 200' && i > signalled ? [i] : []));
    t.ok(signalled > 0, 'the shutdown is logged');
    t.equal(served.length, 20, 'the 20 requests were served after the signal');
    t.ok(log.indexOf('shutdown: complete') > Math.max(...served), 'closed after the last request');
    t.equal(await redis.cli('GET', 'hits'), '21');
  },
);

t.test('SIGTERM alone: the delay runs out, the store quits, exit 0', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const s = await startService(t, { REDIS_URL: redis.url, SHUTDOWN_DELAY_MS: '300' });
  await waitFor(async () => (await get(`${s.url}/ready`)).status === 200, { what: '/ready 200' });
  t.equal(hitNumber((await get(`${s.url}/`)).body), 1n);
  s.proc.signal('SIGTERM');
  t.same(await s.proc.exited, { code: 0, signal: null }, 'exit 0 once the delay has passed');
  const log = messages(s);
  t.ok(
    s.logLines().some((l) => l.signal === 'SIGTERM' && l.delayMs === 300),
    'the shutdown ran with the configured delay',
  );
  t.ok(log.includes('shutdown: complete'), 'the shutdown completed');
  t.equal(await redis.cli('GET', 'hits'), '1', 'the count is kept');
});

t.test('SIGINT skips the delay and exits 0', async (t) => {
  const s = await startService(t, { SHUTDOWN_DELAY_MS: '600000' });
  t.equal((await get(`${s.url}/`)).status, 200);
  s.proc.signal('SIGINT');
  t.same(await s.proc.exited, { code: 0, signal: null }, 'exit 0 without waiting the 10-minute delay');
  t.ok(
    s.logLines().some((l) => l.signal === 'SIGINT' && l.delayMs === 0),
    'the shutdown ran with no delay',
  );
});

t.test('a drain that cannot finish hits the hard deadline and exits non-zero', async (t) => {
  const s = await startService(t);
  // Half a request: the connection is never idle, so the server cannot finish closing.
  const socket = connect(s.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  await new Promise<void>((resolve) => socket.write('GET / HTTP/1.1\r\nHost: test\r\n', () => resolve()));
  // A round trip on another connection: the server's event loop has read the half request by then.
  t.equal((await get(`${s.url}/health`)).status, 200);
  s.proc.signal('SIGINT');
  const exit = await s.proc.exited;
  t.equal(exit.code, 1, 'exit 1');
  t.ok(
    s.logLines().some((l) => l.level === 50 && /deadline passed/.test(String(l.msg))),
    'the deadline is logged as an error',
  );
});
