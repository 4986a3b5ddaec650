// The schema validation can fail: unknown fields and wrong types are caught.
import t from 'tap';
import { stringify } from 'yaml';
import { validateManifests } from '../../tools/lib/k8s-validate.ts';
import { find, render } from './chart.ts';

t.test('an unknown field is rejected', async (t) => {
  const { objects } = await render();
  const d = structuredClone(find(objects, 'Deployment', 'hit-counter'));
  d.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
  const problems = await validateManifests(stringify(d));
  t.equal(problems.length, 1);
  t.match(problems[0], /Deployment\/hit-counter: .*imagePullPolicyy.*unknown field/);
});

t.test('a wrong type is rejected', async (t) => {
  const { objects } = await render();
  const s = structuredClone(find(objects, 'Service', 'hit-counter'));
  s.spec.ports[0].port = 'eight thousand';
  const problems = await validateManifests(stringify(s));
  t.match(problems[0], /Service\/hit-counter: .*port/);
});

t.test('CRD kinds are validated against their schemas', async (t) => {
  const { objects } = await render(['servicemonitor.enabled=true']);
  const sm = structuredClone(find(objects, 'ServiceMonitor', 'hit-counter'));
  sm.spec.endpoints[0].scrapeEvery = '30s';
  t.match((await validateManifests(stringify(sm)))[0], /ServiceMonitor\/hit-counter: .*scrapeEvery/);
  const rule = structuredClone(find(objects, 'PrometheusRule', 'hit-counter'));
  rule.spec.groups[0].rules[0].for = 5;
  t.equal((await validateManifests(stringify(rule))).length, 1);
});
