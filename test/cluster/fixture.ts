// Shared by the cluster tests: one local cluster per test file (tools/cluster), namespaces as the
// Argo CD applications create them, the chart installed with the real helm, and readiness read from
// the API (what the controllers report), with a deadline and the cluster's own words on timeout.
import path from 'node:path';
import type { Test } from 'tap';
import { startCluster, type Cluster, type ClusterOptions } from '../../tools/cluster/cluster.ts';
import type { Helm } from '../../tools/lib/helm.ts';
import { waitFor } from '../../tools/lib/proc.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const chartDir = path.join(repoRoot, 'charts/hit-counter');
export const envValues = (env: string): string => path.join(repoRoot, 'environments', env, 'values.yaml');
export const release = 'hit-counter';

/**
 * The one value a bare install needs (README.md, "Deploying the chart"): Redis always requires auth,
 * and this is the development password source every Redis user's password is derived from.
 */
export const DEV_AUTH = 'global.redis.auth.password=cluster-test-password-not-real';

/** The keys of the Redis Secret an existingSecret must hold: one password per Redis user. */
export const REDIS_SECRET_KEYS = [
  'service',
  'exporter',
  'backup',
  'replication',
  'sentinel',
  'node',
  'admin',
].map((user) => `${user}-password`);

/** The label the Argo CD Applications put on the namespaces they create. */
export const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' };

/** A cluster for this test file (three kwok nodes in three zones, add-ons as `o` asks), stopped at its end. */
export async function clusterFor(t: Test, o: ClusterOptions = {}): Promise<Cluster> {
  const cluster = await startCluster({ nodes: 3, ...o });
  t.teardown(() => cluster.stop());
  return cluster;
}

export async function createNamespace(
  c: Cluster,
  name: string,
  labels: Record<string, string> = RESTRICTED,
): Promise<void> {
  await c.kubectl(['apply', '--server-side', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }),
  });
}

export interface Install {
  namespace: string;
  valueFiles?: string[];
  set?: string[];
  chart?: string;
  releaseName?: string;
  /** Helm 3 (default) or Helm 4 */
  helm?: Helm;
}

/** `helm install` exactly as the README says (no --wait: readiness is checked from the API). */
export function helmInstall(
  c: Cluster,
  o: Install,
  verb: 'install' | 'upgrade' = 'install',
): Promise<string> {
  return c.helm(
    [
      verb,
      o.releaseName ?? release,
      o.chart ?? chartDir,
      '--namespace',
      o.namespace,
      ...(o.valueFiles ?? []).flatMap((f) => ['--values', f]),
      ...(o.set ?? []).flatMap((s) => ['--set', s]),
    ],
    { helm: o.helm },
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** A namespace as the Argo CD applications create it, the chart installed, every workload ready. */
export async function installReady(
  c: Cluster,
  o: Install & { labels?: Record<string, string> },
): Promise<void> {
  await createNamespace(c, o.namespace, o.labels);
  await helmInstall(c, o);
  await waitReady(c, o.namespace);
}

/** What is not (yet) as it should be in the namespace: one line per workload, PDB or Service. */
export async function notReady(c: Cluster, namespace: string): Promise<string[]> {
  const list = async (kind: string): Promise<Obj[]> =>
    (await c.getJson<{ items: Obj[] }>([kind, '-n', namespace])).items;
  const [deployments, statefulSets, pdbs, services, slices] = await Promise.all([
    list('deployments'),
    list('statefulsets'),
    list('poddisruptionbudgets'),
    list('services'),
    list('endpointslices'),
  ]);
  const problems: string[] = [];
  for (const d of deployments) {
    const want = d.spec.replicas ?? 1;
    const s = d.status ?? {};
    const available = s.conditions?.some((x: Obj) => x.type === 'Available' && x.status === 'True');
    if (
      !available ||
      s.observedGeneration !== d.metadata.generation ||
      s.updatedReplicas !== want ||
      s.readyReplicas !== want ||
      s.replicas !== want
    )
      problems.push(
        `Deployment/${d.metadata.name}: ${s.readyReplicas ?? 0}/${want} ready, ${s.updatedReplicas ?? 0} updated, available=${!!available}`,
      );
  }
  for (const st of statefulSets) {
    const want = st.spec.replicas ?? 1;
    const s = st.status ?? {};
    if (
      s.observedGeneration !== st.metadata.generation ||
      s.readyReplicas !== want ||
      s.updatedReplicas !== want
    )
      problems.push(`StatefulSet/${st.metadata.name}: ${s.readyReplicas ?? 0}/${want} ready`);
  }
  for (const p of pdbs) {
    const s = p.status ?? {};
    if (!(s.expectedPods > 0) || !(s.currentHealthy >= s.desiredHealthy))
      problems.push(
        `PodDisruptionBudget/${p.metadata.name}: ${s.currentHealthy ?? 0} healthy of ${s.expectedPods ?? 0}, ${s.desiredHealthy ?? '?'} needed`,
      );
  }
  // Every port of every selecting Service has a ready endpoint: the selector matches the pods and
  // each (named) targetPort resolves to one of their container ports.
  for (const svc of services) {
    if (!svc.spec.selector) continue;
    const own = slices.filter((e) => e.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name);
    for (const port of svc.spec.ports ?? []) {
      const ready = own.some(
        (e) =>
          (e.ports ?? []).some((p: Obj) => (p.name ?? '') === (port.name ?? '')) &&
          (e.endpoints ?? []).some((ep: Obj) => ep.conditions?.ready !== false),
      );
      if (!ready)
        problems.push(`Service/${svc.metadata.name}: no ready endpoint for port ${port.name ?? port.port}`);
    }
  }
  return problems;
}

/** Waits until notReady() is empty; on timeout, fails with what is missing and the namespace's warnings. */
export async function waitReady(c: Cluster, namespace: string, timeoutMs = 120_000): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor(
      async () => {
        last = await notReady(c, namespace);
        return last.length === 0;
      },
      { timeoutMs, intervalMs: 500, what: `every workload in ${namespace} ready` },
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n${last.join('\n')}\n${await stuck(c, namespace)}\nwarnings:\n${await warnings(c, namespace)}`,
      { cause: err },
    );
  }
}

/**
 * Where the namespace's pods and claims stand when they are not as they should be, and the nodes
 * that are not Ready or carry taints: a pod not Ready with its phase, node and its conditions'
 * latest words (the scheduler's current reason is in PodScheduled), a claim not Bound.
 */
export async function stuck(c: Cluster, namespace: string): Promise<string> {
  const [pods, claims, nodes] = await Promise.all([
    c.getJson<{ items: Obj[] }>(['pods', '-n', namespace]),
    c.getJson<{ items: Obj[] }>(['persistentvolumeclaims', '-n', namespace]),
    c.getJson<{ items: Obj[] }>(['nodes']),
  ]);
  const lines: string[] = [];
  const isTrue = (o: Obj, type: string): boolean =>
    (o.status?.conditions ?? []).some((x: Obj) => x.type === type && x.status === 'True');
  for (const p of pods.items) {
    if (isTrue(p, 'Ready')) continue;
    const conditions = (p.status?.conditions ?? [])
      .filter((x: Obj) => x.status !== 'True')
      .map((x: Obj) => `${x.type}=${x.status}${x.message ? ` (${x.message})` : ''}`);
    lines.push(
      `Pod/${p.metadata.name}: ${p.status?.phase ?? '?'} on ${p.spec.nodeName || 'no node'}${conditions.length ? `, ${conditions.join(', ')}` : ''}`,
    );
  }
  for (const pvc of claims.items)
    if (pvc.status?.phase !== 'Bound')
      lines.push(`PersistentVolumeClaim/${pvc.metadata.name}: ${pvc.status?.phase ?? '?'}`);
  for (const n of nodes.items) {
    const taints = (n.spec.taints ?? []).map((x: Obj) => `${x.key}:${x.effect}`);
    if (!isTrue(n, 'Ready') || taints.length)
      lines.push(
        `Node/${n.metadata.name}: Ready=${isTrue(n, 'Ready')}${taints.length ? `, taints ${taints.join(' ')}` : ''}`,
      );
  }
  return lines.length ? lines.join('\n') : 'every pod Ready, every claim Bound, every node Ready';
}

/** The namespace's Warning events, one line each (what the controllers and admission said). */
export async function warnings(c: Cluster, namespace: string): Promise<string> {
  const events = await c.getJson<{ items: Obj[] }>([
    'events',
    '-n',
    namespace,
    '--field-selector',
    'type=Warning',
  ]);
  return events.items
    .map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}: ${e.reason}: ${e.message}`)
    .join('\n');
}

/** Pod templates of the namespace's workloads, by kind/name (what a change would roll). */
export async function podTemplates(c: Cluster, namespace: string): Promise<Map<string, Obj>> {
  const out = new Map<string, Obj>();
  for (const kind of ['deployments', 'statefulsets', 'cronjobs']) {
    for (const o of (await c.getJson<{ items: Obj[] }>([kind, '-n', namespace])).items) {
      const template = kind === 'cronjobs' ? o.spec.jobTemplate.spec.template : o.spec.template;
      out.set(`${o.kind}/${o.metadata.name}`, template);
    }
  }
  return out;
}
