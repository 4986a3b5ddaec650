// The Redis store: group-committed INCRBY on one key through ioredis, with every wait bounded.
// Numbers travel as strings (stringNumbers) and become bigints, so they are exact over Redis's
// whole signed 64-bit range. A timed-out INCRBY may still have been applied by Redis: that hit is
// answered 503 but counted (an over-count, reported as hitcounter_store_errors_total{kind="timeout"}).
import { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics.ts';
import { Batcher } from './batcher.ts';
import { StoreError, type CounterStore, type StoreErrorKind, type StoreStatus } from './store.ts';

export type RedisStoreOptions = {
  url: string;
  password: string | undefined;
  key: string;
  batchMax: number;
  log: FastifyBaseLogger;
  metrics: Pick<Metrics, 'batchSize' | 'redisDuration' | 'storeErrors'>;
  /** Bound on every Redis command, connecting included (ms). */
  commandTimeoutMs?: number;
};

const RECONNECT_MAX_MS = 2000;
const QUIT_TIMEOUT_MS = 1000;

export class RedisStore implements CounterStore {
  readonly kind = 'redis';
  readonly client: Redis;
  readonly #key: string;
  readonly #batcher: Batcher;
  readonly #metrics: RedisStoreOptions['metrics'];
  readonly #log: FastifyBaseLogger;
  #lastError = '';

  constructor(o: RedisStoreOptions) {
    const timeout = o.commandTimeoutMs ?? 1000;
    this.#key = o.key;
    this.#metrics = o.metrics;
    this.#log = o.log;
    this.client = new Redis(o.url, {
      password: o.password,
      connectTimeout: timeout,
      commandTimeout: timeout,
      // Fail fast instead of queueing or re-sending: a request never waits for a reconnect, and a
      // command is never applied twice.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => Math.min(50 * 2 ** times, RECONNECT_MAX_MS),
      stringNumbers: true,
      lazyConnect: true,
    });
    this.client.on('ready', () => {
      this.#lastError = '';
      this.#log.info({ store: 'redis' }, 'redis connection ready');
    });
    this.client.on('error', (err: Error) => {
      // ioredis repeats the same error on every reconnect attempt: log each distinct one once.
      if (err.message === this.#lastError) return;
      this.#lastError = err.message;
      this.#log.warn({ store: 'redis', err: err.message }, 'redis connection error; reconnecting');
    });
    this.#batcher = new Batcher((k) => this.#incrBy(k), o.batchMax);
    // Connect in the background: the process serves /health while Redis is unreachable.
    this.client.connect().catch(() => {});
  }

  hit(): Promise<bigint> {
    return this.#batcher.hit();
  }

  async current(): Promise<bigint> {
    const value = await this.#command(() => this.client.get(this.#key));
    try {
      return BigInt(value ?? 0);
    } catch (err) {
      throw new StoreError('error', `redis: the value of ${this.#key} is not an integer`, { cause: err });
    }
  }

  status(): StoreStatus {
    const status = this.client.status;
    return { ready: status === 'ready', detail: `redis ${status}` };
  }

  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.client.quit().then(() => {}), timedOut]);
    } catch {
      // not connected: nothing to quit
    } finally {
      clearTimeout(timer);
      this.client.disconnect();
    }
  }

  async #incrBy(k: number): Promise<bigint> {
    const value = await this.#command(() => this.client.incrby(this.#key, k));
    this.#metrics.batchSize.observe(k);
    return BigInt(value);
  }

  async #command<T>(run: () => Promise<T>): Promise<T> {
    const end = this.#metrics.redisDuration.startTimer();
    try {
      return await run();
    } catch (err) {
      const kind = classify(err);
      this.#metrics.storeErrors.inc({ kind });
      throw new StoreError(kind, `redis: ${(err as Error).message}`, { cause: err });
    } finally {
      end();
    }
  }
}

function classify(err: unknown): StoreErrorKind {
  const e = err as Error;
  if (e.message === 'Command timed out') return 'timeout';
  if (e.name === 'ReplyError') return 'error';
  return 'unavailable';
}
