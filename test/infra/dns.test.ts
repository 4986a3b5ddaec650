// infra/eks/dns.sh, with stand-ins for tofu, aws and kubectl that log their calls: it waits for the
// Ingress whose host rule is domain_name to get its ALB, then upserts an alias record of
// domain_name to that ALB in hosted_zone_id and waits until Route 53 serves it; `delete` removes
// only that alias record. What Route 53 and the controller really do can only be seen on AWS.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { requireBinary } from '../../tools/lib/proc.ts';
import { eksDir } from './terraform.ts';
import { withStubs } from './stubs.ts';

const run = promisify(execFile);
const alb = 'k8s-hitcount-hitcount-0123456789.eu-west-1.elb.amazonaws.com';

// One stand-in for the three programs: it logs "<name> <args>" on one line (an argument's newlines
// as spaces) and answers what the script asks. The Ingress has no address for ALB_POLLS more calls
// (a count kept in a file), then the ALB's.
const stub = `#!/usr/bin/env bash
name=\${0##*/}
call="$name $*"
echo "\${call//$'\\n'/ }" >>"$CALLS"
case "$name $*" in
"tofu -chdir="*" output -raw domain_name") echo hits.example.com ;;
"tofu -chdir="*" output -raw hosted_zone_id") echo Z0123456789ABCDEFGHIJ ;;
"tofu -chdir="*" output -raw cluster_name") echo hit-counter ;;
"tofu -chdir="*" output -raw region") echo eu-west-1 ;;
"tofu -chdir="*" output -raw app_namespace") echo hit-counter ;;
"kubectl -n hit-counter get ingress"*)
  n=$(cat "$STATE" 2>/dev/null || echo 0)
  if ((n < ALB_POLLS)); then echo "$((n + 1))" >"$STATE"; else printf ${alb}; fi ;;
"aws elbv2 describe-load-balancers"*) echo Z32O12XQLNTSW2 ;;
"aws route53 change-resource-record-sets"*) echo /change/C0123 ;;
"aws route53 list-resource-record-sets"*) echo "$RECORD" ;;
esac
exit 0
`;

async function dns(args: string[], env: Record<string, string> = {}) {
  return withStubs('hit-counter-dns-', stub, async ({ dir, bin, calls }) =>
    run('bash', [path.join(eksDir, 'dns.sh'), ...args], {
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        CALLS: calls,
        STATE: path.join(dir, 'alb-polls'),
        DNS_POLL: '0',
        ALB_POLLS: '0',
        RECORD: 'null',
        ...env,
      },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, output: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        output: e.stdout + e.stderr,
      }),
    ),
  );
}

/** The change batches sent to Route 53, parsed. */
const changes = (log: string[]) =>
  log
    .map((l) =>
      /^aws route53 change-resource-record-sets --hosted-zone-id (\S+) --change-batch (\{.*\}) --query/.exec(
        l,
      ),
    )
    .filter((m) => m !== null)
    .map((m) => ({ zone: m[1], batch: JSON.parse(m[2] as string) as unknown }));

t.test('upsert: the alias record to the ALB of the Ingress for domain_name, once it has one', async (t) => {
  const { code, stdout, output, log } = await dns([], { ALB_POLLS: '2' });
  t.equal(code, 0, output);
  t.equal(stdout, 'https://hits.example.com/\n', 'prints the URL');
  const asks = log.filter((l) => l.startsWith('kubectl -n hit-counter get ingress'));
  t.equal(asks.length, 3, 'asked until the Ingress had an address');
  t.match(
    asks[0],
    '{.items[?(@.spec.rules[0].host=="hits.example.com")].status.loadBalancer.ingress[0].hostname}',
  );
  t.ok(
    log.some((l) =>
      l.startsWith(
        `aws elbv2 describe-load-balancers --region eu-west-1 --query LoadBalancers[?DNSName=='${alb}']`,
      ),
    ),
    "the ALB's own hosted zone",
  );
  t.same(changes(log), [
    {
      zone: 'Z0123456789ABCDEFGHIJ',
      batch: {
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: 'hits.example.com',
              Type: 'A',
              AliasTarget: { HostedZoneId: 'Z32O12XQLNTSW2', DNSName: alb, EvaluateTargetHealth: false },
            },
          },
        ],
      },
    },
  ]);
  t.equal(
    log.at(-1),
    'aws route53 wait resource-record-sets-changed --id /change/C0123',
    'then waits for it',
  );
  t.match(
    log.find((l) => l.startsWith('aws eks update-kubeconfig')) ?? '',
    /--region eu-west-1 --name hit-counter --kubeconfig \S/,
    'with a kubeconfig of its own',
  );
});

t.test('no record while the Ingress has no ALB (the wait can fail)', async (t) => {
  const { code, output, log } = await dns([], { ALB_POLLS: '1000', DNS_TIMEOUT: '0' });
  t.not(code, 0);
  t.match(output, /no Ingress for hits\.example\.com in hit-counter has an ALB after 0s/);
  t.same(changes(log), [], 'Route 53 untouched');
});

t.test('delete: exactly the alias record Route 53 lists, and nothing else', async (t) => {
  const record = {
    Name: 'hits.example.com.',
    Type: 'A',
    AliasTarget: { HostedZoneId: 'Z32O12XQLNTSW2', DNSName: `${alb}.`, EvaluateTargetHealth: false },
  };
  const { code, output, log } = await dns(['delete'], { RECORD: JSON.stringify(record, null, 4) });
  t.equal(code, 0, output);
  t.match(
    log.find((l) => l.startsWith('aws route53 list-resource-record-sets')) ?? '',
    "--hosted-zone-id Z0123456789ABCDEFGHIJ --start-record-name hits.example.com. --start-record-type A --max-items 1 --query ResourceRecordSets[?Name=='hits.example.com.' && Type=='A' && AliasTarget] | [0]",
  );
  t.same(changes(log), [
    { zone: 'Z0123456789ABCDEFGHIJ', batch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: record }] } },
  ]);
  t.notOk(
    log.some((l) => l.startsWith('kubectl')),
    'needs no cluster',
  );
});

t.test('delete without a record: nothing to do', async (t) => {
  const { code, output, log } = await dns(['delete']);
  t.equal(code, 0, output);
  t.match(output, /no alias record of hits\.example\.com in Z0123456789ABCDEFGHIJ: nothing to delete/);
  t.same(changes(log), []);
});

t.test("infra/eks's scripts pass shellcheck", async (t) => {
  const scripts = readdirSync(eksDir)
    .filter((f) => f.endsWith('.sh'))
    .map((f) => path.join(eksDir, f));
  t.ok(scripts.length >= 2, 'dns.sh and destroy.sh');
  const { stdout } = await run(requireBinary('shellcheck'), scripts).catch((e: { stdout: string }) => e);
  t.equal(stdout, '');
});
