// The HTTP contract with the embedded store, through inject() and a real listener.
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { buildApp, MAX_URL_LENGTH, type Lifecycle } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { MemoryStore } from '../src/counter/memory.ts';
import { COUNTER_MAX, StoreError, type CounterStore } from '../src/counter/store.ts';

const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const STACK = /\bat .+:\d+:\d+/;

function makeApp(t: Test, opts: { store?: CounterStore; lifecycle?: Lifecycle } = {}) {
  const app = buildApp(loadConfig({}), { ...opts, logger: false });
  t.teardown(() => app.close());
  return app;
}

async function count(app: ReturnType<typeof makeApp>): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/' });
  return res.body;
}

t.test('GET / counts and answers text/plain with its own number', async (t) => {
  const app = makeApp(t);
  const first = await app.inject({ method: 'GET', url: '/' });
  t.equal(first.statusCode, 200);
  t.equal(first.body, 'Holla! we have hit 1 times\n');
  t.match(first.headers['content-type'], /^text\/plain; charset=utf-8/);
  t.equal(first.headers['cache-control'], 'no-store');
  t.equal(first.headers['vary'], 'Accept');
  const second = await app.inject({ method: 'GET', url: '/?utm=1&x=<b>' });
  t.equal(second.body, 'Holla! we have hit 2 times\n', 'query strings are ignored but the hit counts');
});

t.test('a client preferring HTML gets a small accessible page', async (t) => {
  const app = makeApp(t);
  const res = await app.inject({ method: 'GET', url: '/', headers: { accept: BROWSER_ACCEPT } });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/);
  t.match(res.body, /^<!doctype html>/);
  t.match(res.body, /<html lang="en">/);
  t.match(res.body, /<title>[^<]+<\/title>/);
  t.match(res.body, /<h1>Holla! we have hit 1 times<\/h1>/);
  t.notMatch(res.body, /\b(src|href)=/, 'no external assets');
  const weighted = await app.inject({ url: '/', headers: { accept: 'text/plain;q=0.5, text/html;q=0.9' } });
  t.match(weighted.body, /<h1>Holla! we have hit 2 times<\/h1>/);
  const plain = await app.inject({ url: '/', headers: { accept: 'text/html;q=0.1, text/plain' } });
  t.equal(plain.body, 'Holla! we have hit 3 times\n');
  const any = await app.inject({ url: '/', headers: { accept: '*/*' } });
  t.equal(any.body, 'Holla! we have hit 4 times\n');
});

t.test('HEAD / answers the same headers and does not count', async (t) => {
  const app = makeApp(t);
  await count(app);
  const head = await app.inject({ method: 'HEAD', url: '/' });
  t.equal(head.statusCode, 200);
  t.equal(head.body, '');
  t.match(head.headers['content-type'], /^text\/plain; charset=utf-8/);
  t.equal(head.headers['cache-control'], 'no-store');
  const headHtml = await app.inject({ method: 'HEAD', url: '/', headers: { accept: BROWSER_ACCEPT } });
  t.match(headHtml.headers['content-type'], /^text\/html/);
  t.equal(await count(app), 'Holla! we have hit 2 times\n');
});

t.test('other methods on / answer 405 with Allow and do not count', async (t) => {
  const app = makeApp(t);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
    const res = await app.inject({ method, url: '/', payload: method === 'POST' ? { a: 1 } : undefined });
    t.equal(res.statusCode, 405, method);
    t.equal(res.headers['allow'], 'GET, HEAD', `${method} Allow`);
    t.match(res.body, `${method} is not allowed on /`);
  }
  const xml = await app.inject({
    method: 'POST',
    url: '/',
    headers: { 'content-type': 'text/xml' },
    payload: '<a/>',
  });
  t.equal(xml.statusCode, 405, 'answered before any body parsing');
  t.equal(await count(app), 'Holla! we have hit 1 times\n');
});

t.test('unknown paths 404, /favicon.ico 204; neither counts', async (t) => {
  const app = makeApp(t);
  const missing = await app.inject({ url: '/nope' });
  t.equal(missing.statusCode, 404);
  t.equal(missing.body, 'Not found\n');
  const postMissing = await app.inject({ method: 'POST', url: '/nope', payload: 'x' });
  t.equal(postMissing.statusCode, 404);
  const favicon = await app.inject({ url: '/favicon.ico' });
  t.equal(favicon.statusCode, 204);
  t.equal(favicon.body, '');
  t.equal(await count(app), 'Holla! we have hit 1 times\n');
});

t.test('a GET with a body is refused and not counted', async (t) => {
  const app = makeApp(t);
  const res = await app.inject({
    method: 'GET',
    url: '/',
    headers: { 'content-type': 'text/plain' },
    payload: 'hello',
  });
  t.equal(res.statusCode, 400);
  t.equal(res.body, 'GET / must not carry a body\n');
  const chunked = await app.inject({
    method: 'GET',
    url: '/',
    headers: { 'transfer-encoding': 'chunked' },
    payload: 'x',
  });
  t.equal(chunked.statusCode, 400);
  t.equal(await count(app), 'Holla! we have hit 1 times\n');
});

t.test('an overlong URL gets 414 and is not counted', async (t) => {
  const app = makeApp(t);
  const res = await app.inject({ url: `/?q=${'a'.repeat(MAX_URL_LENGTH)}` });
  t.equal(res.statusCode, 414);
  t.match(res.body, /URI too long/);
  t.equal(await count(app), 'Holla! we have hit 1 times\n');
});

t.test('/health is UP; /ready follows the store and the draining flag', async (t) => {
  const lifecycle: Lifecycle = { draining: false };
  const app = makeApp(t, { lifecycle });
  const health = await app.inject({ url: '/health' });
  t.equal(health.statusCode, 200);
  t.same(health.json(), { status: 'UP' });
  t.equal((await app.inject({ url: '/ready' })).statusCode, 200);
  lifecycle.draining = true;
  const ready = await app.inject({ url: '/ready' });
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), { status: 'NOT_READY', reason: 'draining: shutting down' });
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'liveness unaffected');
  t.equal(await count(app), 'Holla! we have hit 1 times\n', 'still serving while draining');
});

t.test('while draining, every answer closes its connection; before, none does', async (t) => {
  const lifecycle: Lifecycle = { draining: false };
  const app = makeApp(t, { lifecycle });
  t.not((await app.inject({ url: '/' })).headers.connection, 'close', 'serving: keep-alive allowed');
  lifecycle.draining = true;
  for (const url of ['/', '/ready', '/health', '/nope'])
    t.equal((await app.inject({ url })).headers.connection, 'close', `draining: ${url} closes`);
});

// A store that fails on demand: stands in below the routes, never in place of Redis itself.
function failingStore(error: Error, ready = false): CounterStore {
  return {
    kind: 'redis',
    hit: async () => {
      throw error;
    },
    current: async () => 0n,
    status: () => ({ ready, detail: 'redis reconnecting' }),
    check: async () => ({ ready, detail: 'redis reconnecting' }),
    close: async () => {},
  };
}

t.test('a store failure answers 503 with Retry-After; /ready says why', async (t) => {
  const app = makeApp(t, { store: failingStore(new StoreError('unavailable', 'redis: connection closed')) });
  const res = await app.inject({ url: '/' });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '1');
  t.equal(res.body, 'The counter store is unavailable; retry shortly.\n');
  const ready = await app.inject({ url: '/ready' });
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), { status: 'NOT_READY', reason: 'store not ready: redis reconnecting' });
  t.equal((await app.inject({ url: '/health' })).statusCode, 200);
});

t.test('an unexpected error answers a plain 500 without a stack trace', async (t) => {
  const app = makeApp(t, { store: failingStore(new TypeError('boom in a library'), true) });
  const res = await app.inject({ url: '/' });
  t.equal(res.statusCode, 500);
  t.equal(res.body, 'Internal error\n');
  t.notMatch(res.body, STACK);
});

t.test('the embedded store is exact up to the signed 64-bit limit, then refuses', async (t) => {
  const app = makeApp(t, { store: new MemoryStore(COUNTER_MAX - 1n) });
  t.equal(await count(app), `Holla! we have hit ${COUNTER_MAX} times\n`);
  const over = await app.inject({ url: '/' });
  t.equal(over.statusCode, 503);
});

t.test('metrics carry the contract names; probes and /metrics stay out of request metrics', async (t) => {
  const app = makeApp(t);
  await count(app);
  await count(app);
  await app.inject({ url: '/nope' });
  await app.inject({ url: '/health' });
  await app.inject({ url: '/ready' });
  await app.inject({ url: '/metrics' });
  const res = await app.inject({ url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const text = res.body;
  for (const name of [
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
    'http_request_duration_seconds_bucket',
    'hitcounter_hits_total',
    'hitcounter_store_errors_total',
    'hitcounter_batch_size_bucket',
    'hitcounter_redis_command_duration_seconds_bucket',
    'hitcounter_ready',
  ]) {
    t.match(text, new RegExp(`^${name}`, 'm'), name);
  }
  t.match(text, /^hitcounter_hits_total 2$/m);
  t.match(text, /^hitcounter_ready 1$/m);
  t.match(text, /^hitcounter_store_errors_total\{kind="timeout"\} 0$/m);
  t.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/",status_code="200"\} 2$/m);
  t.match(
    text,
    /^http_request_duration_seconds_count\{method="GET",route="\/",status_code="503"\} 0$/m,
    'the 503 series exists before the first 503, so rate() sees the first one',
  );
  t.match(
    text,
    /^http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1$/m,
  );
  t.notMatch(text, /route="\/(health|ready|metrics)"/);
  t.notMatch(text, /route="\/nope"/, 'raw URLs never become labels');
});

/** Sends raw bytes to a real listener and returns the whole answer. */
function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString()) : reject(err),
    );
    socket.on('end', () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString());
    });
    socket.end(data);
  });
}

t.test('bad input on a real listener: a 4xx, no stack trace, no crash, nothing counted', async (t) => {
  const app = makeApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const cases: [string, string, RegExp][] = [
    [
      'oversized header',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      /^HTTP\/1\.1 431 /,
    ],
    ['oversized URL', `GET /?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 (414|431) /],
    [
      'long URL under the header limit',
      `GET /?${'a'.repeat(5000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      /^HTTP\/1\.1 414 /,
    ],
    ['garbage request line', 'HELLO THERE\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['bad header line', 'GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['bad HTTP version', 'GET / HTTP/9.9\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 (400|505) /],
    [
      'malformed percent-encoding',
      'GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      /^HTTP\/1\.1 400 /,
    ],
    [
      'bad content-length on GET',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      /^HTTP\/1\.1 400 /,
    ],
    [
      'body on GET',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
      /^HTTP\/1\.1 400 /,
    ],
  ];
  for (const [name, request, status] of cases) {
    const answer = await raw(port, request);
    t.match(answer, status, name);
    t.notMatch(answer, STACK, `${name}: no stack trace`);
  }
  const res = await fetch(`http://127.0.0.1:${port}/`);
  t.equal(await res.text(), 'Holla! we have hit 1 times\n', 'still serving, nothing counted');
});
