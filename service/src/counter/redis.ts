// The Redis store: group-committed INCRBY on one key through ioredis, with every wait bounded.
// Numbers travel as strings (stringNumbers) and become bigints, so they are exact over Redis's
// whole signed 64-bit range. A timed-out INCRBY may still have been applied by Redis: that hit is
// answered 503 but counted (an over-count, reported as hitcounter_store_errors_total{kind="timeout"}).
//
// Behind Sentinel, the client asks the sentinels for the primary on every (re)connect and follows a
// failover without a restart. With waitReplicas > 0 each batch's INCRBY is followed, on the same
// connection, by WAIT: the batch is answered only once that many replicas hold it, so the replica
// Sentinel promotes (the one with the largest replication offset) has every number answered 200.
// A batch not acknowledged in time is answered 503 although the primary counted it: an over-count
// (kind="unreplicated"), never a number given twice.
//
// Every hit is answered within its deadline (1.5 x the command timeout, from its arrival), also
// when it queued behind a batch that is still waiting for Redis: see batcher.ts.
//
// ioredis can end a client for good without being asked: with failoverDetector, a +switch-master
// that arrives while a reconnect is asking the sentinels for the primary aborts that reconnect and
// leaves the client 'end' ("Connection is closed." on every command, seen after a primary crash and
// after a planned handover). The store starts it again, with the reconnect backoff, unless close()
// ended it.
//
// Readiness follows Redis's answers, not only the connection: a hung Redis keeps its TCP connection
// open, so the store is not ready while a command has waited longer than STALL_FRACTION of the
// command timeout, or after a command timed out until Redis answers again. When nothing has answered
// lately, check() sends a PING (one at a time) and waits for it at most that long.
import { Redis, type RedisOptions } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics.ts';
import { Batcher } from './batcher.ts';
import { StoreError, type CounterStore, type StoreErrorKind, type StoreStatus } from './store.ts';

export type RedisStoreOptions = {
  /** One Redis: redis://host:port/db. */
  url?: string;
  /** Redis behind Sentinel (instead of url): the sentinels, the primary's name and the database. */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  db?: number;
  /** ACL user of Redis and of the sentinels (undefined: Redis' default user). */
  username?: string | undefined;
  /** Password of that user, on Redis and on the sentinels. */
  password: string | undefined;
  /** Replicas that must acknowledge each batch before it is answered (0 = no WAIT). */
  waitReplicas?: number;
  key: string;
  batchMax: number;
  log: FastifyBaseLogger;
  metrics: Pick<Metrics, 'batchSize' | 'redisDuration' | 'storeErrors'>;
  /** Bound on every Redis command, connecting included (ms). */
  commandTimeoutMs?: number;
};

const RECONNECT_MAX_MS = 2000;
const QUIT_TIMEOUT_MS = 1000;
export const COMMAND_TIMEOUT_MS = 1000;
/** A hit's deadline, from its arrival, as a multiple of the command timeout (1.5 s by default). */
export const HIT_DEADLINE_FACTOR = 1.5;
/** A command unanswered for this fraction of the command timeout makes the store not ready. */
const STALL_FRACTION = 0.75;
/** An answer younger than this (ms) spares /ready its PING. */
const FRESH_MS = 1000;

export class RedisStore implements CounterStore {
  readonly kind = 'redis';
  readonly client: Redis;
  readonly #key: string;
  readonly #batcher: Batcher;
  readonly #metrics: RedisStoreOptions['metrics'];
  readonly #log: FastifyBaseLogger;
  readonly #waitReplicas: number;
  readonly #waitMs: number;
  readonly #stallMs: number;
  #lastError = '';
  /** Commands sent and not settled: id → when sent (insertion order = oldest first). */
  readonly #pending = new Map<number, number>();
  #nextId = 0;
  /** When Redis last answered anything (a reply or a Redis error). */
  #lastAnswerAt = 0;
  /** A command timed out and Redis has not answered since. */
  #timedOut = false;
  #ping: Promise<unknown> | undefined;
  #closing = false;
  /** Restarts since the client was last ready, and the timer of the next one. */
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(o: RedisStoreOptions) {
    const timeout = o.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.#stallMs = Math.round(timeout * STALL_FRACTION);
    this.#key = o.key;
    this.#metrics = o.metrics;
    this.#log = o.log;
    this.#waitReplicas = o.waitReplicas ?? 0;
    // WAIT gives up after half the command timeout, so Redis (not the client's timer) reports a
    // missing acknowledgment, and the connection stays usable.
    this.#waitMs = Math.max(1, Math.floor(timeout / 2));
    const retry = (times: number): number => Math.min(50 * 2 ** times, RECONNECT_MAX_MS);
    const options: RedisOptions = {
      username: o.username,
      password: o.password,
      // Only the commands the service's ACL user has: no CLIENT SETINFO (nor CLIENT SETNAME: no
      // connectionName). The ready check's INFO stays: it waits out LOADING and, behind Sentinel,
      // checks that the node it was sent to is the primary.
      disableClientInfo: true,
      connectTimeout: timeout,
      commandTimeout: timeout,
      // Fail fast instead of queueing or re-sending: a request never waits for a reconnect, and a
      // command is never applied twice.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: retry,
      // A primary demoted under an open connection answers READONLY: reconnect (through the
      // sentinels, to the new primary) without re-sending the refused command.
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
      stringNumbers: true,
      lazyConnect: true,
    };
    if (o.sentinels) {
      this.client = new Redis({
        ...options,
        sentinels: o.sentinels,
        name: o.sentinelName ?? 'hit-counter',
        db: o.db ?? 0,
        sentinelUsername: o.username,
        sentinelPassword: o.password,
        sentinelRetryStrategy: retry,
        sentinelCommandTimeout: timeout,
        // Subscribe to the sentinels' +switch-master: reconnect at once on a failover.
        failoverDetector: true,
      });
    } else if (o.url) {
      this.client = new Redis(o.url, options);
    } else {
      throw new RangeError('RedisStore needs a url or sentinels');
    }
    this.client.on('ready', () => {
      this.#lastError = '';
      this.#restarts = 0;
      // a new connection: the ready check (INFO) was answered
      this.#timedOut = false;
      this.#lastAnswerAt = performance.now();
      this.#log.info({ store: 'redis' }, 'redis connection ready');
    });
    this.client.on('error', (err: Error) => {
      // ioredis repeats the same error on every reconnect attempt: log each distinct one once.
      if (err.message === this.#lastError) return;
      this.#lastError = err.message;
      this.#log.warn({ store: 'redis', err: err.message }, 'redis connection error; reconnecting');
    });
    this.client.on('end', () => {
      if (this.#closing) return;
      const delay = retry(++this.#restarts);
      this.#log.warn(
        { store: 'redis', restartInMs: delay },
        'redis client ended without close(); starting it again',
      );
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined;
        if (!this.#closing) this.client.connect().catch(() => {});
      }, delay);
    });
    this.#batcher = new Batcher(
      this.#waitReplicas > 0 ? (k) => this.#incrByReplicated(k) : (k) => this.#incrBy(k),
      o.batchMax,
      {
        deadlineMs: Math.round(timeout * HIT_DEADLINE_FACTOR),
        deadlineError: (sent, ms) =>
          new StoreError(
            'timeout',
            sent
              ? `redis: no answer within ${ms} ms of the hit's arrival (in flight: it may still be counted)`
              : `redis: no answer within ${ms} ms of the hit's arrival (still queued: not counted)`,
          ),
      },
    );
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
    if (status !== 'ready') return { ready: false, detail: `redis ${status}` };
    if (this.#timedOut) return { ready: false, detail: 'redis timed out and has not answered since' };
    const oldest = this.#pending.values().next().value;
    const waited = oldest === undefined ? 0 : performance.now() - oldest;
    if (waited > this.#stallMs)
      return { ready: false, detail: `redis has not answered for ${Math.round(waited)} ms` };
    return { ready: true, detail: 'redis ready' };
  }

  async check(): Promise<StoreStatus> {
    const status = this.status();
    if (this.client.status !== 'ready') return status;
    if (status.ready && performance.now() - this.#lastAnswerAt < FRESH_MS) return status;
    // Nothing answered lately, or the last command timed out: ask Redis itself, briefly.
    this.#ping ??= this.#track(() => this.client.ping()).finally(() => (this.#ping = undefined));
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      this.#ping.then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(resolve, this.#stallMs, false))),
    ]);
    clearTimeout(timer);
    if (!answered) return { ready: false, detail: `redis did not answer PING within ${this.#stallMs} ms` };
    return this.status();
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#restartTimer);
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

  /** INCRBY, then WAIT on the same connection (sent together: one round trip). */
  async #incrByReplicated(k: number): Promise<bigint> {
    let wait: Promise<number> | undefined;
    const value = await this.#command(() => {
      const incr = this.client.incrby(this.#key, k);
      wait = this.client.wait(this.#waitReplicas, this.#waitMs);
      wait.catch(() => {}); // awaited below unless the INCRBY already failed
      return incr;
    });
    this.#metrics.batchSize.observe(k);
    const acked = await this.#command(() => wait as Promise<number>);
    if (Number(acked) < this.#waitReplicas) {
      this.#metrics.storeErrors.inc({ kind: 'unreplicated' });
      throw new StoreError(
        'unreplicated',
        `redis: ${acked} of ${this.#waitReplicas} replica(s) acknowledged the batch within ${this.#waitMs} ms`,
      );
    }
    return BigInt(value);
  }

  /** Runs one command, keeping the facts readiness needs: what is pending, when Redis last answered. */
  async #track<T>(run: () => Promise<T>): Promise<T> {
    const id = this.#nextId++;
    this.#pending.set(id, performance.now());
    try {
      const value = await run();
      this.#answered();
      return value;
    } catch (err) {
      if ((err as Error).name === 'ReplyError') this.#answered();
      else if ((err as Error).message === 'Command timed out') this.#timedOut = true;
      throw err;
    } finally {
      this.#pending.delete(id);
    }
  }

  #answered(): void {
    this.#timedOut = false;
    this.#lastAnswerAt = performance.now();
  }

  async #command<T>(run: () => Promise<T>): Promise<T> {
    const end = this.#metrics.redisDuration.startTimer();
    try {
      return await this.#track(run);
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
