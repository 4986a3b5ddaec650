// Graceful shutdown. SIGTERM: /ready turns 503 and every answer closes its connection (app.ts)
// → wait the drain delay (endpoints are being removed while requests still arrive) → app.close()
// (in-flight requests finish, late ones get 503 + Connection: close, the store quits) → exit 0.
// SIGINT does the same without the delay, and cuts a running delay short. A hard deadline exits
// non-zero if the drain hangs.
import type { FastifyInstance } from 'fastify';
import type { Lifecycle } from './app.ts';

export type ShutdownOptions = {
  app: FastifyInstance;
  lifecycle: Lifecycle;
  delayMs: number;
  /** Time allowed for closing after the delay, before exiting non-zero. */
  closeTimeoutMs?: number;
  exit?: (code: number) => void;
};

export const CLOSE_TIMEOUT_MS = 10_000;

/** The shutdown sequence; call it with the signal received (a second call only cuts a delay short). */
export function createShutdown(o: ShutdownOptions): (signal: NodeJS.Signals) => Promise<void> {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  const log = o.app.log;
  let skipDelay: (() => void) | undefined;
  let started = false;

  const shutdown = async (signal: NodeJS.Signals) => {
    if (started) {
      if (signal === 'SIGINT') skipDelay?.();
      return;
    }
    started = true;
    o.lifecycle.draining = true;
    const delayMs = signal === 'SIGTERM' ? o.delayMs : 0;
    log.info({ signal, delayMs }, 'shutdown: not ready any more, draining');
    const deadline = setTimeout(
      () => {
        log.error({ signal }, 'shutdown: deadline passed with requests still open; exiting');
        exit(1);
      },
      delayMs + (o.closeTimeoutMs ?? CLOSE_TIMEOUT_MS),
    );
    deadline.unref();
    if (delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        skipDelay = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    try {
      await o.app.close();
    } catch (err) {
      log.error({ err }, 'shutdown: close failed');
      exit(1);
      return;
    }
    clearTimeout(deadline);
    log.info('shutdown: complete');
    exit(0);
  };

  return shutdown;
}

export function handleShutdownSignals(o: ShutdownOptions): void {
  const shutdown = createShutdown(o);
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
