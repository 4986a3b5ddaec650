// The chart's nginx.conf, rendered with a local upstream list and local paths, passes `nginx -t`
// on Debian's nginx and proxies to real upstreams: keepalive HTTP/1.1, a request a server received
// never resent (a hit is counted at most once) while one no server received is, load shed with 503
// and Retry-After, bodies refused, the service's /ready and /metrics not public, readiness on its
// own port, JSON access log, stub_status on its private port. Also the Deployment's probes and
// storage, and the EKS Ingress's TLS.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { freePort } from '../../tools/lib/ports.ts';
import { requireBinary, spawnProcess, tempDir, waitFor } from '../../tools/lib/proc.ts';
import { rawExchange, statusOf } from '../stack/fixture.ts';
import { find, render, repoRoot } from './chart.ts';

const run = promisify(execFile);

interface Ports {
  listen: number;
  status: number;
  probe: number;
}

async function renderConf(
  dir: string,
  upstreams: string[],
  ports: Ports,
  set: string[] = [],
): Promise<string> {
  const { objects } = await render([
    `nginx.config.upstreamServers={${upstreams.join(',')}}`,
    `nginx.config.paths.pid=${dir}/nginx.pid`,
    `nginx.config.paths.temp=${dir}`,
    `nginx.config.paths.accessLog=${dir}/access.log`,
    `nginx.config.paths.errorLog=${dir}/error.log`,
    `nginx.ports.http=${ports.listen}`,
    `nginx.ports.status=${ports.status}`,
    `nginx.ports.probe=${ports.probe}`,
    'nginx.config.workerProcesses=1',
    ...set,
  ]);
  const conf = find(objects, 'ConfigMap', 'hit-counter-nginx').data['nginx.conf'] as string;
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

/** nginx's prefix dir, removed by the test's teardown (after nginx's stop, registered later). */
function localDir(t: Test): string {
  const dir = tempDir('nginx-conf-', t);
  chmodSync(dir, 0o777); // nginx workers drop to an unprivileged user when started as root
  return dir;
}

const freePorts = async (): Promise<Ports> => ({
  listen: await freePort(),
  status: await freePort(),
  probe: await freePort(),
});

/** nginx with the chart's config in front of `upstreams`, stopped by the test's teardown. */
async function startNginx(t: Test, upstreams: string[], set: string[] = []) {
  const nginx = requireBinary('nginx');
  const dir = localDir(t);
  const ports = await freePorts();
  const file = await renderConf(dir, upstreams, ports, set);
  const proc = spawnProcess(nginx, ['-e', 'stderr', '-c', file, '-p', dir]);
  t.teardown(() => proc.stop({ signal: 'SIGQUIT' }));
  await waitFor(() => fetch(`http://127.0.0.1:${ports.listen}/nginx-health`).then((r) => r.ok), {
    what: 'nginx',
  });
  return { dir, ports, url: `http://127.0.0.1:${ports.listen}` };
}

/** An HTTP upstream on a random port, closed by the test's teardown. */
async function upstream(t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A counting upstream: "Holla! we have hit N times", and every request's path and headers. */
async function counter(t: Test) {
  const seen: { url: string; headers: IncomingMessage['headers'] }[] = [];
  let hits = 0;
  const address = await upstream(t, (req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/') hits += 1;
    res.end(req.url === '/' ? `Holla! we have hit ${hits} times` : `${req.url} answered`);
  });
  return { address, seen, hits: () => hits };
}

t.test('the rendered nginx.conf passes nginx -t', async (t) => {
  const nginx = requireBinary('nginx');
  const dir = localDir(t);
  const file = await renderConf(dir, ['127.0.0.1:18001', '127.0.0.1:18002'], await freePorts());
  const conf = readFileSync(file, 'utf8');
  t.match(
    conf,
    /server 127\.0\.0\.1:18001 max_fails=1 fail_timeout=1s;\s+server 127\.0\.0\.1:18002 max_fails=1 fail_timeout=1s;/,
  );
  t.match(conf, /keepalive_timeout 30s;/);
  t.match(conf, /proxy_next_upstream off;/);
  t.notMatch(conf, /non_idempotent/);
  const { stderr } = await run(nginx, ['-t', '-e', 'stderr', '-c', file, '-p', dir]);
  t.match(stderr, /syntax is ok/);
  t.match(stderr, /test is successful/);
});

t.test('the rendered facts of the defaults', async (t) => {
  const { objects } = await render();
  const conf = find(objects, 'ConfigMap', 'hit-counter-nginx').data['nginx.conf'] as string;
  const number = (re: RegExp): number => Number(re.exec(conf)?.[1]);
  const connections = number(/worker_connections (\d+);/);
  t.ok(connections >= 4096, `worker_connections ${connections}`);
  t.equal(number(/worker_rlimit_nofile (\d+);/), 2 * connections, 'open files: twice the connections');
  t.match(conf, /server hit-counter:8000 max_fails=1 fail_timeout=1s;/, 'a mark lasts a second at most');
  const inflight = number(/limit_conn hc_inflight (\d+);/);
  const keepalive = number(/keepalive (\d+);/);
  t.ok(inflight > 0 && inflight + keepalive + 3 < connections / 2, 'in-flight and idle upstream fit');
  t.match(conf, /limit_conn hc_client_conn \d+;/, 'per-client concurrency limit');
  t.match(conf, /limit_req zone=hc_client_rate burst=\d+ nodelay;/, 'per-client rate limit');
  t.match(conf, /limit_conn_status 503;[\s\S]*limit_req_status 503;/);
  t.match(conf, /error_page 503 = @busy;/);
  t.match(conf, /location @busy \{\s+add_header Retry-After 1 always;/);
  t.notMatch(conf, /set_real_ip_from/, 'the client address is the peer unless configured');
  t.match(conf, /client_header_timeout 5s;/);
  t.match(conf, /lingering_time 2s;/);
  t.match(conf, /if \(\$hc_has_body\) \{\s+return 413;/);
  t.match(conf, /location ~ \^\/\(ready\|metrics\)\(\/\|\$\) \{\s+return 404/);
  t.match(conf, /server_name hit-counter;/, 'a Host for requests without one');
  t.match(
    conf,
    /listen 8082;\s+access_log off;\s+location = \/nginx-ready \{\s+proxy_pass http:\/\/hit_counter\/health;/,
  );

  const off = await render([
    'nginx.config.limits.perClient.connections=0',
    'nginx.config.limits.perClient.rate=0',
    'nginx.ingress.realIpFrom={10.0.0.0/16}',
  ]);
  const conf2 = find(off.objects, 'ConfigMap', 'hit-counter-nginx').data['nginx.conf'] as string;
  t.notMatch(conf2, /hc_client/, 'per-client limits off with 0');
  t.match(
    conf2,
    /set_real_ip_from 10\.0\.0\.0\/16;\s+real_ip_header X-Forwarded-For;\s+real_ip_recursive on;/,
  );
  await t.rejects(render(['nginx.ingress.realIpFrom={not an address}']), /realIpFrom/);
  await t.rejects(render(['nginx.config.limits.inflight=-1']), /inflight/);
});

t.test('a broken value makes nginx -t fail (the check can fail)', async (t) => {
  const nginx = requireBinary('nginx');
  const dir = localDir(t);
  const { objects } = await render(['nginx.config.clientMaxBodySize=lots']);
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, find(objects, 'ConfigMap', 'hit-counter-nginx').data['nginx.conf']);
  await t.rejects(run(nginx, ['-t', '-e', 'stderr', '-c', file, '-p', dir]), /client_max_body_size/);
});

t.test('a refused connect is resent to another server; each hit counted once; JSON log', async (t) => {
  const live = await counter(t);
  const dead = `127.0.0.1:${await freePort()}`; // nothing listens here: connect is refused
  // The dead server first: nginx's round robin starts there.
  const { dir, ports, url } = await startNginx(t, [dead, live.address]);

  // A request that meets the refused connect reached no server, so nginx sends it once more (and
  // skips the dead server for fail_timeout).
  const statuses: number[] = [];
  const bodies: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`${url}/`);
    statuses.push(r.status);
    bodies.push(await r.text());
  }
  t.same(statuses, [200, 200, 200, 200, 200, 200], 'no 502 for the dead server');
  t.same(
    bodies,
    [1, 2, 3, 4, 5, 6].map((n) => `Holla! we have hit ${n} times`),
    'each answered request counted once',
  );
  t.equal(live.seen[0]?.headers.connection, undefined, 'no Connection: close to the upstream (keepalive)');
  t.ok(live.seen[0]?.headers['x-request-id'], 'request id passed on');

  const tooBig = await fetch(`${url}/`, { headers: { cookie: 'x'.repeat(9000) } });
  t.equal(tooBig.status, 400, 'a header line above the large buffer size is refused');
  t.equal(live.hits(), 6, 'the refused request never reached the upstream');

  const stub = await fetch(`http://127.0.0.1:${ports.status}/stub_status`).then((r) => r.text());
  t.match(stub, /Active connections: \d+/);

  const lines = await waitFor(
    () => {
      const text = readFileSync(path.join(dir, 'access.log'), 'utf8').trim().split('\n');
      return text.length >= 7 ? text : undefined;
    },
    { what: 'access log lines' },
  );
  const entry = JSON.parse(lines[0] ?? '{}');
  t.equal(entry.method, 'GET');
  t.equal(entry.status, 200);
  t.equal(entry.upstream_addr, `${dead} : ${live.address}`, 'the dead server, then the live one');
});

t.test('a request whose upstream dies before answering is not passed to another server', async (t) => {
  // The double-count case: server A reads (and would count) the request, then its process dies
  // (the socket is destroyed with no answer). nginx must answer 502, not replay the hit on B.
  let aReceived = 0;
  const sockets = new Set<Socket>();
  const dying = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {
      aReceived += 1;
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => dying.close(() => resolve()));
  });
  const a = `127.0.0.1:${(dying.address() as { port: number }).port}`;
  const b = await counter(t);
  const { url } = await startNginx(t, [a, b.address]);

  const r = await fetch(`${url}/`);
  await r.arrayBuffer();
  t.equal(aReceived, 1, 'the first server received the request');
  t.equal(r.status, 502, 'the client is told the request failed');
  t.equal(b.hits(), 0, 'the request was not replayed on the second server');
});

t.test('no server reachable: 503 with Retry-After, nothing counted anywhere', async (t) => {
  const deadA = `127.0.0.1:${await freePort()}`;
  const deadB = `127.0.0.1:${await freePort()}`;
  const { url } = await startNginx(t, [deadA, deadB]);
  const r = await fetch(`${url}/`);
  t.equal(r.status, 503);
  t.equal(r.headers.get('retry-after'), '1');
  t.match(await r.text(), /unreachable/);
});

/** An upstream that holds every request `hold(req)` is true for until the test's end (or `release()`). */
async function holding(t: Test, hold: (req: IncomingMessage) => boolean) {
  const held: ServerResponse[] = [];
  let received = 0;
  let holdingOn = true;
  const release = (): void => {
    holdingOn = false;
    for (const res of held.splice(0)) res.end('Holla! we have hit 1 times');
  };
  const address = await upstream(t, (req, res) => {
    received += 1;
    if (holdingOn && hold(req)) held.push(res);
    else res.end('Holla! we have hit 1 times');
  });
  t.teardown(release);
  return { address, received: () => received, held: () => held.length, release };
}

t.test('load over the in-flight limit is shed with 503 + Retry-After before the upstream', async (t) => {
  const up = await holding(t, () => true);
  const { url } = await startNginx(t, [up.address], ['nginx.config.limits.inflight=2']);
  const first = [fetch(`${url}/`), fetch(`${url}/`)];
  await waitFor(() => up.held() === 2, { what: 'two requests held by the upstream' });
  const third = await fetch(`${url}/`);
  t.equal(third.status, 503, 'the third request is refused at once');
  t.equal(third.headers.get('retry-after'), '1');
  t.match(await third.text(), /busy/);
  t.equal(up.received(), 2, 'the upstream never saw it');
  up.release();
  t.same(await Promise.all(first.map((p) => p.then((r) => r.status))), [200, 200]);
  t.equal((await fetch(`${url}/`)).status, 200, 'served again once the others finished');
});

t.test('per-client limits, keyed on the real client address only where configured', async (t) => {
  // Client A's requests are held by the upstream; B's are answered at once.
  const up = await holding(t, (req) => String(req.headers['x-forwarded-for']).startsWith('203.0.113.1'));
  const one = ['nginx.config.limits.perClient.connections=1', 'nginx.config.limits.perClient.rate=0'];
  const get = (url: string, client: string) =>
    fetch(`${url}/`, { headers: { 'x-forwarded-for': client } }).then(async (r) => {
      await r.arrayBuffer();
      return { status: r.status, retryAfter: r.headers.get('retry-after') };
    });

  const trusted = await startNginx(t, [up.address], [...one, 'nginx.ingress.realIpFrom={127.0.0.1}']);
  const a1 = get(trusted.url, '203.0.113.1');
  await waitFor(() => up.held() === 1, { what: "client A's first request held" });
  t.same(await get(trusted.url, '203.0.113.1'), { status: 503, retryAfter: '1' }, 'client A: over its limit');
  t.equal((await get(trusted.url, '203.0.113.2')).status, 200, 'client B has its own limit');

  // Without realIpFrom the header is not trusted: every request is the peer's (127.0.0.1).
  const untrusted = await startNginx(t, [up.address], one);
  const a2 = get(untrusted.url, '203.0.113.1');
  await waitFor(() => up.held() === 2, { what: "client A's request held" });
  t.equal((await get(untrusted.url, '203.0.113.2')).status, 503, 'one limit for the one peer');
  up.release();
  t.same([(await a1).status, (await a2).status], [200, 200]);

  // The rate limit: one request a second, no burst: of 5 sent at once, most are refused.
  const rate = await startNginx(
    t,
    [up.address],
    ['nginx.config.limits.perClient.rate=1', 'nginx.config.limits.perClient.burst=0'],
  );
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await get(rate.url, '203.0.113.3')).status);
  t.ok(statuses.filter((s) => s === 503).length >= 3, `over the rate: 503 (${statuses})`);
});

t.test('bodies, internal endpoints, HTTP/1.0 and the probes', async (t) => {
  const live = await counter(t);
  const { ports, url } = await startNginx(t, [live.address]);
  const host = 'Host: localhost\r\n';
  const raw = async (request: string) => statusOf(await rawExchange(ports.listen, request));

  t.equal(await raw(`GET / HTTP/1.1\r\n${host}Content-Length: 5\r\nConnection: close\r\n\r\nhello`), 413);
  t.equal(
    await raw(`GET / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`),
    413,
  );
  t.equal(await raw(`POST / HTTP/1.1\r\n${host}Content-Length: 1\r\nConnection: close\r\n\r\nx`), 413);
  t.equal(await raw(`GET / HTTP/1.1\r\n${host}Content-Length: 0\r\nConnection: close\r\n\r\n`), 200);
  t.equal(live.hits(), 1, 'no request with a body reached the upstream');

  for (const p of ['/metrics', '/ready', '/ready/', '/metrics?x=1', '//metrics', '/%6Detrics'])
    t.equal((await fetch(`${url}${p}`)).status, 404, `${p}: 404 from nginx`);
  t.equal((await fetch(`${url}/health`)).status, 200, '/health is still proxied');
  t.same(
    live.seen.map((s) => s.url),
    ['/', '/health'],
    'the upstream saw neither /metrics nor /ready',
  );

  const v10 = await rawExchange(ports.listen, 'GET / HTTP/1.0\r\n\r\n');
  t.equal(statusOf(v10), 200, 'HTTP/1.0 without Host is served');
  t.equal(live.seen.at(-1)?.headers.host, 'hit-counter', 'with the service name as its Host');

  const ready = await fetch(`http://127.0.0.1:${ports.probe}/nginx-ready`);
  t.equal(ready.status, 200, '/nginx-ready on the probe port');
  t.equal(await ready.text(), '/health answered', 'answered by the service /health');
  t.equal((await fetch(`http://127.0.0.1:${ports.probe}/`)).status, 404, 'nothing else on that port');
  t.equal(live.hits(), 2, 'probes never count');
});

t.test('readiness fails when nginx reaches no service; liveness does not', async (t) => {
  const { ports, url } = await startNginx(t, [`127.0.0.1:${await freePort()}`]);
  t.equal((await fetch(`http://127.0.0.1:${ports.probe}/nginx-ready`)).status, 502);
  t.equal((await fetch(`${url}/nginx-health`)).status, 200);
});

t.test('the Deployment: liveness and readiness differ, storage is bounded', async (t) => {
  const { objects } = await render();
  const pod = find(objects, 'Deployment', 'hit-counter-nginx').spec.template.spec;
  const nginx = pod.containers.find((c: { name: string }) => c.name === 'nginx');
  t.same(nginx.livenessProbe.httpGet, { path: '/nginx-health', port: 'http' });
  t.same(nginx.readinessProbe.httpGet, { path: '/nginx-ready', port: 'probe' });
  const budget = (p: { periodSeconds: number; failureThreshold: number }) =>
    p.periodSeconds * p.failureThreshold;
  t.ok(
    budget(nginx.livenessProbe) >= 4 * budget(nginx.readinessProbe),
    'a slow pod leaves rotation long before it would be restarted',
  );
  t.ok(nginx.livenessProbe.timeoutSeconds > nginx.readinessProbe.timeoutSeconds);
  t.same(
    nginx.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
    [
      ['http', 8080],
      ['probe', 8082],
    ],
  );
  const service = find(objects, 'Service', 'hit-counter-nginx');
  t.same(
    service.spec.ports.map((p: { targetPort: string }) => p.targetPort),
    ['http'],
    'the Service exposes only http',
  );
  for (const c of pod.containers) {
    t.notSame(c.livenessProbe, c.readinessProbe, `${c.name}: liveness and readiness differ`);
    t.ok(c.resources.requests['ephemeral-storage'], `${c.name}: ephemeral-storage request`);
    t.ok(c.resources.limits['ephemeral-storage'], `${c.name}: ephemeral-storage limit`);
  }
  for (const v of pod.volumes.filter((x: { emptyDir?: unknown }) => x.emptyDir))
    t.ok(v.emptyDir.sizeLimit, `emptyDir ${v.name} has a sizeLimit`);
});

t.test('the EKS Ingress serves HTTPS with an ACM certificate and redirects HTTP', async (t) => {
  const { objects } = await render([], [path.join(repoRoot, 'environments', 'eks', 'values.yaml')]);
  const a = find(objects, 'Ingress', 'hit-counter-nginx').metadata.annotations ?? {};
  t.same(JSON.parse(a['alb.ingress.kubernetes.io/listen-ports'] ?? '[]'), [{ HTTP: 80 }, { HTTPS: 443 }]);
  t.equal(a['alb.ingress.kubernetes.io/ssl-redirect'], '443');
  t.match(
    a['alb.ingress.kubernetes.io/certificate-arn'] ?? '',
    /^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate\//,
  );
  t.equal(a['alb.ingress.kubernetes.io/healthcheck-path'], '/nginx-health');
});
