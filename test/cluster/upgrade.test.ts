// Upgrade, rollback and uninstall on the real API server, with Helm 3 and with Helm 4 (server-side
// apply): the previous released chart (the newest commit whose Chart.yaml version differs from the
// working tree's) is installed with its own minikube values, upgraded to the working tree, upgraded
// again with nothing changed, rolled back and uninstalled. Immutable fields, rolls no value asked
// for and leftovers are what is checked.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { HELMS, type Helm } from '../../tools/lib/helm.ts';
import { tempDir, waitFor } from '../../tools/lib/proc.ts';
import {
  chartDir,
  clusterFor,
  envValues,
  helmInstall,
  installReady,
  podTemplates,
  release,
  repoRoot,
  waitReady,
} from './fixture.ts';

const c = await clusterFor(t);
const work = tempDir('hit-counter-upgrade-');
t.teardown(() => execFileSync('rm', ['-rf', work]));

const git = (...args: string[]): string =>
  execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
const chartFile = 'charts/hit-counter/Chart.yaml';
const versionOf = (yamlText: string): string => String((parse(yamlText) as { version: string }).version);

/** The newest commit whose chart version differs from the working tree's, and that version. */
function previousRelease(): { commit: string; version: string } {
  const current = versionOf(readFileSync(path.join(repoRoot, chartFile), 'utf8'));
  // Every commit that changed the chart, newest first: the first with another version holds the
  // last state of that version.
  const commits = git('log', '--format=%H', '--', 'charts/hit-counter').split('\n').filter(Boolean);
  if (git('rev-parse', '--is-shallow-repository') === 'true')
    throw new Error(
      'this clone is shallow: the upgrade test needs the chart history (git fetch --unshallow)',
    );
  for (const commit of commits) {
    const version = versionOf(git('show', `${commit}:${chartFile}`));
    if (version !== current) return { commit, version };
  }
  throw new Error(`no commit has a chart version other than ${current}: nothing to upgrade from`);
}

/** The chart and minikube values as they were at `commit`, extracted into the work dir. */
function checkout(commit: string): { chart: string; values: string } {
  const dir = path.join(work, commit.slice(0, 12));
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive "${commit}" charts/hit-counter environments | tar -x -C "${dir}"`], {
    cwd: repoRoot,
  });
  return {
    chart: path.join(dir, 'charts/hit-counter'),
    values: path.join(dir, 'environments/minikube/values.yaml'),
  };
}

const revisions = async (ns: string, helm: Helm): Promise<number> =>
  (JSON.parse(await c.helm(['history', release, '-n', ns, '-o', 'json'], { helm })) as unknown[]).length;
/** The namespace of a case, suffixed for Helm 4. */
const nsFor = (base: string, helm: Helm): string => (helm === 'helm' ? base : `${base}-${helm}`);

/** Workloads whose pod template differs between two snapshots. */
function changed(a: Map<string, unknown>, b: Map<string, unknown>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k))).sort();
}

const previous = previousRelease();
const old = checkout(previous.commit);

for (const helm of HELMS)
  t.test(
    `${helm}: upgrade from chart ${previous.version} (${previous.commit.slice(0, 7)}) to the working tree, then rollback`,
    async (t) => {
      const ns = nsFor('upgrade', helm);
      await installReady(c, { namespace: ns, chart: old.chart, valueFiles: [old.values], helm });
      const before = await podTemplates(c, ns);

      await t.resolves(
        helmInstall(c, { namespace: ns, valueFiles: [envValues('minikube')], helm }, 'upgrade'),
        'helm upgrade: no immutable-field error',
      );
      await waitReady(c, ns);
      const upgraded = await podTemplates(c, ns);
      t.comment(
        `pod templates the chart changes since ${previous.version}: ${changed(before, upgraded).join(', ') || 'none'}`,
      );

      // The same chart and values again: no pod template may change (nothing random, stable checksums).
      await helmInstall(c, { namespace: ns, valueFiles: [envValues('minikube')], helm }, 'upgrade');
      await waitReady(c, ns);
      t.same(
        changed(upgraded, await podTemplates(c, ns)),
        [],
        'an upgrade that changes no value rolls nothing',
      );

      await t.resolves(
        c.helm(['rollback', release, '1', '-n', ns], { helm }),
        'helm rollback to the previous release',
      );
      await waitReady(c, ns);
      t.same(
        changed(before, await podTemplates(c, ns)),
        [],
        'the rollback restores every pod template of revision 1',
      );
      t.equal(await revisions(ns, helm), 4);
    },
  );

t.test('the upgrade check can fail: a changed value rolls, a changed selector is refused', async (t) => {
  const ns = 'upgrade-negative';
  await installReady(c, { namespace: ns, valueFiles: [envValues('minikube')] });
  const installed = await podTemplates(c, ns);
  await helmInstall(
    c,
    { namespace: ns, valueFiles: [envValues('minikube')], set: ['podAnnotations.rolled=yes'] },
    'upgrade',
  );
  t.same(
    changed(installed, await podTemplates(c, ns)),
    ['Deployment/hit-counter'],
    'the changed value is detected',
  );

  // A chart whose StatefulSet selector changed: the API server refuses the immutable field.
  const broken = path.join(work, 'broken-chart');
  cpSync(chartDir, broken, { recursive: true, verbatimSymlinks: true });
  const sts = path.join(broken, 'charts/redis/templates/statefulset.yaml');
  const text = readFileSync(sts, 'utf8');
  const patched = text.replace(/(\n {2}selector:\n {4}matchLabels:\n)/, '$1      renamed: "yes"\n');
  t.not(patched, text, 'the selector was found and changed');
  writeFileSync(sts, patched.replace(/(\n {6}labels:\n)/, '$1        renamed: "yes"\n'));
  await t.rejects(
    helmInstall(c, { namespace: ns, chart: broken, valueFiles: [envValues('minikube')] }, 'upgrade'),
    /StatefulSet.apps "hit-counter-redis" is invalid: spec: Forbidden: updates to statefulset spec for fields other than/,
  );
});

t.test('a new chart version that changes nothing in a pod rolls no pod', async (t) => {
  const ns = 'version-bump';
  await installReady(c, { namespace: ns, valueFiles: [envValues('minikube')] });
  const installed = await podTemplates(c, ns);
  const bumped = path.join(work, 'bumped-chart');
  cpSync(chartDir, bumped, { recursive: true, verbatimSymlinks: true });
  // Every chart's version, as a release that changes the subcharts too: their pods' config
  // checksums cover the ConfigMaps' data, not the helm.sh/chart label.
  for (const dir of ['.', 'charts/redis', 'charts/nginx', 'charts/servicemonitor', 'charts/common']) {
    const chartYaml = path.join(bumped, dir, 'Chart.yaml');
    const text = readFileSync(chartYaml, 'utf8');
    // The chart's own version and the versions of its dependencies.
    writeFileSync(chartYaml, text.replace(/^(version|\s+version): .*$/gm, '$1: 99.0.0'));
  }
  await helmInstall(c, { namespace: ns, chart: bumped, valueFiles: [envValues('minikube')] }, 'upgrade');
  const labels = (await c.getJson(['deployment', 'hit-counter', '-n', ns])).metadata.labels;
  t.equal(labels['helm.sh/chart'], 'hit-counter-99.0.0', 'the objects carry the new chart version');
  const redis = (await c.getJson(['statefulset', 'hit-counter-redis', '-n', ns])).metadata.labels;
  t.equal(redis['helm.sh/chart'], 'redis-99.0.0', 'and the subcharts theirs');
  t.same(changed(installed, await podTemplates(c, ns)), [], 'no pod template changed');
});

for (const helm of HELMS)
  t.test(`${helm} uninstall removes everything but the volumes the chart documents it keeps`, async (t) => {
    const ns = nsFor('uninstall', helm);
    await installReady(c, { namespace: ns, valueFiles: [envValues('minikube')], helm });
    await c.helm(['uninstall', release, '-n', ns, '--wait'], { helm });
    const kinds = (await c.kubectl(['api-resources', '--namespaced', '--verbs=list', '-o', 'name']))
      .split('\n')
      .filter((k) => k && !/^(events|events\.events\.k8s\.io)$/.test(k));
    const expected = [
      'PersistentVolumeClaim/data-hit-counter-redis-0',
      'PersistentVolumeClaim/hit-counter-redis-backup',
    ];
    // Pods, ReplicaSets, EndpointSlices … go by garbage collection after helm returns: poll.
    let names: string[] = [];
    await waitFor(
      async () => {
        const left = await c.getJson<{ items: { kind: string; metadata: { name: string } }[] }>([
          kinds.join(','),
          '-n',
          ns,
        ]);
        names = left.items
          .map((o) => `${o.kind}/${o.metadata.name}`)
          // What Kubernetes puts into every namespace.
          .filter((n) => !['ServiceAccount/default', 'ConfigMap/kube-root-ca.crt'].includes(n))
          .sort();
        return JSON.stringify(names) === JSON.stringify(expected);
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'only the kept volumes left' },
    ).catch(() => {});
    t.same(
      names,
      expected,
      'only the Redis data PVC (StatefulSet volumes outlive it) and the backup PVC (resource-policy: keep) remain',
    );
  });
