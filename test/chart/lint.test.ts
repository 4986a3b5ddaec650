// helm lint --strict (the umbrella, the common library and each subchart on its own; defaults and
// each environment), the values schemas refuse bad values, every value is commented, and the
// chart's shell scripts pass shellcheck.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { helm } from '../../tools/lib/helm.ts';
import { requireBinary } from '../../tools/lib/proc.ts';
import { chartDir, devAuthValues, render, repoRoot } from './chart.ts';

const run = promisify(execFile);
const subcharts = ['redis', 'nginx', 'servicemonitor'].map((c) => path.join(chartDir, 'charts', c));
const envFiles = readdirSync(path.join(repoRoot, 'environments')).map((e) =>
  path.join(repoRoot, 'environments', e, 'values.yaml'),
);

t.test('helm lint --strict with subcharts', async (t) => {
  // The development password source: without one the chart refuses to render (Redis auth).
  const out = await helm(['lint', '--strict', '--with-subcharts', chartDir, '--values', devAuthValues]);
  t.match(out, /5 chart\(s\) linted, 0 chart\(s\) failed/);
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
  // An environment line is commented on itself or by the comment lines right above it, which wrap
  // at 100 characters.
  for (const file of envFiles) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (const [i, line] of lines.entries()) {
      const where = `${path.relative(repoRoot, file)}:${i + 1}`;
      if (/^\s*#/.test(line)) t.ok(line.length <= 100, `${where} is a comment of at most 100 characters`);
      else if (line.trim())
        t.ok(
          line.includes('#') || /^\s*#/.test(lines[i - 1] ?? ''),
          `${where} has a comment: ${line.trim()}`,
        );
    }
  }
});

// The READMEs' values tables are generated and checked in docs.test.ts.
t.test('every chart has a values schema', async (t) => {
  for (const dir of [chartDir, ...subcharts])
    t.ok(JSON.parse(readFileSync(path.join(dir, 'values.schema.json'), 'utf8')).properties, `${dir} schema`);
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
