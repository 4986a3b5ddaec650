// A real redis-server on a free loopback port, for tests and the local stack.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';
import { requireBinary, spawnProcess, tempDir, waitFor, type Exit, type Proc } from './proc.ts';

const run = promisify(execFile);

export type RedisOptions = {
  /** A redis.conf to start from; the port, dir and bind address below override it. */
  configFile?: string;
  /** Extra arguments, e.g. ['--appendonly', 'yes']. */
  args?: string[];
  /**
   * Data directory; reuse it to restart with the same data (the caller removes it when done). When
   * omitted, a fresh temp dir that stop() removes, and the log is spawnProcess' own.
   */
  dir?: string;
  /** Port to listen on (a free one when omitted); reuse it to restart at the same address. */
  port?: number;
  /** AUTH password the helper's own commands use (set it in the config or with --requirepass). */
  password?: string;
  /** ACL user the helper's own commands log in as, with `password` (default: Redis' default user). */
  user?: string;
  startTimeoutMs?: number;
  /**
   * Launch this instead of redis-server with the options above (e.g. the chart's redis-node.sh,
   * which execs redis-server or redis-sentinel in its place): it must listen on `port`.
   */
  launch?: { command: string; args: string[]; env: NodeJS.ProcessEnv };
};

export type RedisServer = {
  port: number;
  pid: number;
  dir: string;
  url: string;
  proc: Proc;
  /**
   * Stops the server by pid (SIGTERM, then SIGKILL after the deadline); then removes `dir` if it is
   * the fresh temp dir startRedis chose.
   */
  stop(opts?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<Exit>;
  /** Runs redis-cli against this server; resolves with its trimmed output. */
  cli(...args: string[]): Promise<string>;
};

export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const server = requireBinary('redis-server');
  const cliBin = requireBinary('redis-cli');
  if (opts.launch && opts.port === undefined) throw new Error('startRedis: launch needs a port');
  const dir = opts.dir ?? tempDir('redis-');
  const removeDir = opts.dir === undefined;
  try {
    return await startIn(dir, removeDir, opts, server, cliBin);
  } catch (err) {
    if (removeDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startIn(
  dir: string,
  removeDir: boolean,
  opts: RedisOptions,
  server: string,
  cliBin: string,
): Promise<RedisServer> {
  const attempts = opts.port === undefined ? 3 : 1;
  let lastLog = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = opts.port ?? (await freePort());
    const args = [
      ...(opts.configFile ? [opts.configFile] : []),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--daemonize',
      'no',
      ...(opts.configFile ? [] : ['--save', '', '--appendonly', 'no']),
      ...(opts.args ?? []),
    ];
    // A dir of its own goes at stop(): the log is spawnProcess' own then, so log() still answers.
    const logFile = removeDir ? undefined : join(dir, `redis-${port}.log`);
    const proc = opts.launch
      ? spawnProcess(opts.launch.command, opts.launch.args, { env: opts.launch.env, logFile })
      : spawnProcess(server, args, { logFile });
    const cli = async (...cmd: string[]) => {
      const user = opts.user ? ['--user', opts.user] : [];
      // The password travels in the environment, never on a command line.
      const { REDISCLI_AUTH: _inherited, ...env } = process.env;
      if (opts.password) env.REDISCLI_AUTH = opts.password;
      const { stdout } = await run(
        cliBin,
        ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', ...user, ...cmd],
        { timeout: 10_000, env },
      );
      return stdout.trim();
    };
    proc.exited.catch(() => {});
    // Ready once the server on the port is this process (another redis-server that took the port
    // first would answer too, while this one exits with "Address already in use") and PING answers
    // PONG (the data is loaded).
    const isThisServer = async (): Promise<boolean> =>
      new RegExp(`^process_id:${proc.pid}\\s*$`, 'm').test(await cli('INFO', 'server')) &&
      (await cli('PING')) === 'PONG';
    try {
      await waitFor(async () => proc.hasExited() || (await isThisServer()), {
        timeoutMs: opts.startTimeoutMs ?? 15_000,
        what: `redis-server (pid ${proc.pid}) answering on port ${port}`,
      });
    } catch (err) {
      await proc.stop({ signal: 'SIGKILL' });
      throw err;
    }
    if (proc.hasExited()) {
      lastLog = proc.log();
      if (/Address already in use/.test(lastLog)) continue;
      throw new Error(`redis-server exited at start:\n${lastLog}`);
    }
    return {
      port,
      pid: proc.pid,
      dir,
      url: `redis://127.0.0.1:${port}/0`,
      proc,
      stop: async (o) => {
        const exit = await proc.stop(o);
        if (removeDir) rmSync(dir, { recursive: true, force: true });
        return exit;
      },
      cli,
    };
  }
  throw new Error(`redis-server could not find a free port:\n${lastLog}`);
}

/** Calls per command from `INFO commandstats` output, e.g. { incrby: 2720, get: 2 }. */
export function parseCommandStats(info: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1] as string] = Number(m[2]);
  return calls;
}
