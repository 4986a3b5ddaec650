// The chart installed with helm on a real v1.34 API server (kwok nodes: pods are scheduled and
// reported Ready, not executed), with the defaults (and the one value Redis auth needs; the bare
// defaults are refused), with each environment's values and with Redis
// replication, into namespaces that enforce Pod Security "restricted" as the Argo CD applications
// create them. Admission, defaulting and the controllers are the real ones; nothing is filtered beforehand.
import t from 'tap';
import { parseManifests } from '../../tools/lib/helm.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import {
  clusterFor,
  createNamespace,
  DEV_AUTH,
  envValues,
  helmInstall,
  installReady,
  notReady,
  REDIS_SECRET_KEYS,
  stuck,
  release,
  waitReady,
} from './fixture.ts';

const c = await clusterFor(t);

/** Every object helm installed, applied again server-side with strict field validation (dry run). */
async function serverSideApplyStrict(namespace: string): Promise<string> {
  const manifest = await c.helm(['get', 'manifest', release, '--namespace', namespace]);
  return c.kubectl(
    [
      'apply',
      '--server-side',
      '--validate=strict',
      '--dry-run=server',
      '--force-conflicts',
      '-n',
      namespace,
      '-f',
      '-',
    ],
    { input: manifest },
  );
}

t.test('defaults: installed, admitted under restricted, every workload ready (kwok)', async (t) => {
  // Redis always requires auth: a bare install is refused before anything reaches the cluster.
  await createNamespace(c, 'bare');
  await t.rejects(
    helmInstall(c, { namespace: 'bare' }),
    /Redis always requires auth .* global\.redis\.auth\.existingSecret .* global\.redis\.auth\.password/,
    'the bare defaults fail with the one line naming both password sources',
  );
  t.same((await c.getJson<{ items: unknown[] }>(['all', '-n', 'bare'])).items, [], 'and create nothing');
  await installReady(c, { namespace: 'defaults', set: [DEV_AUTH] });
  const applied = await serverSideApplyStrict('defaults');
  t.match(
    applied,
    /deployment\.apps\/hit-counter serverside-applied/,
    'server-side apply, strict, accepts every object',
  );
});

t.test('minikube values: installed, admitted under restricted, every workload ready (kwok)', async (t) => {
  await installReady(c, { namespace: 'minikube', valueFiles: [envValues('minikube')] });
  await serverSideApplyStrict('minikube');
  const nginx = await c.getJson(['service', 'hit-counter-nginx', '-n', 'minikube']);
  t.equal(nginx.spec.type, 'NodePort');
  t.ok(
    nginx.spec.ports[0].nodePort >= 30000,
    `the API server allocated a node port (${nginx.spec.ports[0].nodePort})`,
  );
  const deployment = await c.getJson(['deployment', 'hit-counter', '-n', 'minikube']);
  t.equal(deployment.status.readyReplicas, 2, 'two service pods (replicaCount 2)');
});

t.test(
  'eks values: installed with its Secret and gp3 class (both simulated), HPA and zone spread work (kwok)',
  async (t) => {
    await createNamespace(c, 'eks');
    // What the EKS cluster provides outside the chart: the gp3 StorageClass (EBS CSI there; the
    // in-tree hostPath provisioner here) and the Redis Secret (External Secrets there).
    await c.kubectl(['apply', '--server-side', '-f', '-'], {
      input: [
        {
          apiVersion: 'storage.k8s.io/v1',
          kind: 'StorageClass',
          metadata: { name: 'gp3' },
          provisioner: 'kubernetes.io/host-path',
          volumeBindingMode: 'Immediate',
        },
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'hit-counter-redis-auth', namespace: 'eks' },
          // one password per Redis user, as the ExternalSecret writes them
          stringData: Object.fromEntries(REDIS_SECRET_KEYS.map((k) => [k, `eks-test-${k}`])),
        },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n'),
    });
    await helmInstall(c, { namespace: 'eks', valueFiles: [envValues('eks')] });
    // The HPA (no metrics here) still lifts the Deployment to minReplicas; spread over the zones.
    await waitFor(
      async () => (await c.getJson(['deployment', 'hit-counter', '-n', 'eks'])).spec.replicas === 3,
      { timeoutMs: 60_000, intervalMs: 250, what: 'the HPA to scale the Deployment to minReplicas' },
    );
    await waitReady(c, 'eks');
    const deployment = await c.getJson(['deployment', 'hit-counter', '-n', 'eks']);
    const installed = parseManifests(await c.helm(['get', 'manifest', release, '-n', 'eks']));
    const rendered = installed.find((o) => o.kind === 'Deployment' && o.metadata.name === 'hit-counter');
    t.equal(rendered?.spec.replicas, undefined, 'the chart leaves replicas to the HPA');
    t.equal(deployment.spec.replicas, 3, 'the HPA controller scaled the Deployment to minReplicas');
    const hpa = await c.getJson(['hpa', 'hit-counter', '-n', 'eks']);
    t.ok(
      hpa.status.conditions.some(
        (x: { type: string; status: string }) => x.type === 'AbleToScale' && x.status === 'True',
      ),
      'the HPA found its target',
    );
    const pods = await c.getJson<{ items: { spec: { nodeName: string } }[] }>([
      'pods',
      '-n',
      'eks',
      '-l',
      'app.kubernetes.io/component=service',
    ]);
    const nodes = await c.getJson<{
      items: { metadata: { name: string; labels: Record<string, string> } }[];
    }>(['nodes']);
    const zoneOf = new Map(
      nodes.items.map((n) => [n.metadata.name, n.metadata.labels['topology.kubernetes.io/zone']]),
    );
    t.equal(
      new Set(pods.items.map((p) => zoneOf.get(p.spec.nodeName))).size,
      3,
      'the scheduler spread the 3 service pods over 3 zones',
    );
    const ingress = await c.getJson(['ingress', '-n', 'eks']);
    t.equal(ingress.items[0]?.spec.ingressClassName, 'alb');
    const pvcs = await c.getJson<{
      items: { spec: { storageClassName: string }; status: { phase: string } }[];
    }>(['pvc', '-n', 'eks']);
    t.ok(
      pvcs.items.length >= 1 &&
        pvcs.items.every((p) => p.spec.storageClassName === 'gp3' && p.status.phase === 'Bound'),
      'PVCs bound on gp3',
    );
    // servicemonitor.enabled is true in the eks values; the cluster has no monitoring API.
    t.same(
      installed.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule'),
      [],
      'no ServiceMonitor or PrometheusRule without the monitoring CRDs',
    );
    t.ok(
      installed.some((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1'),
      'the rest of the servicemonitor subchart is installed',
    );
  },
);

t.test(
  'replication with the minikube values: three Redis nodes with Sentinels, PDB, admitted under restricted (kwok)',
  async (t) => {
    await installReady(c, {
      namespace: 'replication',
      valueFiles: [envValues('minikube')],
      set: ['redis.architecture=replication'],
    });
    await serverSideApplyStrict('replication');
    const sts = await c.getJson(['statefulset', 'hit-counter-redis', '-n', 'replication']);
    t.equal(sts.status.readyReplicas, 3, 'three Redis pods ready, started in order');
    t.same(
      sts.spec.template.spec.containers.map((x: { name: string }) => x.name),
      ['redis', 'sentinel', 'exporter'],
    );
    const pdb = await c.getJson(['pdb', 'hit-counter-redis', '-n', 'replication']);
    t.equal(pdb.status.disruptionsAllowed, 1, 'a drain may take one Redis node at a time');
    type Slice = { endpoints: unknown[]; ports: { name: string }[] };
    const slices = await c.getJson<{ items: Slice[] }>([
      'endpointslices',
      '-n',
      'replication',
      '-l',
      'kubernetes.io/service-name=hit-counter-redis-headless',
    ]);
    const headless = slices.items[0];
    t.equal(headless?.endpoints.length, 3, 'every node has a stable DNS name');
    t.ok(
      headless?.ports.some((p) => p.name === 'sentinel'),
      'the headless Service publishes the Sentinel port',
    );
  },
);

t.test(
  'the readiness check can fail: a Service that selects no pod or names no container port',
  async (t) => {
    const svc = await c.getJson(['service', 'hit-counter', '-n', 'defaults']);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const copy = (name: string, change: (spec: Record<string, any>) => void) => {
      const spec = structuredClone(svc.spec);
      delete spec.clusterIP;
      delete spec.clusterIPs;
      change(spec);
      return JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: 'defaults' },
        spec,
      });
    };
    await c.kubectl(['apply', '--server-side', '-f', '-'], {
      input: [
        copy('dangling', (s) => (s.selector = { 'app.kubernetes.io/name': 'gone' })),
        copy('wrong-port', (s) => (s.ports[0].targetPort = 'nope')),
      ].join('\n'),
    });
    const problems = await waitFor(
      async () => {
        const p = (await notReady(c, 'defaults')).join('\n');
        return p.includes('Service/dangling') && p.includes('Service/wrong-port') && p;
      },
      { timeoutMs: 30_000, what: 'both broken Services reported' },
    );
    t.match(problems, /Service\/dangling: no ready endpoint for port http/);
    t.match(problems, /Service\/wrong-port: no ready endpoint for port http/);
    await c.kubectl(['delete', 'service', 'dangling', 'wrong-port', '-n', 'defaults']);
  },
);

t.test('a timeout names where each pod and claim stands: unschedulable, claim pending', async (t) => {
  // A pod no node fits and a claim no provisioner serves, in a namespace of their own.
  await createNamespace(c, 'stuck');
  await c.kubectl(['apply', '--server-side', '-f', '-'], {
    input: [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'orphan', namespace: 'stuck' },
        spec: {
          storageClassName: 'none-such',
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '1Gi' } },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'nowhere', namespace: 'stuck' },
        spec: {
          nodeSelector: { 'hit-counter.test/none': 'such' },
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'c',
              image: 'none',
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n'),
  });
  const said = await waitFor(
    async () => {
      const s = await stuck(c, 'stuck');
      return /didn't match Pod's node affinity\/selector/.test(s) && s;
    },
    { timeoutMs: 30_000, what: "the scheduler's reason for the pod" },
  );
  t.match(
    said,
    /^Pod\/nowhere: Pending on no node, PodScheduled=False \(0\/3 nodes are available: 3 node\(s\) didn't match Pod's node affinity\/selector/m,
  );
  t.match(said, /^PersistentVolumeClaim\/orphan: Pending$/m);
  t.notMatch(said, /^Node\//m, 'every kwok node is Ready and untainted');
  await c.kubectl(['delete', 'namespace', 'stuck', '--wait=false']);
});
