// Request logging: one line per request when it completes, at info — except probes and /metrics,
// which log at debug. The arrival of each request is logged at debug too.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/** Routes kept out of info-level logs and out of request metrics. */
export const QUIET_ROUTES = new Set(['/health', '/ready', '/metrics']);

export function isQuiet(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && QUIET_ROUTES.has(route);
}

export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const fields = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else if (isQuiet(request)) reply.log.debug(fields, 'request');
    else reply.log.info(fields, 'request');
  }

  // The completion line already says 404.
  override routeNotFound(): void {}
}
