// One service process: `node service/src/main.ts` on its own port with the given environment,
// considered up once GET /ready (or /health) answers 200, as a Kubernetes probe would. The tests,
// the local stack and the benchmark all start the service through startServiceProcess.
import { join } from 'node:path';
import { spawnProcess, waitFor, type Exit, type Proc } from '../lib/proc.ts';

export const MAIN = join(import.meta.dirname, '..', '..', 'service', 'src', 'main.ts');

export interface ServiceProcessOptions {
  /** the script node runs (default: the service's main.ts); it must listen on PORT and HOST */
  script?: string;
  port: number;
  /** the process's whole environment except PORT and HOST, which are set here */
  env: NodeJS.ProcessEnv;
  /** applied over everything, PORT and HOST included (e.g. a test's invalid PORT) */
  overrides?: Record<string, string>;
  logFile: string;
  /** the path that must answer 200 (default '/ready') */
  readyPath?: string;
  /** default 20 s */
  timeoutMs?: number;
  /** how often the path is polled (default 50 ms) */
  intervalMs?: number;
}

/** Spawns `node main.ts` on 127.0.0.1:`port`, without waiting. */
export function spawnServiceProcess(
  o: Omit<ServiceProcessOptions, 'readyPath' | 'timeoutMs' | 'intervalMs'>,
): Proc {
  return spawnProcess(process.execPath, [o.script ?? MAIN], {
    env: { ...o.env, PORT: String(o.port), HOST: '127.0.0.1', ...o.overrides },
    logFile: o.logFile,
  });
}

/**
 * Spawns the service and resolves once `readyPath` answers 200. If the process exits first or the
 * deadline passes, it is killed (by pid) and the error carries its log.
 */
export async function startServiceProcess(o: ServiceProcessOptions): Promise<Proc> {
  const proc = spawnServiceProcess(o);
  proc.exited.catch(() => {});
  const path = o.readyPath ?? '/ready';
  try {
    await waitFor(async () => proc.hasExited() || (await answers200(o.port, path)), {
      timeoutMs: o.timeoutMs ?? 20_000,
      intervalMs: o.intervalMs ?? 50,
      what: `${o.script ?? 'the service'} on port ${o.port} to answer GET ${path} with 200 (log: ${o.logFile})`,
    });
  } catch (err) {
    await proc.stop({ signal: 'SIGKILL' });
    throw err;
  }
  if (proc.hasExited())
    throw new Error(`${o.script ?? 'the service'} exited at start (log: ${o.logFile}):\n${proc.log()}`);
  return proc;
}

export interface Replica {
  pid: number;
  port: number;
  logFile: string;
  proc: Proc;
  /** true once the process has exited */
  readonly gone: boolean;
}

export interface ReplicaOptions {
  /** default: the service's main.ts */
  script?: string;
  port: number;
  env: Record<string, string>;
  logFile: string;
  readyTimeoutMs?: number;
}

/** A stack replica: up once GET /ready answers 200. */
export async function startReplica(o: ReplicaOptions): Promise<Replica> {
  const proc = await startServiceProcess({
    script: o.script,
    port: o.port,
    env: { ...process.env, ...o.env },
    logFile: o.logFile,
    timeoutMs: o.readyTimeoutMs,
  });
  return {
    pid: proc.pid,
    port: o.port,
    logFile: o.logFile,
    proc,
    get gone() {
      return proc.hasExited();
    },
  };
}

async function answers200(port: number, path: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`). */
export function stopReplica(r: Replica, signal: NodeJS.Signals, timeoutMs: number): Promise<Exit> {
  return r.proc.stop({ signal, timeoutMs });
}
