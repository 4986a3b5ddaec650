// Redis least privilege as rendered: one ACL user per client with its own password in the Secret
// (derived in development, named keys with existingSecret or the ExternalSecret), rules in the
// ConfigMap and never a password there, the exporter's password only for its own Redis, liveness
// apart from readiness, and ephemeral storage bounded. test/stack/redis-acl.test.ts runs the same
// rendered users on a real redis-server.
import { createHash } from 'node:crypto';
import t from 'tap';
import type { K8sObject } from '../../tools/lib/helm.ts';
import { find, render } from './chart.ts';

const USERS = ['service', 'exporter', 'backup', 'replication', 'sentinel', 'node', 'admin'];
const KEYS = USERS.map((u) => `${u}-password`);
const PASSWORD = 'chart-test-password-not-real'; // test/chart/values/dev-auth.yaml

type Container = {
  name: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
};
type PodSpec = {
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; emptyDir?: { sizeLimit?: string }; secret?: Record<string, unknown> }[];
};

const podSpec = (o: K8sObject): PodSpec =>
  o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
const allContainers = (p: PodSpec): Container[] => [...(p.initContainers ?? []), ...p.containers];
const aclUsers = (text: string): Map<string, string> =>
  new Map([...text.matchAll(/^user (\S+) (.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));

t.test('the Secret holds one derived password per user, and no other object carries one', async (t) => {
  const { objects } = await render();
  const secret = find(objects, 'Secret', 'hit-counter-redis');
  t.same(Object.keys(secret.data).sort(), [...KEYS].sort(), 'a key per Redis user');
  const passwords = USERS.map((u) => Buffer.from(secret.data[`${u}-password`], 'base64').toString());
  USERS.forEach((u, i) =>
    t.equal(
      passwords[i],
      createHash('sha256').update(`${PASSWORD}:${u}`).digest('hex'),
      `${u}: sha256 of <password>:${u}, the same on every render`,
    ),
  );
  t.equal(new Set(passwords).size, USERS.length, 'each user has its own password');
  for (const o of objects.filter((x) => x.kind !== 'Secret')) {
    const text = JSON.stringify(o);
    t.notOk(
      [PASSWORD, ...passwords].some((p) => text.includes(p)),
      `${o.kind}/${o.metadata.name} carries no password`,
    );
  }
});

t.test('the ConfigMap: ACL rules without passwords, the default user off, protected mode', async (t) => {
  for (const arch of ['standalone', 'replication']) {
    const { objects } = await render([`redis.architecture=${arch}`]);
    const data = find(objects, 'ConfigMap', 'hit-counter-redis').data as Record<string, string>;
    for (const [key, text] of Object.entries(data))
      t.notMatch(
        text,
        /^user .*(#[0-9a-f]{64}|\s>\S|nopass)|^\s*(requirepass|masterauth)\s/m,
        `${arch}: ${key} has no password`,
      );
    t.match(data['redis.conf'], /^protected-mode yes$/m, `${arch}: protected mode`);
    const users = aclUsers(data['users.acl'] as string);
    t.same(
      [...users.keys()].sort(),
      (arch === 'replication'
        ? ['default', ...USERS]
        : ['default', ...USERS.filter((u) => !['replication', 'sentinel'].includes(u))]
      ).sort(),
      `${arch}: the users of the data nodes`,
    );
    t.equal(users.get('default'), 'off', `${arch}: the default user is off`);
    t.equal(
      users.get('service'),
      'on resetchannels ~hits -@all +incrby +get +wait +ping +info +select',
      `${arch}: the service may only INCRBY/GET its key (and what its client needs)`,
    );
    for (const u of ['exporter', 'backup', 'replication', 'sentinel', 'node'])
      if (users.has(u)) {
        t.notMatch(
          users.get(u),
          /~|allkeys|\+@all|\+config(\s|$)|\+config\|(get|set)/,
          `${arch}: ${u} has no key and no CONFIG GET/SET`,
        );
        t.match(users.get(u), /-@all/, `${arch}: ${u} starts from no command`);
      }
    t.match(users.get('exporter'), /\+info/);
    t.match(users.get('backup'), /^on resetchannels -@all \+replconf \+sync$/, `${arch}: backup: SYNC only`);
    if (arch === 'replication') {
      const sentinel = aclUsers(data['sentinel.conf'] as string);
      t.same([...sentinel.keys()].sort(), ['admin', 'backup', 'default', 'node', 'sentinel', 'service']);
      t.equal(sentinel.get('default'), 'off', 'the Sentinels admit no unauthenticated client');
      t.notMatch(sentinel.get('service'), /sentinel\|(set|failover|monitor|remove|reset|config)/);
      t.match(data['redis-node.sh'], /--masteruser replication/, 'replicas log in as the replication user');
    }
  }
});

t.test(
  'the bare redis.conf: protected mode even without the ACL (was off in the bare defaults)',
  async (t) => {
    const conf = find((await render()).objects, 'ConfigMap', 'hit-counter-redis').data['redis.conf'];
    t.match(conf, /^protected-mode yes$/m);
    t.notMatch(conf, /^protected-mode no/m);
  },
);

t.test('the service key and the ACL key pattern are one fact', async (t) => {
  await t.rejects(
    render(['counter.key=visits']),
    /counter\.key is "visits" but redis\.acl\.counterKey is "hits"/,
  );
  const { objects } = await render(['counter.key=visits', 'redis.acl.counterKey=visits']);
  const acl = find(objects, 'ConfigMap', 'hit-counter-redis').data['users.acl'] as string;
  t.match(aclUsers(acl).get('service'), / ~visits /);
  const env = podSpec(find(objects, 'Deployment', 'hit-counter')).containers[0]!.env!;
  t.equal(env.find((e) => e.name === 'COUNTER_KEY')?.value, 'visits');
  await t.rejects(render(['counter.key=a*', 'redis.acl.counterKey=a*']), /counterKey/, 'no ACL glob');
});

t.test('existingSecret: every reference is to it, by user key, and the chart makes no Secret', async (t) => {
  const { objects } = await render([
    'redis.architecture=replication',
    'global.redis.auth.existingSecret=mine',
  ]);
  t.notOk(
    objects.some((o) => o.kind === 'Secret'),
    'no chart-made Secret',
  );
  const refs: string[] = [];
  for (const o of objects.filter((x) => ['Deployment', 'StatefulSet', 'CronJob'].includes(x.kind))) {
    const spec = podSpec(o);
    for (const c of allContainers(spec))
      for (const e of c.env ?? [])
        if (e.valueFrom?.secretKeyRef) {
          t.equal(e.valueFrom.secretKeyRef.name, 'mine');
          refs.push(`${o.metadata.name}/${c.name}/${e.name}=${e.valueFrom.secretKeyRef.key}`);
        }
    for (const v of spec.volumes ?? []) if (v.secret) t.equal(v.secret.secretName, 'mine', `${v.name}`);
  }
  t.same(
    refs.sort(),
    [
      'hit-counter-redis-backup/backup/REDISCLI_AUTH=backup-password',
      'hit-counter/hit-counter/REDIS_PASSWORD=service-password',
    ],
    'only the service and the backup job get a password in their environment, each its own',
  );
});

t.test('redis_exporter: its own user, its password for its Redis only, no CONFIG', async (t) => {
  const { objects } = await render();
  const spec = podSpec(find(objects, 'StatefulSet', 'hit-counter-redis'));
  const exporter = spec.containers.find((c) => c.name === 'exporter')!;
  const env = Object.fromEntries((exporter.env ?? []).map((e) => [e.name, e.value]));
  t.notOk('REDIS_PASSWORD' in env, 'no REDIS_PASSWORD: it would go to any /scrape target');
  t.equal(env.REDIS_USER, 'exporter');
  t.equal(env.REDIS_ADDR, 'redis://127.0.0.1:6379');
  t.equal(env.REDIS_PASSWORD_FILE, '/exporter-auth/passwords.json');
  t.equal(env.REDIS_EXPORTER_CONFIG_COMMAND, '-');
  const init = spec.initContainers?.find((c) => c.name === 'exporter-auth') as Container & {
    command: string[];
  };
  t.same(init.command.slice(2), ['exporter-auth', '/exporter-auth/passwords.json', 'redis://127.0.0.1:6379']);
  const secretVolume = spec.volumes?.find((v) => v.name === 'exporter-secret');
  t.same(
    (secretVolume?.secret as { items: unknown[] }).items,
    [{ key: 'exporter-password', path: 'exporter-password' }],
    'the init container sees the exporter password only',
  );
});

t.test('liveness is not readiness: a slow Redis leaves rotation, it is not restarted', async (t) => {
  const { objects } = await render(['redis.architecture=replication']);
  const spec = podSpec(find(objects, 'StatefulSet', 'hit-counter-redis'));
  type Probe = {
    exec: { command: string[] };
    periodSeconds: number;
    timeoutSeconds: number;
    failureThreshold: number;
  };
  for (const name of ['redis', 'sentinel']) {
    const c = spec.containers.find((x) => x.name === name)!;
    const live = c.livenessProbe as Probe;
    const ready = c.readinessProbe as Probe;
    t.not(JSON.stringify(live.exec), JSON.stringify(ready.exec), `${name}: different checks`);
    t.equal(live.exec.command[2], 'alive', `${name}: liveness asks whether it answers at all`);
    t.ok(
      live.periodSeconds * live.failureThreshold >= 60 && live.timeoutSeconds >= 10,
      `${name}: a minute of silence before a restart, 10 s per answer`,
    );
    t.ok(ready.timeoutSeconds < live.timeoutSeconds, `${name}: readiness gives up sooner`);
  }
  t.equal((spec.containers[0]!.readinessProbe as Probe).exec.command[2], 'ready');
  t.equal((spec.containers[1]!.readinessProbe as Probe).exec.command[2], 'sentinel-ready');
});

t.test('ephemeral storage is requested and capped, every emptyDir is sized', async (t) => {
  const { objects } = await render([
    'redis.architecture=replication',
    'redis.backup.s3.enabled=true',
    'redis.backup.s3.uri=s3://b/p',
  ]);
  for (const o of [
    find(objects, 'StatefulSet', 'hit-counter-redis'),
    find(objects, 'CronJob', 'hit-counter-redis-backup'),
  ]) {
    const spec = podSpec(o);
    for (const c of allContainers(spec)) {
      t.ok(
        c.resources?.requests?.['ephemeral-storage'],
        `${o.metadata.name}/${c.name}: ephemeral-storage request`,
      );
      t.ok(
        c.resources?.limits?.['ephemeral-storage'],
        `${o.metadata.name}/${c.name}: ephemeral-storage limit`,
      );
    }
    for (const v of spec.volumes ?? [])
      if (v.emptyDir) t.ok(v.emptyDir.sizeLimit, `${o.metadata.name}: emptyDir ${v.name} has a sizeLimit`);
  }
});

t.test('the ExternalSecret maps every user key from one store secret', async (t) => {
  const { objects } = await render(
    [
      'global.redis.auth.existingSecret=hc-auth',
      'redis.externalSecret.enabled=true',
      'redis.externalSecret.secretStoreRef.name=store',
      'redis.externalSecret.remoteRef.key=hit-counter/redis',
    ],
    [],
    ['external-secrets.io/v1'],
  );
  const es = find(objects, 'ExternalSecret', 'hc-auth');
  t.same(
    es.spec.data,
    KEYS.map((k) => ({ secretKey: k, remoteRef: { key: 'hit-counter/redis', property: k } })),
  );
});
