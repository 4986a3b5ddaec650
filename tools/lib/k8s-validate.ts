// Strict schema validation of rendered manifests with kubectl-validate (the API server's own
// validation, offline): builtin schemas of a pinned Kubernetes version, CRDs from .tools/crds.
// Unknown fields and wrong types are errors.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { parseManifests, type K8sObject } from './helm.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');
const toolsDir = process.env.HIT_COUNTER_TOOLS ?? path.join(repoRoot, '.tools');

/** The Kubernetes version whose builtin schemas objects are checked against. */
export const KUBERNETES_VERSION = '1.30';

function crdDirs(): string[] {
  const root = path.join(toolsDir, 'crds');
  if (!existsSync(root))
    throw new Error('CRDs not found in .tools/crds: run `bash tools/install.sh` (tools/crds.sh)');
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(root, d.name));
}

function validatorBinary(): string {
  const bin = path.join(toolsDir, 'bin', 'kubectl-validate');
  if (!existsSync(bin)) throw new Error('kubectl-validate not found: run `bash tools/install.sh`');
  return bin;
}

interface Status {
  status: string;
  message?: string;
}

/** Validates every object in the YAML stream; resolves with one line per problem ([] = valid). */
export async function validateManifests(yamlText: string): Promise<string[]> {
  const objects = parseManifests(yamlText);
  if (objects.length === 0) return [];
  const dir = await mkdtemp(path.join(tmpdir(), 'k8s-validate-'));
  try {
    // One object per file keeps the report aligned with the objects.
    const files = await Promise.all(
      objects.map(async (o, i) => {
        const file = path.join(dir, `${String(i).padStart(4, '0')}.yaml`);
        await writeFile(file, stringify(o));
        return file;
      }),
    );
    const args = [
      '--version',
      KUBERNETES_VERSION,
      '--output',
      'json',
      ...crdDirs().flatMap((d) => ['--local-crds', d]),
    ];
    let stdout: string;
    try {
      ({ stdout } = await run(validatorBinary(), [...args, dir], { maxBuffer: 64 * 1024 * 1024 }));
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      if (!e.stdout)
        throw new Error(`kubectl-validate failed: ${(e.stderr || e.message).trim()}`, { cause: err });
      stdout = e.stdout;
    }
    const report = JSON.parse(stdout) as Record<string, Status[] | Status>;
    const problems: string[] = [];
    files.forEach((file, i) => {
      const entry = report[file] ?? report[path.relative(process.cwd(), file)];
      const statuses = Array.isArray(entry) ? entry : entry ? [entry] : [];
      const o = objects[i] as K8sObject;
      if (statuses.length === 0) problems.push(`${describe(o)}: not validated`);
      for (const s of statuses)
        if (s.status !== 'Success') problems.push(`${describe(o)}: ${s.message ?? s.status}`);
    });
    return problems;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function describe(o: K8sObject): string {
  return `${o.kind}/${o.metadata?.name ?? '?'}`;
}

// ---- policies ---------------------------------------------------------------------------------
// The chart's policy assertions, covering Pod Security "restricted" and kube-linter's default
// checks (run-as-non-root, no-read-only-root-fs, unset-cpu/memory requirements, latest-tag,
// privilege escalation, dangling service, mismatched selectors, non-existent service account,
// env-var-secret, probes, host namespaces).

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const WORKLOAD_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Pod',
]);
/** Volume types Pod Security "restricted" allows. */
const RESTRICTED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

interface PodTemplate {
  owner: K8sObject;
  labels: Record<string, string>;
  spec: Obj;
  longRunning: boolean;
}

/** The pod template of every workload in the list (a Pod is its own template). */
export function podTemplates(objects: K8sObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    if (!WORKLOAD_KINDS.has(o.kind)) continue;
    if (o.kind === 'Pod')
      out.push({ owner: o, labels: o.metadata.labels ?? {}, spec: o.spec ?? {}, longRunning: false });
    else if (o.kind === 'CronJob') {
      const t = o.spec?.jobTemplate?.spec?.template ?? {};
      out.push({ owner: o, labels: t.metadata?.labels ?? {}, spec: t.spec ?? {}, longRunning: false });
    } else {
      const t = o.spec?.template ?? {};
      out.push({
        owner: o,
        labels: t.metadata?.labels ?? {},
        spec: t.spec ?? {},
        longRunning: o.kind !== 'Job',
      });
    }
  }
  return out;
}

/** True when the label selector ({matchLabels}) selects these labels. */
export function selects(
  matchLabels: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!matchLabels || Object.keys(matchLabels).length === 0) return false;
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

const name = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

function checkContainer(where: string, c: Obj, pod: Obj, longRunning: boolean, problems: string[]): void {
  const sc: Obj = c.securityContext ?? {};
  const psc: Obj = pod.securityContext ?? {};
  const runAsNonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
  const runAsUser = sc.runAsUser ?? psc.runAsUser;
  if (runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot is not true`);
  if (typeof runAsUser !== 'number' || runAsUser === 0)
    problems.push(`${where}: runAsUser is not a non-zero number`);
  const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
    problems.push(`${where}: seccompProfile is not RuntimeDefault`);
  if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
  if (sc.privileged) problems.push(`${where}: privileged`);
  if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
  const drop: string[] = sc.capabilities?.drop ?? [];
  if (!drop.includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
  const add: string[] = sc.capabilities?.add ?? [];
  if (add.some((cap) => cap !== 'NET_BIND_SERVICE'))
    problems.push(`${where}: adds capabilities ${add.join(',')}`);
  const image = String(c.image ?? '');
  const tag = /:([^:/@]+)$/.exec(image)?.[1];
  if (!image.includes('@') && (!tag || tag === 'latest'))
    problems.push(`${where}: image ${image} is not pinned by tag`);
  const req = c.resources?.requests ?? {};
  if (!req.cpu || !req.memory) problems.push(`${where}: no cpu and memory requests`);
  if (!c.resources?.limits?.memory) problems.push(`${where}: no memory limit`);
  if (longRunning) {
    if (!c.livenessProbe) problems.push(`${where}: no livenessProbe`);
    if (!c.readinessProbe) problems.push(`${where}: no readinessProbe`);
  }
  for (const p of c.ports ?? []) if (p.hostPort) problems.push(`${where}: hostPort ${p.hostPort}`);
  for (const e of c.env ?? []) {
    if (typeof e.value === 'string' && /PASSWORD|SECRET|TOKEN|AUTH/i.test(e.name) && e.value !== '')
      problems.push(`${where}: env ${e.name} carries a secret value in clear (use secretKeyRef)`);
  }
}

/** Checks the policies; resolves with one line per problem ([] = ok). */
export function checkPolicies(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const templates = podTemplates(objects);
  const serviceAccounts = new Set(
    objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name),
  );

  for (const t of templates) {
    const pod = t.spec;
    const where = name(t.owner);
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${where}: uses host namespaces`);
    if (pod.automountServiceAccountToken !== false)
      problems.push(`${where}: automountServiceAccountToken is not false`);
    const sa = pod.serviceAccountName;
    if (sa && sa !== 'default' && !serviceAccounts.has(sa))
      problems.push(`${where}: ServiceAccount ${sa} is not rendered`);
    for (const v of pod.volumes ?? []) {
      const type = Object.keys(v).find((k) => k !== 'name');
      if (!type || !RESTRICTED_VOLUMES.has(type))
        problems.push(`${where}: volume ${v.name} of type ${type} is not allowed`);
    }
    const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
    for (const c of containers)
      checkContainer(`${where} container ${c.name}`, c, pod, t.longRunning, problems);
    if (t.owner.kind !== 'Pod' && t.owner.kind !== 'CronJob') {
      const sel = t.owner.spec?.selector?.matchLabels;
      if (!selects(sel, t.labels)) problems.push(`${where}: selector does not select its own pod template`);
    }
  }

  for (const s of objects.filter((o) => o.kind === 'Service')) {
    const sel: Record<string, string> | undefined = s.spec?.selector;
    const pods = templates.filter((t) => t.longRunning && selects(sel, t.labels));
    if (pods.length === 0) {
      problems.push(`${name(s)}: selects no pod (dangling service)`);
      continue;
    }
    for (const port of s.spec?.ports ?? []) {
      const target = port.targetPort ?? port.port;
      const found = pods.some((t) =>
        (t.spec.containers ?? []).some((c: Obj) =>
          (c.ports ?? []).some((cp: Obj) =>
            typeof target === 'string' ? cp.name === target : cp.containerPort === target,
          ),
        ),
      );
      if (!found) problems.push(`${name(s)}: targetPort ${target} is no container port of the selected pods`);
    }
  }

  for (const o of objects.filter((x) => x.kind === 'PodDisruptionBudget')) {
    if (!templates.some((t) => t.longRunning && selects(o.spec?.selector?.matchLabels, t.labels)))
      problems.push(`${name(o)}: selects no pod`);
  }
  for (const o of objects.filter((x) => x.kind === 'HorizontalPodAutoscaler')) {
    const ref = o.spec?.scaleTargetRef ?? {};
    const target = objects.find((x) => x.kind === ref.kind && x.metadata.name === ref.name);
    if (!target) problems.push(`${name(o)}: scale target ${ref.kind}/${ref.name} is not rendered`);
    else if (target.spec?.replicas !== undefined)
      problems.push(`${name(o)}: ${name(target)} sets replicas under an HPA`);
  }
  return problems;
}
