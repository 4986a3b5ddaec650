// Starts the real service process (`node service/src/main.ts`) on a free port for a test, and stops
// it by pid in the test's teardown, which then removes its log.
import { join } from 'node:path';
import { freePort } from '../../../tools/lib/ports.ts';
import { tempDir, type Proc } from '../../../tools/lib/proc.ts';
import { spawnServiceProcess, startServiceProcess } from '../../../tools/stack/service.ts';

export type Service = { url: string; port: number; proc: Proc; logLines(): Record<string, unknown>[] };

type Teardown = { teardown(fn: () => unknown): void };

/** The test's environment without a Redis it did not ask for. */
export function baseEnv(): NodeJS.ProcessEnv {
  const { REDIS_URL: _u, REDIS_PASSWORD: _p, ...base } = process.env;
  return base;
}

/** A log file in a temp dir the test's teardown removes (registered first, so it runs last). */
function logFile(t: Teardown): string {
  const dir = tempDir('service-', t);
  return join(dir, 'service.log');
}

/** Spawns main.ts with the given environment (PORT and HOST are chosen here); the teardown stops it. */
export function spawnService(t: Teardown, env: Record<string, string>, port: number): Proc {
  const proc = spawnServiceProcess({ port, env: baseEnv(), overrides: env, logFile: logFile(t) });
  t.teardown(() => proc.stop({ timeoutMs: 5000 }));
  return proc;
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
  const proc = await startServiceProcess({
    port,
    env: baseEnv(),
    overrides: env,
    logFile: logFile(t),
    readyPath: '/health',
  });
  t.teardown(() => proc.stop({ timeoutMs: 5000 }));
  return { url: `http://127.0.0.1:${port}`, port, proc, logLines: () => parseLog(proc.log()) };
}
