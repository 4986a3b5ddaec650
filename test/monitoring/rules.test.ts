// The chart's alert rules under promtool: the rules file is extracted from the rendered
// PrometheusRule (never copied), `promtool check rules` accepts it, and the unit tests in rules/
// pass against it: every alert fires when it should and stays silent when it should not. Breaking
// any one alert in a temp copy makes the tests fail, so they can fail.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { requireBinary, tempDir } from '../../tools/lib/proc.ts';
import { ruleGroups, type RuleGroup } from '../../tools/lib/prometheus-rules.ts';
import { renderMonitored } from '../../tools/stack/monitoring.ts';

const run = promisify(execFile);
const testsDir = join(import.meta.dirname, 'rules');
const RULES_FILE = 'hit-counter.rules.yaml';

interface ExpAlert {
  exp_labels?: Record<string, string>;
  exp_annotations?: Record<string, string>;
}
interface UnitTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: ExpAlert[] }[] }[];
}

type Alerting = RuleGroup['rules'][number] & { alert: string; annotations?: Record<string, string> };

async function promtool(cwd: string, ...args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(requireBinary('promtool'), args, { cwd, timeout: 60_000 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
  }
}

// Prometheus expands {{ $labels.x }} in annotations; the unit tests compare the expanded text.
function expand(text: string, labels: Record<string, string>): string {
  const out = text.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_, name: string) => labels[name] ?? '');
  if (out.includes('{{')) throw new Error(`annotation template not handled by this test: ${text}`);
  return out;
}

/** Writes the unit test files into `dir`, their exp_annotations filled in from `alerts`. */
function writeUnitTests(dir: string, alerts: Alerting[]): string[] {
  const files = readdirSync(testsDir).filter((f) => f.endsWith('.yaml'));
  for (const file of files) {
    const unit = parse(readFileSync(join(testsDir, file), 'utf8')) as UnitTests;
    for (const test of unit.tests)
      for (const art of test.alert_rule_test ?? []) {
        const rule = alerts.find((a) => a.alert === art.alertname);
        if (!rule)
          throw new Error(`${file} "${test.name}": the rendered rules have no alert ${art.alertname}`);
        for (const exp of art.exp_alerts) {
          const labels = { alertname: rule.alert, ...exp.exp_labels };
          exp.exp_annotations = Object.fromEntries(
            Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, expand(v, labels)]),
          );
        }
      }
    writeFileSync(join(dir, file), stringify(unit));
  }
  return files;
}

const groups = ruleGroups(await renderMonitored());
const alerts = groups.flatMap((g) => g.rules).filter((r): r is Alerting => typeof r.alert === 'string');

t.test('the rendered rules pass promtool check rules', async (t) => {
  const dir = tempDir('rules-', t);
  writeFileSync(join(dir, RULES_FILE), stringify({ groups }));
  const { ok, output } = await promtool(dir, 'check', 'rules', RULES_FILE);
  t.ok(ok, output);
  t.match(output, new RegExp(`SUCCESS: ${alerts.length} rules found`));
});

t.test('every alert has a case where it fires and one where it stays silent', async (t) => {
  const cases = readdirSync(testsDir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => (parse(readFileSync(join(testsDir, f), 'utf8')) as UnitTests).tests)
    .flatMap((test) => test.alert_rule_test ?? []);
  t.ok(alerts.length >= 7, 'the chart renders its alerts');
  for (const { alert } of alerts) {
    const mine = cases.filter((c) => c.alertname === alert);
    t.ok(
      mine.some((c) => c.exp_alerts.length > 0),
      `${alert} has a firing case`,
    );
    t.ok(
      mine.some((c) => c.exp_alerts.length === 0),
      `${alert} has a silent case`,
    );
  }
});

t.test('promtool test rules passes every unit test file against the rendered rules', async (t) => {
  const dir = tempDir('rules-', t);
  writeFileSync(join(dir, RULES_FILE), stringify({ groups }));
  const files = writeUnitTests(dir, alerts);
  t.ok(files.length >= 3, `unit test files found: ${files.join(', ')}`);
  const { ok, output } = await promtool(dir, 'test', 'rules', ...files);
  t.ok(ok, output);
  t.match(output, /SUCCESS/);
});

t.test('breaking any one alert makes the unit tests fail', async (t) => {
  // Each alert replaced by one that never fires, then by one that always fires: its firing case,
  // then its silent cases, must notice.
  const breaks = { 'never fires': 'vector(0) > 1', 'always fires': 'vector(1)' };
  for (const { alert } of alerts) {
    const runs = Object.entries(breaks).map(async ([how, expr]) => {
      const dir = tempDir('rules-broken-', t);
      const broken = groups.map((g) => ({
        ...g,
        rules: g.rules.map((r) => (r.alert === alert ? { ...r, expr } : r)),
      }));
      writeFileSync(join(dir, RULES_FILE), stringify({ groups: broken }));
      // Only the files with cases of this alert: the others would pass and only cost time.
      const files = writeUnitTests(dir, alerts).filter((f) =>
        readFileSync(join(dir, f), 'utf8').includes(`alertname: ${alert}\n`),
      );
      return { how, files, ...(await promtool(dir, 'test', 'rules', ...files)) };
    });
    for (const { how, files, ok, output } of await Promise.all(runs)) {
      t.ok(files.length > 0, `${alert} has unit tests`);
      t.notOk(ok, `${alert} made to ${how}: promtool test rules fails`);
      t.match(output, new RegExp(`alertname: ${alert}`), `${alert} made to ${how}: the failure names it`);
    }
  }
});
