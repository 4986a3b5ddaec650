// Argo CD on the local cluster, for real: its repo-server, application controller and
// ApplicationSet controller (one pinned v3.2.11 build, tools/build-go.sh), their CRDs, ConfigMaps,
// Secret and RBAC from the same release's install manifest, Redis on loopback, and a git server
// (`git daemon`, loopback) whose repository hit-counter.git starts as a copy of a checkout's HEAD
// on `main`. argocd-server (UI, API, SSO) is not run: the Applications are applied with kubectl.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { requireBinary } from '../lib/proc.ts';
import { crdsEstablished, runCommand } from './api.ts';
import type { AddOnContext } from './cluster.ts';

export const ARGOCD_VERSION = 'v3.2.11';
export const ARGOCD_NAMESPACE = 'argocd';
/** The controllers act as their own ServiceAccounts, with the RBAC of Argo CD's install manifest. */
export const ARGOCD_IDENTITIES = ['argocd-application-controller', 'argocd-applicationset-controller'];

const toolsDir = process.env.HIT_COUNTER_TOOLS ?? resolve(import.meta.dirname, '../../.tools');

export interface ArgoCd {
  namespace: string;
  /** git://127.0.0.1:<port>/hit-counter.git — push here and Argo CD deploys it */
  repoUrl: string;
  /** the bare repository the git server serves (unset when another cluster's git server is used) */
  gitDir?: string;
}

/** What core-install.yaml holds besides the workloads: the config the parts read, and their RBAC. */
const CONFIG_KINDS = new Set([
  'ServiceAccount',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ConfigMap',
  'Secret',
]);

/**
 * Starts Argo CD, with a git server whose main is `seed`'s HEAD, or reading `repoUrl` (another
 * cluster's git server: two clusters, each with its own Argo CD, deploying from one repository).
 */
export async function startArgoCd(ctx: AddOnContext, o: { seed: string; repoUrl?: string }): Promise<ArgoCd> {
  const bins = {
    argocd: requireBinary('argocd'),
    git: requireBinary('git'),
    redis: requireBinary('redis-server'),
    helm: requireBinary('helm'),
  };
  const manifests = join(toolsDir, 'argocd-manifests');
  if (!existsSync(manifests)) throw new Error('Argo CD manifests not found: run `bash tools/install.sh`');
  const home = join(ctx.dir, 'argocd');
  for (const d of ['tmp', 'home', 'ssh', 'tls', 'gpg']) mkdirSync(join(home, d), { recursive: true });

  const server = o.repoUrl ? { repoUrl: o.repoUrl } : await startGitServer(ctx, bins.git, o.seed);

  ctx.log('starting Redis for Argo CD ...');
  const redisPort = await ctx.start(
    'argocd-redis',
    (port) => [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      home,
    ],
    { bin: bins.redis },
  );

  ctx.log(`applying Argo CD ${ARGOCD_VERSION}'s CRDs, config and RBAC ...`);
  const crds = ['application-crd.yaml', 'applicationset-crd.yaml', 'appproject-crd.yaml'];
  await ctx.kubectl(['apply', '--server-side', ...crds.flatMap((f) => ['-f', join(manifests, 'crds', f)])]);
  const install = parseAllDocuments(readFileSync(join(manifests, 'core-install.yaml'), 'utf8'))
    .map((d) => d.toJS() as { kind?: string; metadata?: { namespace?: string } } | null)
    .filter((d) => d?.kind && CONFIG_KINDS.has(d.kind));
  await ctx.kubectl(['apply', '--server-side', '-f', '-'], {
    input: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ARGOCD_NAMESPACE } },
      ...install.map((d) =>
        d!.kind!.startsWith('Cluster')
          ? d
          : { ...d, metadata: { ...d!.metadata, namespace: ARGOCD_NAMESPACE } },
      ),
    ]
      .map((d) => JSON.stringify(d))
      .join('\n'),
  });
  const crdNames = crds.map((f) => `${f.replace('-crd.yaml', 's')}.argoproj.io`);
  await ctx.until("Argo CD's CRDs Established", () => crdsEstablished(ctx.kubectl, crdNames));
  // The project every Application may use unless it names another; argocd-server creates it.
  await ctx.kubectl(['apply', '--server-side', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AppProject',
      metadata: { name: 'default', namespace: ARGOCD_NAMESPACE },
      spec: {
        sourceRepos: ['*'],
        destinations: [{ server: '*', namespace: '*' }],
        clusterResourceWhitelist: [{ group: '*', kind: '*' }],
      },
    }),
  });

  ctx.log('starting argocd-repo-server, argocd-application-controller, argocd-applicationset-controller ...');
  // Where Argo CD's images keep their state (/app/config/..., /tmp), inside the cluster's dir.
  // The repo-server's git askpass socket ignores TMPDIR (its default is /tmp/reposerver-ask-pass.sock,
  // left behind, and one path for every cluster's repo-server): ARGOCD_ASK_PASS_SOCK moves it, unless
  // the path would be too long for a Unix socket.
  const askPassSocket = join(home, 'tmp', 'reposerver-ask-pass.sock');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [dirname(bins.helm), dirname(bins.git), process.env.PATH].join(':'),
    HOME: join(home, 'home'),
    TMPDIR: join(home, 'tmp'),
    ...(Buffer.byteLength(askPassSocket) < 104 ? { ARGOCD_ASK_PASS_SOCK: askPassSocket } : {}),
    ARGOCD_GPG_ENABLED: 'false',
    GNUPGHOME: join(home, 'gpg'),
    ARGOCD_SSH_DATA_PATH: join(home, 'ssh'),
    ARGOCD_TLS_DATA_PATH: join(home, 'tls'),
    HELM_CACHE_HOME: join(home, 'helm', 'cache'),
    HELM_CONFIG_HOME: join(home, 'helm', 'config'),
    HELM_DATA_HOME: join(home, 'helm', 'data'),
    KUBECONFIG: '',
  };
  const redis = `127.0.0.1:${redisPort}`;
  const repoMetrics = await ctx.freePort();
  const repoPort = await ctx.start(
    'argocd-repo-server',
    (port) => [
      '--address=127.0.0.1',
      `--port=${port}`,
      '--metrics-address=127.0.0.1',
      `--metrics-port=${repoMetrics}`,
      `--redis=${redis}`,
      // Plain gRPC on loopback (in a cluster it is TLS between pods).
      '--disable-tls',
      '--logformat=text',
    ],
    { bin: join(dirname(bins.argocd), 'argocd-repo-server'), env },
  );
  const repoServer = `127.0.0.1:${repoPort}`;
  const kubeFlags = (identity: string) => [
    `--kubeconfig=${ctx.kubeconfigs[identity]}`,
    `--namespace=${ARGOCD_NAMESPACE}`,
  ];
  // The controller reaches "https://kubernetes.default.svc" through its kubeconfig, as if in a pod.
  const controllerEnv = {
    ...env,
    ARGOCD_FAKE_IN_CLUSTER: 'true',
    KUBECONFIG: ctx.kubeconfigs['argocd-application-controller'],
  };
  const controllerMetrics = await ctx.start(
    'argocd-application-controller',
    (port) => [
      ...kubeFlags('argocd-application-controller'),
      `--repo-server=${repoServer}`,
      '--repo-server-plaintext',
      `--redis=${redis}`,
      // Argo CD binds it on all interfaces (no flag for the address); nothing outside calls it.
      `--metrics-port=${port}`,
      '--logformat=text',
    ],
    { bin: join(dirname(bins.argocd), 'argocd-application-controller'), env: controllerEnv },
  );
  const appsetProbe = await ctx.freePort();
  const appsetWebhook = await ctx.freePort();
  const appsetEnv = { ...env, KUBECONFIG: ctx.kubeconfigs['argocd-applicationset-controller'] };
  const appsetMetrics = await ctx.start(
    'argocd-applicationset-controller',
    (port) => [
      ...kubeFlags('argocd-applicationset-controller'),
      `--argocd-repo-server=${repoServer}`,
      '--repo-server-plaintext',
      `--metrics-addr=127.0.0.1:${port}`,
      // It registers no probe checks, but binds the probe server anyway (on :8081 by default).
      `--probe-addr=127.0.0.1:${appsetProbe}`,
      `--webhook-addr=127.0.0.1:${appsetWebhook}`,
      '--logformat=text',
    ],
    { bin: join(dirname(bins.argocd), 'argocd-applicationset-controller'), env: appsetEnv },
  );

  const ok = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).ok;
  await Promise.all([
    ctx.until('argocd-repo-server /healthz', () => ok(`http://127.0.0.1:${repoMetrics}/healthz?full=true`)),
    ctx.until('argocd-application-controller /healthz', () =>
      ok(`http://127.0.0.1:${controllerMetrics}/healthz`),
    ),
    // Its manager serves metrics once started.
    ctx.until('argocd-applicationset-controller /metrics', () =>
      ok(`http://127.0.0.1:${appsetMetrics}/metrics`),
    ),
  ]);
  return { namespace: ARGOCD_NAMESPACE, ...server };
}

/** `git daemon` on loopback serving hit-counter.git, whose main starts as `seed`'s HEAD. */
async function startGitServer(
  ctx: AddOnContext,
  gitBin: string,
  seed: string,
): Promise<{ repoUrl: string; gitDir: string }> {
  ctx.log('starting the git server (git daemon) with the checkout as hit-counter.git ...');
  const git = (args: string[]) => runCommand(gitBin, args);
  const gitRoot = join(ctx.dir, 'git');
  const gitDir = join(gitRoot, 'hit-counter.git');
  await git(['init', '--quiet', '--bare', '--initial-branch=main', gitDir]);
  await git(['-C', seed, 'push', '--quiet', gitDir, 'HEAD:refs/heads/main']);
  const port = await ctx.start(
    'git-daemon',
    (port) => [
      'daemon',
      '--listen=127.0.0.1',
      `--port=${port}`,
      '--reuseaddr',
      `--base-path=${gitRoot}`,
      '--export-all',
      // Pushes over git:// without credentials: it listens on loopback only.
      '--enable=receive-pack',
      '--informative-errors',
      gitRoot,
    ],
    { bin: gitBin },
  );
  const repoUrl = `git://127.0.0.1:${port}/hit-counter.git`;
  await ctx.until('the git server', async () =>
    (await git(['ls-remote', repoUrl, 'refs/heads/main'])).stdout.includes('refs/heads/main'),
  );
  return { repoUrl, gitDir };
}
