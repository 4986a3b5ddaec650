// The service as the Redis ACL user the chart gives it (REDIS_USERNAME): against a real redis-server
// whose only other user is an admin, with the service user's rule line taken from the redis chart's
// ACL template, the service counts, sends nothing its user may not run (no CLIENT SETNAME/SETINFO),
// and a wrong user or password keeps it unready.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { buildApp } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { freePort } from '../../tools/lib/ports.ts';
import { tempDir, waitFor } from '../../tools/lib/proc.ts';
import { parseCommandStats, startRedis, type RedisServer } from '../../tools/lib/redis.ts';
import { hitNumber } from './helpers/http.ts';

const ACL_TEMPLATE = path.resolve(
  import.meta.dirname,
  '../../charts/hit-counter/charts/redis/files/users.acl.tpl',
);
const SERVICE_PASSWORD = 'service-test-password';
const ADMIN_PASSWORD = 'admin-test-password';

/** The chart's service user rules for `key` (its one template expression is the key). */
function serviceRules(key: string): string {
  const line = readFileSync(ACL_TEMPLATE, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('user service '));
  if (!line) throw new Error(`no "user service" line in ${ACL_TEMPLATE}`);
  return line.replace('{{ .Values.acl.counterKey }}', key).replace(/^user service /, '');
}

/** redis-server with the default user off, the chart's service user and an admin. */
async function aclRedis(t: Test): Promise<RedisServer> {
  // Teardowns run last registered first: this one runs after the server's stop.
  const dir = tempDir('redis-acl-', t);
  const aclFile = path.join(dir, 'users.acl');
  writeFileSync(
    aclFile,
    [
      'user default off',
      `user service >${SERVICE_PASSWORD} ${serviceRules('hits')}`,
      `user admin on >${ADMIN_PASSWORD} ~* &* +@all`,
      '',
    ].join('\n'),
  );
  const server = await startRedis({
    dir,
    port: await freePort(),
    args: ['--aclfile', aclFile],
    user: 'admin',
    password: ADMIN_PASSWORD,
  });
  t.teardown(() => server.stop());
  return server;
}

async function app(t: Test, env: Record<string, string>) {
  const a = buildApp(loadConfig(env), { logger: false });
  t.teardown(() => a.close());
  await a.ready();
  return a;
}

t.test('as its own ACL user the service counts and runs nothing else', async (t) => {
  const server = await aclRedis(t);
  t.match(
    serviceRules('hits'),
    /^on resetchannels ~hits -@all \+/,
    'the chart rule line, read from its template',
  );
  await server.cli('CONFIG', 'RESETSTAT');
  await server.cli('ACL', 'LOG', 'RESET');
  const service = await app(t, {
    REDIS_URL: server.url,
    REDIS_USERNAME: 'service',
    REDIS_PASSWORD: SERVICE_PASSWORD,
  });
  await waitFor(async () => (await service.inject({ url: '/ready' })).statusCode === 200, {
    what: '/ready 200 as the service user',
  });
  const answers = await Promise.all(Array.from({ length: 50 }, () => service.inject({ url: '/' })));
  t.same(
    answers.map((r) => r.statusCode),
    Array(50).fill(200),
    'every hit counted',
  );
  t.same(
    answers.map((r) => hitNumber(r.body)).sort((a, b) => (a < b ? -1 : 1)),
    Array.from({ length: 50 }, (_, i) => BigInt(i + 1)),
    'numbers 1..50, each once',
  );
  t.equal(await server.cli('GET', 'hits'), '50');
  const calls = parseCommandStats(await server.cli('INFO', 'commandstats'));
  // The admin's own calls (CONFIG RESETSTAT, ACL, INFO) are among them; AUTH and HELLO (ioredis
  // logs in with HELLO 3 AUTH) are the logins, which Redis admits for any user.
  const allowed = [...serviceRules('hits').matchAll(/\+(\S+)/g)].map((m) => m[1]);
  const sent = Object.keys(calls).filter((c) => !/^(config|acl)/.test(c));
  t.same(
    sent.filter((c) => !['auth', 'hello'].includes(c) && !allowed.includes(c)),
    [],
    `the service sent only what its user may run (${JSON.stringify(calls)})`,
  );
  t.notOk(
    sent.some((c) => c.startsWith('client')),
    'no CLIENT SETNAME/SETINFO',
  );
  t.ok(sent.includes('incrby'), 'it counted with INCRBY');
  t.equal(
    (await server.cli('INFO', 'errorstats')).replace(/^#.*\n?/m, '').trim(),
    '',
    'and nothing it sent failed (an unknown CLIENT SETINFO would, on Redis 7.0)',
  );
  t.equal(await server.cli('ACL', 'LOG'), '', 'nothing it sent was refused');
});

t.test('a wrong user or password keeps the service unready and counts nothing', async (t) => {
  const server = await aclRedis(t);
  const logins: Record<string, string>[] = [
    { REDIS_USERNAME: 'service', REDIS_PASSWORD: 'wrong' },
    { REDIS_USERNAME: 'admin', REDIS_PASSWORD: SERVICE_PASSWORD },
    { REDIS_PASSWORD: SERVICE_PASSWORD }, // no user: Redis' default user, which is off
  ];
  for (const env of logins) {
    const service = await app(t, { REDIS_URL: server.url, ...env });
    t.equal((await service.inject({ url: '/ready' })).statusCode, 503, `${JSON.stringify(env)}: unready`);
    t.equal((await service.inject({ url: '/' })).statusCode, 503, `${JSON.stringify(env)}: no hit`);
  }
  t.equal(await server.cli('EXISTS', 'hits'), '0');
});

t.test('REDIS_USERNAME: an ACL user name', async (t) => {
  t.equal(loadConfig({ REDIS_USERNAME: 'service' }).redisUsername, 'service');
  t.equal(loadConfig({ REDIS_USERNAME: '' }).redisUsername, undefined, 'empty = unset');
  t.throws(() => loadConfig({ REDIS_USERNAME: 'two words' }), ConfigError);
  t.throws(
    () => loadConfig({ REDIS_USERNAME: 'two words' }),
    /^REDIS_USERNAME="two words" is invalid \(wrong form\)/,
  );
});
