// The EKS deployment of infra/eks from one entry point:
//
//   npm run eks -- up [tofu apply options]      init (backend from infra/eks/backend.hcl), apply,
//                                               wait until Argo CD has the app Healthy, print its URL
//   npm run eks -- url                          the app's URL (https://<domain_name>/)
//   npm run eks -- down [tofu destroy options]  infra/eks/destroy.sh (Applications and ALBs first)
//
// tofu is .tools/bin/tofu when built (bash tools/build-go.sh opentofu), else the one on PATH (or
// $TOFU); the aws CLI and kubectl come from PATH. kubectl uses a kubeconfig of its own, in a temp
// file, so the user's contexts are never changed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const usage = 'usage: npm run eks -- up [tofu apply options] | url | down [tofu destroy options]';
const root = path.resolve(import.meta.dirname, '../..');
const eksDir = path.join(root, 'infra/eks');
const pinnedTofu = path.join(process.env.HIT_COUNTER_TOOLS ?? path.join(root, '.tools'), 'bin/tofu');
const tofu = process.env.TOFU ?? (existsSync(pinnedTofu) ? pinnedTofu : 'tofu');

/** Runs a command; resolves with its stdout (inherit: the terminal gets everything). */
function sh(cmd: string, args: string[], opts: { inherit?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: opts.inherit ? 'inherit' : ['ignore', 'pipe', 'inherit'],
      env: opts.env ?? process.env,
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'ENOENT' ? `${cmd} not found: ${howToInstall(cmd)}` : err.message)),
    );
    child.on('exit', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} ${args[0]} exited with ${code}`)),
    );
  });
}

function howToInstall(cmd: string): string {
  if (cmd === tofu) return 'run `bash tools/build-go.sh opentofu`, or install OpenTofu 1.11 or later';
  if (cmd === 'aws') return 'install the AWS CLI v2';
  return `install ${cmd} (kubectl: bash tools/install.sh puts it in .tools/bin)`;
}

const output = (name: string) => sh(tofu, [`-chdir=${eksDir}`, 'output', '-raw', name]);

/** Runs fn with KUBECONFIG pointing at the cluster (a temp kubeconfig, removed afterwards). */
async function withCluster<T>(fn: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  const [cluster, region] = [await output('cluster_name'), await output('region')];
  const dir = mkdtempSync(path.join(tmpdir(), 'hit-counter-eks-'));
  const env = { ...process.env, KUBECONFIG: path.join(dir, 'kubeconfig') };
  try {
    await sh('aws', ['eks', 'update-kubeconfig', '--region', region, '--name', cluster], { env });
    return await fn(env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The app's URL (https://<domain_name>/), once Argo CD reports the app Healthy and its Ingress has
 * an ALB; with `pointDns`, infra/eks/dns.sh first points the name at that ALB.
 */
async function url(waitHealthy: boolean, pointDns = false): Promise<string> {
  const [argocd, ns] = [await output('argocd_namespace'), await output('app_namespace')];
  return withCluster(async (env) => {
    if (waitHealthy) {
      console.error('waiting for Argo CD to report hit-counter-eks Healthy ...');
      await sh(
        'kubectl',
        [
          '-n',
          argocd,
          'wait',
          'application/hit-counter-eks',
          '--for=jsonpath={.status.health.status}=Healthy',
          '--timeout=20m',
        ],
        { env },
      );
    }
    const host = await sh(
      'kubectl',
      ['-n', ns, 'get', 'ingress', '-o', 'jsonpath={.items[0].status.loadBalancer.ingress[0].hostname}'],
      { env },
    );
    if (!host) throw new Error(`the Ingress in ${ns} has no address yet (the ALB is being made); try again`);
    if (pointDns)
      await sh('bash', [path.join(eksDir, 'dns.sh')], { env: { ...env, TOFU: tofu }, inherit: true });
    return output('url');
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up': {
      const backend = path.join(eksDir, 'backend.hcl');
      if (!existsSync(backend))
        throw new Error(
          `no ${path.relative(root, backend)}: write the state bucket's settings there (infra/eks/README.md)`,
        );
      await sh(tofu, [`-chdir=${eksDir}`, 'init', '-input=false', `-backend-config=${backend}`], {
        inherit: true,
      });
      await sh(tofu, [`-chdir=${eksDir}`, 'apply', ...rest], { inherit: true });
      console.log(await url(true, true));
      return;
    }
    case 'url':
      console.log(await url(false));
      return;
    case 'down':
      await sh('bash', [path.join(eksDir, 'destroy.sh'), ...rest], {
        inherit: true,
        env: { ...process.env, TOFU: tofu },
      });
      return;
    default:
      console.error(usage);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`eks: ${err.message}`);
  process.exit(1);
});
