// Shared by the infra tests: where the OpenTofu code is, the pinned tofu, and the structural rules
// every root module under infra/ follows, as a function that lists what breaks them.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { requireBinary, tempDir } from '../../tools/lib/proc.ts';

const run = promisify(execFile);

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const infraDir = path.join(repoRoot, 'infra');
export const eksDir = path.join(infraDir, 'eks');
const toolsDir = process.env.HIT_COUNTER_TOOLS ?? path.join(repoRoot, '.tools');

/** The pinned tofu (tools/build-go.sh builds it from the Go module proxy). */
export function tofuBinary(): string {
  const bin = path.join(toolsDir, 'bin', 'tofu');
  if (!existsSync(bin))
    throw new Error(
      'tofu not found in .tools/bin: run `bash tools/build-go.sh opentofu` (or `bash tools/install.sh`)',
    );
  return bin;
}

/** Runs tofu; resolves with its exit code and output (a non-zero exit is a result, not an error). */
export async function tofu(args: string[], cwd = repoRoot): Promise<{ code: number; output: string }> {
  // No CLI configuration file: fmt needs none, and a missing one only adds a warning.
  const env = { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null' };
  try {
    const { stdout, stderr } = await run(tofuBinary(), args, { cwd, env });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** A copy of infra/ in a temp repository whose argocd/ and environments/ are this checkout's. */
export function infraCopy(): { root: string; infra: string; eks: string } {
  const root = tempDir('hit-counter-infra-');
  cpSync(infraDir, path.join(root, 'infra'), { recursive: true });
  for (const dir of ['argocd', 'environments', 'charts'])
    symlinkSync(path.join(repoRoot, dir), path.join(root, dir));
  return { root, infra: path.join(root, 'infra'), eks: path.join(root, 'infra', 'eks') };
}

// ---- the structural rules ---------------------------------------------------------------------

/** A block body as python-hcl2 gives it: each attribute a one-element list, nested blocks lists. */
type Body = Record<string, unknown[]>;
/** One .tf file: each top-level block kind, a list of {label: body} (resources: {type: {name: body}}). */
type Parsed = Record<string, Record<string, unknown>[]>;

/**
 * Every .tf file of a module directory as python-hcl2 reads it (checkov's own HCL parser, in its
 * virtualenv: the parse checkov's Terraform checks run on).
 */
async function parseModule(dir: string): Promise<Parsed[]> {
  const checkov = realpathSync(requireBinary('checkov'));
  const python = path.join(path.dirname(checkov), 'python3');
  if (!existsSync(python)) throw new Error(`no python3 beside ${checkov}: run \`bash tools/install.sh\``);
  const script = [
    'import hcl2, json, sys, pathlib',
    'files = sorted(pathlib.Path(sys.argv[1]).glob("*.tf"))',
    'print(json.dumps([hcl2.load(open(f)) for f in files]))',
  ].join('\n');
  const { stdout } = await run(python, ['-c', script, dir], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as Parsed[];
}

/** The entries of an object without python-hcl2's __start_line__ / __end_line__. */
function entries<T>(o: Record<string, unknown>): [string, T][] {
  return Object.entries(o).filter(([k]) => !k.startsWith('__')) as [string, T][];
}

/** The labelled blocks of one kind (variable, output, module): [label, body]. */
function labelled(files: Parsed[], kind: string): [string, Body][] {
  return files.flatMap((f) => (f[kind] ?? []).flatMap((b) => entries<Body>(b)));
}

/** The resources of one type: [name, body]. */
function resources(files: Parsed[], type: string): [string, Body][] {
  return files.flatMap((f) =>
    (f.resource ?? [])
      .flatMap((b) => entries<Record<string, unknown>>(b))
      .filter(([t]) => t === type)
      .flatMap(([, named]) => entries<Body>(named)),
  );
}

const exactVersion = /^\d+\.\d+\.\d+$/;
// The short registry form names no host: <namespace>/<name>/<provider>.
const registrySource = /^[a-z0-9-]+\/[a-z0-9-]+\/[a-z0-9-]+$/;
const pinned = (v: unknown) => typeof v === 'string' && exactVersion.test(v);

/** The files of argocd/ the module must read with file(), not copy. */
export const argocdFiles = ['argocd/values.yaml'];

/** The annotation of the ALB's HTTPS certificate, which the eks values hold a placeholder of. */
export const certificateAnnotation = 'alb.ingress.kubernetes.io/certificate-arn';

/**
 * What breaks the rules in a root module (dir = <repo>/infra/<module>); [] when nothing does:
 * every variable and output described, every provider, module and chart version pinned exactly,
 * the Argo CD objects read from argocd/ (never copied), and HTTPS with an issued certificate
 * (httpsProblems).
 */
export async function structuralProblems(dir: string): Promise<string[]> {
  const files = await parseModule(dir);
  const problems: string[] = [];

  for (const kind of ['variable', 'output'])
    for (const [name, body] of labelled(files, kind)) {
      const d = body.description?.[0];
      if (typeof d !== 'string' || d.trim() === '') problems.push(`${kind} ${name} has no description`);
    }

  const terraform = files.flatMap((f) => (f.terraform ?? []) as Body[]);
  if (!terraform.some((t) => typeof t.required_version?.[0] === 'string'))
    problems.push('terraform has no required_version');
  const providers = terraform.flatMap((t) =>
    (t.required_providers ?? []).flatMap((p) =>
      entries<{ version?: unknown }[]>(p as Record<string, unknown>),
    ),
  );
  if (providers.length === 0) problems.push('terraform has no required_providers');
  for (const [name, [spec]] of providers)
    if (!pinned(spec?.version)) problems.push(`provider ${name} is not pinned to an exact version`);

  for (const [name, body] of labelled(files, 'module')) {
    const source = String(body.source?.[0]);
    if (source.startsWith('./')) continue;
    if (!registrySource.test(source)) problems.push(`module ${name}: ${source} is not a registry source`);
    if (!pinned(body.version?.[0])) problems.push(`module ${name} is not pinned to an exact version`);
  }

  for (const [name, body] of resources(files, 'helm_release')) {
    const chart = String(body.chart?.[0]);
    if (body.repository) {
      if (!pinned(body.version?.[0])) problems.push(`helm_release ${name}: chart ${chart} is not pinned`);
    } else if (!chart.startsWith('${path.module}/') || !existsSync(path.join(dir, chart.slice(15))))
      problems.push(`helm_release ${name}: a chart without a repository must be a chart in the module`);
  }

  // The Argo CD objects: each file of argocd/ read by file() (its path resolved as tofu would), and
  // nothing of theirs written out in the module (their apiVersion or repoURL would be a copy).
  const locals = localValues(files);
  const resolve = (p: string) =>
    path.resolve(
      p.replaceAll('${local.repo_root}', String(locals.repo_root)).replaceAll('${path.module}', dir),
    );
  const sources = listFiles(dir).filter((f) => f.endsWith('.tf'));
  const read = sources.flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(/\bfile\("([^"]+)"\)/g)].map((m) => resolve(m[1] as string)),
  );
  const root = path.resolve(dir, '../..');
  for (const f of argocdFiles)
    if (!read.includes(path.join(root, f))) problems.push(`the Argo CD bootstrap does not read ${f}`);
  const copied = /argoproj\.io\/v1alpha1|https:\/\/github\.com\/hit-counter\//;
  for (const file of listFiles(dir))
    if (copied.test(readFileSync(file, 'utf8')))
      problems.push(
        `${path.relative(dir, file)} copies what argocd/ says (an Argo CD apiVersion or repoURL)`,
      );
  return [...problems, ...httpsProblems(files, locals, root)];
}

/** The module's locals by name (python-hcl2 gives each as a one-element list). */
function localValues(files: Parsed[]): Record<string, unknown> {
  const locals: Record<string, unknown> = {};
  for (const f of files)
    for (const l of f.locals ?? []) for (const [k, v] of entries<unknown[]>(l)) locals[k] = v[0];
  return locals;
}

/**
 * The ALB's HTTPS: each ACM certificate validated through DNS, an aws_acm_certificate_validation
 * of it waiting for a Route 53 record made from its validation options, and the eks Application's
 * valuesObject (local.cluster_values, handed to argocd/ as cluster.values) naming the validated
 * certificate in the annotation the eks values hold a placeholder of, plus the ALB's addresses
 * (nginx.ingress.realIpFrom) from the VPC.
 */
function httpsProblems(files: Parsed[], locals: Record<string, unknown>, root: string): string[] {
  const problems: string[] = [];
  // An expression's text, each local it names expanded (a record may take the options via one).
  const text = (v: unknown, depth = 0): string =>
    JSON.stringify(v ?? null).replace(/\blocal\.(\w+)/g, (m, name: string) =>
      depth < 5 && name in locals ? text(locals[name], depth + 1) : m,
    );
  const records = resources(files, 'aws_route53_record');
  const validations = resources(files, 'aws_acm_certificate_validation');
  const certificates = resources(files, 'aws_acm_certificate');
  if (certificates.length === 0) problems.push('no aws_acm_certificate for the HTTPS listener');
  for (const [name, body] of certificates) {
    if (body.validation_method?.[0] !== 'DNS')
      problems.push(`aws_acm_certificate ${name} is not validated through DNS`);
    const ofIt = validations.filter(
      ([, v]) => v.certificate_arn?.[0] === `\${aws_acm_certificate.${name}.arn}`,
    );
    if (ofIt.length === 0) problems.push(`aws_acm_certificate ${name} has no aws_acm_certificate_validation`);
    for (const [v, vbody] of ofIt) {
      const waitsFor = [
        ...text(vbody.validation_record_fqdns).matchAll(/aws_route53_record\.(\w+)\.fqdn/g),
      ].map((m) => m[1]);
      const made = records.filter(
        ([r, rbody]) =>
          waitsFor.includes(r) &&
          text(rbody).includes(`aws_acm_certificate.${name}.domain_validation_options`),
      );
      if (made.length === 0)
        problems.push(
          `aws_acm_certificate_validation ${v} waits for no Route 53 record of ${name}'s validation`,
        );
    }
  }

  const ingress = (locals.cluster_values as { nginx?: { ingress?: Record<string, unknown> } } | undefined)
    ?.nginx?.ingress;
  const annotations = (ingress?.annotations ?? {}) as Record<string, unknown>;
  const arn = /^\$\{aws_acm_certificate_validation\.(\w+)\.certificate_arn\}$/.exec(
    String(annotations[certificateAnnotation]),
  );
  if (!arn || !validations.some(([v]) => v === arn[1]))
    problems.push(
      `cluster_values: nginx.ingress.annotations["${certificateAnnotation}"] is not an issued certificate's (aws_acm_certificate_validation.<name>.certificate_arn)`,
    );
  const eks = parse(readFileSync(path.join(root, 'environments/eks/values.yaml'), 'utf8')) as {
    nginx?: { ingress?: { annotations?: Record<string, unknown> } };
  };
  const placeholders = Object.keys(eks.nginx?.ingress?.annotations ?? {});
  for (const key of Object.keys(annotations))
    if (!placeholders.includes(key))
      problems.push(`cluster_values: annotation ${key} is one the eks values do not set (a typo adds one)`);
  if (!/module\.vpc\.|var\.vpc_cidr/.test(text(ingress?.realIpFrom)))
    problems.push("cluster_values: nginx.ingress.realIpFrom is not taken from the VPC (the ALB's addresses)");
  if (!JSON.stringify(locals.argocd_bootstrap ?? null).includes("'values': '${local.cluster_values}'"))
    problems.push('local.cluster_values is not what the argocd/ chart gets as cluster.values');
  return problems;
}

/** Every file under dir but tofu's own .terraform/ working files. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && !path.relative(dir, e.parentPath).split(path.sep).includes('.terraform'))
    .map((e) => path.join(e.parentPath, e.name));
}
