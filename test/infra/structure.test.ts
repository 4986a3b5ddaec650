// The structural rules of infra/ (terraform.ts): every variable and output described, every
// provider, module and chart version pinned exactly, the Argo CD bootstrap reading the
// AppProject and the eks Application from argocd/ instead of a copy, and the ALB's HTTPS
// certificate DNS-validated with its issued ARN in the eks Application's valuesObject. tofu validate
// and tofu test need the provider registry, so they run in .github/workflows/infra.yml only.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { eksDir, infraCopy, structuralProblems } from './terraform.ts';

t.test('infra/eks follows the rules', async (t) => {
  t.same(await structuralProblems(eksDir), []);
});

// Each change breaks one rule; the check must name it.
const breaks: [string, string, (text: string) => string, RegExp][] = [
  [
    'a variable without description',
    'variables.tf',
    (s) => s.replace(/ {2}description = "AWS region[^\n]*\n/, ''),
    /variable region has no description/,
  ],
  [
    'an output without description',
    'outputs.tf',
    (s) => s.replace(/ {2}description = "Name of the EKS cluster."\n/, ''),
    /output cluster_name has no description/,
  ],
  [
    'a provider range',
    'versions.tf',
    (s) => s.replace('version = "6.28.0"', 'version = ">= 6.28"'),
    /provider aws is not pinned/,
  ],
  [
    'a module range',
    'eks.tf',
    (s) => s.replace('version = "21.19.0"', 'version = "~> 21.0"'),
    /module eks is not pinned/,
  ],
  [
    'a module by URL',
    'network.tf',
    (s) => s.replace('"terraform-aws-modules/vpc/aws"', '"git::https://example.com/vpc.git?ref=v6.6.0"'),
    /module vpc: .* is not a registry source/,
  ],
  [
    'an unpinned chart',
    'argocd.tf',
    (s) => s.replace(/ {2}version {10}= "9\.3\.7"\n/, ''),
    /helm_release argocd: chart argo-cd is not pinned/,
  ],
  [
    "Argo CD's facts written out instead of read",
    'repository.tf',
    (s) =>
      s.replace(
        'yamldecode(file("${local.repo_root}/argocd/values.yaml"))',
        '{ repoURL = "https://github.com/hit-counter/hit-counter.git", argocdNamespace = "argocd" }',
      ),
    /does not read argocd\/values\.yaml[\s\S]*repository\.tf copies what argocd\/ says/,
  ],
  [
    'a certificate validated by email',
    'https.tf',
    (s) => s.replace('validation_method = "DNS"', 'validation_method = "EMAIL"'),
    /aws_acm_certificate app is not validated through DNS/,
  ],
  [
    'a validation that waits for no DNS record',
    'https.tf',
    (s) => s.replace(/ {2}validation_record_fqdns = \[[^\n]*\n/, ''),
    /aws_acm_certificate_validation app waits for no Route 53 record of app's validation/,
  ],
  [
    'the certificate handed to the Ingress before it is issued',
    'argocd.tf',
    (s) => s.replace('aws_acm_certificate_validation.app.certificate_arn', 'aws_acm_certificate.app.arn'),
    /certificate-arn"\] is not an issued certificate's/,
  ],
  [
    'a misspelt annotation (added beside the placeholder, not replacing it)',
    'argocd.tf',
    (s) =>
      s.replace(
        '"alb.ingress.kubernetes.io/certificate-arn"',
        '"alb.ingress.kubernetes.io/certificate-arns"',
      ),
    /is not an issued certificate's[\s\S]*annotation alb\.ingress\.kubernetes\.io\/certificate-arns is one the eks values do not set/,
  ],
  [
    "the ALB's addresses written out",
    'argocd.tf',
    (s) => s.replace('realIpFrom = module.vpc.public_subnets_cidr_blocks', 'realIpFrom = ["10.0.0.0/16"]'),
    /realIpFrom is not taken from the VPC/,
  ],
  [
    'cluster_values not handed to the chart',
    'argocd.tf',
    (s) => s.replace('values             = local.cluster_values', 'values             = {}'),
    /local\.cluster_values is not what the argocd\/ chart gets/,
  ],
];

for (const [what, file, change, problem] of breaks)
  t.test(`the check fails on ${what}`, async (t) => {
    const copy = infraCopy();
    t.teardown(() => rmSync(copy.root, { recursive: true, force: true }));
    const f = path.join(copy.eks, file);
    const before = readFileSync(f, 'utf8');
    writeFileSync(f, change(before));
    t.not(readFileSync(f, 'utf8'), before, `${file} changed`);
    t.match((await structuralProblems(copy.eks)).join('\n'), problem);
  });
