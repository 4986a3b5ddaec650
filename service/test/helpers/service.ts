// Starts the real service process (`node service/src/main.ts`) on a free port for a test, and stops
// it by pid in the test's teardown.
import { join } from 'node:path';
import { freePort } from '../../../tools/lib/ports.ts';
import { spawnProcess, tempDir, waitFor, type Proc } from '../../../tools/lib/proc.ts';
import { get } from './http.ts';

export const MAIN = join(import.meta.dirname, '..', '..', 'src', 'main.ts');

export type Service = { url: string; port: number; proc: Proc; logLines(): Record<string, unknown>[] };

type Teardown = { teardown(fn: () => unknown): void };

/** Spawns main.ts with the given environment (PORT and HOST are chosen here). */
export function spawnService(env: Record<string, string>, port: number): Proc {
  const { REDIS_URL: _u, REDIS_PASSWORD: _p, ...base } = process.env;
  return spawnProcess(process.execPath, [MAIN], {
    env: { ...base, HOST: '127.0.0.1', PORT: String(port), ...env },
    logFile: join(tempDir('service-'), 'service.log'),
  });
}

export function parseLog(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Starts the service and waits until /health answers; the test's teardown stops it. */
export async function startService(t: Teardown, env: Record<string, string> = {}): Promise<Service> {
  const port = await freePort();
  const proc = spawnService(env, port);
  t.teardown(() => proc.stop({ timeoutMs: 5000 }));
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  await waitFor(async () => exited || (await get(`${url}/health`, { timeoutMs: 2000 })).status === 200, {
    timeoutMs: 20_000,
    what: `the service on port ${port}`,
  });
  if (exited) throw new Error(`the service exited at start:\n${proc.log()}`);
  return { url, port, proc, logLines: () => parseLog(proc.log()) };
}
