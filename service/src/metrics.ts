// The service's Prometheus metrics (prom-client), in a registry of their own per app instance.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  hits: Counter;
  storeErrors: Counter<'kind'>;
  batchSize: Histogram;
  redisDuration: Histogram;
};

export function createMetrics(isReady: () => boolean, logLinesDropped: () => number = () => 0): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: 'hitcounter_ready',
    help: 'Whether the service is ready to serve (1) or not (0): store answering and not draining',
    registers,
    collect() {
      this.set(isReady() ? 1 : 0);
    },
  });
  new Counter({
    name: 'hitcounter_log_lines_dropped_total',
    help: 'Log lines dropped because stdout did not keep up with them (the write buffer was full)',
    registers,
    collect() {
      this.reset();
      this.inc(logLinesDropped());
    },
  });
  const storeErrors = new Counter({
    name: 'hitcounter_store_errors_total',
    help: 'Failed store commands by kind: timeout and unreplicated (both may have been counted), unavailable, error',
    labelNames: ['kind'] as const,
    registers,
  });
  for (const kind of ['timeout', 'unreplicated', 'unavailable', 'error']) storeErrors.inc({ kind }, 0);
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status code (probes and /metrics excluded)',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  // The hit route's series exist from the start, so rate() sees the first 503 and the error ratio
  // reads 0, not "no data", before any error.
  for (const status_code of ['200', '503']) httpDuration.zero({ method: 'GET', route: '/', status_code });
  return {
    registry,
    storeErrors,
    httpDuration,
    hits: new Counter({
      name: 'hitcounter_hits_total',
      help: 'Hits counted (answered with a number)',
      registers,
    }),
    batchSize: new Histogram({
      name: 'hitcounter_batch_size',
      help: 'Hits carried by one INCRBY (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    }),
    redisDuration: new Histogram({
      name: 'hitcounter_redis_command_duration_seconds',
      help: 'Duration of Redis counter commands, failures included',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
  };
}
