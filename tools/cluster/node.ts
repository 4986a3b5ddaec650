// The real node: containerd (Debian's, with runc) runs the pods, kubelet v1.34.4 manages them,
// the CNI bridge plugin puts each pod on the bridge node-host.ts made, kube-proxy routes Services
// with iptables, CoreDNS answers cluster DNS and local-path-provisioner gives PersistentVolumes.
// Images come from tools/lab-images.sh (built locally, imported into containerd: no registry).
// containerd's root, state, socket and network namespaces, kubelet's root and the pod logs all
// live in the cluster's directory.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireBinary } from '../lib/proc.ts';
import { runCommand } from './api.ts';
import type { AddOnContext } from './cluster.ts';
import { NODE_CGROUP_ROOT, NODE_NETWORK, type NodeHost } from './node-host.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const toolsDir = process.env.HIT_COUNTER_TOOLS ?? join(repoRoot, '.tools');

/** The real node's name (kubelet registers it). */
export const REAL_NODE_NAME = 'node-0';
/** The node's own images (tools/lab-images.sh tags each with its software's version). */
const NODE_IMAGES = {
  pause: 'localhost/pause',
  coredns: 'localhost/coredns',
  localPath: 'localhost/local-path-provisioner',
  busybox: 'localhost/busybox',
};
type NodeImages = Record<keyof typeof NODE_IMAGES, string>;

/** The references of the node's images among those built. */
function nodeImages(built: string[]): NodeImages {
  return Object.fromEntries(
    Object.entries(NODE_IMAGES).map(([k, repo]) => {
      const ref = built.find((r) => r.startsWith(`${repo}:`));
      if (!ref) throw new Error(`tools/lab-images.sh built no ${repo} image`);
      return [k, ref];
    }),
  ) as NodeImages;
}

export interface RealNode {
  name: string;
  /** the node's address: the bridge, where NodePorts answer */
  ip: string;
  /** the image references imported into containerd */
  images: string[];
}

/** Builds (or reuses) the lab images and their archive; returns the archive and the references. */
export async function labImages(log: (line: string) => void): Promise<{ archive: string; images: string[] }> {
  const archive = join(toolsDir, 'lab-images', 'images.tar');
  log('building the images (tools/lab-images.sh; cached after the first run) ...');
  const { stdout } = await runCommand('bash', [join(repoRoot, 'tools', 'lab-images.sh'), archive], {
    timeoutMs: 30 * 60_000,
    env: { ...process.env, HIT_COUNTER_TOOLS: toolsDir, CONTAINERS_CONF: join(toolsDir, 'containers.conf') },
  });
  return { archive, images: stdout.split('\n').filter(Boolean) };
}

export async function startRealNode(
  ctx: AddOnContext,
  host: NodeHost,
  o: { serviceCidr: string; clusterDns: string; archive: string; images: string[] },
): Promise<RealNode> {
  const bins = Object.fromEntries(
    ['containerd', 'ctr', 'runc', 'kubelet', 'kube-proxy', 'iptables'].map((b) => [b, requireBinary(b)]),
  );
  for (const plugin of ['bridge', 'host-local', 'loopback'])
    if (!existsSync(`/usr/lib/cni/${plugin}`))
      throw new Error(`CNI plugin /usr/lib/cni/${plugin} not found: run \`bash tools/install.sh\``);
  const { dir, log } = ctx;
  const images = nodeImages(o.images);
  const node = join(dir, 'node');
  const paths = {
    containerdConfig: join(node, 'containerd.toml'),
    containerdRoot: join(node, 'containerd', 'root'),
    containerdState: join(node, 'containerd', 'state'),
    socket: join(node, 'containerd', 'containerd.sock'),
    cniConf: join(node, 'cni', 'net.d'),
    cniIpam: join(node, 'cni', 'ipam'),
    kubeletConfig: join(node, 'kubelet.yaml'),
    kubeletRoot: join(node, 'kubelet'),
    podLogs: join(node, 'pod-logs'),
    volumes: join(node, 'volumes'),
  };
  for (const d of [paths.cniConf, paths.cniIpam, paths.kubeletRoot, paths.podLogs, paths.volumes])
    mkdirSync(d, { recursive: true });

  log('starting containerd ...');
  writeFileSync(paths.containerdConfig, containerdConfig(paths, images.pause));
  writeFileSync(
    join(paths.cniConf, '10-hit-counter.conflist'),
    JSON.stringify(cniConfig(paths.cniIpam, o.serviceCidr), null, 2),
  );
  await ctx.start('containerd', () => ['--config', paths.containerdConfig, '--log-level', 'warn'], {
    port: 0, // its socket only
  });
  const ctr = (args: string[], timeoutMs = 60_000) =>
    runCommand(bins.ctr as string, ['--address', paths.socket, '--namespace', 'k8s.io', ...args], {
      timeoutMs,
    });
  await ctx.until('containerd answering on its socket', async () => {
    await ctr(['version'], 5000);
    return true;
  });
  log(`importing ${o.images.length} images into containerd ...`);
  await ctr(['images', 'import', o.archive], 10 * 60_000);

  log('starting kubelet and kube-proxy ...');
  const healthzPort = await ctx.freePort();
  const kubeletPort = await ctx.freePort();
  writeFileSync(
    paths.kubeletConfig,
    JSON.stringify(
      kubeletConfig(paths, {
        healthzPort,
        port: kubeletPort,
        clusterDns: o.clusterDns,
        caCert: ctx.caCert,
      }),
      null,
      2,
    ),
  );
  await ctx.start(
    'kubelet',
    () => [
      `--config=${paths.kubeletConfig}`,
      `--kubeconfig=${ctx.kubeconfigs.kubelet}`,
      `--root-dir=${paths.kubeletRoot}`,
      `--cert-dir=${join(paths.kubeletRoot, 'pki')}`,
      `--hostname-override=${REAL_NODE_NAME}`,
      `--node-ip=${NODE_NETWORK.nodeIp}`,
      `--node-labels=${['topology.kubernetes.io/region=local', 'topology.kubernetes.io/zone=local-a'].join(',')}`,
    ],
    { port: kubeletPort },
  );
  host.kubeProxyRan(bins['kube-proxy'] as string);
  const proxyHealthz = await ctx.freePort();
  await ctx.start('kube-proxy', (port) => [
    `--kubeconfig=${ctx.kubeconfigs['kube-proxy']}`,
    `--hostname-override=${REAL_NODE_NAME}`,
    '--proxy-mode=iptables',
    `--cluster-cidr=${NODE_NETWORK.podCidr}`,
    // NodePorts answer on the node's own address only (not on loopback: that would need the
    // route_localnet sysctl, and not on the machine's other interfaces).
    `--nodeport-addresses=${NODE_NETWORK.nodeIp}/32`,
    '--iptables-localhost-nodeports=false',
    // conntrack's table size and timeouts are the machine's: kube-proxy leaves them as they are.
    '--conntrack-max-per-core=0',
    '--conntrack-tcp-timeout-established=0',
    '--conntrack-tcp-timeout-close-wait=0',
    `--metrics-bind-address=127.0.0.1:${port}`,
    `--healthz-bind-address=127.0.0.1:${proxyHealthz}`,
  ]);
  await ctx.until(`node ${REAL_NODE_NAME} Ready (kubelet)`, async () => {
    const n = JSON.parse(await ctx.kubectl(['get', 'node', REAL_NODE_NAME, '-o', 'json'])) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  });
  await ctx.until(
    'kube-proxy /healthz',
    async () => (await fetch(`http://127.0.0.1:${proxyHealthz}/healthz`)).ok,
  );

  log('deploying CoreDNS and local-path-provisioner ...');
  await ctx.kubectl(['apply', '--server-side', '-f', '-'], {
    input: [
      readFileSync(join(import.meta.dirname, 'node-manifests', 'coredns.yaml'), 'utf8')
        .replaceAll('${CLUSTER_DNS}', o.clusterDns)
        .replaceAll('${IMAGE}', images.coredns),
      localPathManifest(paths.volumes, images),
    ].join('\n---\n'),
  });
  await ctx.until('CoreDNS and local-path-provisioner available', async () => {
    const ds = JSON.parse(
      await ctx.kubectl([
        'get',
        'deployments',
        '-A',
        '-l',
        'hit-counter.local/node-addon=true',
        '-o',
        'json',
      ]),
    ) as { items: { status?: { availableReplicas?: number } }[] };
    return ds.items.length === 2 && ds.items.every((d) => (d.status?.availableReplicas ?? 0) >= 1);
  });
  return { name: REAL_NODE_NAME, ip: NODE_NETWORK.nodeIp, images: o.images };
}

function containerdConfig(
  p: { containerdRoot: string; containerdState: string; socket: string; cniConf: string },
  pause: string,
): string {
  // TOML by hand: a handful of keys, every value a path or a literal.
  const s = JSON.stringify;
  return `# containerd for the local cluster's real node: everything under the cluster's directory.
version = 2
root = ${s(p.containerdRoot)}
state = ${s(p.containerdState)}
# Snapshotters and plugins this node does not use.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${s(p.socket)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${s(join(p.containerdRoot, 'opt'))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${s(pause)}
  # This host withholds CAP_SYS_RESOURCE: containerd may only raise a container's OOM score.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${s(join(p.containerdState, 'runc'))}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${s(p.cniConf)}
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
`;
}

/**
 * The pod network: the bridge (already made, with the node IP as gateway), no masquerade and no
 * default route in the pods (only the Service range routes through the node), host-local IPAM.
 * No portmap: the chart uses no hostPort, and its chains are shared with podman's networks.
 */
function cniConfig(ipamDir: string, serviceCidr: string): object {
  const [net] = NODE_NETWORK.podCidr.split('/');
  const prefix = (net as string).split('.').slice(0, 3).join('.');
  return {
    cniVersion: '1.0.0',
    name: NODE_NETWORK.cniName,
    plugins: [
      {
        type: 'bridge',
        bridge: NODE_NETWORK.bridge,
        isGateway: true,
        isDefaultGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: ipamDir,
          ranges: [
            [
              {
                subnet: NODE_NETWORK.podCidr,
                rangeStart: `${prefix}.10`,
                rangeEnd: `${prefix}.250`,
                gateway: NODE_NETWORK.nodeIp,
              },
            ],
          ],
          routes: [{ dst: serviceCidr }],
        },
      },
    ],
  };
}

function kubeletConfig(
  p: { socket: string; podLogs: string },
  o: { healthzPort: number; port: number; clusterDns: string; caCert: string },
): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_NETWORK.nodeIp,
    port: o.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: o.healthzPort,
    // Only the API server (a client certificate of the cluster's CA) talks to kubelet; what it
    // may do is asked of the API server (SubjectAccessReview).
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: o.caCert },
    },
    authorization: { mode: 'Webhook' },
    // This host has cgroup v1 (kubelet 1.35+ refuses it), managed directly, under a root of its own.
    cgroupDriver: 'cgroupfs',
    cgroupRoot: NODE_CGROUP_ROOT,
    containerRuntimeEndpoint: `unix://${p.socket}`,
    failSwapOn: false,
    clusterDomain: 'cluster.local',
    clusterDNS: [o.clusterDns],
    // No host resolver in pods: names resolve in the cluster only.
    resolvConf: '',
    staticPodPath: '',
    podLogsDir: p.podLogs,
    // The images cannot be pulled again: never collect them, and keep evictions to real shortage.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    serializeImagePulls: false,
    maxPods: 60,
    // No KUBE-FIREWALL / canary chains: they guard the localhost NodePorts kube-proxy does not open
    // here (kube-proxy keeps its own copy of the rule, which node-host.ts removes after it).
    makeIPTablesUtilChains: false,
  };
}

/** The provisioner's release manifest, with the local images and the volumes in the cluster's dir. */
function localPathManifest(volumes: string, images: NodeImages): string {
  const file = join(toolsDir, 'local-path-storage.yaml');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${file} not found: run \`bash tools/build-go.sh local-path-provisioner\``);
  }
  const replace = (from: RegExp, to: string): void => {
    if (!from.test(text)) throw new Error(`${file} changed: no ${from} to replace`);
    text = text.replace(from, to);
  };
  replace(/image: rancher\/local-path-provisioner:\S+/, `image: ${images.localPath}`);
  replace(/image: busybox\b\S*/, `image: ${images.busybox}`);
  // One node: its volumes directory is the "shared filesystem" of local-path-provisioner, which
  // then provisions as soon as a claim is made (no node to wait for). So the class binds at once,
  // as minikube's does; a WaitForFirstConsumer class would leave the backup PVC Pending until the
  // first backup Job, and Argo CD counts a Pending PVC as Progressing.
  replace(/"nodePathMap":\[[^]*?\n {12}\]/, `"sharedFileSystemPath": ${JSON.stringify(volumes)}`);
  replace(/volumeBindingMode: WaitForFirstConsumer/, 'volumeBindingMode: Immediate');
  // The default StorageClass, as minikube's is; the Deployment carries the add-on label.
  replace(
    /(kind: StorageClass\nmetadata:\n {2}name: local-path\n)/,
    `$1  annotations:\n    storageclass.kubernetes.io/is-default-class: "true"\n`,
  );
  replace(
    /(kind: Deployment\nmetadata:\n {2}name: local-path-provisioner\n)/,
    `$1  labels:\n    hit-counter.local/node-addon: "true"\n`,
  );
  return text;
}
