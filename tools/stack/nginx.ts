// A local nginx master running a rendered nginx.conf: checked with `nginx -t` before every start
// and reload, reloaded by SIGHUP to the master pid, stopped by pid. Its workers must run with the
// config's worker_rlimit_nofile, or the stack refuses to start.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary, spawnProcess, waitFor, type Proc } from '../lib/proc.ts';
import { childPids, isAlive } from './procfs.ts';

const run = promisify(execFile);

export interface Nginx {
  pid: number;
  port: number;
  logFile: string;
  confFile: string;
  /** write a new config, check it, SIGHUP the master and wait until the old workers are gone */
  reload(confText: string): Promise<void>;
  stop(): Promise<void>;
}

export interface NginxOptions {
  confText: string;
  /** nginx's prefix (-p): the config and every relative path in it live here */
  prefix: string;
  /** the port the config listens on: start() returns once it accepts connections */
  port: number;
  logFile: string;
}

export async function startNginx(o: NginxOptions): Promise<Nginx> {
  const bin = requireBinary('nginx');
  const confFile = join(o.prefix, 'nginx.conf');
  await writeChecked(bin, confFile, o.prefix, o.confText);
  const args = ['-e', 'stderr', '-c', confFile, '-p', o.prefix];
  if (!/^\s*daemon\s+off\s*;/m.test(o.confText)) args.push('-g', 'daemon off;');
  const proc = spawnProcess(bin, args, { logFile: o.logFile });
  proc.exited.catch(() => {});
  try {
    await waitFor(async () => proc.hasExited() || (await accepts(o.port)), {
      timeoutMs: 15_000,
      what: `nginx listening on port ${o.port} (log: ${o.logFile})`,
    });
  } catch (err) {
    await killAll(proc);
    throw err;
  }
  if (proc.hasExited()) {
    const lines = proc.log().trim().split('\n');
    const why = lines.find((l) => l.includes('[emerg]')) ?? lines.at(-1) ?? '';
    throw new Error(`nginx exited at start: ${why} (log: ${o.logFile})`);
  }
  // A worker sets its limit as it starts: polled until every worker has, or the deadline passes.
  const filesOk = await waitFor(() => !fileLimitProblem(proc.pid, o.confText), {
    timeoutMs: 5000,
    what: 'the nginx workers to set their open-file limit',
  }).catch(() => false);
  if (!filesOk) {
    const problem = fileLimitProblem(proc.pid, o.confText);
    await killAll(proc);
    throw new Error(problem ?? 'the nginx workers did not set their open-file limit');
  }

  return {
    pid: proc.pid,
    port: o.port,
    logFile: o.logFile,
    confFile,
    async reload(confText) {
      await writeChecked(bin, confFile, o.prefix, confText);
      const before = new Set(childPids(proc.pid));
      process.kill(proc.pid, 'SIGHUP');
      // Reloaded once a worker of the new generation runs and the old generation has drained.
      await waitFor(
        () => {
          const now = childPids(proc.pid);
          return now.some((p) => !before.has(p)) && [...before].every((p) => !isAlive(p));
        },
        { timeoutMs: 20_000, what: 'nginx reload (new workers up, old workers drained)' },
      );
    },
    // SIGQUIT: graceful (in-flight requests finish); after the deadline SIGKILL to the master and
    // every worker
    async stop() {
      const workers = childPids(proc.pid);
      proc.signal('SIGQUIT');
      const graceful = await waitFor(() => proc.hasExited() && workers.every((p) => !isAlive(p)), {
        timeoutMs: 10_000,
        what: 'nginx to stop',
      }).catch(() => false);
      if (!graceful) await killAll(proc);
    },
  };
}

/**
 * Why a worker runs with fewer open files than the config's worker_rlimit_nofile, if one does.
 * nginx sets the limit itself (setrlimit), which fails, with only an alert in its log, above the
 * hard limit of a non-root user; the workers would then run out of files before their connections.
 */
export function fileLimitProblem(masterPid: number, confText: string): string | undefined {
  const want = Number(/^\s*worker_rlimit_nofile\s+(\d+)\s*;/m.exec(confText)?.[1] ?? 0);
  if (!want) return undefined;
  for (const pid of childPids(masterPid)) {
    let limits: string;
    try {
      limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
    } catch {
      continue; // a worker that just exited
    }
    const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? 0);
    if (soft < want)
      return (
        `nginx worker ${pid} may open ${soft} files, below the config's worker_rlimit_nofile ${want}: ` +
        `raise the hard limit (ulimit -Hn ${want}) of the shell that starts the stack`
      );
  }
  return undefined;
}

/** SIGKILL to the master and each of its workers (recorded first: they outlive a killed master). */
async function killAll(proc: Proc): Promise<void> {
  const workers = proc.hasExited() ? [] : childPids(proc.pid);
  proc.signal('SIGKILL');
  for (const pid of workers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await proc.exited.catch(() => undefined);
  await waitFor(() => workers.every((p) => !isAlive(p)), { what: 'the nginx workers to exit' });
}

async function writeChecked(bin: string, confFile: string, prefix: string, text: string): Promise<void> {
  writeFileSync(confFile, text);
  try {
    await run(bin, ['-t', '-q', '-e', 'stderr', '-c', confFile, '-p', prefix]);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? err).trim();
    throw new Error(`the rendered nginx.conf does not pass nginx -t (${confFile}): ${stderr}`, {
      cause: err,
    });
  }
}

async function accepts(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD', signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}
