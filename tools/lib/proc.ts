// Process helpers shared by tests and the local stack: spawn with output to a log file, stop by pid
// with a deadline, poll a condition, and fail clearly when a binary is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export type Proc = {
  pid: number;
  child: ChildProcess;
  /** The file its output goes to (one spawnProcess chose is removed once the process has exited). */
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
  /**
   * Where stdout and stderr go. When omitted, a file in a fresh temp dir of its own, which is removed
   * once the process has exited (log() still answers, with the output it held then).
   */
  logFile?: string;
  /**
   * Its own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the
   * process in its own order (the child still gets signals by pid from stop()).
   */
  detached?: boolean;
};

/**
 * A fresh directory under the system's temp dir. With an `owner` (a tap test), its teardown removes
 * the directory: registered now, it runs after the teardowns registered later (tap runs them last
 * registered first), so after the stop of a process started in it.
 */
export function tempDir(prefix = 'hit-counter-', owner?: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  owner?.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function spawnProcess(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const ownDir = opts.logFile === undefined ? tempDir('proc-') : undefined;
  const logFile = opts.logFile ?? join(ownDir as string, 'output.log');
  // The output of a process whose log dir is its own, kept once that dir is removed.
  let keptLog: string | undefined;
  const removeOwnDir = (): void => {
    if (ownDir === undefined || keptLog !== undefined) return;
    try {
      keptLog = readFileSync(logFile, 'utf8');
    } catch {
      keptLog = '';
    }
    rmSync(ownDir, { recursive: true, force: true });
  };
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: opts.detached ?? false,
    });
  } catch (err) {
    removeOwnDir();
    throw err;
  } finally {
    closeSync(fd);
  }
  let exit: Exit | undefined;
  let failed = false;
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', (err) => {
      failed = true;
      if (child.pid === undefined) removeOwnDir(); // it never ran
      reject(err);
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      // Its output is complete (it wrote to the file itself): keep it, then remove the dir, before
      // anyone awaiting the exit reads log().
      removeOwnDir();
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
    log: () => keptLog ?? readFileSync(logFile, 'utf8'),
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
