// helm lint --strict (umbrella and subcharts, defaults and each environment), the values schemas
// refuse bad values, every value is commented, the shared naming file is the same in every chart,
// and the chart's shell scripts pass shellcheck.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { helm } from '../../tools/lib/helm.ts';
import { requireBinary } from '../../tools/lib/proc.ts';
import { chartDir, render, repoRoot } from './chart.ts';

const run = promisify(execFile);
const subcharts = ['redis', 'nginx', 'servicemonitor'].map((c) => path.join(chartDir, 'charts', c));
const envFiles = readdirSync(path.join(repoRoot, 'environments')).map((e) =>
  path.join(repoRoot, 'environments', e, 'values.yaml'),
);

t.test('helm lint --strict with subcharts', async (t) => {
  const out = await helm(['lint', '--strict', '--with-subcharts', chartDir]);
  t.match(out, /4 chart\(s\) linted, 0 chart\(s\) failed/);
  for (const file of envFiles)
    t.match(await helm(['lint', '--strict', chartDir, '--values', file]), /0 chart\(s\) failed/);
});

t.test('the schemas refuse bad values with a reason', async (t) => {
  await t.rejects(render(['nginx.service.type=Public']), /nginx:[\s\S]*service\/type/);
  await t.rejects(render(['redis.config.appendfsync=sometimes']), /appendfsync/);
  await t.rejects(render(['replicaCount=-1']), /replicaCount/);
  await t.rejects(render(['redis.image.tag=latest']), /image\/tag/);
  await t.rejects(render(['nginx.config.upstreamServers={no-port}']), /upstreamServers/);
  await t.rejects(render(['servicemonitor.enabled=true', 'servicemonitor.unknownKey=1']), /unknownKey/);
});

t.test('every value and every environment line is commented', async (t) => {
  for (const dir of [chartDir, ...subcharts]) {
    const lines = readFileSync(path.join(dir, 'values.yaml'), 'utf8').split('\n');
    const commented = (i: number) => /#/.test(lines[i] ?? '') || /^\s*#/.test(lines[i - 1] ?? '');
    const indent = (line: string) => line.length - line.trimStart().length;
    lines.forEach((line, i) => {
      if (!/^\s*[\w./-]+:/.test(line) || commented(i)) return;
      // A scalar leaf of a commented map (e.g. cpu under a commented requests:) is covered by it.
      let parent = i - 1;
      while (
        parent >= 0 &&
        (indent(lines[parent] ?? '') >= indent(line) || /^\s*#/.test(lines[parent] ?? ''))
      )
        parent--;
      const leaf = /:\s*\S/.test(line);
      t.ok(
        leaf && parent >= 0 && commented(parent),
        `${path.basename(dir)}/values.yaml:${i + 1} is commented: ${line.trim()}`,
      );
    });
  }
  for (const file of envFiles) {
    for (const [i, line] of readFileSync(file, 'utf8').split('\n').entries())
      if (line.trim()) t.match(line, /#/, `${path.relative(repoRoot, file)}:${i + 1} has a comment`);
  }
});

t.test('every chart has a README and a values schema', async (t) => {
  for (const dir of [chartDir, ...subcharts]) {
    const readme = readFileSync(path.join(dir, 'README.md'), 'utf8');
    t.ok(JSON.parse(readFileSync(path.join(dir, 'values.schema.json'), 'utf8')).properties, `${dir} schema`);
    const top = Object.keys(
      JSON.parse(readFileSync(path.join(dir, 'values.schema.json'), 'utf8')).properties,
    );
    for (const key of top.filter((k) => k !== 'global' && k !== 'enabled'))
      t.match(readme, `\`${key}`, `${path.basename(dir)} README lists ${key}`);
  }
});

t.test('the shared naming file is identical in every chart', async (t) => {
  const main = readFileSync(path.join(chartDir, 'templates/_names.tpl'), 'utf8');
  for (const dir of subcharts)
    t.equal(readFileSync(path.join(dir, 'templates/_names.tpl'), 'utf8'), main, dir);
});

t.test('the chart scripts pass shellcheck', async (t) => {
  const shellcheck = requireBinary('shellcheck');
  const scripts = [
    path.join(chartDir, 'files/hit-check.sh'),
    path.join(chartDir, 'charts/redis/files/backup.sh'),
    path.join(chartDir, 'charts/redis/files/s3-upload.sh'),
    path.join(repoRoot, 'tools/crds.sh'),
  ];
  const { stdout } = await run(shellcheck, ['--shell=sh', ...scripts.slice(0, 3)]);
  t.equal(stdout, '');
  t.equal((await run(shellcheck, [scripts[3] as string])).stdout, '');
});
