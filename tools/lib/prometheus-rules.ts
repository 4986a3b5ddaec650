// A Prometheus rules file from rendered PrometheusRule objects: their spec.groups, as
// prometheus-operator hands them to Prometheus, keeping only the fields Prometheus reads.
import { stringify } from 'yaml';
import type { K8sObject } from './helm.ts';

const GROUP_FIELDS = ['name', 'interval', 'limit', 'rules'];
const RULE_FIELDS = ['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];

export interface RuleGroup {
  name: string;
  rules: { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string> }[];
}

/** The rule groups of every PrometheusRule in `objects` (group names must be unique, as Prometheus requires). */
export function ruleGroups(objects: K8sObject[]): RuleGroup[] {
  const rules = objects.filter((o) => o.kind === 'PrometheusRule');
  if (rules.length === 0) throw new Error('the rendered manifests contain no PrometheusRule');
  const groups = rules
    .flatMap((r) => (r.spec?.groups ?? []) as Record<string, unknown>[])
    .map((g) => ({
      ...pick(g, GROUP_FIELDS),
      rules: ((g.rules ?? []) as Record<string, unknown>[]).map((r) => pick(r, RULE_FIELDS)),
    })) as unknown as RuleGroup[];
  const names = groups.map((g) => g.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup)
    throw new Error(`two PrometheusRule groups are called ${dup}; Prometheus needs unique group names`);
  return groups;
}

/** The rules file text (YAML) Prometheus and promtool load. */
export function rulesFile(objects: K8sObject[]): string {
  return stringify({ groups: ruleGroups(objects) }, { lineWidth: 0 });
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}
