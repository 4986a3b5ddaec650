// infra/eks/destroy.sh, with stand-ins for tofu, aws and kubectl that log their calls: the host
// name's alias record (dns.sh delete) and the Argo CD Applications go first, then every Ingress,
// LoadBalancer Service and volume claim, then it waits until AWS lists no load balancer, target
// group or controller security group in the VPC, and only then runs tofu destroy. What the real
// AWS and cluster do can only be seen on AWS.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { eksDir } from './terraform.ts';
import { withStubs } from './stubs.ts';

const run = promisify(execFile);

// One stand-in for the three programs: it logs "<name> <args>" and answers what the script asks.
// The VPC shows a load balancer for LB_POLLS more calls (a count kept in a file), then none.
const stub = `#!/usr/bin/env bash
name=\${0##*/}
echo "$name $*" >>"$CALLS"
case "$name $*" in
"tofu -chdir="*" output -raw cluster_name") echo hit-counter ;;
"tofu -chdir="*" output -raw region") echo eu-west-1 ;;
"tofu -chdir="*" output -raw vpc_id") echo vpc-0abc ;;
"tofu -chdir="*" output -raw argocd_namespace") echo argocd ;;
"tofu -chdir="*" output -raw domain_name") echo hits.example.com ;;
"tofu -chdir="*" output -raw hosted_zone_id") echo Z0123456789ABCDEFGHIJ ;;
"aws route53 list-resource-record-sets"*) echo '{"Name": "hits.example.com.", "Type": "A"}' ;;
"aws route53 change-resource-record-sets"*) echo /change/C0123 ;;
"aws elbv2 describe-load-balancers"*)
  n=$(cat "$STATE" 2>/dev/null || echo 0)
  if ((n < LB_POLLS)); then echo "$((n + 1))" >"$STATE"; echo k8s-hitcount-0123456789; fi ;;
"kubectl get services"*) printf 'hit-counter edge\\n' ;;
esac
exit 0
`;

async function destroy(env: Record<string, string>) {
  return withStubs('hit-counter-destroy-', stub, async ({ dir, bin, calls }) =>
    run('bash', [path.join(eksDir, 'destroy.sh'), '-auto-approve'], {
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        CALLS: calls,
        STATE: path.join(dir, 'lb-polls'),
        DESTROY_POLL: '0',
        ...env,
      },
    }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        output: e.stdout + e.stderr,
      }),
    ),
  );
}

t.test(
  'Applications, then load balancers and volumes, and tofu destroy only once AWS shows them gone',
  async (t) => {
    const { code, output, log } = await destroy({ LB_POLLS: '2' });
    t.equal(code, 0, output);
    const at = (re: RegExp) => log.findIndex((l) => re.test(l));
    const last = (re: RegExp) => log.findLastIndex((l) => re.test(l));
    const order = [
      at(/^aws route53 change-resource-record-sets --hosted-zone-id Z0123456789ABCDEFGHIJ .*"DELETE"/),
      at(/^aws route53 wait resource-record-sets-changed --id \/change\/C0123$/),
      at(/^kubectl -n argocd delete applicationsets\.argoproj\.io --all/),
      at(/^kubectl -n argocd delete applications\.argoproj\.io --all/),
      at(/^kubectl delete ingress --all-namespaces --all/),
      at(/^kubectl -n hit-counter delete service edge/),
      at(/^kubectl delete pvc --all-namespaces --all/),
      last(/^aws elbv2 describe-load-balancers/),
      at(/^aws elbv2 describe-target-groups/),
      at(/^aws ec2 describe-security-groups .*Name=vpc-id,Values=vpc-0abc/),
      at(/^kubectl get pv/),
      at(/^tofu -chdir=\S+ destroy -auto-approve$/),
    ];
    t.notOk(order.includes(-1), 'every step ran', { log });
    t.same(
      order,
      [...order].sort((a, b) => a - b),
      'in this order',
    );
    t.equal(
      log.filter((l) => l.startsWith('aws elbv2 describe-load-balancers')).length,
      3,
      'polled until none',
    );
    t.match(output, /waiting for the deletion of load balancers in vpc-0abc: 1 left/);
  },
);

t.test('no tofu destroy while a load balancer is left (the wait can fail)', async (t) => {
  const { code, output, log } = await destroy({ LB_POLLS: '1000', DESTROY_TIMEOUT: '0' });
  t.not(code, 0);
  t.match(output, /still there after 0s, load balancers in vpc-0abc: k8s-hitcount-0123456789/);
  t.notOk(
    log.some((l) => / destroy /.test(`${l} `)),
    'tofu destroy did not run',
  );
});
