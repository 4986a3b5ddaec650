// Renders the defaults, each environment and a matrix of toggles; every object must pass the
// strict schema validation (admission is judged by the real API server in test/cluster/).
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { validateManifests } from '../../tools/lib/k8s-validate.ts';
import { tempDir } from '../../tools/lib/proc.ts';
import { find, render, repoRoot } from './chart.ts';

const environments = readdirSync(path.join(repoRoot, 'environments')).map((env) =>
  path.join(repoRoot, 'environments', env, 'values.yaml'),
);

const cases: { name: string; set?: string[]; files?: string[]; apis?: string[] }[] = [
  { name: 'defaults' },
  { name: 'defaults without the monitoring API', apis: [] },
  ...environments.map((file) => ({
    name: `environment ${path.basename(path.dirname(file))}`,
    files: [file],
  })),
  { name: 'redis off (embedded store, one replica)', set: ['redis.enabled=false', 'replicaCount=1'] },
  { name: 'nginx off', set: ['nginx.enabled=false'] },
  { name: 'servicemonitor on', set: ['servicemonitor.enabled=true'] },
  { name: 'servicemonitor on, no monitoring API', set: ['servicemonitor.enabled=true'], apis: [] },
  { name: 'HPA on', set: ['autoscaling.enabled=true'] },
  {
    name: 'ingress on',
    set: [
      'nginx.ingress.enabled=true',
      'nginx.ingress.className=nginx',
      'nginx.ingress.host=hits.example.test',
    ],
  },
  {
    name: 'backup to S3 on',
    set: ['redis.backup.s3.enabled=true', 'redis.backup.s3.uri=s3://bucket/prefix'],
  },
  { name: 'backup off', set: ['redis.backup.enabled=false'] },
  { name: 'auth with existingSecret', set: ['global.redis.auth.existingSecret=my-secret'] },
  { name: 'auth with password', set: ['global.redis.auth.password=pw'] },
  {
    name: 'network policies off, exporters off',
    set: [
      'global.networkPolicy.enabled=false',
      'redis.exporter.enabled=false',
      'nginx.exporter.enabled=false',
    ],
  },
  { name: 'NodePort', set: ['nginx.service.type=NodePort', 'nginx.service.nodePort=30080'] },
  { name: 'replication (Sentinel)', set: ['redis.architecture=replication'] },
  ...environments.map((file) => ({
    name: `replication (Sentinel) in environment ${path.basename(path.dirname(file))}`,
    set: ['redis.architecture=replication'],
    files: [file],
  })),
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const { yaml, objects } = await render(c.set, c.files, c.apis);
    t.ok(objects.length > 10, `renders objects (${objects.length})`);
    t.same(await validateManifests(yaml), [], 'every object passes strict schema validation');
    const images = [...yaml.matchAll(/image: (\S+)/g)].map((m) => m[1] ?? '');
    t.notOk(
      images.some((i) => /:latest$|^[^:]+$/.test(i)),
      `no latest or untagged image (${[...new Set(images)].join(', ')})`,
    );
  });
}

t.test('the monitoring kinds render only where the cluster has the API', async (t) => {
  const withApi = await render(['servicemonitor.enabled=true']);
  const without = await render(['servicemonitor.enabled=true'], [], []);
  const kinds = (r: typeof withApi) => r.objects.map((o) => o.kind);
  t.equal(kinds(withApi).filter((k) => k === 'ServiceMonitor').length, 3);
  t.ok(kinds(withApi).includes('PrometheusRule'));
  t.notOk(kinds(without).includes('ServiceMonitor'));
  t.notOk(kinds(without).includes('PrometheusRule'));
  t.ok(
    without.objects.some((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1'),
    'dashboard needs no CRD',
  );
});

t.test('replicas are omitted when the HPA is on', async (t) => {
  const off = find((await render()).objects, 'Deployment', 'hit-counter');
  t.equal(off.spec.replicas, 2);
  const on = (await render(['autoscaling.enabled=true'])).objects;
  t.notOk('replicas' in find(on, 'Deployment', 'hit-counter').spec);
  t.equal(find(on, 'HorizontalPodAutoscaler', 'hit-counter').spec.minReplicas, 3);
});

t.test('the service image tag defaults to appVersion and environments pin one', async (t) => {
  const d = find((await render()).objects, 'Deployment', 'hit-counter');
  t.equal(d.spec.template.spec.containers[0].image, 'hit-counter:0.1.0');
  const d2 = find(
    (await render(['image.repository=example/hc', 'image.tag=1.2.3'])).objects,
    'Deployment',
    'hit-counter',
  );
  t.equal(d2.spec.template.spec.containers[0].image, 'example/hc:1.2.3');
  await t.rejects(render(['image.tag=latest']), /image\/tag/);
  await t.rejects(render(['helmTest.image.tag=']), /helmTest\/image\/tag|pinned tag/);
});

t.test('the service gets its Redis URL, user and password from the Secret, never in clear', async (t) => {
  const { objects } = await render();
  const env = find(objects, 'Deployment', 'hit-counter').spec.template.spec.containers[0].env;
  const byName = Object.fromEntries(env.map((e: { name: string }) => [e.name, e]));
  t.equal(byName.REDIS_URL.value, 'redis://hit-counter-redis:6379/0');
  t.equal(byName.REDIS_USERNAME.value, 'service', 'its own ACL user');
  t.same(byName.REDIS_PASSWORD.valueFrom.secretKeyRef, {
    name: 'hit-counter-redis',
    key: 'service-password',
  });
  t.equal(Number(byName.SHUTDOWN_DELAY_MS.value), 5000);
  t.ok(
    Number(byName.KEEP_ALIVE_TIMEOUT_MS.value) > 30_000,
    'keep-alive above nginx upstream keepalive_timeout',
  );
  for (const o of objects)
    t.notMatch(
      JSON.stringify(o),
      '$(REDIS_PASSWORD)',
      `${o.kind}/${o.metadata.name}: no kubelet-expanded password`,
    );
});

t.test("the service's V8 heap is sized from its memory limit", async (t) => {
  const nodeOptions = async (set: string[]): Promise<string> => {
    const { objects } = await render(set);
    const env = find(objects, 'Deployment', 'hit-counter').spec.template.spec.containers[0].env;
    return env.find((e: { name: string }) => e.name === 'NODE_OPTIONS').value;
  };
  t.equal(await nodeOptions([]), '--max-old-space-size=128 --max-semi-space-size=2', 'half of 256Mi');
  t.equal(
    await nodeOptions(['resources.limits.memory=1Gi', 'heap.oldSpacePercent=75', 'heap.semiSpaceMiB=8']),
    '--max-old-space-size=768 --max-semi-space-size=8',
  );
  t.equal(
    await nodeOptions(['resources.limits.memory=500M']),
    '--max-old-space-size=238 --max-semi-space-size=2',
  );
  t.equal(
    await nodeOptions(['resources.limits.memory=268435456']),
    '--max-old-space-size=128 --max-semi-space-size=2',
    'bytes',
  );
  // A plain number in a values file is a float64 to Helm; a leading zero is decimal, not octal.
  const dir = tempDir('heap-values-', t);
  const valuesFile = path.join(dir, 'values.yaml');
  writeFileSync(valuesFile, 'resources:\n  limits:\n    memory: 268435456\n');
  const fromFile = find((await render([], [valuesFile])).objects, 'Deployment', 'hit-counter');
  t.match(
    JSON.stringify(fromFile.spec.template.spec.containers[0].env),
    /--max-old-space-size=128 /,
    'bytes in a values file',
  );
  t.equal(
    await nodeOptions(['resources.limits.memory=0400Mi']),
    '--max-old-space-size=200 --max-semi-space-size=2',
  );
  await t.rejects(
    render(['resources.limits.memory=0.5Gi']),
    /resources\.limits\.memory "0\.5Gi": write a whole number/,
  );
  await t.rejects(render(['resources.limits.memory=24Mi']), /leaves 12 MiB of old space/);
  await t.rejects(render(['heap.semiSpaceMiB=0']), /heap\/semiSpaceMiB|semiSpaceMiB/);
});

t.test('the bare defaults refuse to render, naming both password sources', async (t) => {
  const bare = render([], [], undefined, { bare: true });
  await t.rejects(bare, /global\.redis\.auth: Redis always requires auth/);
  await t.rejects(
    bare,
    /set global\.redis\.auth\.existingSecret to a Secret with the keys service-password, /,
  );
  await t.rejects(bare, /or global\.redis\.auth\.password \(development only/);
  // Without Redis there is nothing to authenticate to.
  const { objects } = await render(['redis.enabled=false', 'replicaCount=1'], [], undefined, { bare: true });
  t.notOk(
    objects.some((o) => o.kind === 'Secret'),
    'the embedded store renders without a password',
  );
});

t.test('bad values are refused with a reason', async (t) => {
  await t.rejects(render(['shutdownDelayMs=29000']), /shutdownDelayMs \(29000\) must be at least 5000 below/);
  await t.rejects(render(['redis.enabled=false']), /embedded in-memory store/);
  await t.rejects(render(['redis.backup.s3.enabled=true']), /redis\.backup\.s3\.uri/);
  const ha = 'redis.architecture=replication';
  await t.rejects(render([ha, 'redis.sentinel.quorum=4']), /quorum is 4 but there are only 3 nodes/);
  await t.rejects(render([ha, 'counter.waitReplicas=3']), /counter\.waitReplicas is 3 .* at most 2/);
  await t.rejects(render([ha, 'redis.sentinel.downAfterMilliseconds=5000']), /at least 6000/);
  await t.rejects(render([ha, 'redis.replication.nodes=2']), /replication\/nodes|minimum/);
  await t.rejects(render(['redis.architecture=cluster']), /architecture/);
});

t.test('replication: the service, the nodes, the Sentinels and the backup share one wiring', async (t) => {
  const { objects } = await render([
    'redis.architecture=replication',
    'global.redis.auth.existingSecret=redis-auth',
  ]);
  type Env = { name: string; value?: string };
  const envOf = (c: { env?: Env[] }): Record<string, string | undefined> =>
    Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  const sts = find(objects, 'StatefulSet', 'hit-counter-redis');
  t.equal(sts.spec.replicas, 3, 'three Redis nodes');
  const containers = sts.spec.template.spec.containers as { name: string; env?: Env[]; command?: string[] }[];
  t.same(
    containers.map((c) => c.name),
    ['redis', 'sentinel', 'exporter'],
  );
  const [redis, sentinel] = containers as [(typeof containers)[0], (typeof containers)[0]];
  const host = (i: number): string =>
    `hit-counter-redis-${i}.hit-counter-redis-headless.hit-counter.svc.cluster.local`;
  const sentinels = [0, 1, 2].map((i) => `${host(i)}:26379`);
  t.same(envOf(redis).SENTINELS?.split(' '), sentinels, 'each node knows every Sentinel');
  t.equal(envOf(redis).INITIAL_PRIMARY, `${host(0)}:6379`, 'pod 0 is the first primary');
  t.equal(envOf(redis).SELF, '$(POD_NAME).hit-counter-redis-headless.hit-counter.svc.cluster.local:6379');
  t.equal(envOf(sentinel).SELF, '$(POD_NAME).hit-counter-redis-headless.hit-counter.svc.cluster.local:26379');
  t.same(redis.command, ['sh', '/etc/redis/redis-node.sh', 'redis']);
  t.same(sentinel.command, ['sh', '/etc/redis/redis-node.sh', 'sentinel']);
  const service = find(objects, 'Deployment', 'hit-counter').spec.template.spec.containers[0];
  const env = envOf(service);
  t.same(env.REDIS_SENTINELS?.split(','), sentinels, 'the service asks the same Sentinels');
  t.equal(env.REDIS_SENTINEL_NAME, envOf(redis).PRIMARY_NAME, 'under the same primary name');
  t.equal(env.REDIS_WAIT_REPLICAS, '1');
  t.equal(env.REDIS_URL, undefined, 'and no single Redis URL');
  const conf = find(objects, 'ConfigMap', 'hit-counter-redis').data;
  t.match(conf['sentinel.conf'], /^sentinel monitor hit-counter %PRIMARY_HOST% %PRIMARY_PORT% 2$/m);
  t.match(
    conf['sentinel.conf'],
    /^sentinel auth-user hit-counter sentinel$/m,
    'Sentinel logs in as its user',
  );
  t.match(conf['sentinel.conf'], /^sentinel sentinel-user sentinel$/m, 'to the other Sentinels too');
  t.notMatch(
    conf['sentinel.conf'],
    /^\s*(sentinel (auth-pass|sentinel-pass)|requirepass|masterauth)\s|^user .*(#[0-9a-f]{64}|\s>)/m,
    'no password in the ConfigMap',
  );
  const headless = find(objects, 'Service', 'hit-counter-redis-headless');
  t.ok(headless.spec.publishNotReadyAddresses, 'pods resolve before they are ready (replication bootstrap)');
  t.ok(
    headless.spec.ports.some((p: { name: string }) => p.name === 'sentinel'),
    'the headless Service names the Sentinel port',
  );
  t.equal(find(objects, 'PodDisruptionBudget', 'hit-counter-redis').spec.maxUnavailable, 1);
  const backup = find(objects, 'CronJob', 'hit-counter-redis-backup').spec.jobTemplate.spec.template.spec;
  t.match(
    backup.containers[0].command.join(' '),
    /redis-node\.sh primary/,
    'the backup asks for the primary',
  );
  t.same(envOf(backup.containers[0]).SENTINELS?.split(' '), sentinels);
  t.ok(
    'redis-node.sh' in find(objects, 'ConfigMap', 'hit-counter-redis-backup').data,
    'the backup job has the same script',
  );
});

t.test('config and secret changes roll the pods (checksum annotations)', async (t) => {
  const a = (await render()).objects;
  const b = (await render(['nginx.config.readTimeout=20s', 'redis.config.maxmemory=300mb'])).objects;
  const ann = (objs: typeof a, kind: string, name: string) =>
    find(objs, kind, name).spec.template.metadata.annotations['checksum/config'];
  t.not(ann(a, 'Deployment', 'hit-counter-nginx'), ann(b, 'Deployment', 'hit-counter-nginx'));
  t.not(ann(a, 'StatefulSet', 'hit-counter-redis'), ann(b, 'StatefulSet', 'hit-counter-redis'));
});

t.test('the Redis StatefulSet claims its volume with apiVersion and kind', async (t) => {
  const env = path.join(repoRoot, 'environments/eks/values.yaml');
  const sts = find((await render([], [env])).objects, 'StatefulSet', 'hit-counter-redis');
  const claim = sts.spec.volumeClaimTemplates[0];
  t.equal(claim.apiVersion, 'v1');
  t.equal(claim.kind, 'PersistentVolumeClaim');
  t.equal(claim.spec.storageClassName, 'gp3');
});

t.test('the service and the helm test Pod: ephemeral storage, sized emptyDirs, split probes', async (t) => {
  const { objects } = await render();
  const deployment = find(objects, 'Deployment', 'hit-counter').spec.template.spec;
  const testPod = find(objects, 'Pod', 'hit-counter-hit-check').spec;
  for (const [name, pod] of [
    ['service', deployment],
    ['helm test', testPod],
  ] as const) {
    const resources = pod.containers[0].resources;
    for (const kind of ['requests', 'limits'])
      for (const what of ['memory', 'ephemeral-storage'])
        t.ok(resources[kind]?.[what], `${name}: ${kind}.${what} (${resources[kind]?.[what]})`);
    for (const v of pod.volumes ?? [])
      if (v.emptyDir) t.ok(v.emptyDir.sizeLimit, `${name}: emptyDir ${v.name} has a sizeLimit`);
  }
  t.same(
    testPod.volumes.map((v: { name: string; configMap?: unknown }) => [v.name, Boolean(v.configMap)]),
    [['scripts', true]],
    'the test Pod mounts its script only: nothing it could write to',
  );
  t.equal(deployment.volumes.find((v: { name: string }) => v.name === 'tmp').emptyDir.sizeLimit, '16Mi');

  const c = deployment.containers[0];
  t.equal(c.startupProbe.httpGet.path, '/health');
  t.equal(c.livenessProbe.httpGet.path, '/health', 'liveness: the process only, never Redis');
  t.equal(c.readinessProbe.httpGet.path, '/ready', 'readiness: Redis and draining');
  const patience = (p: { periodSeconds: number; failureThreshold: number }) =>
    p.periodSeconds * p.failureThreshold;
  t.ok(
    patience(c.livenessProbe) >= 60 && patience(c.livenessProbe) > patience(c.readinessProbe),
    'a busy replica leaves the Service long before it could be restarted',
  );
  t.ok(c.readinessProbe.timeoutSeconds >= 1, "above /ready's own bound (0.75 s)");
});
