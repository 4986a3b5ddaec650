// checkov's Terraform checks pass on infra/ with the skips of infra/.checkov.yaml, each of which
// has its reason written above it and is still needed (checkov fails without it).
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse } from 'yaml';
import { requireBinary } from '../../tools/lib/proc.ts';
import { infraCopy, infraDir } from './terraform.ts';

const run = promisify(execFile);
const config = path.join(infraDir, '.checkov.yaml');

interface Report {
  summary: { passed: number; failed: number; parsing_errors: number };
  results: { failed_checks: { check_id: string; resource: string; file_path: string }[] };
}

/** checkov on dir (it exits 1 when a check fails, so the report is read either way). */
async function checkov(dir: string, extra: string[] = []): Promise<Report> {
  const bin = requireBinary('checkov');
  const args = ['-d', dir, '--config-file', config, '-o', 'json', '--quiet', '--skip-download', ...extra];
  const { stdout } = await run(bin, args, { maxBuffer: 64 << 20 }).catch(
    (err: { code?: number; stdout?: string; stderr?: string }) => {
      if (err.code !== 1 || !err.stdout) throw new Error(`checkov failed: ${err.stderr ?? String(err)}`);
      return { stdout: err.stdout };
    },
  );
  const parsed = JSON.parse(stdout) as Report | Report[];
  const report = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!report || !('results' in report)) throw new Error(`checkov found no Terraform to check in ${dir}`);
  return report;
}

const failed = (r: Report) =>
  r.results.failed_checks.map((f) => `${f.file_path}: ${f.check_id} ${f.resource}`);

t.test('checkov passes on infra/', async (t) => {
  const report = await checkov(infraDir);
  t.same(failed(report), [], 'no failed check');
  t.equal(report.summary.parsing_errors, 0, 'every file parsed');
  t.ok(report.summary.passed >= 20, `checks really ran (${report.summary.passed} passed)`);
});

t.test('every skip has its reason above it and is still needed', async (t) => {
  const text = readFileSync(config, 'utf8');
  const skips = (parse(text) as { 'skip-check': string[] })['skip-check'];
  const lines = text.split('\n');
  for (const id of skips) {
    const i = lines.findIndex((l) => l.trim() === `- ${id}`);
    t.match(lines[i - 1] ?? '', /^\s*#\s*\S/, `${id} has a reason`);
  }
  // --skip-check on the command line replaces the file's list: nothing skipped but a dummy.
  const unskipped = await checkov(infraDir, ['--skip-check', 'CKV_NONE_0']);
  const ids = new Set(unskipped.results.failed_checks.map((f) => f.check_id));
  for (const id of skips) t.ok(ids.has(id), `${id} fails without its skip`);
});

t.test('checkov catches an exposed backup bucket (the check can fail)', async (t) => {
  const copy = infraCopy();
  t.teardown(() => rmSync(copy.root, { recursive: true, force: true }));
  const file = path.join(copy.eks, 'backup.tf');
  const text = readFileSync(file, 'utf8');
  const without = (s: string, resource: string) =>
    s.replace(new RegExp(`resource "${resource}" "backups" \\{[\\s\\S]*?\\n\\}\\n`), '');
  writeFileSync(
    file,
    [
      'aws_s3_bucket_public_access_block',
      'aws_s3_bucket_versioning',
      'aws_s3_bucket_server_side_encryption_configuration',
    ].reduce(without, text),
  );
  const ids = new Set((await checkov(copy.infra)).results.failed_checks.map((f) => f.check_id));
  for (const [id, what] of [
    ['CKV2_AWS_6', 'public access block'],
    ['CKV_AWS_21', 'versioning'],
    ['CKV_AWS_145', 'KMS encryption'],
  ])
    t.ok(ids.has(id as string), `${id} (${what}) fails`);
});
