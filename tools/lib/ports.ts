// A free TCP port for a process about to listen. Chosen at random in 20000-29999 and checked by
// binding it: below Linux's ephemeral range (32768-60999), where the kernel picks the source port
// of every outgoing connection, so a load test's thousands of connections cannot take a port
// between its choice and its use (a port the kernel chose for port 0 comes from that range, and
// was seen taken that way); and below Kubernetes' NodePort range (30000-32767), which the real
// node's kube-proxy redirects on local addresses.
import { createServer } from 'node:net';

const LOW = 20000;
const SPAN = 10000;
const TRIES = 50;

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < TRIES; i++) {
    const port = LOW + Math.floor(Math.random() * SPAN);
    if (await bindable(port, host)) return port;
  }
  throw new Error(`no free port in ${LOW}-${LOW + SPAN - 1} on ${host} after ${TRIES} tries`);
}
