// Points the GitOps manifests at a fork:
//
//   npm run gitops:set-repo -- <git-url> [--image <repository>]
//
// sets `repoURL` in argocd/values.yaml (the one place Argo CD's objects take the repository from)
// and, with --image, `image.repository` in every environments/<env>/values.yaml. Only those
// scalars change; comments and formatting stay.
// `--root <dir>` works on another checkout.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setYamlScalar } from './promote.ts';

const usage = 'usage: npm run gitops:set-repo -- <git-url> [--image <repository>]  [--root <dir>]';

/** Why `url` is not a git repository URL Argo CD can fetch, or undefined. */
export function repoUrlProblem(url: string): string | undefined {
  const expected =
    'expected https://<host>/<owner>/<repo>.git, ssh://git@<host>/<owner>/<repo>.git, git@<host>:<owner>/<repo>.git or git://<host>[:port]/<repo>.git';
  const scp = /^[a-zA-Z0-9._-]+@[a-zA-Z0-9.-]+:[a-zA-Z0-9._-]+(\/[a-zA-Z0-9._-]+)*(\.git)?$/;
  if (scp.test(url) && !url.includes('://')) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `not a git repository URL: "${url}"; ${expected}`;
  }
  // A git daemon (the local cluster's git server) serves <repo>.git at its root.
  const okPath = /^\/[a-zA-Z0-9._~-]+(\/[a-zA-Z0-9._~-]+)*\/?$/.test(parsed.pathname);
  if (
    !['https:', 'ssh:', 'git:'].includes(parsed.protocol) ||
    !parsed.hostname ||
    !okPath ||
    parsed.search ||
    parsed.hash
  ) {
    return `not a git repository URL: "${url}"; ${expected}`;
  }
  if (parsed.password)
    return `the URL "${url}" carries a password; give credentials to Argo CD as a repository secret`;
  return undefined;
}

/** Why `repo` is not an image repository (`[host[:port]/]path`, lowercase, no tag), or undefined. */
export function imageRepositoryProblem(repo: string): string | undefined {
  const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
  const host =
    '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?';
  if (new RegExp(`^${host}${component}(?:/${component})*$`).test(repo) && repo.length <= 255)
    return undefined;
  return `not an image repository: "${repo}"; expected [host[:port]/]name/with/lowercase/parts, without a tag`;
}

/** The file holding the repository URL, relative to the repository's root. */
export const ARGOCD_VALUES = 'argocd/values.yaml';

/** Sets `repoURL` in argocd/values.yaml; resolves with the files changed. */
export async function setRepoUrl(root: string, url: string): Promise<string[]> {
  const file = path.join(root, ARGOCD_VALUES);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new Error(`no ${ARGOCD_VALUES} at ${root}`);
  });
  const out = setYamlScalar(text, ['repoURL'], url, 'the repository Argo CD reads');
  if (out === text) return [];
  await writeFile(file, out);
  return [ARGOCD_VALUES];
}

/** Sets image.repository in every environment's values file; resolves with the files changed. */
export async function setImageRepository(root: string, repository: string): Promise<string[]> {
  const dir = path.join(root, 'environments');
  const changed: string[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name === 'values.yaml')
    .map((e) => path.join(e.parentPath, e.name));
  for (const file of files.sort()) {
    const text = await readFile(file, 'utf8');
    const out = setYamlScalar(
      text,
      ['image', 'repository'],
      repository,
      'the image; set by `npm run gitops:set-repo`',
    );
    if (out !== text) {
      await writeFile(file, out);
      changed.push(path.relative(root, file));
    }
  }
  return changed;
}

async function main(argv: string[]): Promise<string> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { image: { type: 'string' }, root: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new Error(usage);
  const url = positionals[0]!;
  const problem =
    repoUrlProblem(url) ?? (values.image !== undefined ? imageRepositoryProblem(values.image) : undefined);
  if (problem) throw new Error(problem);
  const root = path.resolve(values.root ?? path.join(import.meta.dirname, '..'));
  const changed = await setRepoUrl(root, url);
  if (values.image !== undefined) changed.push(...(await setImageRepository(root, values.image)));
  return changed.length ? `updated: ${changed.join(', ')}` : 'nothing to change';
}

if (import.meta.main) {
  try {
    console.log(await main(process.argv.slice(2)));
  } catch (err) {
    console.error(`set-repo: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
