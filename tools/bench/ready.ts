// Start → ready: spawn a replica (the bench: `node service/dist/main.js`) and poll GET /ready every
// 2 ms until it answers 200; the time from spawn to that answer. The bench reports the median of a
// few.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/ports.ts';
import { tempDir } from '../lib/proc.ts';
import { startServiceProcess } from '../stack/service.ts';

export interface StartToReady {
  samplesMs: number[];
  medianMs: number;
}

/**
 * One measurement: spawn a replica (`script`, the compiled build) with `env`, poll /ready, stop it;
 * milliseconds to the first 200.
 */
export async function startToReadyMs(env: Record<string, string>, script: string): Promise<number> {
  const logs = tempDir('bench-ready-');
  try {
    const port = await freePort();
    const started = performance.now();
    const proc = await startServiceProcess({
      script,
      port,
      env: { ...process.env, ...env },
      logFile: join(logs, 'replica.log'),
      intervalMs: 2,
    });
    const ms = Math.round(performance.now() - started);
    await proc.stop({ signal: 'SIGINT', timeoutMs: 10_000 });
    return ms;
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
