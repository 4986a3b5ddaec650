// The API server judges what the chart renders: Pod Security "restricted" admission rejects pods
// that values the schema allows make unsafe, and strict field validation rejects unknown fields.
// The same values without the unsafe change run, so it is the change that is rejected.
import t from 'tap';
import { stringify } from 'yaml';
import { parseManifests } from '../../tools/lib/helm.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import {
  chartDir,
  clusterFor,
  createNamespace,
  envValues,
  helmInstall,
  installReady,
  release,
} from './fixture.ts';

const c = await clusterFor(t);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** What the workload controller was told when it created `component`'s pods (FailedCreate). */
async function failedCreate(namespace: string, owner: RegExp): Promise<string> {
  return waitFor(
    async () => {
      const events = await c.getJson<{ items: Obj[] }>([
        'events',
        '-n',
        namespace,
        '--field-selector',
        'reason=FailedCreate',
      ]);
      return events.items.find((e) => owner.test(`${e.involvedObject.kind}/${e.involvedObject.name}`))
        ?.message as string | undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `a FailedCreate event of ${owner}` },
  );
}

// Values the schema allows that break the profile: a root UID for each workload.
const unsafe: { name: string; set: string[]; owner: RegExp; component: string }[] = [
  {
    name: 'service',
    set: ['podSecurityContext.runAsUser=0'],
    owner: /^ReplicaSet\/hit-counter-[a-z0-9]+$/,
    component: 'service',
  },
  {
    name: 'nginx',
    set: ['nginx.podSecurityContext.runAsUser=0'],
    owner: /^ReplicaSet\/hit-counter-nginx-/,
    component: 'nginx',
  },
  {
    name: 'redis',
    set: ['redis.podSecurityContext.runAsUser=0'],
    owner: /^StatefulSet\/hit-counter-redis$/,
    component: 'redis',
  },
];

for (const [i, u] of unsafe.entries()) {
  t.test(`PodSecurity admission rejects the ${u.name} pods with ${u.set[0]}`, async (t) => {
    const ns = `unsafe-${i}`;
    await createNamespace(c, ns);
    await helmInstall(c, { namespace: ns, valueFiles: [envValues('minikube')], set: u.set });
    const message = await failedCreate(ns, u.owner);
    t.match(
      message,
      /is forbidden: violates PodSecurity "restricted:latest": runAsUser=0 \(pod must not set runAsUser=0\)/,
      `the API server's message: ${message}`,
    );
    const pods = await c.getJson<{ items: unknown[] }>([
      'pods',
      '-n',
      ns,
      '-l',
      `app.kubernetes.io/component=${u.component}`,
    ]);
    t.equal(pods.items.length, 0, `no ${u.name} pod was created`);
  });
}

t.test('the same values without the unsafe change are admitted', async (t) => {
  await installReady(c, { namespace: 'safe', valueFiles: [envValues('minikube')] });
  const pods = await c.getJson<{ items: unknown[] }>([
    'pods',
    '-n',
    'safe',
    '-l',
    'app.kubernetes.io/component=service',
  ]);
  t.equal(pods.items.length, 2);
});

t.test('a namespace without the restricted label admits the same unsafe pods', async (t) => {
  await installReady(c, {
    namespace: 'unlabelled',
    valueFiles: [envValues('minikube')],
    set: ['podSecurityContext.runAsUser=0'],
    labels: {},
  });
  t.pass('admitted: the restricted label is what enforces the profile');
});

t.test('server-side apply with strict field validation rejects an unknown field', async (t) => {
  await createNamespace(c, 'strict');
  const rendered = parseManifests(
    await c.helm(['template', release, chartDir, '--namespace', 'strict', '--values', envValues('minikube')]),
  );
  const deployment = rendered.find((o) => o.kind === 'Deployment' && o.metadata.name === 'hit-counter')!;
  const apply = (o: Obj) =>
    c.kubectl(['apply', '--server-side', '--validate=strict', '-n', 'strict', '-f', '-'], {
      input: stringify(o),
    });
  const broken = structuredClone(deployment);
  broken.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
  await t.rejects(
    apply(broken),
    /containers\[name="hit-counter"\]\.imagePullPolicyy: field not declared in schema/,
  );
  await t.resolves(apply(deployment), 'the unbroken object is accepted');
});
