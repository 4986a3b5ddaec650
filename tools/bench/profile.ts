// npm run bench -- --profile [--duration S] [--connections C] [--log-level L]
// One replica alone (embedded store, the chart's environment) under wrk with V8's CPU profiler on
// (node --cpu-prof); at the end the replica is stopped, its profile read, and the functions that
// took the most CPU (self time) printed, with the profile file kept for a closer look (Chrome
// DevTools, or any .cpuprofile viewer).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../lib/ports.ts';
import { tempDir } from '../lib/proc.ts';
import { renderStack } from '../stack/render.ts';
import { startServiceProcess } from '../stack/service.ts';
import { buildService } from './build.ts';
import { embeddedStoreEnv } from './floors.ts';
import { whole } from './options.ts';
import { runWrk } from './wrk.ts';

export const profileUsage = `npm run bench -- --profile [options]: one replica alone under wrk, profiled
  --duration S      seconds of load (default 10)
  --connections C   wrk connections (default 64)
  --log-level L     the replica's LOG_LEVEL (default: the chart's)
  --top N           functions to print (default 25)`;

export interface ProfileOptions {
  seconds: number;
  connections: number;
  logLevel: string | undefined;
  top: number;
}

export function parseProfileOptions(argv: string[]): ProfileOptions {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--profile'),
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      'log-level': { type: 'string' },
      top: { type: 'string', default: '25' },
    },
  });
  return {
    seconds: whole('duration', values.duration, 1, 3600),
    connections: whole('connections', values.connections, 1, 10_000),
    logLevel: values['log-level'],
    top: whole('top', values.top, 1, 1000),
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time by function: "name (file:line)" → share of the samples that were not idle. */
export function selfTimes(profile: { nodes: ProfileNode[] }): { fn: string; share: number }[] {
  const by = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    const { functionName, url, lineNumber } = n.callFrame;
    if (!hits || functionName === '(idle)') continue;
    const file = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '');
    const where = file ? ` ${file.replace(/^.*\/(service|tools)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where}`;
    by.set(key, (by.get(key) ?? 0) + hits);
    total += hits;
  }
  return [...by.entries()]
    .map(([fn, hits]) => ({ fn, share: hits / Math.max(total, 1) }))
    .sort((a, b) => b.share - a.share);
}

export async function runProfile(o: ProfileOptions, log: (line: string) => void): Promise<string> {
  const dir = tempDir('bench-profile-');
  try {
    return await profileIn(dir, o, log);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The run itself; `dir` keeps the replica's log and its profile. */
async function profileIn(dir: string, o: ProfileOptions, log: (line: string) => void): Promise<string> {
  const port = await freePort();
  const rendered = await renderStack({
    upstreams: ['127.0.0.1:1'],
    nginxPort: await freePort(),
    nginxStatusPort: await freePort(),
    prefix: join(dir, 'nginx'),
    accessLog: join(dir, 'access.log'),
    errorLog: join(dir, 'error.log'),
    password: 'bench-profile',
    set: [],
  });
  const env = embeddedStoreEnv(rendered.serviceEnv);
  const proc = await startServiceProcess({
    script: buildService(log),
    port,
    env: {
      ...process.env,
      ...env,
      ...(o.logLevel ? { LOG_LEVEL: o.logLevel } : {}),
      SHUTDOWN_DELAY_MS: '0',
      // the chart's heap flags, and the profiler
      NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim(),
    },
    logFile: join(dir, 'replica.log'),
  });
  let wrk;
  try {
    log(`profiling one replica (pid ${proc.pid}), wrk c=${o.connections} for ${o.seconds} s ...`);
    wrk = await runWrk({ url: `http://127.0.0.1:${port}/`, connections: o.connections, seconds: o.seconds });
  } finally {
    // SIGINT: a clean shutdown, at whose exit V8 writes the profile
    await proc.stop({ signal: 'SIGINT', timeoutMs: 30_000 });
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the replica wrote no .cpuprofile into ${dir}`);
  const path = join(dir, file);
  const top = selfTimes(JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[] }).slice(0, o.top);
  return [
    `${Math.round(wrk.gets2xx / o.seconds)} hits/s, p50 ${wrk.latencyMs.p50} ms, p99 ${wrk.latencyMs.p99} ms`,
    `profile: ${path}`,
    '',
    '| self CPU | function |',
    '|---|---|',
    ...top.map((x) => `| ${(x.share * 100).toFixed(1)} % | ${x.fn} |`),
  ].join('\n');
}
