// Running podman (and the base image script) from the image test: the project's containers.conf
// (runc, ulimits root may not raise on this kind of host), output kept for error messages.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary, spawnProcess } from '../../tools/lib/proc.ts';

const exec = promisify(execFile);

export const repoRoot = resolve(import.meta.dirname, '../..');
const tools = process.env.HIT_COUNTER_TOOLS ?? join(repoRoot, '.tools');

/** The environment podman runs with; throws how to get what is missing. */
export function podmanEnv(): NodeJS.ProcessEnv {
  requireBinary('podman');
  const conf = join(tools, 'containers.conf');
  if (!existsSync(conf)) throw new Error(`${conf} not found: run \`bash tools/install.sh\``);
  return { ...process.env, CONTAINERS_CONF: conf, HIT_COUNTER_TOOLS: tools };
}

/** Runs a short podman command; resolves with its trimmed stdout, rejects with its stderr. */
export async function podman(...args: string[]): Promise<string> {
  try {
    const { stdout } = await exec('podman', args, { env: podmanEnv(), maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`podman ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** The parsed JSON of `podman <kind> inspect` for one object. */
export async function inspect<T>(kind: 'image' | 'container', id: string): Promise<T> {
  const [first] = JSON.parse(await podman(kind, 'inspect', id)) as T[];
  if (!first) throw new Error(`podman ${kind} inspect ${id} returned nothing`);
  return first;
}

/**
 * Runs a long command (a build) with its output in a log file; resolves with the output, or
 * rejects with the last lines of it. `onStart` receives the process so a teardown can stop it.
 */
export async function runLogged(
  cmd: string,
  args: string[],
  onStart: (stop: () => Promise<unknown>) => void,
): Promise<string> {
  const proc = spawnProcess(cmd, args, { cwd: repoRoot, env: podmanEnv() });
  onStart(() => proc.stop({ timeoutMs: 10_000 }));
  const { code, signal } = await proc.exited;
  const out = proc.log();
  if (code !== 0) {
    const tail = out.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}; last output:\n${tail}`);
  }
  return out;
}
