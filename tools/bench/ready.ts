// Start → ready: spawn a replica (`node service/src/main.ts`) and poll GET /ready every 2 ms until
// it answers 200; the time from spawn to that answer. The bench reports the median of a few.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/ports.ts';
import { spawnProcess, tempDir, waitFor } from '../lib/proc.ts';
import { isReady } from '../stack/service.ts';

const mainTs = join(import.meta.dirname, '..', '..', 'service', 'src', 'main.ts');

export interface StartToReady {
  samplesMs: number[];
  medianMs: number;
}

/** One measurement: spawn a replica with `env`, poll /ready, stop it; milliseconds to the first 200. */
export async function startToReadyMs(env: Record<string, string>): Promise<number> {
  const logs = tempDir('bench-ready-');
  const port = await freePort();
  const started = performance.now();
  const proc = spawnProcess(process.execPath, [mainTs], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    logFile: join(logs, 'replica.log'),
  });
  try {
    let gone = false;
    proc.exited.then(
      () => (gone = true),
      () => (gone = true),
    );
    await waitFor(async () => gone || (await isReady(port)), {
      timeoutMs: 20_000,
      intervalMs: 2,
      what: `replica on port ${port} to answer GET /ready with 200`,
    });
    if (gone) throw new Error(`the replica exited before it was ready:\n${proc.log()}`);
    return Math.round(performance.now() - started);
  } finally {
    await proc.stop({ signal: 'SIGINT', timeoutMs: 10_000 });
    rmSync(logs, { recursive: true, force: true });
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
