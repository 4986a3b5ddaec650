// Promotion CLI: the image tag each environment deploys lives in environments/<env>/values.yaml
// (`image.tag`); Argo CD deploys whatever that file says on the main branch. An environment with a
// `chartRevision` in argocd/values.yaml (eks) deploys the chart of that commit: promoting to it
// moves that too, to the commit the source environment runs.
//
//   npm run promote -- set <env> <tag>      deploy <tag> to <env> (and the checkout's chart)
//   npm run promote -- copy <from> <to>     deploy what <from> runs to <to>
//   npm run promote -- show                 every environment, its tag and its chart's revision
//   npm run promote -- diff <env> --tag <tag> | --from <from>
//                                           what that change does to <env>'s rendered manifests
//
// Only the tag's scalar (and the chartRevision's) changes; every other byte of the files, comments
// included, is kept. Running a command twice changes nothing the second time. `--root <dir>` works
// on another checkout. Bad input (usage, an unknown environment, an invalid tag) exits 2, any other
// failure 1.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isMap, isScalar, parseDocument, type Document, type Node, type Pair, type Scalar } from 'yaml';
import { chartPath, renderEnvironment } from './lib/environment.ts';

const usage = `usage: npm run promote -- set <env> <tag> | copy <from> <to> | show | diff <env> (--tag <tag> | --from <env>)  [--root <dir>]
tags: a release version X.Y.Z (optionally v-prefixed, optionally -prerelease) or sha-<7 to 40 hex digits>
an environment with a chartRevision (argocd/values.yaml) also gets the chart of the commit <from> runs
(its chartRevision, else its targetRevision when that is a commit, else the checkout's HEAD)`;

/** An error in what the user typed: exit code 2. */
function badInput(message: string): Error {
  return Object.assign(new Error(message), { exitCode: 2 });
}

const semverTag = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
const shaTag = /^sha-[0-9a-f]{7,40}$/;
const ociTag = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Why `tag` is not a tag this project deploys, or undefined when it is one. */
export function tagProblem(tag: string): string | undefined {
  if ((semverTag.test(tag) || shaTag.test(tag)) && ociTag.test(tag)) return undefined;
  return `invalid image tag "${tag}": expected X.Y.Z, vX.Y.Z, X.Y.Z-<prerelease> or sha-<7 to 40 lowercase hex digits>`;
}

const tagComment = 'the image tag deployed here; set by `npm run promote`';

/** `value` as YAML source in the style of `old` (plain, 'single' or "double" quoted). */
function scalarSource(value: string, old: Scalar | undefined): string {
  const plainSafe = parseDocument(`k: ${value}`).toJS()?.k === value && !/[#:]\s|\s#/.test(value);
  if (old?.type === 'QUOTE_SINGLE') return `'${value.replaceAll("'", "''")}'`;
  if (old?.type === 'PLAIN' && plainSafe) return value;
  return JSON.stringify(value);
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

function lineEnd(text: string, offset: number): number {
  const end = text.indexOf('\n', offset);
  return end === -1 ? text.length : end + 1;
}

/** Reads a string at `keyPath`, or undefined when absent or empty. */
export function getYamlString(doc: Document, keyPath: string[]): string | undefined {
  const value: unknown = doc.getIn(keyPath);
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

/**
 * Sets the string at `keyPath` (block mappings) in YAML source `text`, changing only that scalar's
 * bytes; a missing key is added on its own line (with `comment`) under its parent mapping.
 */
export function setYamlScalar(text: string, keyPath: string[], value: string, comment = tagComment): string {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`not valid YAML: ${doc.errors[0]!.message}`);
  const where = keyPath.join('.');

  // Walk down to the deepest existing mapping on the path.
  let map: Node | null = doc.contents;
  let depth = 0;
  let parentPair: Pair | undefined;
  for (; depth < keyPath.length; depth++) {
    if (!isMap(map)) break;
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === keyPath[depth]);
    if (!pair) break;
    if (depth === keyPath.length - 1) {
      const node = pair.value as Node | null;
      if (node !== null && !isScalar(node)) throw new Error(`${where} is not a scalar`);
      const scalar = node as Scalar | null;
      if (scalar?.range && scalar.range[1] > scalar.range[0]) {
        const [start, end] = scalar.range;
        return text.slice(0, start) + scalarSource(value, scalar) + text.slice(end);
      }
      // `key:` with no value: write the value right after the key's colon.
      const keyEnd = (pair.key as Scalar).range![1];
      const colon = text.indexOf(':', keyEnd) + 1;
      return text.slice(0, colon) + ' ' + scalarSource(value, undefined) + text.slice(colon);
    }
    parentPair = pair;
    map = pair.value as Node | null;
  }

  const missing = keyPath.slice(depth);
  if (map !== null && map !== doc.contents && (!isMap(map) || map.flow)) {
    throw new Error(`${keyPath.slice(0, depth).join('.')} is not a block mapping; set ${where} by hand`);
  }
  const lines = (indent: string) =>
    missing
      .map((k, i) => {
        const pad = indent + '  '.repeat(i);
        return i === missing.length - 1
          ? `${pad}${k}: ${scalarSource(value, undefined)}  # ${comment}\n`
          : `${pad}${k}:\n`;
      })
      .join('');

  if (depth === 0) {
    if (doc.contents !== null && !isMap(doc.contents)) throw new Error('the document is not a mapping');
    const body = text.length && !text.endsWith('\n') ? text + '\n' : text;
    return body + lines('');
  }
  // Insert right after the parent key's line, indented like the parent's first child.
  const keyStart = (parentPair!.key as Scalar).range![0];
  const parentIndent = keyStart - lineStart(text, keyStart);
  const first = isMap(map) ? (map.items[0]?.key as Scalar | undefined) : undefined;
  const indent = first?.range ? first.range[0] - lineStart(text, first.range[0]) : parentIndent + 2;
  const at = lineEnd(text, (parentPair!.key as Scalar).range![1]);
  const head = text.slice(0, at);
  return (head.endsWith('\n') ? head : head + '\n') + lines(' '.repeat(indent)) + text.slice(at);
}

export function environmentsDir(root: string): string {
  return path.join(root, 'environments');
}

async function environments(root: string): Promise<string[]> {
  const dir = environmentsDir(root);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => {
    throw new Error(`no environments folder at ${dir}`);
  });
  const names: string[] = [];
  for (const e of entries) {
    const ok = await stat(path.join(dir, e.name, 'values.yaml')).then(
      (s) => s.isFile(),
      () => false,
    );
    if (e.isDirectory() && ok) names.push(e.name);
  }
  return names.sort();
}

async function valuesFile(root: string, env: string): Promise<string> {
  const known = await environments(root);
  if (!known.includes(env)) {
    throw badInput(`unknown environment "${env}": expected one of ${known.join(', ') || '(none found)'}`);
  }
  return path.join(environmentsDir(root), env, 'values.yaml');
}

async function readTag(root: string, env: string): Promise<string | undefined> {
  const text = await readFile(await valuesFile(root, env), 'utf8');
  return getYamlString(parseDocument(text), ['image', 'tag']);
}

/** The tag `from` runs; an environment without one has nothing to give. */
async function tagOf(root: string, from: string): Promise<string> {
  const tag = await readTag(root, from);
  if (tag === undefined)
    throw new Error(`${from} sets no image.tag (it runs the chart's appVersion); nothing to copy`);
  return tag;
}

/** A file's text before and after an edit, not written yet. */
interface FileEdit {
  file: string;
  before: string;
  after: string;
}

/** `env`'s values file with image.tag set to `tag`, not written. */
async function editTag(root: string, env: string, tag: string): Promise<FileEdit & { old?: string }> {
  const problem = tagProblem(tag);
  if (problem) throw badInput(problem);
  const file = await valuesFile(root, env);
  const before = await readFile(file, 'utf8');
  const old = getYamlString(parseDocument(before), ['image', 'tag']);
  if (old === tag) return { file, old, before, after: before };
  const after = setYamlScalar(before, ['image', 'tag'], tag);
  if (getYamlString(parseDocument(after), ['image', 'tag']) !== tag) {
    throw new Error(`${file}: could not set image.tag (the file was left unchanged)`);
  }
  return { file, old, before, after };
}

/** argocd/values.yaml of the checkout: the environments' revisions. */
interface ArgoValues {
  file: string;
  text: string;
  doc: Document;
}

async function argoValues(root: string): Promise<ArgoValues | undefined> {
  const file = path.join(root, 'argocd', 'values.yaml');
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined; // a checkout without argocd/: tags only
    throw err;
  });
  return text === undefined ? undefined : { file, text, doc: parseDocument(text) };
}

/** The commit whose chart `env` deploys when argocd/values.yaml pins it, else undefined. */
function chartRevision(argo: ArgoValues | undefined, env: string): string | undefined {
  return argo && getYamlString(argo.doc, ['environments', env, 'chartRevision']);
}

const commitSha = /^[0-9a-f]{40}$/;
const short = (rev: string) => rev.slice(0, 12);

/** git in the checkout at `root`, away from any user or system git configuration. */
function git(root: string, args: string[]): Promise<string> {
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd: root, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args[0]} failed: ${(stderr || err.message).trim()}`));
      else resolve(stdout.trim());
    });
  });
}

/** `rev` as a commit of the checkout that holds the chart; fails saying what is missing. */
async function chartCommit(root: string, rev: string): Promise<string> {
  const commit = await git(root, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]).catch(() => '');
  if (!commit)
    throw new Error(`${rev} is not a commit of the checkout at ${root} (a shallow clone? fetch it)`);
  await git(root, ['cat-file', '-e', `${commit}:${chartPath}/Chart.yaml`]).catch(() => {
    throw new Error(`commit ${commit} has no ${chartPath}`);
  });
  return commit;
}

/**
 * The commit whose chart `from` runs: its chartRevision; else its targetRevision when that is a
 * commit; else the checkout's HEAD, which must then be the branch `from` follows (`branch`) where
 * the checkout knows that branch, so that no commit off it is promoted.
 */
async function chartOf(root: string, argo: ArgoValues, from: string | undefined): Promise<string> {
  const pinned = from && chartRevision(argo, from);
  if (pinned) return chartCommit(root, pinned);
  const branch = getYamlString(
    argo.doc,
    from ? ['environments', from, 'targetRevision'] : ['targetRevision'],
  );
  if (branch && commitSha.test(branch)) return chartCommit(root, branch);
  const head = await git(root, ['rev-parse', '--verify', 'HEAD^{commit}']).catch(() => {
    throw new Error(`${root} is not a git checkout: the chart is promoted from its HEAD`);
  });
  for (const ref of branch ? [`refs/heads/${branch}`, `refs/remotes/origin/${branch}`] : []) {
    const at = await git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => '');
    if (at && at !== head)
      throw new Error(
        `the checkout's HEAD (${short(head)}) is not ${ref} (${short(at)}): promote from a checkout of ${branch} (${from ? `what ${from} follows` : 'what the roots read'})`,
      );
  }
  return chartCommit(root, head);
}

/** A promotion of `env` to `tag` (and, if `env` pins its chart, to the chart `from` runs), not written. */
interface Promotion {
  env: string;
  tag: string;
  oldTag: string | undefined;
  /** the chartRevision before and after, when `env` has one */
  chart?: { old: string; new: string };
  edits: FileEdit[];
}

async function planPromotion(
  root: string,
  env: string,
  tag: string,
  from: string | undefined,
): Promise<Promotion> {
  const values = await editTag(root, env, tag);
  const promotion: Promotion = { env, tag, oldTag: values.old, edits: [values] };
  const argo = await argoValues(root);
  const old = chartRevision(argo, env);
  if (!argo || !old) return promotion;
  const rev = await chartOf(root, argo, from);
  promotion.chart = { old, new: rev };
  const keyPath = ['environments', env, 'chartRevision'];
  const after = old === rev ? argo.text : setYamlScalar(argo.text, keyPath, rev);
  if (getYamlString(parseDocument(after), keyPath) !== rev)
    throw new Error(`${argo.file}: could not set ${keyPath.join('.')} (the file was left unchanged)`);
  promotion.edits.push({ file: argo.file, before: argo.text, after });
  return promotion;
}

async function promote(root: string, env: string, tag: string, from: string | undefined): Promise<string> {
  const p = await planPromotion(root, env, tag, from);
  const changed = p.edits.filter((e) => e.after !== e.before);
  for (const e of changed) await writeFile(e.file, e.after);
  const tagPart =
    p.oldTag === tag
      ? `image.tag is already ${tag}`
      : `image.tag ${p.oldTag ?? '(chart appVersion)'} -> ${tag}`;
  const chartPart =
    p.chart &&
    (p.chart.old === p.chart.new
      ? `chartRevision is already ${short(p.chart.new)}`
      : `chartRevision ${short(p.chart.old)} -> ${short(p.chart.new)}`);
  return `${env}: ${[tagPart, chartPart].filter(Boolean).join(', ')}${changed.length ? '' : '; nothing changed'}`;
}

/**
 * A `helm template` stream as one file per object, keyed `<kind>/[<namespace>/]<name>.yaml`, each
 * holding the object's text as helm printed it.
 */
export function splitRendered(yamlText: string): Map<string, string> {
  const files = new Map<string, string>();
  // A document marker at the start of a line always ends a document, whatever precedes it.
  for (const chunk of yamlText.split(/^---[ \t]*$/m)) {
    const doc = parseDocument(chunk);
    if (doc.errors.length)
      throw new Error(`invalid YAML in the rendered manifests: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    if (o === null || o === undefined) continue;
    const { kind, metadata } = o;
    if (typeof kind !== 'string' || typeof metadata?.name !== 'string')
      throw new Error(`a rendered object has no kind or metadata.name:\n${chunk.trim().slice(0, 200)}`);
    const ns = typeof metadata.namespace === 'string' ? `${metadata.namespace}/` : '';
    const key = `${kind}/${ns}${metadata.name}.yaml`;
    if (files.has(key)) throw new Error(`two rendered objects are both ${key.slice(0, -'.yaml'.length)}`);
    files.set(key, `${chunk.replace(/^\n+/, '').replace(/\n*$/, '')}\n`);
  }
  return files;
}

async function writeTree(dir: string, files: Map<string, string>): Promise<void> {
  for (const [key, text] of files) {
    await mkdir(path.dirname(path.join(dir, key)), { recursive: true });
    await writeFile(path.join(dir, key), text);
  }
}

/** `git diff --no-index a b` run in `cwd`, away from any user or system git configuration. */
function gitDiff(cwd: string): Promise<string> {
  const args = [
    'diff',
    '--no-index',
    '--no-color',
    '--no-ext-diff',
    '--no-renames',
    '--no-prefix',
    '--',
    'a',
    'b',
  ];
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      // Exit 1 means the trees differ.
      if (!err || err.code === 1) resolve(stdout);
      else reject(new Error(`git diff failed: ${(stderr || err.message).trim()}`));
    });
  });
}

/** The chart at commit `rev` of the checkout, extracted under `dir`; resolves with its directory. */
async function chartAt(root: string, rev: string, dir: string): Promise<string> {
  const commit = await chartCommit(root, rev);
  await mkdir(dir, { recursive: true });
  const tar = path.join(dir, 'chart.tar');
  await git(root, ['archive', '--format=tar', `--output=${tar}`, commit, '--', chartPath]);
  await new Promise<void>((resolve, reject) =>
    execFile('tar', ['-xf', tar, '-C', dir], (err, _out, stderr) =>
      err ? reject(new Error(`tar failed: ${(stderr || err.message).trim()}`)) : resolve(),
    ),
  );
  return path.join(dir, chartPath);
}

/**
 * The unified diff of `env`'s rendered manifests when it is promoted to `tag` (and, when it pins its
 * chart, to the chart `from` runs): before, what it runs (its chart revision, its values file);
 * after, the promotion's chart and values.
 */
async function renderedDiff(
  root: string,
  env: string,
  tag: string,
  from: string | undefined,
): Promise<string> {
  const p = await planPromotion(root, env, tag, from);
  const work = await mkdtemp(path.join(tmpdir(), 'promote-diff-'));
  try {
    const edited = path.join(work, 'values.yaml');
    await writeFile(edited, p.edits[0]!.after);
    // One after the other: a failure leaves no extraction running while the directory is removed.
    const chartA = p.chart && (await chartAt(root, p.chart.old, path.join(work, 'chart-a')));
    const chartB = p.chart && (await chartAt(root, p.chart.new, path.join(work, 'chart-b')));
    const [a, b] = await Promise.all([
      renderEnvironment(env, { root, chartDir: chartA }),
      renderEnvironment(env, { root, chartDir: chartB, valuesFile: edited }),
    ]);
    await writeTree(path.join(work, 'a'), splitRendered(a));
    await writeTree(path.join(work, 'b'), splitRendered(b));
    const diff = await gitDiff(work);
    const chart = p.chart ? ` and the chart at ${short(p.chart.new)}` : '';
    // Drop only the final newline (console.log adds one): a context line may be a lone space.
    return diff ? diff.replace(/\n$/, '') : `${env}: no rendered change with image.tag ${tag}${chart}`;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Each environment, its tag and (with argocd/values.yaml) the revision of its chart. */
async function show(root: string): Promise<string> {
  const envs = await environments(root);
  const argo = await argoValues(root);
  const rows = await Promise.all(
    envs.map(async (e) => {
      const tag = (await readTag(root, e)) ?? '(chart appVersion)';
      const rev =
        chartRevision(argo, e) ?? (argo && getYamlString(argo.doc, ['environments', e, 'targetRevision']));
      return rev ? [e, tag, `chart ${rev}`] : [e, tag];
    }),
  );
  const width = (i: number) => Math.max(...rows.map((r) => (r.length > i + 1 ? r[i]!.length : 0)));
  return rows
    .map((r) => r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(width(i)) : cell)).join('  '))
    .join('\n');
}

async function main(argv: string[]): Promise<string> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      root: { type: 'string' },
      tag: { type: 'string' },
      from: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const root = path.resolve(values.root ?? path.join(import.meta.dirname, '..'));
  const [command, a, b, ...extra] = positionals;
  if (values.help) return usage;
  const { tag, from } = values;
  if (command === 'diff' && a && !b && (tag === undefined) !== (from === undefined)) {
    if (from !== undefined) await valuesFile(root, a);
    return renderedDiff(root, a, tag ?? (await tagOf(root, from!)), from);
  }
  if (tag !== undefined || from !== undefined) throw badInput(usage);
  if (command === 'show' && a === undefined) return show(root);
  if (command === 'set' && a && b && !extra.length) return promote(root, a, b, undefined);
  if (command === 'copy' && a && b && !extra.length) {
    await valuesFile(root, b);
    return promote(root, b, await tagOf(root, a), a);
  }
  throw badInput(usage);
}

if (import.meta.main) {
  try {
    console.log(await main(process.argv.slice(2)));
  } catch (err) {
    const e = err as Error & { exitCode?: number; code?: string };
    const parse = e.code?.startsWith('ERR_PARSE_ARGS_');
    console.error(`promote: ${parse ? `${e.message}\n${usage}` : e.message}`);
    process.exitCode = parse ? 2 : (e.exitCode ?? 1);
  }
}
