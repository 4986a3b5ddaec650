// The chart's nginx.conf, rendered with a local upstream list and local paths, passes `nginx -t`
// on Debian's nginx and proxies to real upstreams: keepalive HTTP/1.1, a request never passed on to a
// second server (a hit is counted at most once), JSON access log, stub_status on its private port.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { freePort } from '../../tools/lib/ports.ts';
import { requireBinary, spawnProcess, tempDir, waitFor } from '../../tools/lib/proc.ts';
import { find, render } from './chart.ts';

const run = promisify(execFile);

async function renderConf(dir: string, upstreams: string[], listen: number, status: number): Promise<string> {
  const { objects } = await render([
    `nginx.config.upstreamServers={${upstreams.join(',')}}`,
    `nginx.config.paths.pid=${dir}/nginx.pid`,
    `nginx.config.paths.temp=${dir}`,
    `nginx.config.paths.accessLog=${dir}/access.log`,
    `nginx.config.paths.errorLog=${dir}/error.log`,
    `nginx.ports.http=${listen}`,
    `nginx.ports.status=${status}`,
    'nginx.config.workerProcesses=1',
  ]);
  const conf = find(objects, 'ConfigMap', 'hit-counter-nginx').data['nginx.conf'] as string;
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

function localDir(): string {
  const dir = tempDir('nginx-conf-');
  chmodSync(dir, 0o777); // nginx workers drop to an unprivileged user when started as root
  return dir;
}

t.test('the rendered nginx.conf passes nginx -t', async (t) => {
  const nginx = requireBinary('nginx');
  const dir = localDir();
  const file = await renderConf(
    dir,
    ['127.0.0.1:18001', '127.0.0.1:18002'],
    await freePort(),
    await freePort(),
  );
  const conf = readFileSync(file, 'utf8');
  t.match(conf, /server 127\.0\.0\.1:18001;\s+server 127\.0\.0\.1:18002;/);
  t.match(conf, /keepalive_timeout 30s;/);
  t.match(conf, /proxy_next_upstream off;/);
  t.notMatch(conf, /non_idempotent/);
  const { stderr } = await run(nginx, ['-t', '-e', 'stderr', '-c', file, '-p', dir]);
  t.match(stderr, /syntax is ok/);
  t.match(stderr, /test is successful/);
});

t.test('a broken value makes nginx -t fail (the check can fail)', async (t) => {
  const nginx = requireBinary('nginx');
  const dir = localDir();
  const { objects } = await render(['nginx.config.clientMaxBodySize=lots']);
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, find(objects, 'ConfigMap', 'hit-counter-nginx').data['nginx.conf']);
  await t.rejects(run(nginx, ['-t', '-e', 'stderr', '-c', file, '-p', dir]), /client_max_body_size/);
});

t.test('nginx with the rendered config proxies, avoids a dead server, logs JSON', async (t) => {
  const nginx = requireBinary('nginx');
  let hits = 0;
  const seen: IncomingMessage['headers'][] = [];
  const upstream = createServer((req, res) => {
    seen.push(req.headers);
    hits += 1;
    res.end(`Holla! we have hit ${hits} times`);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  const live = (upstream.address() as { port: number }).port;
  const dead = await freePort(); // nothing listens here: connect is refused

  const dir = localDir();
  const [listen, status] = [await freePort(), await freePort()];
  // The live server first: nginx's round robin starts there, so the first request counts 1.
  const file = await renderConf(dir, [`127.0.0.1:${live}`, `127.0.0.1:${dead}`], listen, status);
  const proc = spawnProcess(nginx, ['-e', 'stderr', '-c', file, '-p', dir]);
  t.teardown(() => proc.stop({ signal: 'SIGQUIT' }));
  await waitFor(() => fetch(`http://127.0.0.1:${listen}/nginx-health`).then((r) => r.ok), { what: 'nginx' });

  // With proxy_next_upstream off, the one request that meets the refused connect gets a 502 (it
  // reached no server, so nothing counted it); nginx then marks the server failed and avoids it.
  const statuses: number[] = [];
  const bodies: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`http://127.0.0.1:${listen}/`);
    statuses.push(r.status);
    if (r.status === 200) bodies.push(await r.text());
    else await r.arrayBuffer();
  }
  t.equal(
    statuses.filter((s) => s === 502).length,
    1,
    `one 502 for the dead server, then avoided: ${statuses}`,
  );
  t.same(
    bodies,
    [1, 2, 3, 4, 5].map((n) => `Holla! we have hit ${n} times`),
    'each answered request counted once',
  );
  t.equal(seen[0]?.connection, undefined, 'no Connection: close to the upstream (keepalive)');
  t.ok(seen[0]?.['x-request-id'], 'request id passed on');

  const tooBig = await fetch(`http://127.0.0.1:${listen}/`, { headers: { cookie: 'x'.repeat(9000) } });
  t.equal(tooBig.status, 400, 'a header line above the large buffer size is refused');
  t.equal(hits, 5, 'the refused request never reached the upstream');

  const stub = await fetch(`http://127.0.0.1:${status}/stub_status`).then((r) => r.text());
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
  t.match(entry.upstream_addr, `127.0.0.1:${live}`);
});

t.test('a request whose upstream dies before answering is not passed to another server', async (t) => {
  // The double-count case: server A reads (and would count) the request, then its process dies
  // (the socket is destroyed with no answer). nginx must answer 502, not replay the hit on B.
  const nginx = requireBinary('nginx');
  let aReceived = 0;
  let bHits = 0;
  const sockets = new Set<Socket>();
  const dying = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {
      aReceived += 1;
      socket.destroy();
    });
  });
  const other = createServer((_req, res) => {
    bHits += 1;
    res.end('Holla! we have hit 1 times');
  });
  await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return Promise.all([
      new Promise<void>((resolve) => dying.close(() => resolve())),
      new Promise<void>((resolve) => other.close(() => resolve())),
    ]);
  });
  const a = (dying.address() as { port: number }).port;
  const b = (other.address() as { port: number }).port;

  const dir = localDir();
  const [listen, status] = [await freePort(), await freePort()];
  const file = await renderConf(dir, [`127.0.0.1:${a}`, `127.0.0.1:${b}`], listen, status);
  const proc = spawnProcess(nginx, ['-e', 'stderr', '-c', file, '-p', dir]);
  t.teardown(() => proc.stop({ signal: 'SIGQUIT' }));
  await waitFor(() => fetch(`http://127.0.0.1:${listen}/nginx-health`).then((r) => r.ok), { what: 'nginx' });

  const r = await fetch(`http://127.0.0.1:${listen}/`);
  await r.arrayBuffer();
  t.equal(aReceived, 1, 'the first server received the request');
  t.equal(r.status, 502, 'the client is told the request failed');
  t.equal(bHits, 0, 'the request was not replayed on the second server');
});
