// Renders an environment as its Argo CD Application does: the umbrella chart with
// environments/<env>/values.yaml on top, release and namespace hit-counter, the monitoring API
// present (kube-prometheus-stack runs in both clusters). `npm run promote -- diff` renders with it,
// the chart of a pinned environment taken from its commit.
import path from 'node:path';
import { helmTemplate } from './helm.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const chartPath = 'charts/hit-counter';
export const releaseName = 'hit-counter';
export const namespace = 'hit-counter';
/** The CRD API the servicemonitor subchart needs (as Argo CD passes the cluster's APIs). */
export const monitoringApi = 'monitoring.coreos.com/v1';

/** environments/<env>/values.yaml in the checkout at `root`. */
export function environmentValues(env: string, root = repoRoot): string {
  return path.join(root, 'environments', env, 'values.yaml');
}

export interface RenderEnvironmentOptions {
  /** The checkout whose chart and environment file are rendered (default: this repository). */
  root?: string;
  /** A values file rendered in place of environments/<env>/values.yaml (e.g. an edited copy). */
  valuesFile?: string;
  /** A chart directory rendered in place of the checkout's (e.g. the chart of another commit). */
  chartDir?: string;
  /** `--set` overrides on top. */
  set?: string[];
}

/** The `helm template` output (the YAML stream) of environment `env`. */
export function renderEnvironment(env: string, o: RenderEnvironmentOptions = {}): Promise<string> {
  const root = o.root ?? repoRoot;
  return helmTemplate({
    chartDir: o.chartDir ?? path.join(root, chartPath),
    releaseName,
    namespace,
    valueFiles: [o.valuesFile ?? environmentValues(env, root)],
    set: o.set ?? [],
    apiVersions: [monitoringApi],
  });
}
