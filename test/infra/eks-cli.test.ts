// tools/eks/cli.ts (npm run eks) with stand-ins for tofu, aws and kubectl that log their calls:
// url asks the cluster, through a kubeconfig of its own, for the Ingress's ALB and prints the app's
// https URL; down is
// infra/eks/destroy.sh with the same tofu; a wrong command gets the usage.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { repoRoot } from './terraform.ts';
import { withStubs } from './stubs.ts';

const run = promisify(execFile);
const stub = `#!/usr/bin/env bash
name=\${0##*/}
echo "$name $* KUBECONFIG=\${KUBECONFIG:-}" >>"$CALLS"
case "$name $*" in
*"output -raw cluster_name") echo hit-counter ;;
*"output -raw region") echo eu-west-1 ;;
*"output -raw argocd_namespace") echo argocd ;;
*"output -raw app_namespace") echo hit-counter ;;
*"output -raw vpc_id") echo vpc-0abc ;;
*"output -raw url") echo https://hits.example.com/ ;;
"aws eks update-kubeconfig"*) if [[ -n \${KUBECONFIG:-} ]]; then touch "$KUBECONFIG"; fi ;;
"kubectl -n hit-counter get ingress"*) printf k8s-hitcoun-hitcount-0123.eu-west-1.elb.amazonaws.com ;;
esac
`;

async function eks(args: string[]) {
  return withStubs('hit-counter-eks-cli-', stub, async ({ bin, calls }) =>
    run(process.execPath, [path.join(repoRoot, 'tools/eks/cli.ts'), ...args], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CALLS: calls, TOFU: path.join(bin, 'tofu') },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    ),
  );
}

t.test('url: the https URL, once the Ingress has its ALB (asked with a kubeconfig of its own)', async (t) => {
  const { code, stdout, stderr, log } = await eks(['url']);
  t.equal(code, 0, stderr);
  t.equal(stdout, 'https://hits.example.com/\n');
  const update = log.find((l) =>
    l.startsWith('aws eks update-kubeconfig --region eu-west-1 --name hit-counter'),
  );
  const kubeconfig = update?.split('KUBECONFIG=')[1] ?? '';
  t.not(kubeconfig, '', 'a kubeconfig of its own');
  t.not(kubeconfig, process.env.KUBECONFIG ?? '', 'not the user one');
  t.ok(
    log.some(
      (l) => l.startsWith('kubectl -n hit-counter get ingress') && l.endsWith(`KUBECONFIG=${kubeconfig}`),
    ),
  );
  t.notOk(existsSync(kubeconfig), 'and removed afterwards');
});

t.test('down: destroy.sh, its options passed on to tofu destroy', async (t) => {
  const { code, stderr, log } = await eks(['down', '-auto-approve']);
  t.equal(code, 0, stderr);
  t.match(log.at(-1) ?? '', /^tofu -chdir=\S+infra\/eks destroy -auto-approve /);
});

t.test('anything else: the usage, exit 2', async (t) => {
  const { code, stderr, log } = await eks(['deploy']);
  t.equal(code, 2);
  t.match(stderr, /usage: npm run eks -- up .* \| url \| down/);
  t.same(log, [''], 'nothing ran');
});
