// Process helpers shared by tests and the local stack: spawn with output to a log file, stop by pid
// with a deadline, poll a condition, and fail clearly when a binary is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export type Proc = {
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  /** True once the process has exited (or could not be spawned). */
  hasExited(): boolean;
  /** The process's output so far (stdout and stderr, interleaved). */
  log(): string;
  /** Sends a signal by pid (no-op once exited). */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after timeoutMs; resolves with the exit. */
  stop(opts?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<Exit>;
};

export type SpawnOptions = {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout and stderr go; a fresh temp file when omitted. */
  logFile?: string;
  /**
   * Its own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the
   * process in its own order (the child still gets signals by pid from stop()).
   */
  detached?: boolean;
};

export function tempDir(prefix = 'hit-counter-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function spawnProcess(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const logFile = opts.logFile ?? join(tempDir('proc-'), 'output.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: opts.detached ?? false,
  });
  closeSync(fd);
  let exit: Exit | undefined;
  let failed = false;
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', (err) => {
      failed = true;
      reject(err);
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  if (child.pid === undefined) {
    // spawn failed (ENOENT etc.): the 'error' event carries the reason.
    exited.catch(() => {});
  }
  const pid = child.pid ?? -1;
  const signal = (sig: NodeJS.Signals) => {
    if (exit || pid < 0) return;
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = async ({
    signal: sig = 'SIGTERM' as NodeJS.Signals,
    timeoutMs = 5000,
  }: { signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<Exit> => {
    if (exit) return exit;
    if (pid < 0) return { code: null, signal: null };
    signal(sig);
    const ac = new AbortController();
    const timer = delay(timeoutMs, 'timeout' as const, { signal: ac.signal }).catch(() => 'aborted' as const);
    const first = await Promise.race([exited, timer]);
    ac.abort();
    if (first === 'timeout') signal('SIGKILL');
    return exited;
  };
  return {
    pid,
    child,
    logFile,
    exited,
    hasExited: () => exit !== undefined || failed || pid < 0,
    log: () => readFileSync(logFile, 'utf8'),
    signal,
    stop,
  };
}

/** Polls `condition` until it returns a truthy value (which is returned) or the deadline passes. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await delay(intervalMs);
  }
}

/** Returns the binary's path, or throws a message that says how to install it. */
export function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) throw new Error(`${name} not found: run \`bash tools/install.sh\``);
  return path;
}
