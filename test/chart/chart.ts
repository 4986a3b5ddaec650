// Shared by the chart tests: where the chart is and how it is rendered for them.
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  helmTemplate,
  parseManifests,
  type HelmTemplateOptions,
  type K8sObject,
} from '../../tools/lib/helm.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const chartDir = path.join(repoRoot, 'charts/hit-counter');
export const releaseName = 'hit-counter';
export const namespace = 'hit-counter';
/** The CRD API the servicemonitor subchart needs (as Argo CD passes the cluster's APIs). */
export const monitoringApi = 'monitoring.coreos.com/v1';
/**
 * The values file every render starts from unless `bare`: Redis always requires auth, and this
 * gives it the development password source (the bare chart refuses to render, see render.test.ts).
 */
export const devAuthValues = path.join(import.meta.dirname, 'values', 'dev-auth.yaml');

export interface Render {
  yaml: string;
  objects: K8sObject[];
}

/**
 * Renders with Helm 3 and Helm 4 and resolves with Helm 3's output once both agree: the same
 * objects (Helm 4 only adds blank lines), or the same error. A disagreement throws, naming the first
 * object or the error that differs, so every chart test holds for both majors. `valueFiles` come
 * after devAuthValues, which `bare` leaves out.
 */
export async function render(
  set: string[] = [],
  valueFiles: string[] = [],
  apiVersions = [monitoringApi],
  { bare = false }: { bare?: boolean } = {},
): Promise<Render> {
  const files = bare ? valueFiles : [devAuthValues, ...valueFiles];
  return renderBoth({ chartDir, releaseName, namespace, set, valueFiles: files, apiVersions });
}

/** `helm template` with Helm 3 and Helm 4: Helm 3's output once both agree, else the difference. */
export async function renderBoth(o: HelmTemplateOptions): Promise<Render> {
  const [h3, h4] = await Promise.allSettled([helmTemplate(o), helmTemplate({ ...o, helm: 'helm4' })]);
  if (h3.status === 'rejected') {
    const e3 = errorText(h3.reason);
    if (h4.status === 'fulfilled' || errorText(h4.reason) !== e3)
      throw new Error(`Helm 3 and Helm 4 disagree: Helm 3 fails (${e3}), Helm 4 ${describe(h4)}`);
    throw h3.reason;
  }
  if (h4.status === 'rejected')
    throw new Error(`Helm 3 and Helm 4 disagree: Helm 4 fails (${errorText(h4.reason)})`);
  const objects = parseManifests(h3.value);
  const objects4 = parseManifests(h4.value);
  const differs = objects.findIndex((x, i) => !isDeepStrictEqual(x, objects4[i]));
  if (differs >= 0 || objects.length !== objects4.length) {
    const x = objects[differs] ?? objects4[differs] ?? objects.at(-1);
    throw new Error(`Helm 3 and Helm 4 render differently, first at ${x?.kind}/${x?.metadata.name}`);
  }
  return { yaml: h3.value, objects };
}

/** A helm failure's own text, without the "helm template failed:" prefix that names the binary. */
const errorText = (e: unknown): string => String((e as Error).message).replace(/^\S+ template failed: /, '');
const describe = (r: PromiseSettledResult<string>): string =>
  r.status === 'fulfilled' ? 'renders' : `fails (${errorText(r.reason)})`;

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} is not rendered`);
  return o;
}
