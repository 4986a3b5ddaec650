// Renders a chart with the pinned helm (`helm template`) and splits the output into objects.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

const repoRoot = path.resolve(import.meta.dirname, '../..');
const toolsDir = process.env.HIT_COUNTER_TOOLS ?? path.join(repoRoot, '.tools');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

/** The helm majors the chart is tested with: `helm` is Helm 3, `helm4` Helm 4 (tools/install.sh). */
export const HELMS = ['helm', 'helm4'] as const;
export type Helm = (typeof HELMS)[number];

export interface HelmTemplateOptions {
  /** which helm renders; Helm 3 by default */
  helm?: Helm;
  chartDir: string;
  releaseName: string;
  namespace: string;
  valueFiles?: string[];
  set?: string[];
  apiVersions?: string[];
  showOnly?: string[];
  includeCrds?: boolean;
}

/** A pinned helm binary (.tools/bin/helm or helm4); throws how to install it when missing. */
export function helmBinary(name: Helm = 'helm'): string {
  const pinned = path.join(toolsDir, 'bin', name);
  if (existsSync(pinned)) return pinned;
  throw new Error(`helm not found at ${path.relative(process.cwd(), pinned)}: run \`bash tools/install.sh\``);
}

/** Runs helm with the given arguments; a failure throws helm's own error text. */
export async function helm(args: string[], cwd?: string, name: Helm = 'helm'): Promise<string> {
  try {
    const { stdout } = await run(helmBinary(name), args, {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      env: helmEnv(),
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${name} ${args[0]} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

/** `helm template` with Argo-CD-style arguments; resolves with the rendered YAML stream. */
export function helmTemplate(o: HelmTemplateOptions): Promise<string> {
  const args = ['template', o.chartDir, '--name-template', o.releaseName, '--namespace', o.namespace];
  for (const file of o.valueFiles ?? []) args.push('--values', file);
  for (const s of o.set ?? []) args.push('--set', s);
  for (const api of o.apiVersions ?? []) args.push('--api-versions', api);
  for (const only of o.showOnly ?? []) args.push('--show-only', only);
  if (o.includeCrds) args.push('--include-crds');
  return helm(args, undefined, o.helm);
}

/** Splits a YAML stream into Kubernetes objects (empty documents dropped); bad YAML throws. */
export function parseManifests(yamlText: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length) throw new Error(`invalid YAML in rendered manifests: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value))
      throw new Error('a rendered document is not an object');
    objects.push(value as K8sObject);
  }
  return objects;
}

// helm keeps caches and config under HOME; keep them out of the user's home and the repository.
function helmEnv(): NodeJS.ProcessEnv {
  const cache = path.join(toolsDir, 'helm-home');
  return {
    ...process.env,
    HELM_CACHE_HOME: path.join(cache, 'cache'),
    HELM_CONFIG_HOME: path.join(cache, 'config'),
    HELM_DATA_HOME: path.join(cache, 'data'),
  };
}
