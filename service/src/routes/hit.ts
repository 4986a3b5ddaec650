// GET / counts one hit and answers its number; HEAD / answers the same headers without counting;
// every other method on / is 405. The answer is text/plain unless the client prefers HTML.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import type { CounterStore } from '../counter/store.ts';
import { StoreError } from '../counter/store.ts';
import type { Metrics } from '../metrics.ts';
import { renderPage } from './page.ts';

export type HitOptions = { store: CounterStore; metrics: Pick<Metrics, 'hits'> };

const TYPES = ['text/plain', 'text/html'];
const ALLOW = 'GET, HEAD';
const RETRY_AFTER_S = '1';

function prefersHtml(request: FastifyRequest): boolean {
  // HTML can only be chosen through "html" or a wildcard ("*/*", "text/*"): an Accept with neither
  // (or none) gets text/plain without the negotiation, which is for browsers and wildcards.
  const accept = request.headers.accept;
  if (accept === undefined || !/html|\*/i.test(accept)) return false;
  return new Negotiator(request.raw).mediaType(TYPES) === 'text/html';
}

function setHeaders(request: FastifyRequest, reply: FastifyReply): boolean {
  const html = prefersHtml(request);
  reply
    .header('cache-control', 'no-store')
    .header('vary', 'Accept')
    .type(html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8');
  return html;
}

function hasBody(request: FastifyRequest): boolean {
  const { 'content-length': length, 'transfer-encoding': encoding } = request.headers;
  return encoding !== undefined || (length !== undefined && length !== '0');
}

export const hitRoutes: FastifyPluginAsync<HitOptions> = async (app, { store, metrics }) => {
  app.route({
    method: 'GET',
    url: '/',
    exposeHeadRoute: false,
    onRequest: (request, reply, done) => {
      if (!hasBody(request)) return done();
      void reply
        .code(400)
        .header('connection', 'close')
        .type('text/plain; charset=utf-8')
        .send('GET / must not carry a body\n');
    },
    handler: async (request, reply) => {
      let n: bigint;
      try {
        n = await store.hit();
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
        request.log.warn({ err: err.message, kind: err.kind }, 'hit not counted: store failed');
        return reply
          .code(503)
          .header('retry-after', RETRY_AFTER_S)
          .header('cache-control', 'no-store')
          .type('text/plain; charset=utf-8')
          .send('The counter store is unavailable; retry shortly.\n');
      }
      metrics.hits.inc();
      const sentence = `Holla! we have hit ${n} times`;
      const html = setHeaders(request, reply);
      return reply.code(200).send(html ? renderPage(sentence) : `${sentence}\n`);
    },
  });

  app.route({
    method: 'HEAD',
    url: '/',
    handler: async (request, reply) => {
      setHeaders(request, reply);
      return reply.code(200).send();
    },
  });

  app.route({
    method: app.supportedMethods.filter((m) => m !== 'GET' && m !== 'HEAD'),
    url: '/',
    // Answer before any body is read or parsed.
    onRequest: async (request, reply) => {
      await reply
        .code(405)
        .header('allow', ALLOW)
        .type('text/plain; charset=utf-8')
        .send(`${request.method} is not allowed on /; use ${ALLOW}\n`);
    },
    handler: async () => {},
  });

  app.get('/favicon.ico', async (_request, reply) =>
    reply.code(204).header('cache-control', 'max-age=86400').send(),
  );
};
