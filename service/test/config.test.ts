// Configuration: defaults, parsing, and a bad value stopping the process with exit 2 and one line.
import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.ts';
import { freePort } from '../../tools/lib/ports.ts';
import { spawnService } from './helpers/service.ts';

t.test('defaults follow the contract', async (t) => {
  t.same(loadConfig({}), {
    port: 8000,
    host: '0.0.0.0',
    redisUrl: undefined,
    redisSentinels: undefined,
    redisSentinelName: 'hit-counter',
    redisDb: 0,
    redisPassword: undefined,
    redisWaitReplicas: 0,
    counterKey: 'hits',
    counterBatchMax: 1024,
    shutdownDelayMs: 0,
    logLevel: 'info',
    keepAliveTimeoutMs: 65000,
    maxConnections: 4096,
  });
});

t.test('values are parsed and typed; empty REDIS_URL means the embedded store', async (t) => {
  const c = loadConfig({
    PORT: '9000',
    HOST: '127.0.0.1',
    REDIS_URL: 'redis://redis:6379/2',
    REDIS_PASSWORD: 's3cret',
    COUNTER_KEY: 'views',
    COUNTER_BATCH_MAX: '1',
    SHUTDOWN_DELAY_MS: '5000',
    LOG_LEVEL: 'debug',
    KEEP_ALIVE_TIMEOUT_MS: '61000',
  });
  t.match(c, {
    port: 9000,
    host: '127.0.0.1',
    redisUrl: 'redis://redis:6379/2',
    redisPassword: 's3cret',
    counterKey: 'views',
    counterBatchMax: 1,
    shutdownDelayMs: 5000,
    logLevel: 'debug',
    keepAliveTimeoutMs: 61000,
  });
  t.equal(loadConfig({ REDIS_URL: '' }).redisUrl, undefined);
});

t.test(
  'Sentinel mode: the sentinels, the name and the database; WAIT for one replica by default',
  async (t) => {
    const c = loadConfig({
      REDIS_SENTINELS: 'redis-0.redis-headless:26379,10.0.0.7:26380',
      REDIS_SENTINEL_NAME: 'counter.primary',
      REDIS_DB: '3',
    });
    t.same(c.redisSentinels, [
      { host: 'redis-0.redis-headless', port: 26379 },
      { host: '10.0.0.7', port: 26380 },
    ]);
    t.equal(c.redisSentinelName, 'counter.primary');
    t.equal(c.redisDb, 3);
    t.equal(c.redisUrl, undefined);
    t.equal(c.redisWaitReplicas, 1, 'Sentinel mode waits for one replica unless told otherwise');
    t.equal(loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_WAIT_REPLICAS: '0' }).redisWaitReplicas, 0);
    t.equal(loadConfig({ REDIS_URL: 'redis://r:6379/0', REDIS_WAIT_REPLICAS: '2' }).redisWaitReplicas, 2);
    t.equal(
      loadConfig({ REDIS_URL: 'redis://r:6379/0' }).redisWaitReplicas,
      0,
      'one Redis: no WAIT by default',
    );
    t.equal(loadConfig({ REDIS_SENTINELS: '', REDIS_DB: '' }).redisSentinels, undefined, 'empty means unset');
  },
);

t.test(
  'integers read as before: surrounding spaces, 8.0 and 1e3 are integers; blanks and 8.5 are not',
  async (t) => {
    t.equal(loadConfig({ PORT: ' 8080 ' }).port, 8080);
    t.equal(loadConfig({ COUNTER_BATCH_MAX: '8.0' }).counterBatchMax, 8);
    t.equal(loadConfig({ SHUTDOWN_DELAY_MS: '1e3' }).shutdownDelayMs, 1000);
    t.throws(() => loadConfig({ PORT: ' ' }), /PORT=" " is invalid \(must be integer\)/);
    t.throws(() => loadConfig({ COUNTER_BATCH_MAX: '8.5' }), /must be integer/);
    t.equal(
      loadConfig({ COUNTER_KEY: '😀'.repeat(512) }).counterKey.length,
      1024,
      'lengths count characters',
    );
  },
);

const bad: [Record<string, string>, string, RegExp][] = [
  [{ PORT: 'eighty' }, 'PORT', /expected an integer 0-65535/],
  [{ PORT: '70000' }, 'PORT', /must be <= 65535/],
  [{ REDIS_URL: 'http://redis:6379' }, 'REDIS_URL', /expected redis:\/\/host:port\/db/],
  [{ COUNTER_BATCH_MAX: '0' }, 'COUNTER_BATCH_MAX', /1 = no batching/],
  [{ COUNTER_KEY: '' }, 'COUNTER_KEY', /non-empty Redis key/],
  [{ SHUTDOWN_DELAY_MS: '-1' }, 'SHUTDOWN_DELAY_MS', /integer 0-600000/],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of fatal\|error\|warn\|info\|debug\|trace\|silent/],
  [{ KEEP_ALIVE_TIMEOUT_MS: '500' }, 'KEEP_ALIVE_TIMEOUT_MS', /keepalive_timeout/],
  [{ MAX_CONNECTIONS: '0' }, 'MAX_CONNECTIONS', /1-100000/],
  [{ REDIS_SENTINELS: 'sentinel-0' }, 'REDIS_SENTINELS', /wrong form.*host:port of every Redis Sentinel/],
  [{ REDIS_SENTINELS: 's:26379;t:26379' }, 'REDIS_SENTINELS', /comma-separated/],
  [{ REDIS_SENTINELS: 's:26379,t:99999' }, 'REDIS_SENTINELS', /port is out of range.*1-65535/],
  [{ REDIS_SENTINEL_NAME: 'my primary' }, 'REDIS_SENTINEL_NAME', /letters, digits/],
  [{ REDIS_SENTINELS: 's:1', REDIS_DB: '16' }, 'REDIS_DB', /integer 0-15/],
  [{ REDIS_URL: 'redis://r:6379/0', REDIS_WAIT_REPLICAS: 'one' }, 'REDIS_WAIT_REPLICAS', /integer 0-16/],
  [
    { REDIS_URL: 'redis://r:6379/0', REDIS_SENTINELS: 's:1' },
    'REDIS_SENTINELS',
    /REDIS_URL is set too.*one of them/,
  ],
  [
    { REDIS_URL: 'redis://r:6379/0', REDIS_DB: '2' },
    'REDIS_DB',
    /REDIS_SENTINELS is unset.*redis:\/\/host:port\/2/,
  ],
  [
    { REDIS_WAIT_REPLICAS: '1' },
    'REDIS_WAIT_REPLICAS',
    /no Redis store.*expected REDIS_URL or REDIS_SENTINELS/,
  ],
];

t.test('a bad value throws a ConfigError naming the variable and the expected form', async (t) => {
  for (const [env, name, expected] of bad) {
    t.throws(() => loadConfig(env), ConfigError, name);
    try {
      loadConfig(env);
    } catch (err) {
      const message = (err as Error).message;
      t.ok(message.startsWith(`${name}=`), `${name} named first: ${message}`);
      t.match(message, expected);
      t.notMatch(message, /\n/, 'one line');
    }
  }
});

t.test('an error message never echoes the password', async (t) => {
  const message = (() => {
    try {
      loadConfig({ REDIS_PASSWORD: 's3cret', REDIS_URL: 'http://:s3cret@redis:6379' });
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  })();
  t.match(message, /^REDIS_URL="http:\/\/\*\*\*@redis:6379"/);
  t.notMatch(message, /s3cret/);
});

t.test('the process exits 2 with one line naming the variable', async (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ COUNTER_BATCH_MAX: 'many' }, 'COUNTER_BATCH_MAX'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
  ];
  await Promise.all(
    cases.map(async ([env, name]) => {
      const proc = spawnService(t, env, await freePort());
      t.teardown(() => proc.stop());
      const exit = await proc.exited;
      const lines = proc.log().trim().split('\n');
      t.equal(exit.code, 2, `${name}: exit code 2`);
      t.equal(lines.length, 1, `${name}: exactly one line: ${proc.log()}`);
      t.match(lines[0], new RegExp(`^hit-counter: configuration error: ${name}=.*expected `));
    }),
  );
});
