// The local cluster: etcd, kube-apiserver (RBAC, the default admission plugins with PodSecurity),
// kube-controller-manager, kube-scheduler and nodes, all pinned upstream builds
// (tools/build-go.sh), with random ports and a throwaway PKI. One launcher for the CLI
// (`npm run cluster`) and the tests. Two kinds of node:
// - kwok (the default, light): simulated nodes; pods are scheduled and their controllers run for
//   real, but kwok only marks them Running and Ready without executing them. All on loopback.
// - real (node.ts, root): one node with containerd, kubelet, a bridge pod network, kube-proxy,
//   CoreDNS and local-path-provisioner; pods really run. The API server then listens on the node's
//   bridge address (pods reach it through the kubernetes Service), still only on this machine.
import { existsSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../lib/ports.ts';
import { HELMS, type Helm } from '../lib/helm.ts';
import { setTimeout as delay } from 'node:timers/promises';
import { requireBinary, spawnProcess, tempDir, type Proc } from '../lib/proc.ts';
import { apiGet, httpsGet, runCommand, type Credentials } from './api.ts';
import { ARGOCD_IDENTITIES, ARGOCD_NAMESPACE, startArgoCd, type ArgoCd } from './argocd.ts';
import { labImages, REAL_NODE_NAME, startRealNode, type RealNode } from './node.ts';
import { NODE_NETWORK, prepareNodeHost, type NodeHost } from './node-host.ts';
import { createPki, writeKubeconfig, type ClientIdentity } from './pki.ts';
import { startPrometheusOperator, type PrometheusOperator } from './prometheus-operator.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const toolsDir = process.env.HIT_COUNTER_TOOLS ?? join(repoRoot, '.tools');

/** The Kubernetes version the cluster runs (tools/build-go.sh builds it). */
export const KUBERNETES_VERSION = 'v1.34.4';
/** Service addresses (routed only on the real node's bridge). */
export const SERVICE_CIDR = '10.96.0.0/16';
/** The cluster DNS Service's address (CoreDNS, on the real node). */
export const CLUSTER_DNS = '10.96.0.10';
/** Pod addresses kwok hands out (simulated: nothing routes them). */
export const POD_CIDR = '10.244.0.0/16';
/** Where kube-controller-manager's hostPath provisioner puts volumes (fixed in its code). */
const HOSTPATH_PV_DIR = '/tmp/hostpath_pv';
/** The annotation kwok's node selector looks for. */
const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export interface ClusterOptions {
  /** kwok: simulated nodes (the default); real: one node that runs pods (node.ts, needs root) */
  node?: 'kwok' | 'real';
  /** simulated nodes (default 1; kwok only) */
  nodes?: number;
  /** working directory (default: a fresh temp dir, removed by stop() unless keepDir) */
  dir?: string;
  keepDir?: boolean;
  /** how long startup may take before it fails (default 120 s) */
  timeoutMs?: number;
  /** progress lines (the CLI prints them) */
  log?: (line: string) => void;
  /** Argo CD and a git server on loopback (argocd.ts) */
  argocd?: boolean;
  /** the git repository whose HEAD the git server serves as main (default: this checkout) */
  gitSeed?: string;
  /** no git server of its own: Argo CD reads this one (another cluster's) */
  gitRepoUrl?: string;
  /** prometheus-operator and its CRDs (prometheus-operator.ts) */
  prometheusOperator?: boolean;
}

/** What an add-on (Argo CD, prometheus-operator) gets to start its parts with the cluster's. */
export interface AddOnContext {
  dir: string;
  /** the cluster CA's certificate */
  caCert: string;
  log: (line: string) => void;
  /** kubeconfig per client identity */
  kubeconfigs: Record<string, string>;
  /**
   * starts a part on a fresh loopback port (given to args) or the given one (0: it listens on
   * none), stopped with the cluster
   */
  start(
    name: string,
    args: (port: number) => string[],
    o?: { bin?: string; env?: NodeJS.ProcessEnv; port?: number },
  ): Promise<number>;
  freePort(): Promise<number>;
  /** polls until ready, failing at once if any part has exited */
  until(what: string, ready: () => Promise<boolean>): Promise<void>;
  kubectl(args: string[], o?: { input?: string; timeoutMs?: number }): Promise<string>;
}

export interface Part {
  name: string;
  pid: number;
  port: number;
  logFile: string;
}

export interface Cluster {
  dir: string;
  /** the admin kubeconfig (system:masters) */
  kubeconfig: string;
  server: string;
  credentials: Credentials;
  nodeNames: string[];
  /** set when started with argocd */
  argocd?: ArgoCd;
  /** set when started with prometheusOperator */
  prometheusOperator?: PrometheusOperator;
  /** set when started with node: 'real' */
  realNode?: RealNode;
  /** what runs, in start order */
  parts(): Part[];
  /** environment for kubectl and helm: KUBECONFIG, and their caches inside the cluster's dir */
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], o?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** kubectl get -o json, parsed */
  getJson<T = any>(args: string[]): Promise<T>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** helm 3 (the default) or, with `o.helm: 'helm4'`, helm 4: the chart is tested with both */
  helm(
    args: string[],
    o?: { input?: string; cwd?: string; timeoutMs?: number; helm?: Helm },
  ): Promise<string>;
  /** stops everything in reverse start order (the API server before etcd), removes the dir */
  stop(): Promise<void>;
}

interface Running extends Part {
  proc: Proc;
}

export async function startCluster(o: ClusterOptions = {}): Promise<Cluster> {
  const real = o.node === 'real';
  const bins = Object.fromEntries(
    ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', ...HELMS]
      .concat(real ? [] : ['kwok'])
      .map((b) => [b, requireBinary(b)]),
  );
  const stagesFile = join(toolsDir, 'kwok-stages.yaml');
  if (!real && !existsSync(stagesFile)) throw new Error('kwok stages not found: run `bash tools/install.sh`');
  const log = o.log ?? (() => {});
  // The images first: a cold build takes minutes, which the startup deadline does not count.
  const images = real ? await labImages(log) : undefined;
  const deadline = Date.now() + (o.timeoutMs ?? (real ? 240_000 : 120_000));
  const dir = o.dir ?? tempDir('hit-counter-cluster-');
  const removeDir = o.dir === undefined && !o.keepDir;
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  log(`directory ${dir}`);

  const running: Running[] = [];
  // Set once the API server answers: stop() asks it which volume directories to remove.
  let volumeDirs: (() => Promise<string[]>) | undefined;
  let failed = false;
  // Set once the real node's network is made: undoes every change to the machine.
  let nodeHost: NodeHost | undefined;
  const undoNode = (): void => {
    const left = nodeHost?.undo() ?? [];
    nodeHost = undefined;
    if (left.length) throw new Error(`the real node left behind: ${left.join('; ')}`);
  };
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    // Reverse start order: kwok and the controllers first, then the API server, then etcd (an
    // API server whose etcd is gone waits ~20 s on it before exiting). The in-tree hostPath
    // provisioner makes each volume's directory under /tmp/hostpath_pv (a path it does not let
    // anyone change): once the controller-manager is stopped, ask the API server which of them
    // this cluster's volumes hold, and remove those.
    let dirs: string[] = [];
    for (const r of running.splice(0).reverse()) {
      if (r.name === 'kube-apiserver') dirs = (await volumeDirs?.().catch(() => [])) ?? [];
      await r.proc.stop({ timeoutMs: 15_000 });
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    if (dirs.length) rmEmptyDir(HOSTPATH_PV_DIR);
    try {
      undoNode();
    } finally {
      if (removeDir) rmSync(dir, { recursive: true, force: true });
    }
  };
  // If the process exits without stop() (a test runner's timeout, an uncaught error), no part
  // outlives it: SIGKILL by pid, synchronously.
  const killOnExit = (): void => {
    for (const r of running) r.proc.signal('SIGKILL');
    try {
      undoNode();
    } catch (err) {
      console.error((err as Error).message);
    }
    if (removeDir) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const start = async (
    name: string,
    args: (port: number) => string[],
    o: { port?: number; env?: NodeJS.ProcessEnv; bin?: string } = {},
  ): Promise<number> => {
    // A port is chosen just before its part binds it (the API server's goes into the kubeconfigs).
    const port = o.port ?? (await freePort());
    const logFile = join(logs, `${name}.log`);
    const proc = spawnProcess(o.bin ?? bins[name] ?? name, args(port), {
      logFile,
      env: o.env ?? process.env,
      cwd: dir,
      detached: true,
    });
    running.push({ name, pid: proc.pid, port, logFile, proc });
    return port;
  };
  /** Polls `ready` until the deadline; fails at once when any started part has exited. */
  const until = async (what: string, ready: () => Promise<boolean>): Promise<void> => {
    for (;;) {
      if (failed) throw new Error(`startup failed before ${what}`);
      const gone = running.find((r) => r.proc.hasExited());
      if (gone) {
        failed = true;
        throw new Error(
          `${gone.name} exited during startup; last lines of ${gone.logFile}:\n${tail(gone.proc.log())}`,
        );
      }
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        failed = true;
        throw new Error(`timed out waiting for ${what}`);
      }
      await delay(200);
    }
  };
  const answers = async (url: string): Promise<boolean> =>
    (await httpsGet(url, { insecure: true })).status === 200;

  try {
    if (real) {
      log(`making the node's network (bridge ${NODE_NETWORK.bridge}, ${NODE_NETWORK.nodeIp}) ...`);
      nodeHost = prepareNodeHost(dir, SERVICE_CIDR);
    }
    // Where the API server listens: loopback, or the real node's address (pods reach it there).
    const apiAddress = real ? NODE_NETWORK.nodeIp : '127.0.0.1';
    log('generating the PKI (CA, API server and client certificates, service-account key) ...');
    const pki = createPki(join(dir, 'pki'), {
      serverIps: ['127.0.0.1', '10.96.0.1', ...(real ? [NODE_NETWORK.nodeIp] : [])],
      serverNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      clients: [
        { name: 'admin', user: 'hit-counter-admin', groups: ['system:masters'] },
        { name: 'controller-manager', user: 'system:kube-controller-manager' },
        { name: 'scheduler', user: 'system:kube-scheduler' },
        ...(real
          ? [
              { name: 'kubelet', user: `system:node:${REAL_NODE_NAME}`, groups: ['system:nodes'] },
              { name: 'kube-proxy', user: 'system:kube-proxy' },
            ]
          : [{ name: 'kwok', user: 'kwok', groups: ['system:masters'] }]),
        ...(o.argocd ? ARGOCD_IDENTITIES.map(serviceAccount(ARGOCD_NAMESPACE)) : []),
        ...(o.prometheusOperator
          ? [{ name: 'prometheus-operator', user: 'prometheus-operator', groups: ['system:masters'] }]
          : []),
      ],
    });
    const admin = pki.clients.admin as { cert: string; key: string };
    // The API server's port goes into every kubeconfig; it is chosen again (and they rewritten) if
    // another process takes it before the API server binds it.
    let apiPort = 0;
    let server = '';
    let credentials: Credentials = { server, caCert: pki.caCert, cert: admin.cert, key: admin.key };
    const kubeconfigs: Record<string, string> = {};
    const chooseApiPort = async (): Promise<void> => {
      apiPort = await freePort(apiAddress);
      server = `https://${apiAddress}:${apiPort}`;
      for (const [name, c] of Object.entries(pki.clients))
        kubeconfigs[name] = writeKubeconfig(join(dir, `${name}.kubeconfig`), {
          server,
          caCert: pki.caCert,
          cert: c.cert,
          key: c.key,
          user: name,
        });
      credentials = { server, caCert: pki.caCert, cert: admin.cert, key: admin.key };
    };
    await chooseApiPort();

    log('starting etcd ...');
    const etcdPeerUrl = `http://127.0.0.1:${await freePort()}`;
    const etcdPort = await start('etcd', (port) => [
      '--name=local',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${port}`,
      `--advertise-client-urls=http://127.0.0.1:${port}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=local=${etcdPeerUrl}`,
      '--log-level=warn',
      // A throwaway cluster: no fsync per write (its data dies with the directory).
      '--unsafe-no-fsync',
    ]);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    await until('etcd /health', async () => {
      const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(5000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    });

    log('starting kube-apiserver ...');
    for (let attempt = 1; ; attempt++) {
      await start(
        'kube-apiserver',
        () => [
          `--etcd-servers=${etcdUrl}`,
          `--bind-address=${apiAddress}`,
          `--advertise-address=${apiAddress}`,
          `--secure-port=${apiPort}`,
          `--cert-dir=${join(dir, 'apiserver')}`,
          `--tls-cert-file=${pki.serverCert}`,
          `--tls-private-key-file=${pki.serverKey}`,
          `--client-ca-file=${pki.caCert}`,
          `--service-account-key-file=${pki.saPub}`,
          `--service-account-signing-key-file=${pki.saKey}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          '--api-audiences=https://kubernetes.default.svc.cluster.local',
          '--authorization-mode=Node,RBAC',
          // The default plugins (PodSecurity, ServiceAccount, DefaultStorageClass, ResourceQuota …)
          // plus NodeRestriction, as kubeadm runs it.
          '--enable-admission-plugins=NodeRestriction',
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          '--allow-privileged=true',
          '--profiling=false',
          // logs, exec and port-forward: the API server calls kubelet with an admin certificate.
          ...(real
            ? [
                `--kubelet-client-certificate=${admin.cert}`,
                `--kubelet-client-key=${admin.key}`,
                '--kubelet-preferred-address-types=InternalIP',
              ]
            : []),
        ],
        { port: apiPort },
      );
      try {
        await until(
          'kube-apiserver /readyz',
          async () => (await apiGet(credentials, '/readyz')).status === 200,
        );
        break;
      } catch (err) {
        const api = running.at(-1) as Running;
        const taken = api.proc.hasExited() && /address already in use/.test(api.proc.log());
        if (!taken || attempt >= 3) throw err;
        log(`kube-apiserver: port ${apiPort} was taken meanwhile; choosing another ...`);
        running.pop();
        failed = false;
        await chooseApiPort();
      }
    }

    log(`starting kube-controller-manager, kube-scheduler${real ? '' : ' and kwok'} ...`);
    // What both controllers share: their kubeconfig for the API and for checking who calls their
    // own /healthz, a loopback serving port with a self-signed certificate in the cluster's dir,
    // and no leader election (one of each).
    const controller = (name: string, port: number): string[] => {
      const kubeconfig = kubeconfigs[name] as string;
      return [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${join(dir, name)}`,
        '--leader-elect=false',
      ];
    };
    const kcmPort = await start('kube-controller-manager', (port) => [
      ...controller('controller-manager', port),
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.caCert}`,
      '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--cluster-name=hit-counter-local',
      // Under kwok, the in-tree hostPath provisioner backs the default StorageClass (as
      // minikube's does), so PersistentVolumeClaims bind; no volume is ever mounted. The real
      // node has local-path-provisioner instead.
      ...(real ? [] : ['--enable-hostpath-provisioner=true']),
    ]);
    const schedPort = await start('kube-scheduler', (port) => [
      ...controller('scheduler', port),
      // A pod the scheduler found unschedulable waits for an event that may make it fit (its
      // claim bound, a node added). If that event is missed, the scheduler's own fallback retries
      // it after this long: 5 min by default, longer than any test waits. (Once, in a full run, the
      // third Redis pod of a StatefulSet stayed not Ready for the test's 2 min, its only events the
      // usual FailedScheduling while its claim was unbound; a timeout now says where each pod
      // stands.) Deprecated, still honoured in v1.34.
      '--pod-max-in-unschedulable-pods-duration=30s',
    ]);
    if (!real)
      await start(
        'kwok',
        (port) => [
          `--kubeconfig=${kubeconfigs.kwok}`,
          `--config=${stagesFile}`,
          '--manage-all-nodes=false',
          `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
          `--cidr=${POD_CIDR}`,
          '--node-ip=127.0.0.1',
          // A Lease heartbeat per node, as a kubelet keeps. Without it (kwok's default when its
          // config file holds only stages) the node lifecycle controller finds no heartbeat within
          // its grace period, takes the nodes for NotReady and marks every pod on them not Ready.
          '--node-lease-duration-seconds=40',
          `--server-address=127.0.0.1:${port}`,
        ],
        { env: { ...process.env, HOME: join(dir, 'home') } },
      );

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KUBECONFIG: kubeconfigs.admin,
      KUBECACHEDIR: join(dir, 'kube-cache'),
      HELM_CACHE_HOME: join(dir, 'helm', 'cache'),
      HELM_CONFIG_HOME: join(dir, 'helm', 'config'),
      HELM_DATA_HOME: join(dir, 'helm', 'data'),
    };
    const kubectl = async (args: string[], k: { input?: string; timeoutMs?: number } = {}): Promise<string> =>
      (await runCommand(bins.kubectl as string, args, { env, ...k })).stdout;
    volumeDirs = async () => {
      const pvs = JSON.parse(await kubectl(['get', 'persistentvolumes', '-o', 'json'])) as {
        items: { spec: { hostPath?: { path: string } } }[];
      };
      return pvs.items
        .map((pv) => pv.spec.hostPath?.path ?? '')
        .filter((p) => p.startsWith(`${HOSTPATH_PV_DIR}/`) && !p.includes('..'));
    };
    const nodeNames = real
      ? [REAL_NODE_NAME]
      : Array.from({ length: o.nodes ?? 1 }, (_, i) => `kwok-node-${i}`);
    if (!real)
      await kubectl(['apply', '--server-side', '-f', '-'], {
        input: [...nodeNames.map(nodeManifest), defaultStorageClass()]
          .map((m) => JSON.stringify(m))
          .join('\n'),
      });

    await Promise.all([
      until('kube-controller-manager /healthz', () => answers(`https://127.0.0.1:${kcmPort}/healthz`)),
      until('kube-scheduler /healthz', () => answers(`https://127.0.0.1:${schedPort}/healthz`)),
      // The controllers work once the default namespace has its ServiceAccount (pods need one).
      until(
        'the default ServiceAccount (controller-manager)',
        async () =>
          (await apiGet(credentials, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
      ),
      // kubelet registers a real node itself (node.ts waits for it to be Ready).
      real ||
        until(`nodes ${nodeNames.join(', ')} Ready (kwok)`, async () => {
          const nodes = JSON.parse((await apiGet(credentials, '/api/v1/nodes')).body) as {
            items?: NodeStatus[];
          };
          return nodeNames.every((n) => nodes.items?.some((x) => x.metadata.name === n && isReady(x)));
        }),
    ]);

    const addOn: AddOnContext = {
      dir,
      caCert: pki.caCert,
      log,
      kubeconfigs,
      start,
      freePort: () => freePort(),
      until,
      kubectl,
    };
    const realNode =
      real && nodeHost && images
        ? await startRealNode(addOn, nodeHost, {
            serviceCidr: SERVICE_CIDR,
            clusterDns: CLUSTER_DNS,
            archive: images.archive,
            images: images.images,
          })
        : undefined;
    const prometheusOperator = o.prometheusOperator ? await startPrometheusOperator(addOn) : undefined;
    const argocd = o.argocd
      ? await startArgoCd(addOn, { seed: o.gitSeed ?? repoRoot, repoUrl: o.gitRepoUrl })
      : undefined;

    return {
      dir,
      argocd,
      prometheusOperator,
      realNode,
      kubeconfig: kubeconfigs.admin as string,
      server,
      credentials,
      nodeNames,
      parts: () => running.map(({ name, pid, port, logFile }) => ({ name, pid, port, logFile })),
      env,
      kubectl,
      getJson: async (args) => JSON.parse(await kubectl(['get', ...args, '-o', 'json'])),
      helm: async (args, { helm = 'helm', ...k } = {}) =>
        (await runCommand(bins[helm] as string, args, { env, ...k })).stdout,
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

interface NodeStatus {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/** A client certificate that the API server takes for a ServiceAccount (RBAC matches its name). */
function serviceAccount(namespace: string): (name: string) => ClientIdentity {
  return (name) => ({
    name,
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
  });
}

function isReady(n: NodeStatus): boolean {
  return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** A node for kwok to play; node i sits in zone local-<i mod 3> (spread constraints need zones). */
function nodeManifest(name: string, i: number): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/region': 'local',
        'topology.kubernetes.io/zone': `local-${'abc'[i % 3]}`,
        type: 'kwok',
      },
    },
    // What the scheduler fits pods into (kwok keeps what the node states): the chart's pods ask for
    // ephemeral storage, which a node without that capacity could never hold.
    status: {
      capacity: { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '100Gi' },
    },
  };
}

/** The default StorageClass, like minikube's "standard": immediate binding, hostPath volumes. */
function defaultStorageClass(): object {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'kubernetes.io/host-path',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
  };
}

/** Removes a directory only if it is empty (another cluster may still use it). */
function rmEmptyDir(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // not empty, or already gone
  }
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
