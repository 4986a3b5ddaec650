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
  'redis.externalSecret.remoteRef.key=hit-counter/redis-password',
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
  t.same(es.spec.data, [{ secretKey: 'redis-password', remoteRef: { key: 'hit-counter/redis-password' } }]);
  t.same(
    objects.filter((o) => o.kind === 'Secret' && o.metadata.name.includes('redis')),
    [],
    'the chart renders no password Secret of its own',
  );
  // Every secretKeyRef to the password names the Secret and key the ExternalSecret writes.
  const refs = JSON.stringify(objects)
    .match(/"secretKeyRef":\{[^}]*\}/g)!
    .map((r) => JSON.parse(`{${r}}`).secretKeyRef);
  t.ok(refs.length >= 2, `${refs.length} secretKeyRefs (service, Redis, exporter, backup)`);
  for (const ref of refs) t.same(ref, { name: secretName, key: 'redis-password' });
});

t.test('a property of a JSON secret value', async (t) => {
  const { objects } = await render(
    [...enabled, 'redis.externalSecret.remoteRef.property=password'],
    [eksValues],
    [monitoringApi, externalSecretsApi],
  );
  t.same(find(objects, 'ExternalSecret', 'hit-counter-redis-auth').spec.data[0].remoteRef, {
    key: 'hit-counter/redis-password',
    property: 'password',
  });
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
    render([...enabled, 'global.redis.auth.enabled=true', 'global.redis.auth.password=x'], [], api),
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
