// The Helm 3 / Helm 4 agreement every chart test renders through (chart.ts) can fail: a chart
// whose output or failure depends on the Helm major is refused, naming what differs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir } from '../../tools/lib/proc.ts';
import { renderBoth } from './chart.ts';

const dir = tempDir('helm-versions-', t);

/** A one-template chart in its own directory. */
function chart(name: string, template: string): string {
  const chartDir = join(dir, name);
  mkdirSync(join(chartDir, 'templates'), { recursive: true });
  writeFileSync(join(chartDir, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: 0.1.0\n`);
  writeFileSync(join(chartDir, 'templates', 'cm.yaml'), template);
  return chartDir;
}
const render = (chartDir: string) => renderBoth({ chartDir, releaseName: 'r', namespace: 'n' });
const configMap = (data: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  helm: ${data}\n`;

t.test('the same objects from both: resolves with them', async (t) => {
  const r = await render(chart('same', configMap('"any"')));
  t.same(
    r.objects.map((o) => `${o.kind}/${o.metadata.name}`),
    ['ConfigMap/cm'],
  );
});

t.test('objects that differ between the majors are refused, naming the first', async (t) => {
  await t.rejects(
    render(chart('differs', configMap('{{ .Capabilities.HelmVersion.Version | quote }}'))),
    /Helm 3 and Helm 4 render differently, first at ConfigMap\/cm/,
  );
});

t.test('a failure in one major only is refused, with its words', async (t) => {
  const onlyIn4 = `{{- if hasPrefix "v4." .Capabilities.HelmVersion.Version }}{{ fail "not on Helm 4" }}{{ end }}\n${configMap('"x"')}`;
  await t.rejects(
    render(chart('fails4', onlyIn4)),
    /Helm 3 and Helm 4 disagree: Helm 4 fails \(.*not on Helm 4/,
  );
  const onlyIn3 = onlyIn4.replace('"v4."', '"v3."').replace('not on Helm 4', 'not on Helm 3');
  await t.rejects(
    render(chart('fails3', onlyIn3)),
    /Helm 3 and Helm 4 disagree: Helm 3 fails \([\s\S]*not on Helm 3[\s\S]*\), Helm 4 renders$/,
  );
});

t.test('the same failure from both is passed on as it is', async (t) => {
  const e = await render(chart('both', `{{ fail "never" }}\n`)).then(
    () => new Error('rendered'),
    (err: Error) => err,
  );
  t.match(e.message, /never/, "helm's own words");
  t.notMatch(e.message, /disagree/, 'not taken for a disagreement');
});
