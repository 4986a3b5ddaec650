// Probes. /health (liveness) says only that the process is up and serving: it never touches the
// store, so a slow, hung or lost Redis never fails it (restarting the process would not help).
// /ready (readiness) checks the dependency and the draining flag: 503 with the reason in JSON while
// Redis is disconnected, hung or slow (the store answers within a bound), or the process drains.
import type { FastifyPluginAsync } from 'fastify';

export type ReadyState = { ready: boolean; reason?: string };
export type HealthOptions = { readyState: () => Promise<ReadyState> };

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { readyState }) => {
  app.get('/health', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'UP' };
  });

  app.get('/ready', async (_request, reply) => {
    const state = await readyState();
    reply.header('cache-control', 'no-store');
    if (state.ready) return { status: 'READY' };
    return reply.code(503).send({ status: 'NOT_READY', reason: state.reason });
  });
};
