// What Argo CD checks before it syncs an Application of the hit-counter AppProject, as functions
// returning problems ([] = allowed): source repository, destination, and every object's kind and
// namespace against the project's whitelists. Plus this project's own rule: a pinned release name.
import type { K8sObject } from '../../tools/lib/helm.ts';
import type { Application } from '../../tools/lib/argocd.ts';

export interface GroupKind {
  group: string;
  kind: string;
}

export interface AppProject {
  kind: string;
  metadata: { name: string };
  spec: {
    sourceRepos: string[];
    destinations: { server?: string; name?: string; namespace: string }[];
    clusterResourceWhitelist?: GroupKind[];
    namespaceResourceWhitelist?: GroupKind[];
  };
}

/** Kinds that live outside namespaces (the ones a chart could plausibly render). */
const clusterScoped = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'StorageClass',
  'PriorityClass',
  'PersistentVolume',
  'IngressClass',
  'RuntimeClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'APIService',
  'ClusterSecretStore',
]);

/** Argo CD's glob match (`*` any run of characters). */
function glob(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*');
  return new RegExp(`^${re}$`).test(value);
}

export function groupKind(o: K8sObject): GroupKind {
  const slash = o.apiVersion.indexOf('/');
  return { group: slash === -1 ? '' : o.apiVersion.slice(0, slash), kind: o.kind };
}

export function isClusterScoped(o: K8sObject): boolean {
  return clusterScoped.has(o.kind);
}

function permitted(list: GroupKind[] | undefined, gk: GroupKind): boolean {
  return (list ?? []).some((w) => glob(w.group, gk.group) && glob(w.kind, gk.kind));
}

function destinationPermitted(
  project: AppProject,
  dest: { server?: string; name?: string },
  namespace: string,
) {
  return project.spec.destinations.some(
    (d) =>
      glob(d.namespace, namespace) &&
      ((d.server !== undefined && dest.server !== undefined && glob(d.server, dest.server)) ||
        (d.name !== undefined && dest.name !== undefined && glob(d.name, dest.name))),
  );
}

/** Everything the project forbids about `app` deploying `objects`. */
export function projectProblems(project: AppProject, app: Application, objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const dest = app.spec.destination;
  const ns = dest.namespace ?? '';
  if (app.spec.project !== project.metadata.name)
    problems.push(`project is ${app.spec.project}, not ${project.metadata.name}`);
  for (const s of app.spec.sources ?? [app.spec.source!]) {
    if (!project.spec.sourceRepos.some((r) => glob(r, s.repoURL)))
      problems.push(`source ${s.repoURL} is not permitted`);
  }
  if (!destinationPermitted(project, dest, ns)) {
    problems.push(`destination ${dest.server ?? dest.name} namespace "${ns}" is not permitted`);
  }
  for (const o of objects) {
    const gk = groupKind(o);
    const id = `${o.kind}/${o.metadata.name}`;
    if (isClusterScoped(o)) {
      if (!permitted(project.spec.clusterResourceWhitelist, gk))
        problems.push(`${id}: cluster-scoped kind not permitted`);
      continue;
    }
    if (!permitted(project.spec.namespaceResourceWhitelist, gk))
      problems.push(`${id}: kind ${gk.group}/${gk.kind} not permitted`);
    const objectNs = o.metadata.namespace ?? ns;
    if (!destinationPermitted(project, dest, objectNs))
      problems.push(`${id}: namespace "${objectNs}" is not permitted`);
  }
  return problems;
}

/** The project's own rule: object names derive from the release name, so it is pinned. */
export function releaseNameProblems(app: Application): string[] {
  const sources = app.spec.sources ?? [app.spec.source!];
  return sources
    .filter((s) => s.path !== undefined)
    .filter((s) => !s.helm?.releaseName)
    .map((s) => `Application ${app.metadata.name}: source ${s.path} has no helm.releaseName`);
}
