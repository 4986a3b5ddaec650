// Turns an Argo CD Application into the `helm template` run Argo CD's repo-server makes for it
// (DESIGN.md §5, following reposerver/repository/repository.go and util/helm/cmd.go of Argo CD 3):
//
//   helm template . --name-template <helm.releaseName | app name> --namespace <helm.namespace |
//     destination.namespace> --set <parameters> --values <valueFiles, in order> --values <values |
//     valuesObject> --api-versions <cluster APIs> --include-crds
//
// Value files are resolved relative to the source `path`, `/x` from the repository root and
// `$<ref>/x` from the root of the source with `ref: <ref>`; a path leaving the repository or a
// missing file is an error (unless `ignoreMissingValueFiles`). Every GitOps test, the local stack and
// the docs go through this one function.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { helmTemplate } from './helm.ts';

/** This repository: the checkout every source of the project's Applications points at. */
export const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface HelmParameter {
  name: string;
  value?: string;
  forceString?: boolean;
}

export interface ApplicationSourceHelm {
  releaseName?: string;
  namespace?: string;
  valueFiles?: string[];
  ignoreMissingValueFiles?: boolean;
  values?: string;
  valuesObject?: unknown;
  parameters?: HelmParameter[];
  fileParameters?: unknown[];
  apiVersions?: string[];
  kubeVersion?: string;
  skipCrds?: boolean;
  skipTests?: boolean;
  skipSchemaValidation?: boolean;
}

export interface ApplicationSource {
  repoURL: string;
  targetRevision?: string;
  path?: string;
  chart?: string;
  ref?: string;
  helm?: ApplicationSourceHelm;
}

export interface Application {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: {
    project: string;
    source?: ApplicationSource;
    sources?: ApplicationSource[];
    destination: { server?: string; name?: string; namespace?: string };
    syncPolicy?: Record<string, unknown>;
    ignoreDifferences?: unknown[];
  };
}

export interface ArgoRenderContext {
  /** Checkout of the repository the sources point at (default: this repository). */
  repoRoot?: string;
  /** The destination cluster's API versions, as Argo CD passes them (`group/version[/Kind]`). */
  apiVersions?: string[];
}

export interface ArgoHelmPlan {
  releaseName: string;
  namespace: string;
  /** The chart directory (the source `path`), absolute. */
  chartDir: string;
  /** Resolved value files, absolute, in order (the inline values come after them). */
  valueFiles: string[];
  /** Inline `values`/`valuesObject` as YAML, or undefined. */
  inlineValues: string | undefined;
  set: string[];
  apiVersions: string[];
  includeCrds: boolean;
  /** The helm command line, run in `chartDir`; `<inline values>` stands for the temporary file. */
  args: string[];
  /** Runs helm (tools/lib/helm.ts) and returns the rendered manifests. */
  render(): Promise<string>;
}

/** Reads the single Application in a YAML file. */
export async function loadApplication(file: string): Promise<Application> {
  const docs = parseAllDocuments(await readFile(file, 'utf8'));
  const apps = docs.map((d) => d.toJS() as Application).filter((o) => o?.kind === 'Application');
  if (apps.length !== 1) throw new Error(`${file}: expected exactly one Application, found ${apps.length}`);
  return apps[0]!;
}

/** Argo CD escapes unescaped commas in --set values, except helm list syntax `{a,b}`. */
function cleanSetParameter(value: string): string {
  if (value.startsWith('{') && value.endsWith('}')) return value;
  return value.replace(/(?<!\\),/g, '\\,');
}

function chartSource(app: Application): { source: ApplicationSource; refs: Map<string, ApplicationSource> } {
  const sources = app.spec.sources ?? (app.spec.source ? [app.spec.source] : []);
  const refs = new Map(sources.filter((s) => s.ref).map((s) => [s.ref!, s]));
  const charts = sources.filter((s) => s.path !== undefined || s.chart !== undefined);
  if (charts.length !== 1) {
    throw new Error(`Application ${app.metadata.name}: expected one chart source, found ${charts.length}`);
  }
  const source = charts[0]!;
  if (source.path === undefined) {
    throw new Error(
      `Application ${app.metadata.name}: source chart "${source.chart}" comes from a Helm repository; only git path sources render here`,
    );
  }
  return { source, refs };
}

/** Argo CD's resolveFileOrDirectory: relative to `base`, `/x` from `root`; never outside `root`. */
function resolveInside(root: string, base: string, file: string, what: string): string {
  const resolved = path.isAbsolute(file) ? path.join(root, file) : path.resolve(base, file);
  if (!resolved.startsWith(root + path.sep)) {
    throw new Error(`${what}: file '${file}' resolved to outside repository root`);
  }
  return resolved;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The helm template run Argo CD makes for `app`, ready to render. */
export async function planApplication(app: Application, ctx: ArgoRenderContext = {}): Promise<ArgoHelmPlan> {
  if (app?.kind !== 'Application') throw new Error(`expected kind Application, got ${app?.kind}`);
  const what = `Application ${app.metadata.name}`;
  const root = path.resolve(ctx.repoRoot ?? repoRoot);
  const { source, refs } = chartSource(app);
  const helm = source.helm ?? {};
  for (const key of ['fileParameters', 'kubeVersion', 'skipTests', 'skipSchemaValidation'] as const) {
    if (helm[key] !== undefined)
      throw new Error(`${what}: helm.${key} is not supported by tools/lib/helm.ts`);
  }

  const chartDir = resolveInside(root, root, source.path!, what);
  if (!(await exists(path.join(chartDir, 'Chart.yaml')))) {
    throw new Error(`${what}: source path '${source.path}' is not a Helm chart (no Chart.yaml)`);
  }

  const valueFiles: string[] = [];
  for (const raw of helm.valueFiles ?? []) {
    if (/[*?[]/.test(raw)) throw new Error(`${what}: value file glob '${raw}' is not supported here`);
    let file: string;
    if (raw.startsWith('$')) {
      const [ref, ...rest] = raw.split('/');
      if (!refs.has(ref!.slice(1)))
        throw new Error(`${what}: value file '${raw}' names no source with ref ${ref}`);
      file = resolveInside(root, root, '/' + rest.join('/'), what);
    } else {
      file = resolveInside(root, chartDir, raw, what);
    }
    if (!(await exists(file))) {
      if (helm.ignoreMissingValueFiles) continue;
      throw new Error(`${what}: value file '${raw}' does not exist (${path.relative(root, file)})`);
    }
    if (!valueFiles.includes(file)) valueFiles.push(file);
  }

  const inlineValues =
    helm.valuesObject !== undefined && helm.valuesObject !== null
      ? stringify(helm.valuesObject)
      : helm.values?.trim()
        ? helm.values
        : undefined;

  const set: string[] = [];
  for (const p of helm.parameters ?? []) {
    if (p.forceString)
      throw new Error(`${what}: parameter ${p.name} uses forceString (--set-string), not supported`);
    set.push(`${p.name}=${cleanSetParameter(p.value ?? '')}`);
  }

  const releaseName = helm.releaseName || app.metadata.name.split('_').pop()!;
  const namespace = helm.namespace || app.spec.destination.namespace || '';
  const apiVersions = helm.apiVersions?.length ? helm.apiVersions : (ctx.apiVersions ?? []);
  const includeCrds = !helm.skipCrds;

  const args = ['template', '.', '--name-template', releaseName];
  if (namespace) args.push('--namespace', namespace);
  for (const s of set) args.push('--set', s);
  for (const f of valueFiles) args.push('--values', f);
  if (inlineValues !== undefined) args.push('--values', '<inline values>');
  for (const v of apiVersions) args.push('--api-versions', v);
  if (includeCrds) args.push('--include-crds');

  const render = async (): Promise<string> => {
    let dir: string | undefined;
    try {
      const files = [...valueFiles];
      if (inlineValues !== undefined) {
        dir = await mkdtemp(path.join(tmpdir(), 'argocd-values-'));
        files.push(path.join(dir, 'values.yaml'));
        await writeFile(files.at(-1)!, inlineValues);
      }
      return await helmTemplate({
        chartDir,
        releaseName,
        namespace: namespace || 'default',
        valueFiles: files,
        set,
        apiVersions,
        includeCrds,
      });
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  };

  return {
    releaseName,
    namespace,
    chartDir,
    valueFiles,
    inlineValues,
    set,
    apiVersions,
    includeCrds,
    args,
    render,
  };
}

/** Renders an Application (object or file) as Argo CD would. */
export async function renderApplication(
  app: Application | string,
  ctx: ArgoRenderContext = {},
): Promise<string> {
  const application = typeof app === 'string' ? await loadApplication(app) : app;
  return (await planApplication(application, ctx)).render();
}

const unsupportedHelmHooks = new Set([
  'test',
  'test-success',
  'test-failure',
  'pre-rollback',
  'post-rollback',
]);

/**
 * The rendered objects Argo CD applies: it ignores Helm hooks it does not support (tests,
 * rollback hooks), see Argo CD's user guide, "Helm Hooks".
 */
export function appliedObjects<T extends { metadata?: { annotations?: Record<string, string> } }>(
  objects: T[],
): T[] {
  return objects.filter((o) => {
    const hook = o.metadata?.annotations?.['helm.sh/hook'];
    if (hook === undefined) return true;
    return !hook.split(',').every((h) => unsupportedHelmHooks.has(h.trim()));
  });
}
