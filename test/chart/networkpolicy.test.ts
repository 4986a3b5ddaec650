// The NetworkPolicies allow exactly nginx -> service -> redis, the metrics scrape, the backup job,
// the helm test Pod -> what it tests, and DNS: the allow-graph is computed from the rendered policies
// (the helm test's included) and compared as a whole.
import t from 'tap';
import type { K8sObject } from '../../tools/lib/helm.ts';
import { render } from './chart.ts';

type Peer = Record<string, unknown>;

/** Names a peer: a component of this release, the metrics scraper, DNS, or "any". */
function peerName(p: Peer | undefined): string {
  if (!p) return 'any';
  const block = p.ipBlock as { cidr: string } | undefined;
  if (block) return `ip ${block.cidr}`;
  const pod = (p.podSelector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
  const ns = (p.namespaceSelector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
  if (pod['k8s-app'] === 'kube-dns') return 'dns';
  if (ns?.['kubernetes.io/metadata.name'] === 'monitoring') return 'metrics-scraper';
  if (pod['app.kubernetes.io/component'] && !p.namespaceSelector) return pod['app.kubernetes.io/component'];
  if (Object.keys(pod).length === 0 && !p.namespaceSelector) return 'namespace';
  return JSON.stringify(p);
}

function edges(objects: K8sObject[]): string[] {
  const out: string[] = [];
  for (const np of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const self = np.spec.podSelector.matchLabels['app.kubernetes.io/component'];
    for (const rule of np.spec.ingress ?? [])
      for (const from of rule.from ?? [undefined])
        for (const port of rule.ports ?? [{ port: 'all' }])
          out.push(`${peerName(from)} -> ${self}:${port.port}`);
    for (const rule of np.spec.egress ?? [])
      for (const to of rule.to ?? [undefined])
        for (const port of rule.ports ?? [{ port: 'all' }])
          out.push(`${self} -> ${peerName(to)}:${port.port}${port.protocol === 'UDP' ? '/udp' : ''}`);
    t.same(np.spec.policyTypes, ['Ingress', 'Egress'], `${np.metadata.name} restricts both directions`);
  }
  return out.sort();
}

const base = [
  'any -> nginx:http',
  'metrics-scraper -> nginx:metrics',
  'nginx -> service:http',
  'metrics-scraper -> service:http',
  'service -> redis:redis',
  'backup -> redis:redis',
  'metrics-scraper -> redis:metrics',
  'nginx -> service:8000',
  'nginx -> dns:53/udp',
  'nginx -> dns:53',
  'service -> redis:6379',
  'service -> dns:53/udp',
  'service -> dns:53',
  'backup -> redis:6379',
  'backup -> dns:53/udp',
  'backup -> dns:53',
  'test -> nginx:http',
  'test -> dns:53/udp',
  'test -> dns:53',
];

t.test('defaults: exactly the designed graph', async (t) => {
  t.same(edges((await render()).objects), [...base].sort());
});

t.test('backup to S3 adds HTTPS and the Pod Identity agent for the backup job only', async (t) => {
  const { objects } = await render(['redis.backup.s3.enabled=true', 'redis.backup.s3.uri=s3://b/p']);
  t.same(edges(objects), [...base, 'backup -> ip 0.0.0.0/0:443', 'backup -> ip 169.254.170.23/32:80'].sort());
  // 443 goes to the internet only: not to the cluster's own addresses, nor the instance metadata.
  const np = objects.find(
    (o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'hit-counter-redis-backup',
  );
  const https = np!.spec.egress.find((r: { ports: { port: number }[] }) => r.ports[0]?.port === 443);
  t.same(https.to, [
    {
      ipBlock: {
        cidr: '0.0.0.0/0',
        except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16'],
      },
    },
  ]);
  const vpc = await render([
    'redis.backup.s3.enabled=true',
    'redis.backup.s3.uri=s3://b/p',
    'redis.backup.s3.egressIpBlocks[0].cidr=10.1.2.0/24',
  ]);
  t.ok(edges(vpc.objects).includes('backup -> ip 10.1.2.0/24:443'), 'an S3 interface endpoint instead');
});

t.test(
  'without nginx the namespace reaches the service; without backup nothing else reaches redis',
  async (t) => {
    const { objects } = await render(['nginx.enabled=false', 'redis.backup.enabled=false']);
    const want = base
      .filter((e) => !e.includes('nginx') && !e.startsWith('backup') && e !== 'backup -> redis:redis')
      .concat('namespace -> service:http', 'test -> service:http');
    t.same(edges(objects), want.sort());
  },
);

t.test(
  'replication: the Redis nodes reach each other, the service and the backup reach the Sentinels',
  async (t) => {
    const { objects } = await render(['redis.architecture=replication']);
    const extra = [
      'service -> redis:sentinel',
      'backup -> redis:sentinel',
      'redis -> redis:redis',
      'redis -> redis:sentinel',
      'service -> redis:26379',
      'backup -> redis:26379',
      'redis -> redis:6379',
      'redis -> redis:26379',
      'redis -> dns:53/udp',
      'redis -> dns:53',
    ];
    t.same(edges(objects), [...base, ...extra].sort());
  },
);

t.test('the scraper selector comes from values', async (t) => {
  const { objects } = await render(['global.networkPolicy.metrics.namespaceSelector.matchLabels.team=obs']);
  const np = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'hit-counter-redis');
  t.match(JSON.stringify(np), /"team":"obs"/);
});

t.test('the helm test Pod: nothing reaches it; it reaches the URL it tests and DNS only', async (t) => {
  const test = (objects: K8sObject[]) =>
    objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'hit-counter-hit-check');
  const policy = test((await render()).objects);
  t.ok(policy, 'rendered with the test');
  t.equal(policy?.metadata.annotations?.['helm.sh/hook'], 'test', 'a test hook, like the Pod');
  t.ok(
    Number(policy?.metadata.annotations?.['helm.sh/hook-weight']) < 0,
    'created before the Pod (hook weight 0)',
  );
  t.same(policy?.spec.ingress, [], 'no ingress at all');

  const toOwnIngress = (await render(['helmTest.url=https://hits.example.test/'])).objects;
  t.same(
    edges(toOwnIngress).filter((e) => e.startsWith('test ')),
    ['test -> any:443', 'test -> dns:53', 'test -> dns:53/udp'],
    "a URL of its own: any address, on the URL's port only",
  );
  const withPort = test((await render(['helmTest.url=http://hits.example.test:8088/x'])).objects);
  t.same(withPort?.spec.egress[0], { ports: [{ protocol: 'TCP', port: 8088 }] });

  t.notOk(test((await render(['helmTest.enabled=false'])).objects), 'no test, no policy');
  t.notOk(test((await render(['global.networkPolicy.enabled=false'])).objects), 'policies off');
});
