// The drain sequence in process, with requests provably in flight: Redis holds writes (CLIENT PAUSE)
// until the late request has arrived (the store's command timeout is raised for this), so the held
// requests are still open when the server starts closing and when the late request comes in.
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import t from 'tap';
import { buildApp, type Lifecycle } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createShutdown } from '../src/shutdown.ts';
import { startRedis } from '../../tools/lib/redis.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import { get, hitNumber } from './helpers/http.ts';

const HELD = 29;

t.test(
  'SIGTERM with requests in flight: all answered 200 with Connection: close, a late one never served, exit 0',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const lines: { msg?: string; url?: string }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const lifecycle: Lifecycle = { draining: false };
    const app = buildApp(loadConfig({ REDIS_URL: redis.url }), {
      lifecycle,
      logger: { level: 'debug', stream },
      redisCommandTimeoutMs: 20_000,
    });
    let completedAtExit = -1;
    const completed = () => lines.filter((l) => l.msg === 'request' && l.url === '/').length;
    let exited: (code: number) => void = () => {};
    const exitCode = new Promise<number>((resolve) => (exited = resolve));
    const shutdown = createShutdown({
      app,
      lifecycle,
      delayMs: 500,
      exit: (code) => {
        completedAtExit = completed();
        exited(code);
      },
    });
    // Closes the app if the test fails before the shutdown does (a second close is a no-op).
    t.teardown(() => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    // Every request the HTTP server receives, counted as it arrives (before any answer).
    let requestCount = 0;
    app.server.on('request', () => requestCount++);
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    await waitFor(async () => (await get(`${url}/ready`)).status === 200, { what: '/ready 200' });
    t.equal(hitNumber((await get(`${url}/`)).body), 1n);

    // One keep-alive connection carries a held request now and a late (pipelined) request during the
    // close.
    const socket = connect((app.server.address() as { port: number }).port, '127.0.0.1');
    t.teardown(() => socket.destroy());
    let received = '';
    socket.on('data', (c) => (received += c.toString()));
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', resolve));

    const incoming = () => lines.filter((l) => l.msg === 'incoming request' && l.url === '/').length;
    const before = incoming();
    const completedBefore = completed();
    // Writes wait until the late request has arrived (UNPAUSE below), however long that takes.
    await redis.cli('CLIENT', 'PAUSE', '60000', 'WRITE');
    t.teardown(() => redis.cli('CLIENT', 'UNPAUSE').catch(() => {}));
    const held = Array.from({ length: HELD }, () => get(`${url}/`, { timeoutMs: 30_000 }));
    socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
    await waitFor(() => incoming() >= before + HELD + 1, { intervalMs: 5, what: 'held requests received' });

    void shutdown('SIGTERM');
    const ready = await app.inject({ url: '/ready' });
    t.equal(ready.statusCode, 503, '/ready 503 at once');
    t.same(ready.json(), { status: 'NOT_READY', reason: 'draining: shutting down' });

    await waitFor(() => !app.server.listening, { what: 'the server to start closing' });
    t.equal(completed(), completedBefore, 'the held requests are still open while the server closes');
    const requestsBeforeLate = requestCount;
    socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
    await waitFor(() => requestCount >= requestsBeforeLate + 1, {
      intervalMs: 5,
      what: 'the late request to reach the server',
    });
    // The late request has its answer (503, decided as it arrived); the held writes may go on now.
    t.equal(completed(), completedBefore, 'the held requests were still open when the late one arrived');
    t.equal(await redis.cli('CLIENT', 'UNPAUSE'), 'OK');

    const answers = await Promise.all(held);
    t.same([...new Set(answers.map((a) => a.status))], [200], 'every held request answered 200');
    t.equal(await exitCode, 0, 'exit 0');
    t.equal(completedAtExit, completedBefore + HELD + 1, 'exit only after every held request was answered');
    // Answered while draining, the held request closes its connection: the late one behind it is
    // never served (a client sends it again elsewhere), so no proxy can reuse the connection.
    await socketClosed;
    const answersOnSocket = received.split(/(?=HTTP\/1\.1 )/);
    t.equal(answersOnSocket.length, 1, 'one answer on the keep-alive connection, then it closed');
    t.match(answersOnSocket[0], /^HTTP\/1\.1 200 /, 'the held keep-alive request: 200');
    t.match(answersOnSocket[0], /\r\nconnection: close\r\n/i, 'answered while draining: Connection: close');
    t.equal(await redis.cli('GET', 'hits'), String(HELD + 2), 'every answered hit counted, the late one not');
  },
);
