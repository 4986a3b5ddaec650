// The structural rules of infra/ (terraform.ts): every variable and output described, every
// provider, module and chart version pinned exactly, and the Argo CD bootstrap reading the
// AppProject and the eks Application from argocd/ instead of a copy. tofu validate and tofu test
// need the provider registry, so they run in .github/workflows/infra.yml only.
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
