// One service replica: `node service/src/main.ts` on its own port with the given environment,
// started and considered up once GET /ready answers 200 (as a Kubernetes readiness probe would).
import { join } from 'node:path';
import { spawnProcess, waitFor, type Exit, type Proc } from '../lib/proc.ts';

const mainTs = join(import.meta.dirname, '..', '..', 'service', 'src', 'main.ts');

export interface Replica {
  pid: number;
  port: number;
  logFile: string;
  proc: Proc;
  /** true once the process has exited */
  readonly gone: boolean;
}

export interface ReplicaOptions {
  port: number;
  env: Record<string, string>;
  logFile: string;
  readyTimeoutMs?: number;
}

export async function startReplica(o: ReplicaOptions): Promise<Replica> {
  const proc = spawnProcess(process.execPath, [mainTs], {
    env: { ...process.env, ...o.env, PORT: String(o.port), HOST: '127.0.0.1' },
    logFile: o.logFile,
  });
  let gone = false;
  const onExit = (): void => void (gone = true);
  proc.exited.then(onExit, onExit);
  const replica: Replica = {
    pid: proc.pid,
    port: o.port,
    logFile: o.logFile,
    proc,
    get gone() {
      return gone;
    },
  };
  try {
    await waitFor(async () => gone || (await isReady(o.port)), {
      timeoutMs: o.readyTimeoutMs ?? 20_000,
      what: `service replica on port ${o.port} to answer GET /ready with 200 (log: ${o.logFile})`,
    });
  } catch (err) {
    await proc.stop({ signal: 'SIGKILL' });
    throw err;
  }
  if (gone) throw new Error(`service replica exited at start; see ${o.logFile}`);
  return replica;
}

export async function isReady(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) });
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
