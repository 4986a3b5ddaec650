// Connections straight at one service process (no proxy in front, a real redis-server behind).
// 1000 clients under load (wrk): the memory peak (VmHWM) stays under the memory limit the chart
// gives the container, and every client is served. Then more keep-alive connections than
// MAX_CONNECTIONS, held open: the process never holds more sockets than the cap, its memory stays
// under the limit with the cap reached, each connection beyond the cap is closed by the
// server as soon as it is accepted (the client sees it closed at once, instead of waiting inside
// the process), and once the clients leave the process serves normally.
//
// In its container Node sizes V8's heap from the memory limit (the cgroup): up to 512Mi that is
// 256 MiB of old space and 1 MiB semi-spaces (heap_size_limit 259 MiB, measured under 128Mi-512Mi).
// Outside a container Node sizes it from the machine's memory instead, so the process gets the same
// sizes as flags here.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { buildApp, REQUEST_TIMEOUT_MS } from '../src/app.ts';
import { loadConfig, variables } from '../src/config.ts';
import { helmTemplate, parseManifests } from '../../tools/lib/helm.ts';
import { requireBinary, waitFor } from '../../tools/lib/proc.ts';
import { startRedis } from '../../tools/lib/redis.ts';
import { get } from './helpers/http.ts';
import { startService } from './helpers/service.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');
const chartDir = path.join(repoRoot, 'charts/hit-counter');
const CAP = variables.MAX_CONNECTIONS.default;
const LOAD_CLIENTS = 1000;
const LOAD_SECONDS = 5;
/** Connections held open in step 2: the cap and then some. */
const HELD = CAP + 256;
/** Descriptors besides client sockets (stdio, listener, Redis, epoll…), with room to spare. */
const OTHER_FDS = 64;
/** A connection beyond the cap must be closed within this (a loaded machine's slack included). */
const FAST_MS = 5000;

/** Bytes of a Kubernetes quantity such as 256Mi or 1G. */
function bytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  if (!m) throw new Error(`not a memory quantity: ${quantity}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

/** The service container's memory limit, rendered as the minikube environment deploys it. */
async function chartMemoryLimit(): Promise<string> {
  const rendered = await helmTemplate({
    chartDir,
    releaseName: 'hit-counter',
    namespace: 'hit-counter',
    valueFiles: [path.join(repoRoot, 'environments/minikube/values.yaml')],
  });
  const deployment = parseManifests(rendered).find(
    (o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === 'service',
  );
  const limit: unknown = deployment?.spec.template.spec.containers[0].resources.limits.memory;
  if (typeof limit !== 'string') throw new Error('the chart sets no memory limit on the service');
  return limit;
}

const status = (pid: number, field: string): number =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) *
  1024;
const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

type Held = { socket: Socket; connected: Promise<void>; closedMs?: number };

/**
 * A keep-alive client: one request (/health, not counted), then idle, as nginx's pooled upstream
 * connections are; open until the server closes it (or the test ends).
 */
function hold(port: number): Held {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {}); // a reset is the server closing it too
  socket.on('data', () => {});
  socket.write('GET /health HTTP/1.1\r\nHost: test\r\n\r\n');
  const h: Held = {
    socket,
    connected: new Promise<void>((resolve) => socket.once('connect', () => resolve())),
  };
  void h.connected.then(() => {
    const at = performance.now();
    socket.once('close', () => (h.closedMs = performance.now() - at));
  });
  return h;
}

t.test('connections at one process: memory under the chart limit, capped at MAX_CONNECTIONS', async (t) => {
  const limit = await chartMemoryLimit();
  t.ok(bytes(limit) <= 512 * 2 ** 20, `the heap sizes below hold for the chart's limit (${limit})`);
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const service = await startService(t, {
    REDIS_URL: redis.url,
    LOG_LEVEL: 'warn',
    // the sizes Node takes from the limit in its container (see the top), and nothing else
    NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=1',
  });
  const pid = service.proc.pid;
  await waitFor(async () => (await get(`${service.url}/ready`)).status === 200, { what: '/ready 200' });
  const idleFds = openFds(pid);

  // 1. 1000 clients under load.
  const { stdout } = await run(
    requireBinary('wrk'),
    ['-t2', `-c${LOAD_CLIENTS}`, `-d${LOAD_SECONDS}s`, '--timeout', '10s', `${service.url}/`],
    { maxBuffer: 1 << 20 },
  );
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const errors = /Socket errors: .*/.exec(stdout)?.[0] ?? 'no socket errors';
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  t.comment(`wrk -c${LOAD_CLIENTS}: ${requests} requests, ${non2xx} not 2xx; ${errors}`);
  t.ok(requests > LOAD_CLIENTS, `the clients were served (${requests} requests)`);
  t.equal(non2xx, 0, 'every answer 200');
  const loadPeak = status(pid, 'VmHWM');
  t.ok(
    loadPeak < bytes(limit),
    `memory peak ${Math.round(loadPeak / 2 ** 20)} MiB under the chart's limit (${limit})`,
  );

  // 2. More connections than the cap, held open (connected in small groups, as a crowd arrives).
  const held: Held[] = [];
  t.teardown(() => held.forEach((h) => h.socket.destroy()));
  for (let i = 0; i < HELD; i += 64) {
    const group = Array.from({ length: Math.min(64, HELD - i) }, () => hold(service.port));
    held.push(...group);
    await Promise.all(group.map((h) => h.connected));
  }
  const closed = () => held.filter((h) => h.closedMs !== undefined);
  await waitFor(() => closed().length >= HELD - CAP, {
    timeoutMs: FAST_MS,
    what: `the server to close the ${HELD - CAP} connections beyond the cap`,
  });
  const fds = openFds(pid);
  t.ok(
    fds <= idleFds + CAP + OTHER_FDS,
    `open descriptors at most the cap: ${fds} (idle ${idleFds}, cap ${CAP})`,
  );
  const open = HELD - closed().length;
  t.ok(open <= CAP && open >= CAP - OTHER_FDS, `${open} connections held open, the cap is ${CAP}`);
  const slowest = Math.max(...closed().map((h) => h.closedMs!));
  t.ok(
    slowest <= FAST_MS,
    `each one beyond the cap closed within ${FAST_MS} ms (slowest ${Math.round(slowest)} ms)`,
  );
  const peak = status(pid, 'VmHWM');
  t.ok(
    peak < bytes(limit),
    `memory peak ${Math.round(peak / 2 ** 20)} MiB under the chart's limit (${limit})`,
  );

  // 3. The crowd leaves: the process serves normally.
  held.forEach((h) => h.socket.destroy());
  await waitFor(async () => (await get(`${service.url}/`)).status === 200, {
    timeoutMs: 10_000,
    what: 'GET / 200 once the held connections are gone',
  });
  t.match(
    (await get(`${service.url}/`)).body,
    /^Holla! we have hit \d+ times\n$/,
    'serves normally afterwards',
  );
  t.equal((await get(`${service.url}/health`)).status, 200);
  t.equal((await get(`${service.url}/ready`)).status, 200);
  t.comment(`peak RSS ${Math.round(peak / 2 ** 20)} MiB; ${fds} descriptors with ${open} connections held`);
});

t.test('a client that never finishes its request is answered 408 and closed: it holds no slot', async (t) => {
  const app = buildApp(loadConfig({}), { logger: false });
  t.teardown(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const socket = connect((app.server.address() as { port: number }).port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString()));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const started = performance.now();
  socket.write('GET / HTTP/1.1\r\nHost: test\r\n'); // the blank line never comes
  // The server checks every second; the slack covers a loaded machine.
  const bound = REQUEST_TIMEOUT_MS + 1000 + 4000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    closed.then(() => 'closed' as const),
    new Promise<'open'>((resolve) => (timer = setTimeout(resolve, bound, 'open'))),
  ]);
  clearTimeout(timer);
  const ms = performance.now() - started;
  t.equal(outcome, 'closed', `closed by the server (${Math.round(ms)} ms; bound ${bound} ms)`);
  t.ok(ms >= REQUEST_TIMEOUT_MS - 100, `not before the request timeout (${REQUEST_TIMEOUT_MS} ms)`);
  t.match(received, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
});
