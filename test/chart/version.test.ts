// Every chart change comes with a version bump, as `ct lint --check-version-increment` requires:
// a chart (each subchart on its own) whose files differ from the base commit must carry a higher
// version than at the base. The base is CHART_BASE_REF when set (CI sets the pull request's base or
// the push's previous commit), else the commit before HEAD. The umbrella's dependency list names
// each subchart's own version (helm reports "wrong version" otherwise).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { helm } from '../../tools/lib/helm.ts';
import { tempDir } from '../../tools/lib/proc.ts';
import { chartDir, repoRoot } from './chart.ts';

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).trim();

/** The chart directories under `root` (repo-relative): the umbrella and each unpacked subchart. */
function charts(root: string, dir: string): string[] {
  const sub = path.join(root, dir, 'charts');
  // A symlinked subchart (the common library, linked into each subchart) is checked where it lives.
  const nested = statSync(sub, { throwIfNoEntry: false })?.isDirectory()
    ? readdirSync(sub, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .flatMap((e) => charts(root, path.join(dir, 'charts', e.name)))
    : [];
  return [dir, ...nested];
}

/** A chart's files (path → content), its own only: nested subcharts are charts of their own. */
function filesAt(root: string, dir: string, ref: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const listed = ref
    ? git(root, 'ls-tree', '-r', '--name-only', ref, '--', dir).split('\n').filter(Boolean)
    : git(root, 'ls-files', '--cached', '--others', '--exclude-standard', '--', dir)
        .split('\n')
        .filter(Boolean);
  for (const file of listed) {
    if (path.relative(dir, file).startsWith(`charts${path.sep}`)) continue;
    if (ref) out.set(file, execFileSync('git', ['show', `${ref}:${file}`], { cwd: root, encoding: 'utf8' }));
    else if (statSync(path.join(root, file), { throwIfNoEntry: false })?.isFile())
      out.set(file, readFileSync(path.join(root, file), 'utf8'));
  }
  return out;
}

const newer = (a: string, b: string): boolean => {
  const [x, y] = [a, b].map((v) => v.split(/[.-]/).slice(0, 3).map(Number));
  for (let i = 0; i < 3; i++) if ((x![i] ?? 0) !== (y![i] ?? 0)) return (x![i] ?? 0) > (y![i] ?? 0);
  return false;
};

/** One line per chart that changed since `base` without a higher version. */
export function unbumped(root: string, top: string, base: string): string[] {
  const problems: string[] = [];
  for (const dir of charts(root, top)) {
    const before = filesAt(root, dir, base);
    if (before.size === 0) continue; // a new chart
    const now = filesAt(root, dir, undefined);
    const changed = [...new Set([...before.keys(), ...now.keys()])].filter(
      (f) => before.get(f) !== now.get(f),
    );
    if (changed.length === 0) continue;
    const version = (files: Map<string, string>) =>
      String((parse(files.get(path.join(dir, 'Chart.yaml')) ?? '') as { version?: string })?.version);
    const [was, is] = [version(before), version(now)];
    if (!newer(is, was))
      problems.push(
        `${dir} changed since ${base.slice(0, 12)} (${changed.slice(0, 3).join(', ')}${changed.length > 3 ? ', …' : ''}) but its version is still ${is}: raise version in ${dir}/Chart.yaml above ${was}`,
      );
  }
  return problems;
}

t.test('every chart that changed since the base carries a higher version', async (t) => {
  if (git(repoRoot, 'rev-parse', '--is-shallow-repository') === 'true')
    throw new Error('this clone is shallow: the version check needs the history (git fetch --unshallow)');
  const base = process.env.CHART_BASE_REF || git(repoRoot, 'rev-parse', 'HEAD~1');
  t.same(unbumped(repoRoot, path.relative(repoRoot, chartDir), base), [], `base ${base.slice(0, 12)}`);
});

t.test('the umbrella names each subchart at its own version', async (t) => {
  const list = await helm(['dependency', 'list', chartDir]);
  const rows = list.split('\n').slice(1).filter(Boolean);
  t.ok(rows.length >= 3, 'the three subcharts are listed');
  for (const row of rows) t.notMatch(row, /wrong version|missing/, row.trim());
});

t.test('the check fails for a change without a bump, and passes with one', async (t) => {
  const root = tempDir('hit-counter-version-');
  t.teardown(() => execFileSync('rm', ['-rf', root]));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  git(root, 'init', '-q');
  write('c/Chart.yaml', 'name: c\nversion: 1.2.3\n');
  write('c/templates/a.yaml', 'a: 1\n');
  write('c/charts/s/Chart.yaml', 'name: s\nversion: 0.1.0\n');
  git(root, 'add', '.');
  git(root, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'base');

  t.same(unbumped(root, 'c', 'HEAD'), [], 'nothing changed');
  write('c/charts/s/values.yaml', 'x: 1\n');
  t.match(
    unbumped(root, 'c', 'HEAD'),
    [/^c\/charts\/s changed .*values\.yaml.* still 0\.1\.0/],
    'a new file in a subchart',
  );
  t.equal(unbumped(root, 'c', 'HEAD').length, 1, 'the umbrella is not blamed for its subchart');
  write('c/charts/s/Chart.yaml', 'name: s\nversion: 0.1.1\n');
  t.same(unbumped(root, 'c', 'HEAD'), [], 'bumped');
  write('c/templates/a.yaml', 'a: 2\n');
  write('c/Chart.yaml', 'name: c\nversion: 1.2.2\n');
  t.match(
    unbumped(root, 'c', 'HEAD'),
    [/^c changed .* still 1\.2\.2: raise version .* above 1\.2\.3/],
    'a lower version',
  );
  write('c/Chart.yaml', 'name: c\nversion: 1.10.0\n');
  t.same(unbumped(root, 'c', 'HEAD'), [], '1.10.0 is above 1.2.3');
});
