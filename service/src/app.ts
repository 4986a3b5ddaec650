// buildApp(config): the Fastify instance with its store, metrics, hooks and routes — no listen().
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.ts';
import { MemoryStore } from './counter/memory.ts';
import { RedisStore } from './counter/redis.ts';
import type { CounterStore, StoreStatus } from './counter/store.ts';
import { createMetrics } from './metrics.ts';
import { healthRoutes, type ReadyState } from './routes/health.ts';
import { hitRoutes } from './routes/hit.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { isQuiet, RequestLogController } from './request-log.ts';

/** Set when shutdown starts: /ready turns 503 while requests are still served. */
export type Lifecycle = { draining: boolean };

export type AppOptions = {
  lifecycle?: Lifecycle;
  /** A ready-made store (unit tests); else Redis (REDIS_URL or REDIS_SENTINELS), else embedded. */
  store?: CounterStore;
  logger?: FastifyServerOptions['logger'];
  /** Log lines the destination dropped (hitcounter_log_lines_dropped_total); none if absent. */
  logLinesDropped?: () => number;
  /** Redis command timeout in ms (default 1000); tests hold Redis longer than that on purpose. */
  redisCommandTimeoutMs?: number;
};

/** Longest request target accepted (bytes); longer ones get 414 before routing. */
export const MAX_URL_LENGTH = 4096;
/**
 * Time a client has to send a whole request (headers included) before it gets 408 and the
 * connection closes: a slow or idle client cannot hold one of the MAX_CONNECTIONS for long. nginx
 * sends each request at once; its own client_header_timeout is 10 s too.
 */
export const REQUEST_TIMEOUT_MS = 10_000;

export function buildApp(config: Config, opts: AppOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel },
    logController: new RequestLogController(),
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // headersTimeout defaults to 60 s: never above requestTimeout; checked every second.
    http: { headersTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // Memory grows with open connections: past the cap, a new connection is closed as soon as it is
  // accepted (the client sees it reset, at once) instead of queueing inside the process.
  app.server.maxConnections = config.maxConnections;
  const lifecycle = opts.lifecycle ?? { draining: false };
  let store: CounterStore;
  const draining: ReadyState = { ready: false, reason: 'draining: shutting down' };
  const toReady = (status: StoreStatus): ReadyState =>
    status.ready ? { ready: true } : { ready: false, reason: `store not ready: ${status.detail}` };
  // The gauge reads what is known now; /ready may ask the store (within a bound).
  const readyNow = (): ReadyState => (lifecycle.draining ? draining : toReady(store.status()));
  const checkReady = async (): Promise<ReadyState> => {
    if (lifecycle.draining) return draining;
    const state = toReady(await store.check());
    return lifecycle.draining ? draining : state;
  };
  const metrics = createMetrics(() => readyNow().ready, opts.logLinesDropped ?? (() => 0));
  if (opts.store) {
    store = opts.store;
  } else if (config.redisUrl || config.redisSentinels) {
    store = new RedisStore({
      url: config.redisUrl,
      sentinels: config.redisSentinels,
      sentinelName: config.redisSentinelName,
      db: config.redisDb,
      username: config.redisUsername,
      password: config.redisPassword,
      waitReplicas: config.redisWaitReplicas,
      key: config.counterKey,
      batchMax: config.counterBatchMax,
      log: app.log,
      metrics,
      commandTimeoutMs: opts.redisCommandTimeoutMs,
    });
  } else {
    app.log.warn(
      'REDIS_URL and REDIS_SENTINELS are unset: using the embedded in-memory store (one process, lost on exit)',
    );
    store = new MemoryStore();
  }
  app.addHook('onClose', async () => store.close());

  // The per-request hooks take a callback: an async hook costs a promise and a microtask per request.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url.length <= MAX_URL_LENGTH) return done();
    void reply
      .code(414)
      .header('connection', 'close')
      .type('text/plain; charset=utf-8')
      .send(`URI too long: at most ${MAX_URL_LENGTH} bytes\n`);
  });

  // While draining, every answer closes its connection: a proxy that pools keep-alive connections
  // (nginx) stops reusing this replica's and opens new ones to ready replicas, so none is left to
  // answer 503 once the server closes.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (lifecycle.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    if (!isQuiet(request))
      metrics.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    done();
  });

  app.setNotFoundHandler(async (_request, reply) =>
    reply.code(404).type('text/plain; charset=utf-8').send('Not found\n'),
  );

  // No stack traces reach clients: 4xx keep their message, anything else is a plain 500.
  app.setErrorHandler(async (err: Error & { statusCode?: number }, request, reply) => {
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) request.log.error({ err }, 'request failed');
    return reply
      .code(code)
      .type('text/plain; charset=utf-8')
      .send(code === 500 ? 'Internal error\n' : `${err.message}\n`);
  });

  void app.register(hitRoutes, { store, metrics });
  void app.register(healthRoutes, { readyState: checkReady });
  void app.register(metricsRoutes, { registry: metrics.registry });
  return app;
}
