// Shared by the chart tests: where the chart is and how it is rendered for them.
import path from 'node:path';
import { helmTemplate, parseManifests, type K8sObject } from '../../tools/lib/helm.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const chartDir = path.join(repoRoot, 'charts/hit-counter');
export const releaseName = 'hit-counter';
export const namespace = 'hit-counter';
/** The CRD API the servicemonitor subchart needs (as Argo CD passes the cluster's APIs). */
export const monitoringApi = 'monitoring.coreos.com/v1';

export interface Render {
  yaml: string;
  objects: K8sObject[];
}

export async function render(
  set: string[] = [],
  valueFiles: string[] = [],
  apiVersions = [monitoringApi],
): Promise<Render> {
  const yaml = await helmTemplate({ chartDir, releaseName, namespace, set, valueFiles, apiVersions });
  return { yaml, objects: parseManifests(yaml) };
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} is not rendered`);
  return o;
}
