// The Artifact Hub annotations of the published chart: `artifacthub.io/images` lists exactly the
// images the chart's defaults and switches render (hooks included), and `artifacthub.io/changes`
// is well formed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import type { K8sObject } from '../../tools/lib/helm.ts';
import { chartDir, render } from './chart.ts';

const chart = parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as {
  annotations: Record<string, string>;
};

/** Every container image of every pod template in `objects`. */
function images(objects: K8sObject[]): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (['containers', 'initContainers'].includes(k) && Array.isArray(x))
          for (const c of x as { image: string }[]) out.push(c.image);
        else walk(x);
      }
    }
  };
  walk(objects);
  return out;
}

t.test('artifacthub.io/images is every image the defaults and each switch render', async (t) => {
  const listed = (
    parse(chart.annotations['artifacthub.io/images'] ?? '') as { name: string; image: string }[]
  ).map((i) => i.image);
  const renders = await Promise.all([
    render(),
    render(['redis.architecture=replication']),
    render(['redis.backup.s3.enabled=true', 'redis.backup.s3.uri=s3://bucket/prefix']),
    render(['servicemonitor.enabled=true']),
  ]);
  const rendered = [...new Set(renders.flatMap((r) => images(r.objects)))].sort();
  t.ok(rendered.length >= 5, `found the rendered images: ${rendered.join(', ')}`);
  t.same([...listed].sort(), rendered, 'the annotation lists exactly the rendered images');
  t.equal(new Set(listed).size, listed.length, 'no image listed twice');
});

t.test('artifacthub.io/changes: each entry a known kind with a description', async (t) => {
  const changes = parse(chart.annotations['artifacthub.io/changes'] ?? '') as {
    kind: string;
    description: string;
  }[];
  t.ok(Array.isArray(changes) && changes.length > 0, 'the release says what changed');
  for (const c of changes) {
    t.match(c.kind, /^(added|changed|deprecated|removed|fixed|security)$/);
    t.ok(c.description?.length > 10, c.description);
  }
});
