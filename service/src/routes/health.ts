// Probes. /health (liveness) never touches the store; /ready (readiness) follows the store's
// connection and the draining flag, with the reason in JSON when not ready.
import type { FastifyPluginAsync } from 'fastify';

export type ReadyState = { ready: boolean; reason?: string };
export type HealthOptions = { readyState: () => ReadyState };

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { readyState }) => {
  app.get('/health', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'UP' };
  });

  app.get('/ready', async (_request, reply) => {
    const state = readyState();
    reply.header('cache-control', 'no-store');
    if (state.ready) return { status: 'READY' };
    return reply.code(503).send({ status: 'NOT_READY', reason: state.reason });
  });
};
