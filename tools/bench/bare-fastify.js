// The floor the service is measured against: Fastify 5 and nothing else, answering GET / with the
// service's sentence and a bigint counter, logger off. Listens on PORT and HOST, as the service does.
// Plain JavaScript, so node runs it as it runs the service's compiled build: no type stripping.
import Fastify from 'fastify';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`bare-fastify: PORT must be a port, got "${process.env.PORT ?? ''}"\n`);
  process.exit(2);
}
let hits = 0n;
const app = Fastify({ logger: false });
app.get('/', async (_request, reply) => {
  hits += 1n;
  return reply.type('text/plain; charset=utf-8').send(`Holla! we have hit ${hits} times\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' });
