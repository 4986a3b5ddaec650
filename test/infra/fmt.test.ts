// `tofu fmt -check -recursive infra`: every .tf and .tftest.hcl file under infra/ is formatted as
// OpenTofu formats it (the pinned tofu, built by tools/build-go.sh).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { infraCopy, infraDir, tofu } from './terraform.ts';

t.test('tofu fmt finds nothing to change under infra/', async (t) => {
  const { code, output } = await tofu(['fmt', '-check', '-recursive', '-diff', infraDir]);
  t.equal(code, 0, output);
});

t.test('tofu fmt -check fails on a misformatted file (the check can fail)', async (t) => {
  const copy = infraCopy();
  t.teardown(() => rmSync(copy.root, { recursive: true, force: true }));
  for (const file of ['variables.tf', 'tests/plan.tftest.hcl']) {
    const f = path.join(copy.eks, file);
    writeFileSync(f, readFileSync(f, 'utf8').replace(/\n {2}(\w+)( +)=/, '\n$1$2  ='));
  }
  const { code, output } = await tofu(['fmt', '-check', '-recursive', copy.infra]);
  t.not(code, 0);
  t.match(output, 'variables.tf');
  t.match(output, 'plan.tftest.hcl');
});
