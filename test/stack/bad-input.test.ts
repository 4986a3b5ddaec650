// Bad input through nginx: every request below gets a 4xx (from nginx or the service), none is
// counted, the service's /metrics and /ready are not public, HTTP/1.0 without Host is served, slow
// clients do not starve others, and every process is still running afterwards.
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { waitFor } from '../../tools/lib/proc.ts';
import { isAlive } from '../../tools/stack/procfs.ts';
import { rawExchange, statusOf, withStack } from './fixture.ts';

const host = 'Host: localhost\r\n';
const BAD: [string, string | Buffer][] = [
  ['POST with a body', `POST / HTTP/1.1\r\n${host}Content-Length: 5\r\nConnection: close\r\n\r\nhello`],
  ['PUT', `PUT / HTTP/1.1\r\n${host}Content-Length: 0\r\nConnection: close\r\n\r\n`],
  ['DELETE', `DELETE / HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['PATCH', `PATCH / HTTP/1.1\r\n${host}Content-Length: 0\r\nConnection: close\r\n\r\n`],
  ['TRACE', `TRACE / HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['an invented method', `BREW / HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['a lowercase method', `get / HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['GET with a body', `GET / HTTP/1.1\r\n${host}Content-Length: 5\r\nConnection: close\r\n\r\nhello`],
  [
    'GET with a chunked body',
    `GET / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
  ],
  [
    'a huge declared body',
    `POST / HTTP/1.1\r\n${host}Content-Length: 104857600\r\nConnection: close\r\n\r\n`,
  ],
  ['a 20 kB URI', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['a 20 kB header', `GET / HTTP/1.1\r\n${host}X-Big: ${'b'.repeat(20_000)}\r\nConnection: close\r\n\r\n`],
  [
    '200 headers of 1 kB',
    `GET / HTTP/1.1\r\n${host}${`X-H: ${'h'.repeat(1000)}\r\n`.repeat(200)}Connection: close\r\n\r\n`,
  ],
  ['no Host header', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'],
  ['a header name with a space', `GET / HTTP/1.1\r\n${host}Bad Name: x\r\nConnection: close\r\n\r\n`],
  ['an HTTP/1.x version out of range', `GET / HTTP/1.99999\r\n${host}Connection: close\r\n\r\n`],
  ['/../', `GET /../ HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['/..', `GET /.. HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['//', `GET // HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['/./', `GET /./ HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['/%2e%2e/', `GET /%2e%2e/ HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['/%2E%2E%2F', `GET /%2E%2E%2F HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['/%2f', `GET /%2f HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['an encoded NUL', `GET /%00 HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  ['a raw NUL in the path', Buffer.from(`GET /\0 HTTP/1.1\r\n${host}Connection: close\r\n\r\n`, 'latin1')],
  ['a bad percent escape', `GET /%zz HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
  [
    'an absolute URI to another host',
    `GET http://elsewhere.example/x HTTP/1.1\r\n${host}Connection: close\r\n\r\n`,
  ],
  ['an unknown path', `GET /admin HTTP/1.1\r\n${host}Connection: close\r\n\r\n`],
];

t.test('bad input through nginx', async (t) => {
  const stack = await withStack(t, { replicas: 2 });
  const port = stack.nginx.port;
  const before = await stack.counter();

  for (const [name, request] of BAD) {
    const status = statusOf(await rawExchange(port, request));
    t.ok(status >= 400 && status < 500, `${name}: a 4xx (got ${status || 'no status line'})`);
  }
  // An HTTP major version nginx does not speak gets the status made for it.
  const version = statusOf(await rawExchange(port, `GET / HTTP/9.9\r\n${host}Connection: close\r\n\r\n`));
  t.equal(version, 505, 'HTTP/9.9: 505 HTTP Version Not Supported');
  t.equal(await stack.counter(), before, 'nothing was counted');

  // The service's readiness and metrics are not public (Prometheus and probes reach the pods).
  const replica = `http://127.0.0.1:${stack.services[0]?.port}`;
  for (const path of ['/metrics', '/ready']) {
    const res = await fetch(new URL(path, stack.url));
    t.equal(res.status, 404, `${path} through nginx: 404`);
    await res.arrayBuffer();
    const direct = await fetch(`${replica}${path}`);
    t.equal(direct.status, 200, `${path} on the replica itself: 200`);
    await direct.arrayBuffer();
  }

  // HTTP/1.0 needs no Host header: served, and counted once.
  const v10 = await rawExchange(port, 'GET / HTTP/1.0\r\nAccept: text/plain\r\n\r\n');
  t.equal(statusOf(v10), 200, 'HTTP/1.0 without Host: 200');
  t.match(v10, /Holla! we have hit \d+ times/);
  t.equal(await stack.counter(), before + 1n, 'and counted once');

  t.test('slow clients do not starve others and are not counted', async (t) => {
    const slow: Socket[] = [];
    t.teardown(() => slow.forEach((s) => s.destroy()));
    for (let i = 0; i < 32; i++) {
      const s = connect({ port, host: '127.0.0.1' });
      s.on('error', () => {});
      s.write(`GET / HTTP/1.1\r\n${host}X-Slow: `); // headers never finished
      slow.push(s);
    }
    const body = `POST / HTTP/1.1\r\n${host}Content-Length: 1000\r\n\r\n`;
    for (let i = 0; i < 8; i++) {
      const s = connect({ port, host: '127.0.0.1' });
      s.on('error', () => {});
      s.write(`${body}x`); // body never finished
      slow.push(s);
    }
    await waitFor(() => slow.every((s) => s.readyState === 'open'), { what: 'slow connections open' });
    const mid = await stack.counter();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(stack.url);
      await res.text();
      if (res.status !== 200) t.fail(`request ${i} while slow clients hold connections: ${res.status}`);
    }
    t.equal(await stack.counter(), mid + 20n, 'the 20 normal requests counted, the slow ones not');
    // nginx's client header/body timeouts (from the chart) end the slow connections by themselves.
    await waitFor(() => slow.every((s) => s.destroyed), {
      timeoutMs: 60_000,
      what: 'nginx to close the slow connections',
    });
    t.pass('nginx closed every slow connection');
    t.equal(await stack.counter(), mid + 20n, 'and counted none of them');
  });

  t.test('every process is still running', async (t) => {
    t.ok(isAlive(stack.nginx.pid), 'nginx master alive');
    for (const r of stack.services) t.ok(isAlive(r.pid) && !r.gone, `replica on port ${r.port} alive`);
    t.ok(stack.redis && isAlive(stack.redis.pid), 'redis alive');
    const res = await fetch(stack.url);
    t.equal(res.status, 200, 'the stack still serves');
    await res.text();
  });
});
