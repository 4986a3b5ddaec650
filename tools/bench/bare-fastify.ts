// The floor the service is measured against: Fastify 5 and nothing else, answering GET / with the
// service's sentence and a bigint counter, logger off. `node tools/bench/bare-fastify.ts <port>`
// prints "listening" once it accepts connections.
import Fastify from 'fastify';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`bare-fastify: the first argument must be a port, got "${process.argv[2] ?? ''}"\n`);
  process.exit(2);
}
let hits = 0n;
const app = Fastify({ logger: false });
app.get('/', async (_request, reply) => {
  hits += 1n;
  return reply.type('text/plain; charset=utf-8').send(`Holla! we have hit ${hits} times\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
await app.listen({ port, host: '127.0.0.1' });
process.stdout.write('listening\n');
