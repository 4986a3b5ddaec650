// The Redis store against a real redis-server on a free port: exact 64-bit numbers, group commit,
// startup without Redis, a slow Redis, AUTH, a reconnect through a real Sentinel aborted mid-way.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import t, { type Test } from 'tap';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { RedisStore } from '../src/counter/redis.ts';
import { createMetrics } from '../src/metrics.ts';
import { freePort } from '../../tools/lib/ports.ts';
import { parseCommandStats, startRedis, type RedisServer } from '../../tools/lib/redis.ts';
import { requireBinary, tempDir, waitFor } from '../../tools/lib/proc.ts';
import { contiguousRange, hitNumber } from './helpers/http.ts';

async function redis(t: Test, opts: Parameters<typeof startRedis>[0] = {}): Promise<RedisServer> {
  const server = await startRedis(opts);
  t.teardown(() => server.stop());
  return server;
}

async function redisApp(t: Test, env: Record<string, string>) {
  const app = buildApp(loadConfig(env), { logger: false });
  t.teardown(() => app.close());
  await app.ready();
  return app;
}

async function whenReady(app: Awaited<ReturnType<typeof redisApp>>) {
  await waitFor(async () => (await app.inject({ url: '/ready' })).statusCode === 200, { what: '/ready 200' });
}

async function hits(app: Awaited<ReturnType<typeof redisApp>>, n: number): Promise<bigint[]> {
  const answers = await Promise.all(Array.from({ length: n }, () => app.inject({ url: '/' })));
  return answers.map((r) => hitNumber(r.body));
}

function commandCalls(info: string, command: string): number {
  return parseCommandStats(info)[command] ?? 0;
}

t.test('numbers are exact near the top of the signed 64-bit range', async (t) => {
  const server = await redis(t);
  const app = await redisApp(t, { REDIS_URL: server.url });
  await whenReady(app);
  t.equal(await server.cli('SET', 'hits', '9223372036854775000'), 'OK');
  const numbers = await hits(app, 500);
  t.same(contiguousRange(numbers), [9223372036854775001n, 9223372036854775500n]);
  t.equal(await server.cli('GET', 'hits'), '9223372036854775500');

  await server.cli('SET', 'hits', '9223372036854775806');
  t.equal((await app.inject({ url: '/' })).body, 'Holla! we have hit 9223372036854775807 times\n');
  const over = await app.inject({ url: '/' });
  t.equal(over.statusCode, 503, 'overflow is refused, not wrapped');
  t.equal(await server.cli('GET', 'hits'), '9223372036854775807');
  t.match((await app.inject({ url: '/metrics' })).body, /^hitcounter_store_errors_total\{kind="error"\} 1$/m);
});

t.test('group commit: concurrent hits share INCRBY commands; COUNTER_BATCH_MAX=1 turns it off', async (t) => {
  const server = await redis(t);
  const batched = await redisApp(t, { REDIS_URL: server.url, COUNTER_KEY: 'batched' });
  const single = await redisApp(t, { REDIS_URL: server.url, COUNTER_KEY: 'single', COUNTER_BATCH_MAX: '1' });
  await whenReady(batched);
  await whenReady(single);

  await server.cli('CONFIG', 'RESETSTAT');
  t.same(contiguousRange(await hits(batched, 400)), [1n, 400n]);
  const batchedCalls = commandCalls(await server.cli('INFO', 'commandstats'), 'incrby');
  t.ok(batchedCalls >= 1 && batchedCalls < 400, `400 hits took ${batchedCalls} INCRBY commands`);
  const metrics = (await batched.inject({ url: '/metrics' })).body;
  t.match(metrics, new RegExp(`^hitcounter_batch_size_count ${batchedCalls}$`, 'm'));
  t.match(metrics, /^hitcounter_batch_size_sum 400$/m);
  t.match(metrics, /^hitcounter_hits_total 400$/m);

  await server.cli('CONFIG', 'RESETSTAT');
  t.same(contiguousRange(await hits(single, 100)), [1n, 100n]);
  t.equal(commandCalls(await server.cli('INFO', 'commandstats'), 'incrby'), 100, 'one INCRBY per hit');
  t.equal(commandCalls(await server.cli('INFO', 'commandstats'), 'get'), 0, 'never INCR-then-GET');
  t.equal(await server.cli('GET', 'batched'), '400');
});

t.test('starts without Redis: /health 200, /ready and GET / 503 until Redis comes', async (t) => {
  const port = await freePort();
  const app = await redisApp(t, { REDIS_URL: `redis://127.0.0.1:${port}/0` });
  t.equal((await app.inject({ url: '/health' })).statusCode, 200);
  const ready = await app.inject({ url: '/ready' });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { status: 'NOT_READY', reason: /^store not ready: redis / });
  const res = await app.inject({ url: '/' });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '1');
  t.match((await app.inject({ url: '/metrics' })).body, /^hitcounter_ready 0$/m);

  const server = await redis(t, { port });
  await waitFor(async () => (await app.inject({ url: '/ready' })).statusCode === 200, {
    timeoutMs: 15_000,
    what: 'the service to reconnect',
  });
  t.equal((await app.inject({ url: '/' })).body, 'Holla! we have hit 1 times\n');
  t.equal(await server.cli('GET', 'hits'), '1');
});

t.test('a stalled Redis gives a bounded 503; the timed-out INCRBY may still count', async (t) => {
  const server = await redis(t);
  const app = await redisApp(t, { REDIS_URL: server.url });
  await whenReady(app);
  // Write commands wait until the pause is lifted below; the service's command timeout is 1 s.
  t.equal(await server.cli('CLIENT', 'PAUSE', '60000', 'WRITE'), 'OK');
  t.teardown(() => server.cli('CLIENT', 'UNPAUSE').catch(() => {}));
  const res = await app.inject({ url: '/' });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '1');
  t.match(
    (await app.inject({ url: '/metrics' })).body,
    /^hitcounter_store_errors_total\{kind="timeout"\} 1$/m,
  );
  t.equal(await server.cli('GET', 'hits'), '', 'the INCRBY is held while Redis is paused');
  t.equal(await server.cli('CLIENT', 'UNPAUSE'), 'OK');
  // Documented over-count: Redis applies the INCRBY once the pause ends, though the hit got a 503.
  await waitFor(async () => (await server.cli('GET', 'hits')) === '1', {
    timeoutMs: 10_000,
    what: 'the late INCRBY',
  });
  await waitFor(async () => (await app.inject({ url: '/' })).statusCode === 200, { what: 'recovery' });
  t.equal(await server.cli('GET', 'hits'), '2');
});

t.test('WAIT: a batch is answered once a replica holds it; unacknowledged, it is a 503', async (t) => {
  const primary = await redis(t);
  const replica = await redis(t, { args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  await waitFor(async () => /master_link_status:up/.test(await replica.cli('INFO', 'replication')), {
    what: 'the replica in sync',
  });
  const waiting = await redisApp(t, { REDIS_URL: primary.url, REDIS_WAIT_REPLICAS: '1' });
  const async = await redisApp(t, { REDIS_URL: primary.url, COUNTER_KEY: 'async' });
  await whenReady(waiting);
  await whenReady(async);
  t.same(contiguousRange(await hits(waiting, 50)), [1n, 50n]);
  t.ok(commandCalls(await primary.cli('INFO', 'commandstats'), 'wait') >= 1, 'each batch sent a WAIT');
  t.equal(await replica.cli('GET', 'hits'), '50', 'the replica holds every number answered');

  // A stopped replica acknowledges nothing: the batch is counted on the primary but answered 503.
  replica.proc.signal('SIGSTOP');
  t.teardown(() => replica.proc.signal('SIGCONT'));
  const refused = await waiting.inject({ url: '/' });
  t.equal(refused.statusCode, 503, 'no replica acknowledged the batch');
  t.equal(refused.headers['retry-after'], '1');
  t.match(
    (await waiting.inject({ url: '/metrics' })).body,
    /^hitcounter_store_errors_total\{kind="unreplicated"\} 1$/m,
  );
  t.equal(await primary.cli('GET', 'hits'), '51', 'documented over-count: the primary counted it');
  // Without WAIT the same hit is answered although no replica holds it (what a failover would lose).
  t.equal((await async.inject({ url: '/' })).statusCode, 200, 'REDIS_WAIT_REPLICAS=0 answers regardless');

  replica.proc.signal('SIGCONT');
  await waitFor(async () => (await waiting.inject({ url: '/' })).statusCode === 200, { what: 'recovery' });
  t.equal(
    await primary.cli('GET', 'hits'),
    '52',
    'the next number follows the over-counted one: none repeats',
  );
});

t.test('REDIS_PASSWORD authenticates; a wrong one keeps the service unready', async (t) => {
  const server = await redis(t, { args: ['--requirepass', 's3cret'], password: 's3cret' });
  const good = await redisApp(t, { REDIS_URL: server.url, REDIS_PASSWORD: 's3cret' });
  const wrong = await redisApp(t, { REDIS_URL: server.url, REDIS_PASSWORD: 'nope', COUNTER_KEY: 'other' });
  await whenReady(good);
  t.equal((await good.inject({ url: '/' })).body, 'Holla! we have hit 1 times\n');
  t.equal((await wrong.inject({ url: '/ready' })).statusCode, 503);
  t.equal((await wrong.inject({ url: '/' })).statusCode, 503);
  t.equal(await server.cli('EXISTS', 'other'), '0');
});

t.test('current() reads the counter; a value that is not an integer is a StoreError', async (t) => {
  const server = await redis(t);
  const app = await redisApp(t, { REDIS_URL: server.url });
  const store = new RedisStore({
    url: server.url,
    password: undefined,
    key: 'hits',
    batchMax: 1,
    log: app.log,
    metrics: createMetrics(() => true),
  });
  t.teardown(() => store.close());
  await waitFor(() => store.status().ready, { what: 'the store to connect' });
  t.equal(await store.current(), 0n, 'no key: 0');
  await server.cli('SET', 'hits', '42');
  t.equal(await store.current(), 42n);
  await server.cli('SET', 'hits', 'not a number');
  await t.rejects(store.current(), { name: 'StoreError', kind: 'error', message: /not an integer/ });
});

t.test(
  'Sentinel: a reconnect aborted while it asks the sentinels does not end the store for good',
  async (t) => {
    const primary = await redis(t);
    // Teardowns run last registered first: this one runs after the sentinel's stop.
    const dir = tempDir('sentinel-', t);
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, `sentinel monitor hc 127.0.0.1 ${primary.port} 1\n`);
    const sentinel = await redis(t, {
      port,
      dir,
      launch: {
        command: requireBinary('redis-sentinel'),
        args: [conf, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
        env: process.env,
      },
    });
    const warnings: string[] = [];
    const log = {
      level: 'warn',
      warn: (_obj: unknown, msg: string) => warnings.push(msg),
      info: () => {},
      error: () => {},
      debug: () => {},
      trace: () => {},
      fatal: () => {},
      silent: () => {},
      child: () => log,
    };
    const store = new RedisStore({
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      sentinelName: 'hc',
      password: undefined,
      key: 'hits',
      batchMax: 16,
      log: log as unknown as FastifyBaseLogger,
      metrics: createMetrics(() => true),
    });
    t.teardown(() => store.close());
    await waitFor(() => store.status().ready, { what: 'the store to connect through the sentinel' });
    t.equal(await store.hit(), 1n);

    // ioredis' failover detector, on a +switch-master, calls its connector's disconnect(); when that
    // happens while a reconnect is asking the sentinels for the primary, the reconnect throws and
    // the client ends. Do exactly that: force a reconnect and disconnect the connector as it starts.
    const connector = (store.client as unknown as { connector: { disconnect(): void } }).connector;
    let ended = false;
    store.client.once('end', () => (ended = true));
    store.client.once('connecting', () => connector.disconnect());
    store.client.disconnect(true);
    await waitFor(() => ended, { what: 'the aborted reconnect to end the client' });
    t.ok(warnings.includes('redis client ended without close(); starting it again'), 'the restart is logged');
    await waitFor(() => store.status().ready, { timeoutMs: 15_000, what: 'the store to connect again' });
    t.equal(await store.hit(), 2n, 'the store counts again');
    t.equal(await primary.cli('GET', 'hits'), '2');
  },
);
