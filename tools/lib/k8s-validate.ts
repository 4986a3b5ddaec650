// Strict schema validation of rendered manifests with kubectl-validate (the API server's own
// validation code, offline): the OpenAPI documents of the Kubernetes release the local cluster runs
// (tools/build-go.sh takes them from its module zip), CRDs from .tools/crds. Unknown fields and
// wrong types are errors. A fast pre-check for the render matrix; admission (Pod Security and the
// rest) is judged by the real API server in test/cluster/.
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

function crdDirs(): string[] {
  const root = path.join(toolsDir, 'crds');
  if (!existsSync(root))
    throw new Error('CRDs not found in .tools/crds: run `bash tools/install.sh` (tools/crds.sh)');
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(root, d.name));
}

function schemaDir(): string {
  const dir = path.join(toolsDir, 'kubernetes-openapi');
  if (!existsSync(dir))
    throw new Error(
      'Kubernetes OpenAPI schemas not found in .tools: run `bash tools/install.sh` (tools/build-go.sh)',
    );
  return dir;
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
    // No --version: the builtin types come from the cluster release's own schemas only.
    const args = [
      '--version',
      '',
      '--local-schemas',
      schemaDir(),
      '--output',
      'json',
      ...crdDirs().flatMap((d) => ['--local-crds', d]),
    ];
    let stdout: string;
    try {
      // A kubeconfig that does not exist: kubectl-validate asks no live cluster.
      const env = { ...process.env, KUBECONFIG: path.join(dir, 'no-kubeconfig') };
      ({ stdout } = await run(validatorBinary(), [...args, dir], { maxBuffer: 64 * 1024 * 1024, env }));
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

/** True when the label selector ({matchLabels}) selects these labels. */
export function selects(
  matchLabels: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!matchLabels || Object.keys(matchLabels).length === 0) return false;
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}
