// npm run bench -- [--duration S] [--connections 1,16,64,256] [--replicas N] [--modes batch,everysec,ha,nobatch,memory]
//                  [--out DIR] [--threads T] [--warmup S] [--ready-runs N] [--redis-bench-requests N]
// Runs the benchmark (run.ts), writes <out>/<stamp>.json, .md, .svg and latest.svg, prints the table.
// npm run bench -- --overload [--duration S] [--replicas N]: the overload phases (overload.ts),
// printed as a table.
// npm run bench -- --profile [--duration S] [--connections C]: one replica alone under wrk with
// V8's CPU profiler (profile.ts); the functions with the most CPU, printed.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { markdownReport } from './markdown.ts';
import { UsageError, whole } from './options.ts';
import { overloadUsage, parseOverloadOptions, runOverload } from './overload.ts';
import { parseProfileOptions, profileUsage, runProfile } from './profile.ts';
import { writeResults, type BenchResults } from './results.ts';
import { MODES, runBench, type BenchOptions, type Mode } from './run.ts';
import { evaluateTargets } from './targets.ts';

const root = join(import.meta.dirname, '..', '..');
const usage = `usage: npm run bench -- [options]
  --duration S              seconds of load per run (default 10)
  --connections LIST        comma-separated connection counts (default 1,16,64,256)
  --replicas N              service replicas behind nginx in the Redis modes (default 1);
                            the embedded store always runs one (it counts inside one process)
  --modes LIST              any of ${MODES.join(',')} (default all)
  --out DIR                 where the results go (default bench/results)
  --threads T               wrk threads, at most the connections (default 2)
  --warmup S                seconds of unmeasured load before each mode (default 2)
  --ready-runs N            start → ready measurements per mode (default 5)
  --redis-bench-requests N  requests per redis-benchmark run, 0 = skip (default 100000)
  --rss-hits N              before reading replica memory, load until each served N hits (default 100000, 0 = no)
  --node-options=FLAGS      NODE_OPTIONS for the service replicas, e.g. --node-options="--max-semi-space-size=1"
  --overload                the overload phases instead (below)
  --profile                 one replica profiled instead (below)
${overloadUsage}
${profileUsage}`;

export function parseOptions(argv: string[]): BenchOptions & { out: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string', default: '10' },
        connections: { type: 'string', default: '1,16,64,256' },
        replicas: { type: 'string', default: '1' },
        modes: { type: 'string', default: MODES.join(',') },
        out: { type: 'string', default: join(root, 'bench', 'results') },
        threads: { type: 'string', default: '2' },
        warmup: { type: 'string', default: '2' },
        'ready-runs': { type: 'string', default: '5' },
        'redis-bench-requests': { type: 'string', default: '100000' },
        'node-options': { type: 'string', default: '' },
        'rss-hits': { type: 'string', default: '100000' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) throw new UsageError('');
  const connections = values.connections.split(',').map((c) => whole('connections', c.trim(), 1, 10_000));
  if (new Set(connections).size !== connections.length)
    throw new UsageError(`--connections lists a count twice: "${values.connections}"`);
  const modes = values.modes.split(',').map((m) => m.trim());
  for (const m of modes)
    if (!(MODES as readonly string[]).includes(m))
      throw new UsageError(`--modes: unknown mode "${m}"; use any of ${MODES.join(',')}`);
  return {
    seconds: whole('duration', values.duration, 1, 3600),
    connections: connections.sort((a, b) => a - b),
    replicas: whole('replicas', values.replicas, 1, 32),
    modes: [...new Set(modes)] as Mode[],
    threads: whole('threads', values.threads, 1, 64),
    warmupSeconds: whole('warmup', values.warmup, 0, 600),
    readyRuns: whole('ready-runs', values['ready-runs'], 1, 100),
    redisBenchRequests: whole('redis-bench-requests', values['redis-bench-requests'], 0, 100_000_000),
    nodeOptions: values['node-options'],
    rssHits: whole('rss-hits', values['rss-hits'], 0, 100_000_000),
    out: values.out,
  };
}

function version(cmd: string, args: string[], pattern: RegExp): string {
  // nginx -v and wrk -v print to stderr (wrk also exits 1)
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return pattern.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? 'unknown';
}

function versions(): Record<string, string> {
  return {
    node: process.version,
    wrk: version('wrk', ['-v'], /wrk (\S+)/),
    'redis-server': version('redis-server', ['--version'], /v=(\S+)/),
    nginx: version('nginx', ['-v'], /nginx\/(\S+)/),
  };
}

/** Parses the command line with `parse`; bad options: one line and `usageText`, then exit 2. */
function parsedOr<T>(parse: (argv: string[]) => T, usageText: string): T {
  try {
    return parse(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${usageText}`);
    process.exit(2);
  }
}

const loadLine = (load: number[]): string =>
  `bench: load average ${load.map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs`;

async function main(): Promise<void> {
  if (process.argv.includes('--profile')) {
    const po = parsedOr(parseProfileOptions, profileUsage);
    console.log(`\n${await runProfile(po, (line) => console.log(`bench: ${line}`))}`);
    return;
  }
  if (process.argv.includes('--overload')) {
    const ov = parsedOr(parseOverloadOptions, overloadUsage);
    console.log(loadLine(loadavg()));
    console.log(`\n${await runOverload(ov, (line) => console.log(`bench: ${line}`))}`);
    return;
  }
  let o;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) console.error(`bench: ${err.message}`);
    console.error(usage);
    process.exit(err.message ? 2 : 0);
  }
  const { out, ...options } = o;
  const startedAt = new Date().toISOString();
  const loadavgAtStart = loadavg();
  console.log(`${loadLine(loadavgAtStart)} (other work on the machine lowers every number)`);
  // SIGINT or SIGTERM stops the stacks started so far, then the bench exits non-zero.
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) return;
    console.error(`bench: ${sig}: stopping the stacks ...`);
    stop.abort(new Error(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const run = await runBench({
    ...options,
    log: (line) => console.log(`bench: ${line}`),
    signal: stop.signal,
  });
  const { modes } = run;
  const results: BenchResults = {
    version: 2,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      memoryMiB: totalmem() / 2 ** 20,
      loadavgAtStart,
      loadavgAtEnd: loadavg(),
      versions: versions(),
    },
    options,
    ...run,
    targets: evaluateTargets(run),
  };
  const files = writeResults(out, results);
  console.log(`\n${markdownReport(results, relative(out, files.svg))}`);
  console.log(
    `bench: wrote ${Object.values(files)
      .map((f) => relative(process.cwd(), f))
      .join(', ')}`,
  );
  const inexact = modes.flatMap((m) => m.steps).filter((s) => !s.exactness.ok);
  if (inexact.length) {
    console.error(`bench: ${inexact.length} run(s) failed the exactness check (see the table)`);
    process.exit(1);
  }
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  });
}
