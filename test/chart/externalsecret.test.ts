// The redis subchart's optional ExternalSecret (External Secrets Operator): off by default, rendered
// only where the cluster serves external-secrets.io/v1, and then it creates exactly the Secret the
// service and Redis read (global.redis.auth.existingSecret), as infra/eks turns it on for EKS.
import path from 'node:path';
import t from 'tap';
import { find, monitoringApi, render, repoRoot } from './chart.ts';

const externalSecretsApi = 'external-secrets.io/v1';
const eksValues = path.join(repoRoot, 'environments/eks/values.yaml');
const enabled = [
  'redis.externalSecret.enabled=true',
  'redis.externalSecret.secretStoreRef.name=aws-secrets-manager',
  'redis.externalSecret.remoteRef.key=hit-counter/redis',
];

t.test('off by default, even where the API exists', async (t) => {
  for (const files of [[], [eksValues]]) {
    const { objects } = await render([], files, [monitoringApi, externalSecretsApi]);
    t.same(
      objects.filter((o) => o.kind === 'ExternalSecret'),
      [],
      files.length ? 'eks values' : 'defaults',
    );
  }
});

t.test('on EKS: the ExternalSecret creates the Secret the service and Redis read', async (t) => {
  const { objects } = await render(enabled, [eksValues], [monitoringApi, externalSecretsApi]);
  const secretName = 'hit-counter-redis-auth'; // global.redis.auth.existingSecret of the eks values
  const es = find(objects, 'ExternalSecret', secretName);
  t.equal(es.apiVersion, externalSecretsApi);
  t.same(es.spec.secretStoreRef, { kind: 'ClusterSecretStore', name: 'aws-secrets-manager' });
  t.equal(es.spec.target.name, secretName);
  t.equal(es.spec.target.creationPolicy, 'Owner');
  // One JSON secret in the store, one property per Redis user.
  const written = (es.spec.data as { secretKey: string; remoteRef: { key: string; property: string } }[]).map(
    (d) => {
      t.same(
        d.remoteRef,
        { key: 'hit-counter/redis', property: d.secretKey },
        `${d.secretKey} from its property`,
      );
      return d.secretKey;
    },
  );
  t.same(
    objects.filter((o) => o.kind === 'Secret' && o.metadata.name.includes('redis')),
    [],
    'the chart renders no password Secret of its own',
  );
  // Every reference to the Secret (env and volumes) names the Secret and a key the ExternalSecret writes.
  const text = JSON.stringify(objects);
  const refs = text.match(/"secretKeyRef":\{[^}]*\}/g)!.map((r) => JSON.parse(`{${r}}`).secretKeyRef);
  t.ok(refs.length >= 2, `${refs.length} secretKeyRefs (service, backup)`);
  for (const ref of refs) {
    t.equal(ref.name, secretName);
    t.ok(written.includes(ref.key), `${ref.key} is written`);
  }
  const volumes = [...text.matchAll(/"secret":\{"secretName":"([^"]+)"/g)].map((m) => m[1]);
  t.ok(volumes.length >= 2, `${volumes.length} Secret volumes (the Redis nodes, the exporter's init)`);
  for (const v of volumes) t.equal(v, secretName);
});

t.test('nothing where the cluster has no External Secrets Operator', async (t) => {
  const { objects } = await render(enabled, [eksValues], [monitoringApi]);
  t.same(
    objects.filter((o) => o.kind === 'ExternalSecret'),
    [],
  );
});

t.test('refused with a reason when it cannot work', async (t) => {
  const api = [monitoringApi, externalSecretsApi];
  await t.rejects(
    render([...enabled, 'global.redis.auth.password=x'], [], api),
    /global\.redis\.auth\.existingSecret/,
    'without existingSecret there is no Secret name to create',
  );
  await t.rejects(
    render(['redis.externalSecret.enabled=true', 'redis.externalSecret.remoteRef.key=k'], [eksValues], api),
    /secretStoreRef/,
    'without a store',
  );
  await t.rejects(
    render(
      ['redis.externalSecret.enabled=true', 'redis.externalSecret.secretStoreRef.name=s'],
      [eksValues],
      api,
    ),
    /remoteRef/,
    'without a key',
  );
  await t.rejects(
    render([...enabled, 'redis.externalSecret.secretStoreRef.kind=Vault'], [eksValues], api),
    /secretStoreRef\/kind|kind/,
    'an unknown store kind',
  );
});
