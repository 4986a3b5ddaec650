// The minikube environment on real pods: a local cluster with a real node (kubelet, containerd,
// the bridge pod network, kube-proxy, CoreDNS, local-path-provisioner; tools/cluster/node.ts),
// Argo CD syncing the minikube environment of argocd/ (bootstrapped as the README says) from the
// local git server with tools/cluster/lab-values.yaml on top (the locally built images), then what
// users rely on:
// the probes, helm test, counting through the nginx NodePort (curl and Chromium), Redis replication
// with Sentinel (a planned stop of the primary under load), a rolling update under load, a Redis
// pod restart, the backup CronJob and the README's restore. Last, the cluster's stop leaves nothing
// of the node on the machine.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parse } from 'yaml';
import { runCommand } from '../../tools/cluster/api.ts';
import {
  FIXED_PATHS,
  IPTABLES_TABLES,
  KUBELET_TUNABLES,
  NODE_CGROUP_ROOT,
  NODE_NETWORK,
} from '../../tools/cluster/node-host.ts';
import { launchChromium } from '../../tools/lib/browser.ts';
import { waitFor } from '../../tools/lib/proc.ts';
import { aofRewritten } from '../../tools/stack/backup.ts';
import { pidsWhere } from '../../tools/stack/procfs.ts';
import { duplicates, largest, runLoad } from '../../tools/stack/load.ts';
import {
  APP_NS,
  ARGOCD_NS,
  bootstrap,
  healthy,
  refresh,
  seedCheckout,
  syncedAt,
  ROOT_APP,
  waitApp,
  workClone,
  type Obj,
} from '../gitops/argocd-fixture.ts';
import { clusterFor, createNamespace, envValues, helmInstall, repoRoot, waitReady } from './fixture.ts';

const APP = 'hit-counter-minikube';
const LAB_VALUES = 'tools/cluster/lab-values.yaml';

/** What the node may change on this machine, read before it starts and after it stops. */
async function hostTraces(): Promise<Record<string, string[]>> {
  const sh = async (cmd: string, args: string[]) =>
    (await runCommand(cmd, args)).stdout.split('\n').filter(Boolean);
  const { bridge } = NODE_NETWORK;
  const ours = new RegExp(`KUBE-|hit-counter|\\b${bridge}\\b`);
  const rules: string[] = [];
  for (const table of IPTABLES_TABLES)
    rules.push(
      ...(await sh('iptables', ['-w', '-t', table, '-S']))
        .filter((l) => ours.test(l))
        .map((l) => `${table}: ${l}`),
    );
  return {
    rules,
    links: (await sh('ip', ['-o', 'link', 'show'])).filter(
      (l) => l.includes(` ${bridge}:`) || l.includes(` master ${bridge} `),
    ),
    routes: (await sh('ip', ['route', 'show'])).filter(
      (l) => l.includes(` dev ${bridge} `) || l.endsWith(` dev ${bridge}`),
    ),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => /hit-counter-cluster-|\/run\/containerd|\/var\/lib\/kubelet/.test(m)),
    cgroups: readdirSync('/sys/fs/cgroup').filter((h) =>
      existsSync(path.join('/sys/fs/cgroup', h, NODE_CGROUP_ROOT)),
    ),
    // The node's own fixed paths (the CNI cache is podman's too, which another test may create).
    paths: [FIXED_PATHS.devicePlugins, FIXED_PATHS.containerLogs, FIXED_PATHS.containerdRun].filter((p) =>
      existsSync(p),
    ),
    tunables: KUBELET_TUNABLES.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, 'utf8').trim()}`),
  };
}

const before = await hostTraces();
const seed = await seedCheckout(t);
const started = Date.now();
const c = await clusterFor(t, { node: 'real', argocd: true, gitSeed: seed, timeoutMs: 300_000 });
t.comment(`cluster with the real node and Argo CD up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
const node = c.realNode!;
const work = await workClone(t, c.argocd!.repoUrl);

const getJson = <T = Obj>(args: string[]): Promise<T> => c.getJson<T>(args);
/** The pods of a selector, without those already terminating. */
const pods = async (ns: string, selector: string): Promise<Obj[]> =>
  (await getJson<{ items: Obj[] }>(['pods', '-n', ns, '-l', selector])).items.filter(
    (p) => !p.metadata.deletionTimestamp,
  );
const count = (body: string): bigint => {
  const m = /Holla! we have hit (\d+) times/.exec(body);
  if (!m) throw new Error(`not a counter answer: ${body.slice(0, 200)}`);
  return BigInt(m[1] as string);
};
/**
 * redis-cli in a Redis pod's container (redis, or sentinel: its port there), as operators run it:
 * the chart's redis-node.sh logs in as the admin ACL user from the Secret.
 */
const nodeCli = (ns: string, pod: string, container: string, ...args: string[]): Promise<string> =>
  c.kubectl(['exec', '-n', ns, pod, '-c', container, '--', 'sh', '/etc/redis/redis-node.sh', 'cli', ...args]);
/** The status of a service pod's own /ready, asked at its pod address. */
const podReady = async (pod: Obj): Promise<number> =>
  (await fetch(`http://${pod.status.podIP}:8000/ready`, { signal: AbortSignal.timeout(3000) })).status;
/** Ready in the kubelet's view (its last probe passed), not only by the pod's own answer. */
const kubeletReady = (p: Obj): boolean =>
  (p.status.conditions as Obj[]).some((x) => x.type === 'Ready' && x.status === 'True');
/**
 * After Redis came back: every service pod Ready in the kubelet's view, then every nginx pod (its
 * readiness asks the service through its Service, so it follows a probe period later), then
 * nginx's own /nginx-health through the NodePort (never a counted hit): until then a request
 * through the NodePort may find no ready nginx and be refused.
 */
async function backInRotation(): Promise<void> {
  for (const component of ['service', 'nginx'])
    await waitFor(
      async () => {
        const all = await pods(APP_NS, `app.kubernetes.io/component=${component}`);
        return all.length > 0 && all.every(kubeletReady);
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `every ${component} pod Ready in the kubelet's view` },
    );
  await waitFor(
    async () =>
      (await fetch(new URL('/nginx-health', url), { signal: AbortSignal.timeout(5000) })).status === 200,
    { timeoutMs: 60_000, intervalMs: 500, what: '/nginx-health through the NodePort' },
  );
}
let url = '';
const hit = async (): Promise<bigint> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) {
    // nginx's JSON access log names the upstream it tried and how long it waited.
    const log = await c
      .kubectl(['logs', '-n', APP_NS, '-l', 'app.kubernetes.io/component=nginx', '-c', 'nginx', '--tail=3'])
      .catch((err: Error) => err.message);
    throw new Error(`GET ${url}: ${res.status} ${await res.text()}\nnginx:\n${log}`);
  }
  return count(await res.text());
};
/** The minikube environment bootstrapped from argocd/, the lab images' values on top. */
async function applyLabApplication(): Promise<void> {
  const values = parse(readFileSync(path.join(work.dir, LAB_VALUES), 'utf8')) as Obj;
  await bootstrap(c, work.dir, { environment: 'minikube', cluster: { values } });
}

t.test('Argo CD deploys the minikube environment: every pod runs and is Ready by its probes', async (t) => {
  await applyLabApplication();
  await waitApp(c, APP, 'Synced and Healthy', (a) => syncedAt()(a) && healthy(a), 300_000);
  await waitReady(c, APP_NS, 180_000);
  const all = (await getJson<{ items: Obj[] }>(['pods', '-n', APP_NS])).items.filter(
    (p) => p.status.phase !== 'Succeeded',
  );
  t.ok(all.length >= 5, `${all.length} pods (2 service, 2 nginx, Redis)`);
  for (const p of all) {
    const name = p.metadata.name;
    t.equal(p.spec.nodeName, node.name, `${name} runs on the real node`);
    t.match(p.status.podIP, /^10\.244\.0\./, `${name} has a pod network address`);
    for (const s of p.status.containerStatuses as Obj[]) {
      t.ok(s.ready && s.state.running?.startedAt, `${name}/${s.name} running and ready`);
      t.match(s.image, /^localhost\//, `${name}/${s.name} runs a local image`);
      t.match(s.containerID, /^containerd:\/\//, `${name}/${s.name} is a containerd container`);
    }
  }
  // The restricted securityContext is what the runtime enforces, not only what the API accepted.
  const out = await c.kubectl([
    'exec',
    '-n',
    APP_NS,
    'deploy/hit-counter',
    '-c',
    'hit-counter',
    '--',
    'sh',
    '-c',
    'id -u; touch /probe 2>&1 || true',
  ]);
  t.match(out, /^10001\n/, 'the service runs as UID 10001');
  t.match(out, /Read-only file system/, 'its root filesystem is read-only');
});

t.test('curl and Chromium on the nginx NodePort count up', async (t) => {
  const svc = await getJson(['service', 'hit-counter-nginx', '-n', APP_NS]);
  const nodePort = (svc.spec.ports as Obj[]).find((p) => p.name === 'http')?.nodePort;
  t.ok(nodePort, `NodePort ${nodePort}`);
  url = `http://${node.ip}:${nodePort}/`;
  const first = await hit();
  const next = [await hit(), await hit(), await hit()];
  t.same(next, [first + 1n, first + 2n, first + 3n], 'each GET counts exactly one');
  const curl = await runCommand('curl', ['-fsS', '--max-time', '5', url]);
  t.equal(count(curl.stdout), first + 4n, `curl ${url}`);

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(url);
  t.match(await page.textContent('body'), /Holla! we have hit \d+ times/, 'Chromium shows the page');
  t.ok((await hit()) > first + 4n, 'the page view was counted');
});

t.test('helm test passes (a helm release of the same values beside it)', async (t) => {
  const ns = 'hit-counter-helm';
  await createNamespace(c, ns);
  t.teardown(() => c.kubectl(['delete', 'namespace', ns, '--wait=false']).then(() => undefined));
  await helmInstall(c, {
    namespace: ns,
    valueFiles: [envValues('minikube'), path.join(repoRoot, LAB_VALUES)],
  });
  await waitReady(c, ns, 180_000);
  const out = await c.helm(['test', 'hit-counter', '-n', ns, '--timeout', '2m', '--logs']);
  t.match(out, /Phase:\s+Succeeded/, 'the hit-check pod succeeded');
  await c.helm(['uninstall', 'hit-counter', '-n', ns, '--wait', '--timeout', '2m']);
});

t.test(
  'Redis replication on real pods: Sentinel names pod 0, a planned stop of the primary hands over under load',
  async (t) => {
    const ns = 'hit-counter-ha';
    await createNamespace(c, ns);
    t.teardown(() => c.kubectl(['delete', 'namespace', ns, '--wait=false']).then(() => undefined));
    await helmInstall(c, {
      namespace: ns,
      valueFiles: [envValues('minikube'), path.join(repoRoot, LAB_VALUES)],
      // no nginx (its NodePort is the Argo CD release's) and no backup PVC: the service pods are
      // reached at their pod addresses
      set: ['redis.architecture=replication', 'nginx.enabled=false', 'redis.backup.enabled=false'],
    });
    await waitReady(c, ns, 300_000);
    const cli = (pod: string, ...args: string[]): Promise<string> => nodeCli(ns, pod, 'redis', ...args);
    const sentinelPrimary = async (): Promise<string> =>
      (
        await nodeCli(
          ns,
          'hit-counter-redis-0',
          'sentinel',
          'SENTINEL',
          'get-master-addr-by-name',
          'hit-counter',
        )
      ).split('\n')[0] ?? '';
    const host = (i: number): string =>
      `hit-counter-redis-${i}.hit-counter-redis-headless.${ns}.svc.cluster.local`;
    t.equal(await sentinelPrimary(), host(0), 'the Sentinels name pod 0, by its stable DNS name');
    t.match(
      await cli('hit-counter-redis-0', 'INFO', 'replication'),
      /connected_slaves:2/,
      'with two replicas',
    );
    t.match(
      await cli('hit-counter-redis-2', 'ROLE'),
      new RegExp(`^slave\n${host(0)}\n`),
      'pod 2 replicates pod 0',
    );

    const servicePods = await pods(ns, 'app.kubernetes.io/component=service');
    const urls = servicePods.map((p) => `http://${p.status.podIP}:8000/`);
    let stop = false;
    const load = runLoad({
      url: urls[0] as string,
      concurrency: 4,
      until: () => stop,
      maxMs: 240_000,
      requestTimeoutMs: 5000,
    });
    t.teardown(() => {
      stop = true;
    });
    // The pod's deletion runs its preStop hook: redis-node.sh handover (writes held, replicas caught
    // up, SENTINEL FAILOVER); the StatefulSet then recreates pod 0, which rejoins as a replica.
    const old = (await pods(ns, 'statefulset.kubernetes.io/pod-name=hit-counter-redis-0'))[0]!;
    await c.kubectl(['delete', 'pod', '-n', ns, 'hit-counter-redis-0', '--wait=false']);
    await waitFor(async () => (await sentinelPrimary().catch(() => host(0))) !== host(0), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'Sentinel to name another primary',
    });
    const promoted = await sentinelPrimary();
    await waitFor(
      async () => {
        const [now] = await pods(ns, 'statefulset.kubernetes.io/pod-name=hit-counter-redis-0');
        return (
          now?.metadata.uid !== old.metadata.uid && now?.status.containerStatuses?.every((x: Obj) => x.ready)
        );
      },
      { timeoutMs: 180_000, intervalMs: 500, what: 'pod 0 recreated and ready' },
    );
    t.match(
      await cli('hit-counter-redis-0', 'ROLE'),
      new RegExp(`^slave\n${promoted}\n`),
      'pod 0 rejoined as a replica',
    );
    stop = true;
    const run = await load;
    const top = largest(run.numbers);
    const counter = BigInt(await cli(promoted.split('.')[0] as string, 'GET', 'hits'));
    t.comment(
      `handover on real pods: ${run.results.length} requests, ${run.ok} answered 200, ${run.failed} not; primary now ${promoted}`,
    );
    t.ok(run.ok > 0, 'hits were answered during the handover');
    t.same(
      [...run.byStatus.keys()].filter((x) => x !== 200 && x !== 503),
      [],
      'only 200 and 503 answers',
    );
    t.equal(duplicates(run.numbers), 0, 'no number was answered 200 twice');
    t.ok(counter >= top, `the counter (${counter}) is at least the largest number answered (${top})`);
    t.equal(
      (await fetch(urls[1] as string)).status,
      200,
      'the other service pod follows the new primary too',
    );
    await c.helm(['uninstall', 'hit-counter', '-n', ns, '--wait', '--timeout', '2m']);
  },
);

t.test('a rolling update under load drops no request', async (t) => {
  const before = await hit();
  const deployment = async () => getJson(['deployment', 'hit-counter', '-n', APP_NS]);
  const generation = (await deployment()).metadata.generation as number;
  // The change arrives as a user makes it: a commit on main, synced by Argo CD.
  const revision = await work.push('roll the service pods', async (dir) => {
    const file = path.join(dir, 'environments/minikube/values.yaml');
    writeFileSync(
      file,
      `${readFileSync(file, 'utf8')}podAnnotations: # pod annotations\n  rollout: "1" # a pod template change\n`,
    );
  });
  let done = false;
  const load = runLoad({ url, concurrency: 4, until: () => done, maxMs: 240_000, requestTimeoutMs: 10_000 });
  await refresh(c, APP);
  await waitApp(c, APP, 'synced at the new commit', syncedAt(revision), 180_000);
  await waitFor(
    async () => {
      const d = await deployment();
      const s = d.status ?? {};
      return (
        d.metadata.generation > generation &&
        s.observedGeneration === d.metadata.generation &&
        s.updatedReplicas === d.spec.replicas &&
        s.readyReplicas === d.spec.replicas &&
        s.replicas === d.spec.replicas
      );
    },
    { timeoutMs: 180_000, intervalMs: 500, what: 'the rollout to finish' },
  );
  done = true;
  const summary = await load;
  const after = await hit();
  t.ok(summary.ok > 100, `${summary.ok} requests answered during the rollout`);
  t.equal(
    summary.failed,
    0,
    `no failed request (${[...summary.byStatus].map(([s, n]) => `${s}: ${n}`).join(', ')})`,
  );
  t.equal(after - before - 1n, BigInt(summary.ok), 'the counter grew by exactly the 2xx answers');
  const templates = (await pods(APP_NS, 'app.kubernetes.io/component=service')).map(
    (p) => p.metadata.annotations?.rollout,
  );
  t.same(templates, ['1', '1'], 'both service pods run the new template');
});

t.test(
  'Redis pod restart: 503s meanwhile, /ready drops and recovers, the count survives on its PVC',
  async (t) => {
    const [redis] = await pods(APP_NS, 'app.kubernetes.io/component=redis');
    const pvcs = (redis!.spec.volumes as Obj[])
      .filter((v) => v.persistentVolumeClaim)
      .map((v) => v.persistentVolumeClaim.claimName);
    const service = (await pods(APP_NS, 'app.kubernetes.io/component=service'))[0]!;
    const readyStatus = () => podReady(service);
    t.equal(await readyStatus(), 200, `${service.metadata.name} /ready answers 200 before`);
    const start = await hit();

    await c.kubectl(['delete', 'pod', '-n', APP_NS, redis!.metadata.name, '--wait=false']);
    const statuses = new Map<number, number>();
    let oks = 0n;
    let slowest = 0;
    let readyDropped = false;
    await waitFor(
      async () => {
        const t0 = Date.now();
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        slowest = Math.max(slowest, Date.now() - t0);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) oks++;
        await res.text();
        if ((await readyStatus()) === 503) readyDropped = true;
        const [now] = await pods(APP_NS, 'app.kubernetes.io/component=redis');
        return (
          readyDropped &&
          now?.metadata.uid !== redis!.metadata.uid &&
          now?.status.containerStatuses?.every((s: Obj) => s.ready) &&
          (await readyStatus()) === 200
        );
      },
      { timeoutMs: 180_000, intervalMs: 200, what: 'Redis back in a new pod and /ready 200 again' },
    );
    t.ok(statuses.get(503), `the service answered 503 while Redis was away (${[...statuses].join(' ')})`);
    t.same(
      [...statuses.keys()].filter((s) => s !== 200 && s !== 503),
      [],
      'only 200 and 503',
    );
    t.ok(slowest < 5000, `every request answered, none hung (slowest ${slowest} ms)`);
    t.ok(readyDropped, '/ready dropped to 503 and came back');
    const [again] = await pods(APP_NS, 'app.kubernetes.io/component=redis');
    t.same(
      (again!.spec.volumes as Obj[])
        .filter((v) => v.persistentVolumeClaim)
        .map((v) => v.persistentVolumeClaim.claimName),
      pvcs,
      'the new pod mounts the same PVC',
    );
    // No hit answered 200 is lost. A 503 may still have been counted (the documented over-count:
    // Redis applied its INCRBY, then went down before the reply), never more than one per 503.
    // Back in service through nginx too: the first 200 (every service pod reconnects on its own).
    const later = new Map<number, number>();
    const now = await waitFor(
      async () => {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        later.set(res.status, (later.get(res.status) ?? 0) + 1);
        const body = await res.text();
        return res.status === 200 ? count(body) : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'a 200 through nginx after the restart' },
    );
    if (later.size > 1) t.comment(`answers until the first 200 after the restart: ${[...later].join(' ')}`);
    const over = now - (start + oks + 1n);
    t.ok(over >= 0n, `no count lost: the AOF on the PVC kept every 2xx hit (${start} + ${oks} + 1 ≤ ${now})`);
    t.ok(
      over <= BigInt((statuses.get(503) ?? 0) + (later.get(503) ?? 0)),
      `over-count ${over} within the 503 answers`,
    );
    // Every service pod back on Redis before the next test counts through nginx: one that has not
    // reconnected yet answers 503 until its readiness probe takes it out.
    for (const p of await pods(APP_NS, 'app.kubernetes.io/component=service'))
      await waitFor(async () => (await podReady(p)) === 200, {
        timeoutMs: 60_000,
        what: `${p.metadata.name} /ready 200 after the Redis restart`,
      });
  },
);

/** The host pid of a container's main process in a pod (its cgroup names the pod's UID). */
function hostPid(pod: Obj, command: string): number {
  const uid = pod.metadata.uid as string;
  const forms = [uid, uid.replaceAll('-', '_')];
  const found = pidsWhere(
    (pid) =>
      readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === command &&
      forms.some((f) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(f)),
  );
  if (found.length !== 1)
    throw new Error(`${command} of pod ${pod.metadata.name}: ${found.length} host processes`);
  return found[0] as number;
}

t.test(
  'Redis hung (SIGSTOP): the kubelet takes every service pod out of rotation and restarts none',
  async (t) => {
    // Ready in the kubelet's view first: the last test waited for /ready, the kubelet's next probe
    // may not have run yet.
    const services = await waitFor(
      async () => {
        const all = await pods(APP_NS, 'app.kubernetes.io/component=service');
        return all.length > 0 && all.every(kubeletReady) ? all : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'every service pod Ready before Redis hangs' },
    );
    const [redis] = await pods(APP_NS, 'app.kubernetes.io/component=redis');
    const restarts = (p: Obj): number =>
      (p.status.containerStatuses as Obj[]).reduce((n, s) => n + (s.restartCount as number), 0);
    const before = new Map(services.map((p) => [p.metadata.name as string, restarts(p)]));
    // The kubelet's probe failures of the service pods, by pod and message, with their counts (a
    // repeated failure is counted on one event).
    const probeEvents = async (): Promise<Map<string, number>> =>
      new Map(
        (
          await getJson<{ items: Obj[] }>(['events', '-n', APP_NS, '--field-selector', 'reason=Unhealthy'])
        ).items
          .filter((e) => before.has(e.involvedObject.name))
          .map((e) => [`${e.involvedObject.name}: ${e.message}`, (e.count as number | undefined) ?? 1]),
      );
    const earlier = await probeEvents();
    const pid = hostPid(redis!, 'redis-server');
    process.kill(pid, 'SIGSTOP');
    let resumed = false;
    const resume = (): void => {
      if (!resumed) process.kill(pid, 'SIGCONT');
      resumed = true;
    };
    t.teardown(resume);
    try {
      // The service's /ready turns 503 within 0.75 s; the kubelet's readiness probe (every 5 s, two
      // failures) then marks each pod not Ready. Liveness (/health) never asks Redis.
      await waitFor(
        async () =>
          (await pods(APP_NS, 'app.kubernetes.io/component=service')).every((p) => !kubeletReady(p)),
        { timeoutMs: 60_000, intervalMs: 500, what: 'every service pod not Ready while Redis hangs' },
      );
      t.pass('every service pod left rotation while Redis hung');
      // Held for more than one liveness period (10 s), so the kubelet probes /health at least once
      // during the hang: a liveness that asked Redis would fail here. Meanwhile each pod's /health
      // is asked directly every 0.5 s.
      const holdUntil = Date.now() + 12_000;
      const health = new Map<string, number>();
      while (Date.now() < holdUntil) {
        for (const p of services) {
          const res = await fetch(`http://${p.status.podIP}:8000/health`, {
            signal: AbortSignal.timeout(2000),
          }).catch((err: Error) => err);
          const what = res instanceof Error ? res.name : String(res.status);
          if (!(res instanceof Error)) await res.text();
          health.set(what, (health.get(what) ?? 0) + 1);
        }
        await delay(500);
      }
      t.same(
        [...health.keys()],
        ['200'],
        `/health answered 200 throughout the hang (${[...health].join(' ')})`,
      );
    } finally {
      resume();
    }
    await waitFor(
      async () => (await pods(APP_NS, 'app.kubernetes.io/component=service')).every(kubeletReady),
      { timeoutMs: 60_000, intervalMs: 500, what: 'every service pod Ready again after SIGCONT' },
    );
    const events = [...(await probeEvents())].filter(([e, n]) => n > (earlier.get(e) ?? 0)).map(([e]) => e);
    t.ok(
      events.some((e) => /Readiness probe failed/.test(e)),
      `the kubelet saw the readiness probes fail (${events.length} events)`,
    );
    t.same(
      events.filter((e) => /Liveness probe failed/.test(e)),
      [],
      'and no liveness probe of a service pod failed',
    );
    const after = await pods(APP_NS, 'app.kubernetes.io/component=service');
    t.same(
      new Map(after.map((p) => [p.metadata.name as string, restarts(p)])),
      before,
      'the same service pods, no container restarted',
    );
    await backInRotation();
    t.ok((await hit()) > 0n, 'counting again through nginx');
  },
);

t.test('backup Job writes an RDB; the README restore brings back that exact count', async (t) => {
  const counted = await hit();
  const job = `backup-now-${Date.now()}`;
  await c.kubectl(['create', 'job', '-n', APP_NS, job, '--from=cronjob/hit-counter-redis-backup']);
  await waitFor(
    async () => {
      const j = await getJson(['job', job, '-n', APP_NS]);
      if (j.status?.failed)
        throw new Error(`backup Job failed: ${await c.kubectl(['logs', '-n', APP_NS, `job/${job}`])}`);
      return j.status?.succeeded === 1;
    },
    { timeoutMs: 120_000, intervalMs: 500, what: 'the backup Job to complete' },
  );
  const hostPathOf = async (claim: string): Promise<string> => {
    const pvc = await getJson(['pvc', claim, '-n', APP_NS]);
    const pv = await getJson(['pv', pvc.spec.volumeName]);
    return pv.spec.hostPath?.path ?? pv.spec.local?.path;
  };
  const backupDir = await hostPathOf('hit-counter-redis-backup');
  const dumps = readdirSync(backupDir).filter((f) => /^dump-.*\.rdb$/.test(f));
  t.equal(dumps.length, 1, `one dump on the backup PVC: ${dumps.join(' ')}`);
  const dump = dumps[0] as string;
  t.equal(readFileSync(path.join(backupDir, dump)).subarray(0, 5).toString(), 'REDIS', 'it is an RDB file');
  for (let i = 0; i < 3; i++) await hit(); // counted after the backup: the restore drops them

  // charts/hit-counter/charts/redis/README.md "Restore", step by step.
  const patchApp = (name: string, syncPolicy: Obj) =>
    c.kubectl([
      'patch',
      'applications.argoproj.io',
      name,
      '-n',
      ARGOCD_NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { syncPolicy } }),
    ]);
  // 0. automated sync off: the root first (it would restore the Application's policy), then the app
  await patchApp(ROOT_APP, { automated: null });
  await patchApp(APP, { automated: null });
  // 1. stop writes and Redis
  await c.kubectl(['scale', '-n', APP_NS, 'deployment/hit-counter', '--replicas=0']);
  await c.kubectl(['scale', '-n', APP_NS, 'statefulset/hit-counter-redis', '--replicas=0']);
  await waitFor(
    async () => (await pods(APP_NS, 'app.kubernetes.io/component in (service,redis)')).length === 0,
    {
      timeoutMs: 120_000,
      what: 'the service and Redis pods to stop',
    },
  );
  // 2. the dump in place of the AOF, by a helper pod that passes Pod Security "restricted"
  const redisImage = (await getJson(['statefulset', 'hit-counter-redis', '-n', APP_NS])).spec.template.spec
    .containers[0].image;
  const helper = restoreHelper(redisImage, dump);
  await c.kubectl(['apply', '-n', APP_NS, '-f', '-'], { input: JSON.stringify(helper) });
  await waitFor(
    async () => {
      const p = await getJson(['pod', 'restore-helper', '-n', APP_NS]);
      if (p.status.phase === 'Failed')
        throw new Error(
          `restore helper failed: ${await c.kubectl(['logs', '-n', APP_NS, 'restore-helper'])}`,
        );
      return p.status.phase === 'Succeeded';
    },
    { timeoutMs: 120_000, what: 'the restore helper pod' },
  );
  await c.kubectl(['delete', 'pod', '-n', APP_NS, 'restore-helper']);
  // 3. Redis once with AOF off, so it loads the RDB (redis-node.sh passes args to redis-server)
  const sts = await getJson(['statefulset', 'hit-counter-redis', '-n', APP_NS]);
  t.equal(sts.spec.template.spec.containers[0].args, undefined, 'the chart gives Redis no extra args');
  // The redis container's args: set (redis-node.sh passes them to redis-server) or removed.
  const patchRedisArgs = (change: Obj) =>
    c.kubectl([
      'patch',
      '-n',
      APP_NS,
      'statefulset/hit-counter-redis',
      '--type=json',
      '-p',
      JSON.stringify([{ ...change, path: '/spec/template/spec/containers/0/args' }]),
    ]);
  await patchRedisArgs({ op: 'add', value: ['--appendonly', 'no'] });
  await c.kubectl(['scale', '-n', APP_NS, 'statefulset/hit-counter-redis', '--replicas=1']);
  const redisCli = (...a: string[]) => nodeCli(APP_NS, 'hit-counter-redis-0', 'redis', ...a);
  await waitFor(async () => (await redisCli('PING')).trim() === 'PONG', {
    timeoutMs: 120_000,
    what: 'Redis to load the RDB',
  });
  t.equal((await redisCli('GET', 'hits')).trim(), String(counted), 'Redis holds the count of the backup');
  // 4. AOF on at runtime; wait for the new AOF
  await redisCli('CONFIG', 'SET', 'appendonly', 'yes');
  await waitFor(
    async () => {
      return aofRewritten(await redisCli('INFO', 'persistence'));
    },
    { timeoutMs: 60_000, what: 'Redis to write the restored data into a new AOF' },
  );
  // 5. the args dropped again (the chart sets none, so no sync would remove them), then automated
  // sync back on for the root: it restores the Application's policy from git, and Argo CD the
  // replica counts
  await patchRedisArgs({ op: 'remove' });
  await patchApp(ROOT_APP, { automated: { prune: true, selfHeal: true } });
  await waitFor(
    async () => {
      const [p] = await pods(APP_NS, 'app.kubernetes.io/component=redis');
      return (
        p?.spec.containers[0].args === undefined &&
        p?.status.containerStatuses?.every((s: Obj) => s.ready) === true
      );
    },
    { timeoutMs: 120_000, what: 'Redis restarted without the args, ready' },
  );
  t.equal(
    (await redisCli('GET', 'hits')).trim(),
    String(counted),
    'restarted with AOF on, Redis still has it',
  );
  await waitApp(
    c,
    APP,
    'Synced and Healthy again',
    (a) => a.status?.sync?.status === 'Synced' && healthy(a),
    180_000,
  );
  await waitReady(c, APP_NS, 180_000);
  // Each service pod connected to the restarted Redis (its probe may not have run since).
  for (const p of await pods(APP_NS, 'app.kubernetes.io/component=service'))
    await waitFor(async () => (await podReady(p)) === 200, {
      timeoutMs: 60_000,
      what: `${p.metadata.name} /ready`,
    });
  await backInRotation();
  t.equal(await hit(), counted + 1n, 'the service counts on from the restored value');
});

t.test('stopping the cluster removes everything the node made', async (t) => {
  await c.stop();
  t.same(
    await hostTraces(),
    before,
    'no rule, link, route, mount, cgroup, path or tunable of the node is left',
  );
});

/** The README's step 2: a pod (restricted: UID 999, no privileges) that swaps the AOF for the dump. */
function restoreHelper(image: string, dump: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'restore-helper' },
    spec: {
      restartPolicy: 'Never',
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 999,
        runAsGroup: 999,
        fsGroup: 999,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'restore',
          image,
          command: [
            'sh',
            '-c',
            `set -e; mv /data/appendonlydir /data/appendonlydir.before-restore; cp /backup/${dump} /data/dump.rdb`,
          ],
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'backup', mountPath: '/backup', readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'data', persistentVolumeClaim: { claimName: 'data-hit-counter-redis-0' } },
        { name: 'backup', persistentVolumeClaim: { claimName: 'hit-counter-redis-backup' } },
      ],
    },
  };
}
