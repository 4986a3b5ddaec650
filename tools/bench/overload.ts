// Overload through nginx: wrk at high connection counts, a slowloris crowd (request headers sent a
// line at a time, reconnecting when closed) and slow request bodies, each with a probe client that
// sends legitimate GET / requests at a low rate throughout. Each phase reports what the probe got,
// what the load got, whether nginx still reaches every replica afterwards and how exact the
// counter stayed. Used by test/stack/overload.test.ts and `npm run bench -- --overload`.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startStack, type Stack } from '../stack/stack.ts';
import { whole } from './options.ts';
import { runWrk, type WrkResult } from './wrk.ts';

const NUMBER = /hit (\d+) times/;

export interface ProbeResult {
  sent: number;
  /** answers by status; 0 = no answer (transport error or the probe's timeout) */
  byStatus: Record<string, number>;
  /** why requests got no answer, by error code */
  errors: Record<string, number>;
  /** 503 answers that carried no Retry-After */
  bare503: number;
  longestMs: number;
  /** the numbers in the 200 bodies */
  numbers: bigint[];
}

interface Answer {
  status: number;
  retryAfter: boolean;
  body: string;
  error?: string;
  ms: number;
}

/** One GET on a fresh connection (as a new visitor), with a deadline. */
export function getOnce(url: string, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        agent: false,
        headers: { accept: 'text/plain', connection: 'close' },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'] !== undefined,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', (err: NodeJS.ErrnoException) => resolve(failed(err)));
      },
    );
    const failed = (err: NodeJS.ErrnoException): Answer => ({
      status: 0,
      retryAfter: false,
      body: '',
      error: err.code ?? err.name,
      ms: performance.now() - started,
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(failed(err)));
    req.end();
  });
}

/** Legitimate GET / requests, one every `intervalMs` (each independent of the others), until stop(). */
export function startProbe(o: { url: string; intervalMs?: number; timeoutMs?: number }): {
  stop(): Promise<ProbeResult>;
} {
  const result: ProbeResult = { sent: 0, byStatus: {}, errors: {}, bare503: 0, longestMs: 0, numbers: [] };
  const pending = new Set<Promise<void>>();
  const fire = (): void => {
    result.sent++;
    const p = getOnce(o.url, o.timeoutMs ?? 10_000).then((a) => {
      result.byStatus[a.status] = (result.byStatus[a.status] ?? 0) + 1;
      if (a.error) result.errors[a.error] = (result.errors[a.error] ?? 0) + 1;
      if (a.status === 503 && !a.retryAfter) result.bare503++;
      result.longestMs = Math.max(result.longestMs, a.ms);
      const n = a.status === 200 ? NUMBER.exec(a.body)?.[1] : undefined;
      if (n) result.numbers.push(BigInt(n));
      pending.delete(p);
    });
    pending.add(p);
  };
  fire();
  const timer = setInterval(fire, o.intervalMs ?? 250);
  return {
    async stop() {
      clearInterval(timer);
      while (pending.size) await Promise.all(pending);
      return result;
    },
  };
}

export interface SlowResult {
  kind: 'headers' | 'body';
  clients: number;
  /** connections opened, reconnects included */
  opened: number;
  /** connections nginx closed before the run ended */
  closedByServer: number;
  /** connections still open when the run ended: held for the whole run */
  heldToEnd: number;
  /** the longest a connection stayed open before nginx closed it, ms */
  longestClosedMs: number;
  /** status lines nginx sent before closing, by status */
  answered: Record<string, number>;
}

/**
 * `clients` connections that each start a request and then send it a little at a time, every
 * `intervalMs`, never finishing it: `headers` sends one more header line each time (slowloris),
 * `body` a complete GET / header announcing a 1000-byte body, then one byte of it each time. With
 * `reconnect`, a client whose connection nginx closes opens a new one.
 */
export async function slowClients(o: {
  port: number;
  kind: 'headers' | 'body';
  clients: number;
  durationMs: number;
  intervalMs: number;
  reconnect: boolean;
}): Promise<SlowResult> {
  const result: SlowResult = {
    kind: o.kind,
    clients: o.clients,
    opened: 0,
    closedByServer: 0,
    heldToEnd: 0,
    longestClosedMs: 0,
    answered: {},
  };
  const head =
    o.kind === 'headers'
      ? 'GET / HTTP/1.1\r\nHost: localhost\r\n'
      : 'GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n';
  const piece = o.kind === 'headers' ? 'X-Slow: 1\r\n' : 'x';
  const live = new Set<Socket>();
  let ended = false;

  const open = (): void => {
    result.opened++;
    const opened = performance.now();
    let data = '';
    const socket = connect({ port: o.port, host: '127.0.0.1' }, () => socket.write(head));
    live.add(socket);
    const timer = setInterval(() => socket.writable && socket.write(piece), o.intervalMs);
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      live.delete(socket);
      if (ended) return;
      result.closedByServer++;
      result.longestClosedMs = Math.max(result.longestClosedMs, performance.now() - opened);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 'none';
      result.answered[status] = (result.answered[status] ?? 0) + 1;
      // a short pause keeps a refused client from spinning; the crowd stays about the same size
      if (o.reconnect) setTimeout(() => ended || open(), 100);
    });
  };
  for (let i = 0; i < o.clients; i++) open();
  await delay(o.durationMs); // the phase's length, not a synchronisation
  ended = true;
  result.heldToEnd = live.size;
  for (const s of live) s.destroy();
  return result;
}

export interface AfterLoad {
  /** answers before the first 200, by status (0 = none): {} when the first request got 200 */
  beforeOk: Record<string, number>;
  /** ms from the end of the load to the first 200 (polled), or -1 if none came within the deadline */
  firstOkMs: number;
  /** statuses of `requests` sequential GET / sent after the first 200 */
  statuses: Record<string, number>;
}

/**
 * Right after a load: the first 200 (polled with a deadline), then `requests` sequential GET /.
 * A replica nginx had marked down would show as 502s ("no live upstreams") here.
 */
export async function afterLoad(url: string, requests = 20, deadlineMs = 15_000): Promise<AfterLoad> {
  const started = performance.now();
  const beforeOk: Record<string, number> = {};
  let firstOkMs = -1;
  while (performance.now() - started < deadlineMs) {
    const a = await getOnce(url, 5000);
    if (a.status === 200) {
      firstOkMs = Math.round(performance.now() - started);
      break;
    }
    beforeOk[a.status] = (beforeOk[a.status] ?? 0) + 1;
    await delay(100);
  }
  const statuses: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const a = await getOnce(url, 5000);
    statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  }
  return { beforeOk, firstOkMs, statuses };
}

export interface PhaseResult {
  name: string;
  probe: ProbeResult;
  /** wrk phases */
  wrk?: Pick<WrkResult, 'connections' | 'statuses' | 'errors' | 'latencyMs' | 'gets2xx'>;
  /** slowloris and slow-body phases */
  slow?: SlowResult;
  after: AfterLoad;
  /** counter delta over the phase minus the 200 answers received (load and probe) */
  countedWithout200: number;
  /** numbers answered 200 more than once */
  duplicates: number;
}

export type Phase =
  | { name: string; kind: 'wrk'; connections: number; seconds: number }
  | {
      name: string;
      kind: 'headers' | 'body';
      clients: number;
      seconds: number;
      intervalMs: number;
      reconnect: boolean;
    };

/** One phase against a running stack, with the probe throughout and the checks after it. */
export async function runPhase(stack: Stack, phase: Phase, probeIntervalMs = 250): Promise<PhaseResult> {
  const before = await stack.counter();
  const probe = startProbe({ url: stack.url, intervalMs: probeIntervalMs });
  let wrk: PhaseResult['wrk'];
  let slow: SlowResult | undefined;
  let loadNumbers: bigint[] = [];
  if (phase.kind === 'wrk') {
    // A 3 s drain: under this load a GET can take seconds, and one still in flight when wrk stops
    // is counted but never received.
    const r = await runWrk({
      url: stack.url,
      connections: phase.connections,
      seconds: phase.seconds,
      drainSeconds: 3,
    });
    const { connections, statuses, errors, latencyMs, gets2xx } = r;
    wrk = { connections, statuses, errors, latencyMs, gets2xx };
    loadNumbers = r.numbers;
  } else {
    slow = await slowClients({
      port: stack.nginx.port,
      kind: phase.kind,
      clients: phase.clients,
      durationMs: phase.seconds * 1000,
      intervalMs: phase.intervalMs,
      reconnect: phase.reconnect,
    });
  }
  const probed = await probe.stop();
  const counted = Number((await stack.counter()) - before);
  const answered = [...loadNumbers, ...probed.numbers];
  const after = await afterLoad(stack.url);
  return {
    name: phase.name,
    probe: probed,
    wrk,
    slow,
    after,
    countedWithout200: counted - answered.length,
    duplicates: answered.length - new Set(answered.map(String)).size,
  };
}

/** The phases the bench and the test run, scaled by `seconds` per phase. */
export function standardPhases(seconds: number): Phase[] {
  return [
    { name: 'wrk -c1000', kind: 'wrk', connections: 1000, seconds },
    { name: 'wrk -c2000', kind: 'wrk', connections: 2000, seconds },
    { name: 'slowloris 2500', kind: 'headers', clients: 2500, seconds, intervalMs: 1000, reconnect: true },
    { name: 'slow body 2000', kind: 'body', clients: 2000, seconds, intervalMs: 1000, reconnect: false },
  ];
}

const fmt = (r: Record<string, number>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k === '0' ? 'none' : k}×${v}`)
    .join(' ') || '—';

/** One markdown table row per phase. */
export function overloadTable(results: PhaseResult[]): string {
  const head = [
    'phase',
    'load: answers',
    'load: errors',
    'load: max ms',
    'probe: answers (sent)',
    'probe: 503 w/o Retry-After',
    'probe: max ms',
    'slow: held to end / opened',
    'slow: longest before close ms',
    'after: before the first 200',
    'after: first 200 ms',
    'after: 20 GETs',
    'counted without a 200',
  ];
  const rows = results.map((r) => [
    r.name,
    r.wrk ? fmt(r.wrk.statuses) : r.slow ? fmt(r.slow.answered) : '—',
    r.wrk ? fmt(Object.fromEntries(Object.entries(r.wrk.errors).filter(([, v]) => v > 0))) : '—',
    r.wrk ? r.wrk.latencyMs.max : '—',
    `${fmt(r.probe.byStatus)} (${r.probe.sent})`,
    r.probe.bare503,
    Math.round(r.probe.longestMs),
    r.slow ? `${r.slow.heldToEnd} / ${r.slow.opened}` : '—',
    r.slow ? Math.round(r.slow.longestClosedMs) : '—',
    fmt(r.after.beforeOk),
    r.after.firstOkMs,
    fmt(r.after.statuses),
    r.countedWithout200,
  ]);
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

export const overloadUsage = `usage: npm run bench -- --overload [--duration S] [--replicas N]
  --duration S   seconds per phase (default 10)
  --replicas N   service replicas behind nginx (default 2)
Phases, each with a probe sending GET / every 250 ms on a fresh connection: wrk -c1000, wrk -c2000,
2500 slowloris clients (a header line a second, reconnecting), 2000 slow bodies (a byte a second).`;

export interface OverloadOptions {
  seconds: number;
  replicas: number;
}

/** The options of `npm run bench -- --overload`; a bad one throws with the reason. */
export function parseOverloadOptions(argv: string[]): OverloadOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      overload: { type: 'boolean' },
      duration: { type: 'string', default: '10' },
      replicas: { type: 'string', default: '2' },
    },
  });
  return {
    seconds: whole('duration', values.duration, 1, 600),
    replicas: whole('replicas', values.replicas, 1, 32),
  };
}

/** A fresh stack, the standard phases one after the other, one table. */
export async function runOverload(o: OverloadOptions, log: (line: string) => void): Promise<string> {
  const stack = await startStack({ replicas: o.replicas });
  try {
    const results: PhaseResult[] = [];
    for (const phase of standardPhases(o.seconds)) {
      log(`overload: ${phase.name} for ${o.seconds} s`);
      results.push(await runPhase(stack, phase));
    }
    return overloadTable(results);
  } finally {
    await stack.stop();
  }
}
