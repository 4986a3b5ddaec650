// What the real node changes on this machine, and how each change is undone. Everything is
// recorded before it is made, so `undo()` removes exactly what the node created and nothing else:
// the bridge, its route and forwarding guard, kube-proxy's rules, the kernel tunables kubelet
// sets, the cgroup tree of the pods, the mounts and network namespaces under the cluster's
// directory, and the few fixed paths kubelet and containerd write outside it.
//
// All of it is synchronous, so the same undo also runs from a process 'exit' handler.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** The node's network: a bridge whose address is the node IP, and the pods' subnet behind it. */
export const NODE_NETWORK = {
  bridge: 'hc0',
  nodeIp: '10.244.0.1',
  podCidr: '10.244.0.0/24',
  /** the CNI network's name, which also names its result cache entries */
  cniName: 'hit-counter-node',
} as const;

/** The cgroup (in every hierarchy) under which kubelet puts the pods. */
export const NODE_CGROUP_ROOT = '/hit-counter-node';

/** Kernel tunables kubelet sets at start (its setupKernelTunables); put back by undo(). */
export const KUBELET_TUNABLES = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

/** Paths kubelet and containerd use outside any directory they are given. */
export const FIXED_PATHS = {
  /** kubelet's device plugin socket (a constant in its code) */
  devicePlugins: '/var/lib/kubelet',
  /** kubelet's symlinks to container logs (a constant in its code) */
  containerLogs: '/var/log/containers',
  /** containerd's shim sockets (/run/containerd/s, a constant in 1.6) */
  containerdRun: '/run/containerd',
  /** the CNI library's result cache; podman's networks use it too */
  cniCache: '/var/lib/cni',
};

const GUARD = ['FORWARD', '-i', NODE_NETWORK.bridge, '!', '-o', NODE_NETWORK.bridge, '-j', 'DROP'];
const GUARD_COMMENT = ['-m', 'comment', '--comment', 'hit-counter node: pod traffic stays on this machine'];

export interface NodeHost {
  /** Undoes every change made so far; returns what could not be undone (empty when clean). */
  undo(): string[];
  /** Records that kube-proxy ran, so undo() runs its own --cleanup. */
  kubeProxyRan(bin: string): void;
}

/** What was changed, written to the cluster's directory as it happens (undoNodeHost reads it). */
interface HostRecord {
  serviceCidr: string;
  tunables: Record<string, string>;
  existed: Record<keyof typeof FIXED_PATHS, boolean>;
  bridge?: boolean;
  route?: boolean;
  guard?: boolean;
  cgroups?: boolean;
  kubeProxy?: string;
  /** the KUBE-* iptables chains each table had before (another cluster's are left alone) */
  kubeChains: Record<string, string[]>;
}

export const IPTABLES_TABLES = ['filter', 'nat', 'mangle', 'raw'];

/** The KUBE-* chains of an iptables table. */
function kubeChains(table: string): string[] {
  return run('iptables', ['-w', '-t', table, '-S'])
    .split('\n')
    .filter((l) => l.startsWith('-N KUBE-'))
    .map((l) => l.slice(3));
}

/**
 * Removes the KUBE-* chains that were not there before, and every rule jumping to them: what
 * kube-proxy's --cleanup leaves (its copy of kubelet's KUBE-FIREWALL rule and the jumps to it).
 */
function removeNewKubeChains(before: Record<string, string[]>, problems: string[]): void {
  for (const table of IPTABLES_TABLES) {
    const added = kubeChains(table).filter((c) => !(before[table] ?? []).includes(c));
    if (!added.length) continue;
    for (const rule of run('iptables', ['-w', '-t', table, '-S']).split('\n')) {
      const jump = / -j (\S+)/.exec(rule)?.[1];
      if (!rule.startsWith('-A ') || !jump || !added.includes(jump)) continue;
      // Such a rule holds no quoted text (a comment would): it splits on spaces.
      if (rule.includes('"')) problems.push(`iptables -t ${table}: a rule to remove by hand: ${rule}`);
      else
        attempt(
          `iptables -t ${table} ${rule}`,
          () => run('iptables', ['-w', '-t', table, '-D', ...rule.slice(3).split(' ')]),
          problems,
        );
    }
    for (const chain of added)
      attempt(
        `iptables -t ${table} -F ${chain}`,
        () => run('iptables', ['-w', '-t', table, '-F', chain]),
        problems,
      );
    for (const chain of added)
      attempt(
        `iptables -t ${table} -X ${chain}`,
        () => run('iptables', ['-w', '-t', table, '-X', chain]),
        problems,
      );
  }
}

const recordFile = (dir: string): string => join(dir, 'node-host.json');

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function attempt(what: string, f: () => unknown, problems: string[]): void {
  try {
    f();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    problems.push(`${what}: ${(e.stderr || e.message).trim()}`);
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Mount points under a directory, deepest first (/proc/self/mountinfo escapes spaces as \\040). */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m): m is string => m !== undefined && m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * The cgroup hierarchies mounted here: the v1 ones (cpu, memory, pids, name=systemd …) and, on a
 * hybrid host, the v2 `unified` one, where runc makes each container's cgroup too.
 */
function cgroupHierarchies(): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((d) => join('/sys/fs/cgroup', d))
    .filter(
      (p) => existsSync(join(p, 'tasks')) || (p.endsWith('/unified') && existsSync(join(p, 'cgroup.procs'))),
    );
}

/** Every cgroup directory under the node's root in one hierarchy, deepest first. */
function cgroupTree(hierarchy: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) walk(join(p, e.name));
    out.push(p);
  };
  walk(join(hierarchy, NODE_CGROUP_ROOT));
  return out;
}

/**
 * Processes of the node that outlive its daemons: container processes and containerd's shims, and
 * the shims' sockets (containerd 1.6 names each /run/containerd/s/<sha256 of address/namespace/id>).
 */
function leftovers(dir: string): { pids: number[]; sockets: string[] } {
  const pids = new Set<number>();
  const sockets: string[] = [];
  for (const h of cgroupHierarchies())
    for (const cg of cgroupTree(h))
      for (const p of readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean))
        pids.add(Number(p));
  // A shim is started with -address <the cluster's containerd socket>: it is this node's.
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const flag = (f: string): string => argv[argv.indexOf(f) + 1] ?? '';
      if (argv[0]?.endsWith('containerd-shim-runc-v2') && flag('-address').startsWith(`${dir}/`)) {
        pids.add(Number(p));
        const id = createHash('sha256').update(`${flag('-address')}/${flag('-namespace')}/${flag('-id')}`);
        sockets.push(join(FIXED_PATHS.containerdRun, 's', id.digest('hex')));
      }
    } catch {
      // gone meanwhile
    }
  }
  pids.delete(process.pid);
  return { pids: [...pids], sockets };
}

/**
 * Makes the node's network and cgroup root, after checking no other real node runs here. Throws
 * one line naming the problem and the fix.
 */
export function prepareNodeHost(dir: string, serviceCidr: string): NodeHost {
  if (process.getuid?.() !== 0)
    throw new Error(
      'the real node needs root (containerd, kubelet, the pod network): run as root, or leave out --node real for kwok nodes',
    );
  const { bridge, nodeIp, podCidr } = NODE_NETWORK;
  let taken = true;
  try {
    run('ip', ['link', 'show', bridge]);
  } catch {
    taken = false;
  }
  if (taken)
    throw new Error(
      `a real node already runs on this machine (bridge ${bridge} exists): stop its cluster first (npm run cluster -- down)`,
    );

  const record: HostRecord = {
    serviceCidr,
    tunables: Object.fromEntries(
      KUBELET_TUNABLES.map((t) => [t, readFileSync(`/proc/sys/${t}`, 'utf8').trim()]),
    ),
    kubeChains: Object.fromEntries(IPTABLES_TABLES.map((t) => [t, kubeChains(t)])),
    existed: Object.fromEntries(
      Object.entries(FIXED_PATHS).map(([k, p]) => [k, existsSync(p)]),
    ) as HostRecord['existed'],
  };
  const save = (change: Partial<HostRecord>): void => {
    Object.assign(record, change);
    writeFileSync(recordFile(dir), JSON.stringify(record, null, 2));
  };
  save({});
  const host: NodeHost = { undo: () => undoNodeHost(dir), kubeProxyRan: (bin) => save({ kubeProxy: bin }) };
  try {
    // Recorded before it is made: undo tolerates a step that did not complete.
    save({ bridge: true });
    run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${nodeIp}/${podCidr.split('/')[1]}`, 'dev', bridge]);
    run('ip', ['link', 'set', bridge, 'up']);
    // Service addresses go to the bridge, never to the default route, whatever kube-proxy does.
    save({ route: true });
    run('ip', ['route', 'add', serviceCidr, 'dev', bridge]);
    // Nothing from the pods is forwarded anywhere but back onto the bridge.
    save({ guard: true });
    run('iptables', ['-w', '-I', 'FORWARD', '1', ...GUARD.slice(1), ...GUARD_COMMENT]);
    save({ cgroups: true });
    for (const h of cgroupHierarchies()) mkdirSync(join(h, NODE_CGROUP_ROOT), { recursive: true });
  } catch (err) {
    const left = host.undo();
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `preparing the node's network failed: ${(e.stderr || e.message).trim()}${left.length ? `; left behind: ${left.join('; ')}` : ''}`,
      { cause: err },
    );
  }
  return host;
}

/**
 * Undoes what prepareNodeHost recorded in dir, once every daemon of the node is stopped (also
 * after its launcher was killed). Returns what could not be undone; nothing when there is no record.
 */
export function undoNodeHost(dir: string): string[] {
  let record: HostRecord;
  try {
    record = JSON.parse(readFileSync(recordFile(dir), 'utf8')) as HostRecord;
  } catch {
    return [];
  }
  const problems: string[] = [];
  // 1. What outlived the daemons: container processes and the shims.
  const left = leftovers(dir);
  let { pids } = left;
  for (const p of pids) attempt(`kill ${p}`, () => process.kill(p, 'SIGKILL'), []);
  const deadline = Date.now() + 10_000;
  while ((pids = pids.filter((p) => existsSync(`/proc/${p}`))).length && Date.now() < deadline) sleepSync(50);
  if (pids.length) problems.push(`processes still running: ${pids.join(' ')}`);
  for (const sock of left.sockets) attempt(`removing ${sock}`, () => rmSync(sock, { force: true }), problems);
  // 2. Mounts under the cluster's directory: container root filesystems, the sandboxes' /dev/shm,
  //    the pods' network namespaces (their veth pairs go with them), kubelet's volume mounts.
  for (const m of mountsUnder(dir)) attempt(`umount ${m}`, () => run('umount', ['--lazy', m]), problems);
  // 3. kube-proxy's rules: its own clean-up mode knows every chain it made.
  if (record.kubeProxy)
    attempt('kube-proxy --cleanup', () => run(record.kubeProxy as string, ['--cleanup', '--v=0']), problems);
  removeNewKubeChains(record.kubeChains, problems);
  // 4. The network, in reverse order of creation.
  const { bridge } = NODE_NETWORK;
  if (record.guard)
    attempt(
      'removing the FORWARD guard',
      () => run('iptables', ['-w', '-D', ...GUARD, ...GUARD_COMMENT]),
      problems,
    );
  if (record.route)
    attempt(
      'removing the Service route',
      () => run('ip', ['route', 'delete', record.serviceCidr, 'dev', bridge]),
      problems,
    );
  if (record.bridge)
    attempt(`removing bridge ${bridge}`, () => run('ip', ['link', 'delete', bridge]), problems);
  // 5. Kernel tunables kubelet changed, the pods' cgroups, kubelet's and containerd's fixed paths.
  for (const [t, v] of Object.entries(record.tunables))
    attempt(
      `restoring ${t}`,
      () => readFileSync(`/proc/sys/${t}`, 'utf8').trim() === v || writeFileSync(`/proc/sys/${t}`, v),
      problems,
    );
  if (record.cgroups)
    for (const h of cgroupHierarchies())
      for (const cg of cgroupTree(h)) attempt(`rmdir ${cg}`, () => rmdirSync(cg), problems);
  removeFixedPaths(dir, record.existed, problems);
  if (!problems.length) rmSync(recordFile(dir), { force: true });
  return problems;
}

/** Removes what kubelet and containerd wrote at fixed paths: all of it if the path is theirs. */
function removeFixedPaths(
  dir: string,
  existed: Record<keyof typeof FIXED_PATHS, boolean>,
  problems: string[],
): void {
  for (const [key, path] of Object.entries(FIXED_PATHS) as [keyof typeof FIXED_PATHS, string][]) {
    if (!existsSync(path)) continue;
    if (!existed[key]) {
      attempt(`removing ${path}`, () => rmSync(path, { recursive: true, force: true }), problems);
      continue;
    }
    // The path was there before: take out only this node's entries.
    if (key === 'containerLogs')
      for (const f of readdirSync(path)) {
        const link = join(path, f);
        attempt(
          `removing ${link}`,
          () => readlinkSync(link).startsWith(`${dir}/`) && unlinkSync(link),
          problems,
        );
      }
    if (key === 'cniCache' && existsSync(join(path, 'results')))
      for (const f of readdirSync(join(path, 'results')))
        if (f.startsWith(`${NODE_NETWORK.cniName}-`))
          attempt(`removing ${f}`, () => unlinkSync(join(path, 'results', f)), problems);
    if (key === 'devicePlugins') {
      const sock = join(path, 'device-plugins', 'kubelet.sock');
      if (existsSync(sock) && statSync(sock).isSocket())
        attempt(`removing ${sock}`, () => unlinkSync(sock), problems);
    }
  }
}
