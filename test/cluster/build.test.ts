// tools/build-go.sh: the wrapper modules pin what the script says, the Kubernetes wrapper maps every
// staging module of k8s.io/kubernetes to its published release, the built binaries report their
// pinned versions, a built component is never rebuilt, and a held lock makes a second build wait.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { requireBinary, waitFor } from '../../tools/lib/proc.ts';
import { repoRoot } from './fixture.ts';

const run = promisify(execFile);
const script = path.join(repoRoot, 'tools/build-go.sh');
const wrappers = path.join(repoRoot, 'tools/wrappers');
const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'hit-counter');

/** <component> → { module, version } from the script's pins. */
function pins(): Map<string, { module: string; version: string }> {
  const text = readFileSync(script, 'utf8');
  const k8s = /^K8S_VERSION=(\S+)/m.exec(text)?.[1] as string;
  const out = new Map<string, { module: string; version: string }>();
  for (const m of text.matchAll(/^ {2}"(\S+) (\S+)@(\S+) \d+ /gm)) {
    const [, name, module, version] = m as unknown as string[];
    out.set(name as string, {
      module: module as string,
      version: (version as string).replace('$K8S_VERSION', k8s),
    });
  }
  return out;
}

t.test('each wrapper module requires the version the script pins', async (t) => {
  const p = pins();
  t.same([...p.keys()].sort(), [
    'argocd',
    'coredns',
    'etcd',
    'kubernetes',
    'kwok',
    'local-path-provisioner',
    'opentofu',
    'prometheus-operator',
  ]);
  for (const [name, { module, version }] of p) {
    const { stdout } = await run('go', ['list', '-m', '-f', '{{.Version}}', module], {
      cwd: path.join(wrappers, name),
      env: { ...process.env, GOFLAGS: '-buildvcs=false', GOTOOLCHAIN: 'local' },
    });
    t.equal(stdout.trim(), version, `${name}: ${module} ${version}`);
  }
});

t.test(
  'the Kubernetes wrapper replaces exactly the staging modules, each with its published v0.x',
  async (t) => {
    const version = pins().get('kubernetes')!.version;
    const { stdout } = await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], {
      cwd: path.join(wrappers, 'kubernetes'),
    });
    const upstream = readFileSync((JSON.parse(stdout) as { GoMod: string }).GoMod, 'utf8');
    const staging = [...upstream.matchAll(/^\s*(k8s\.io\/\S+) => \.\/staging\//gm)].map((m) => m[1]).sort();
    t.equal(staging.length, 31);
    const ours = readFileSync(path.join(wrappers, 'kubernetes/go.mod'), 'utf8');
    const replaced = [...ours.matchAll(/^\s*(k8s\.io\/\S+) => (k8s\.io\/\S+) (\S+)$/gm)];
    t.same(replaced.map((m) => m[1]).sort(), staging);
    const published = version.replace(/^v1\./, 'v0.');
    t.ok(
      replaced.every((m) => m[1] === m[2] && m[3] === published),
      `every one => itself ${published}`,
    );
  },
);

t.test('the binaries report their pinned versions', async (t) => {
  const p = pins();
  const k8s = p.get('kubernetes')!.version;
  const version = async (bin: string, ...args: string[]): Promise<string> => {
    const { stdout, stderr } = await run(requireBinary(bin), args);
    return stdout + stderr;
  };
  t.match(await version('kube-apiserver', '--version'), `Kubernetes ${k8s}`);
  t.match(await version('kube-controller-manager', '--version'), `Kubernetes ${k8s}`);
  t.match(await version('kube-scheduler', '--version'), `Kubernetes ${k8s}`);
  t.match(await version('kubectl', 'version', '--client', '-o', 'json'), `"gitVersion": "${k8s}"`);
  t.match(await version('etcd', '--version'), `etcd Version: ${p.get('etcd')!.version.slice(1)}`);
  t.match(await version('kwok', '--version'), p.get('kwok')!.version);
  t.match(await version('argocd', 'version', '--client', '--short'), `argocd: ${p.get('argocd')!.version}+`);
  // One binary under four names: each acts as the part its name says.
  for (const part of [
    'argocd-repo-server',
    'argocd-application-controller',
    'argocd-applicationset-controller',
  ])
    t.equal(realpathSync(requireBinary(part)), realpathSync(requireBinary('argocd')), part);
  t.match(
    await version('prometheus-operator', '--version'),
    `prometheus-operator, version ${p.get('prometheus-operator')!.version.slice(1)}`,
  );
  t.match(await version('kubelet', '--version'), `Kubernetes ${k8s}`);
  t.match(await version('kube-proxy', '--version'), `Kubernetes ${k8s}`);
  t.match(await version('coredns', '-version'), `CoreDNS-${p.get('coredns')!.version.slice(1)}`);
  t.match(
    await version('local-path-provisioner', '--version'),
    `local-path-provisioner version ${p.get('local-path-provisioner')!.version}`,
  );
  t.match(await version('tofu', 'version'), `OpenTofu ${p.get('opentofu')!.version}\n`);
});

t.test('a built component is linked, not rebuilt', async (t) => {
  const { stdout, stderr } = await run('bash', [script, 'kwok']);
  t.equal(stdout + stderr, '', 'nothing built, nothing said');
});

t.test('a second build waits for the lock of the first', async (t) => {
  const lock = path.join(cache, '.kwok.lock');
  // Hold kwok's build lock as a running build would: flock runs cat, which holds it until its
  // stdin closes.
  const holder = spawn('flock', [lock, 'cat'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const holderExit = new Promise((resolve) => holder.once('exit', resolve));
  const started: { second?: ChildProcess } = {};
  t.teardown(async () => {
    holder.stdin.end();
    started.second?.kill('SIGKILL');
    await holderExit;
  });
  await waitFor(
    async () =>
      run('flock', ['-n', lock, 'true']).then(
        () => false,
        () => true,
      ),
    { what: 'the lock to be held' },
  );
  let out = '';
  const second = spawn('bash', [script, 'kwok'], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.second = second;
  const secondExit = new Promise((resolve) => second.once('exit', resolve));
  second.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('waiting for another build of kwok'), { what: 'the waiting message' });
  t.equal(second.exitCode, null, 'it waits while the lock is held');
  holder.stdin.end();
  t.equal(await secondExit, 0, 'and finishes once it is released');
});

t.test('an unknown component is refused with one line', async (t) => {
  const err = (await run('bash', [script, 'kubernets']).catch((e: unknown) => e)) as {
    code: number;
    stderr: string;
  };
  t.equal(err.code, 1);
  t.match(
    err.stderr,
    /^tools\/build-go\.sh: unknown component "kubernets" \(one of: kubernetes etcd kwok argocd prometheus-operator coredns local-path-provisioner opentofu\)\n$/,
  );
});
