// The benchmark itself: for each mode a fresh local stack (tools/stack), a short warm-up, then one
// wrk run per connection count through nginx, with the counters, Redis command counts, memory and
// CPU read around each run; the floors (floors.ts) measured by the same wrk in the same turns; then
// start → ready (and the bare Fastify app's start → listening) and, on a Redis stack, redis-benchmark.
import { loadavg } from 'node:os';
import { startStack, type Stack } from '../stack/stack.ts';
import { childPids } from '../stack/procfs.ts';
import { checkExactness, type CounterRange, type Exactness } from './exactness.ts';
import {
  COUNTING_COMMANDS,
  commandDelta,
  countedHits,
  cpuSecondsOf,
  machineCpuSeconds,
  memoryOf,
  replicaCounts,
  type ReplicaCounts,
} from './probes.ts';
import { parseCommandStats } from '../lib/redis.ts';
import { median, startToReadyMs, type StartToReady } from './ready.ts';
import { redisBenchmark, type RedisBenchmark } from './redis-benchmark.ts';
import { runWrk, type WrkResult } from './wrk.ts';
import { bareStartMs, startFloors, type Floor, type Floors } from './floors.ts';
import { buildService } from './build.ts';

export const MODES = ['batch', 'everysec', 'ha', 'nobatch', 'memory'] as const;
export type Mode = (typeof MODES)[number];

export const MODE_LABELS: Record<Mode, string> = {
  batch: 'Redis, batching on (appendfsync always)',
  everysec: 'Redis, appendfsync everysec',
  ha: 'Redis replication + Sentinel, WAIT 1',
  nobatch: 'Redis, batching off',
  memory: 'embedded store',
};

/** The durability modes, weakest first: what each guarantee costs is read side by side. */
export const DURABILITY_MODES: Mode[] = ['everysec', 'batch', 'ha'];

export interface BenchOptions {
  seconds: number;
  connections: number[];
  replicas: number;
  modes: Mode[];
  /** wrk threads (at most the connections) */
  threads: number;
  warmupSeconds: number;
  readyRuns: number;
  /** requests per redis-benchmark run; 0 skips redis-benchmark */
  redisBenchRequests: number;
  /** load each replica with at least this many hits in all before reading its memory (0 = no extra load) */
  rssHits: number;
  /** NODE_OPTIONS for the service replicas (e.g. V8 heap flags), '' = none */
  nodeOptions: string;
  log?: (line: string) => void;
  /** aborting stops every stack started so far at once and makes runBench reject */
  signal?: AbortSignal;
}

export interface StepResult {
  mode: Mode;
  connections: number;
  threads: number;
  seconds: number;
  hits: number;
  hitsPerSec: number;
  latencyMs: WrkResult['latencyMs'];
  non2xx: number;
  statuses: Record<string, number>;
  errors: WrkResult['errors'];
  /** Redis modes: command calls during the run (INFO commandstats delta, the bench's own INFO excluded) */
  redis: {
    commands: Record<string, number>;
    countingCommandsPerHit: number;
    allCommandsPerHit: number;
  } | null;
  /** hits the replicas counted (sum of hitcounter_hits_total deltas) */
  serviceCounted: number;
  /** Redis modes: the replicas' INCRBY batches (hitcounter_batch_size deltas) */
  batches: { count: number; meanHits: number; singleHitShare: number } | null;
  /** per replica: RSS peak sampled during the run and VmHWM (peak since start), MiB */
  replicas: { pid: number; peakRssMiB: number; vmHwmMiB: number }[];
  /** CPU seconds used during the run, by part; `other` is the rest of the machine (wrk, the bench, other work) */
  cpuSeconds: { service: number; nginx: number; redis: number; other: number; machineCapacity: number };
  exactness: Exactness;
  loadavg1: number;
}

/** A floor at one connection count: wrk straight at it. */
export interface FloorStep {
  floor: Floor;
  connections: number;
  hitsPerSec: number;
  latencyMs: WrkResult['latencyMs'];
  non2xx: number;
  /** CPU seconds its process (and nginx's workers) used during the run */
  cpuSeconds: number;
}

export interface BenchRun {
  modes: ModeResult[];
  floors: FloorStep[];
  /** RSS of the Node floors (the service alone, bare Fastify) after all runs, MiB */
  floorsAfter: { floor: Floor; rssMiB: number; fileMiB: number }[];
  /** spawn → first 200 of the bare Fastify app, measured in turn with the modes' start → ready */
  bareStart: StartToReady;
}

export interface ModeResult {
  mode: Mode;
  steps: StepResult[];
  startToReady: StartToReady;
  /** each replica after all runs of the mode: hits it served in all and its RSS */
  replicasAfter: {
    hitsServed: number;
    rssMiB: number;
    /** the part of rssMiB that is file pages: the node binary's code and data, shared and clean */
    fileMiB: number;
    vmHwmMiB: number;
    heapUsedMiB: number;
    heapTotalMiB: number;
  }[];
  redisBenchmark: RedisBenchmark[];
}

export async function runBench(o: BenchOptions): Promise<BenchRun> {
  const log = o.log ?? (() => {});
  // Every mode's stack is up for the whole run and the modes take turns at each connection count,
  // so they are paired: other work on the machine weighs on all of them alike.
  const run: Run = { stacks: [], starting: undefined, floors: undefined };
  const signal = o.signal ?? new AbortController().signal;
  signal.throwIfAborted();
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('the benchmark was stopped', { cause: signal.reason }));
  });
  aborted.catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([measure(o, log, run, signal), aborted]);
  } finally {
    const late = run.starting;
    signal.removeEventListener('abort', onAbort);
    // stop() is idempotent: a stack a measurement is still using is stopped under it, and one
    // still starting is stopped once it is up.
    for (const { stack } of run.stacks) await stack.stop();
    await (await late?.catch(() => undefined))?.stop();
    await (await run.floors?.catch(() => undefined))?.stop();
  }
}

interface Run {
  stacks: { mode: Mode; stack: Stack; steps: StepResult[] }[];
  /** the stack being started, if any */
  starting: Promise<Stack> | undefined;
  floors: Promise<Floors> | undefined;
}

async function measure(
  o: BenchOptions,
  log: (line: string) => void,
  run: Run,
  signal: AbortSignal,
): Promise<BenchRun> {
  const { stacks } = run;
  const script = buildService(log);
  for (const mode of o.modes) {
    // The embedded store counts inside one process: more replicas would be separate counters.
    const replicas = mode === 'memory' ? 1 : o.replicas;
    const redis = mode === 'memory' ? '' : mode === 'ha' ? '3 redis nodes, 3 sentinels, ' : 'redis, ';
    log(`${mode}: starting ${redis}${replicas} replica(s), nginx`);
    run.starting = startStack({
      script,
      replicas,
      store: mode === 'memory' ? 'memory' : 'redis',
      ha: mode === 'ha',
      set: mode === 'everysec' ? ['redis.config.appendfsync=everysec'] : [],
      env: {
        ...(mode === 'nobatch' ? { COUNTER_BATCH_MAX: '1' } : {}),
        ...(o.nodeOptions ? { NODE_OPTIONS: o.nodeOptions } : {}),
      },
    });
    const stack = await run.starting;
    run.starting = undefined;
    stacks.push({ mode, stack, steps: [] });
    signal.throwIfAborted();
  }
  log('floors: starting the service alone, a bare Fastify app, nginx return 200');
  // stack.serviceEnv already holds --node-options, when given, in place of the chart's
  const floorEnv = stacks[0]?.stack.serviceEnv ?? {};
  run.floors = startFloors(floorEnv, script);
  const floors = (await run.floors).servers;
  signal.throwIfAborted();
  const floorSteps: FloorStep[] = [];
  if (o.warmupSeconds > 0) {
    const warm = Math.max(...o.connections.filter((c) => c <= 64), 1);
    for (const url of [...stacks.map((x) => x.stack.url), ...floors.map((f) => f.url)])
      await runWrk({
        url,
        connections: warm,
        seconds: o.warmupSeconds,
        threads: o.threads,
        signal: o.signal,
      });
  }
  for (const connections of o.connections) {
    for (const { mode, stack, steps } of stacks) {
      signal.throwIfAborted();
      const step = await benchStep(stack, mode, connections, o);
      steps.push(step);
      log(
        `${mode} c=${connections}: ${Math.round(step.hitsPerSec)} hits/s, p50 ${step.latencyMs.p50} ms, ` +
          `p99 ${step.latencyMs.p99} ms, non-2xx ${step.non2xx}, exact ${step.exactness.ok ? 'yes' : 'NO'}` +
          (step.redis ? `, Redis commands/hit ${step.redis.countingCommandsPerHit.toFixed(3)}` : ''),
      );
    }
    for (const f of floors) {
      signal.throwIfAborted();
      const pids = (): number[] => [f.pid, ...childPids(f.pid)];
      const before = sum(pids().map(cpuSecondsOf));
      const wrk = await runWrk({
        url: f.url,
        connections,
        seconds: o.seconds,
        threads: o.threads,
        signal: o.signal,
      });
      const step: FloorStep = {
        floor: f.floor,
        connections,
        hitsPerSec: Math.round((wrk.gets2xx / o.seconds) * 10) / 10,
        latencyMs: wrk.latencyMs,
        non2xx: wrk.non2xx,
        cpuSeconds: Math.round((sum(pids().map(cpuSecondsOf)) - before) * 100) / 100,
      };
      floorSteps.push(step);
      log(
        `floor ${f.floor} c=${connections}: ${Math.round(step.hitsPerSec)} hits/s, p50 ${step.latencyMs.p50} ms, ` +
          `p99 ${step.latencyMs.p99} ms, non-2xx ${step.non2xx}`,
      );
    }
  }
  // start → ready, the modes taking turns too
  log(`start → ready: ${o.readyRuns} runs per mode`);
  const ready = new Map<Mode, number[]>(stacks.map((x) => [x.mode, []]));
  const bare: number[] = [];
  for (let i = 0; i < o.readyRuns; i++) {
    for (const { mode, stack } of stacks) {
      signal.throwIfAborted();
      ready.get(mode)?.push(await startToReadyMs(stack.serviceEnv, script));
    }
    signal.throwIfAborted();
    bare.push(await bareStartMs(floorEnv.NODE_OPTIONS ?? ''));
  }
  const out: ModeResult[] = [];
  for (const { mode, stack, steps } of stacks) {
    const samplesMs = ready.get(mode) ?? [];
    const startToReady = { samplesMs, medianMs: median(samplesMs) };
    out.push({ mode, steps, startToReady, ...(await afterRuns(stack, mode, o, log)) });
  }
  const floorsAfter = floors
    .filter((f) => f.floor !== 'nginx')
    .map((f) => {
      const mem = memoryOf(f.pid);
      const round = (x: number): number => Math.round(x * 10) / 10;
      return { floor: f.floor, rssMiB: round(mem?.rssMiB ?? 0), fileMiB: round(mem?.fileMiB ?? 0) };
    });
  return {
    modes: out,
    floors: floorSteps,
    floorsAfter,
    bareStart: { samplesMs: bare, medianMs: median(bare) },
  };
}

/** Memory after the runs (and after more load up to `rssHits`), and redis-benchmark. */
async function afterRuns(
  stack: Stack,
  mode: Mode,
  o: BenchOptions,
  log: (line: string) => void,
): Promise<Pick<ModeResult, 'replicasAfter' | 'redisBenchmark'>> {
  if (o.rssHits > 0) await topUp(stack, o, log);
  const replicasAfter = await Promise.all(
    stack.services.map(async (r) => {
      const mem = memoryOf(r.pid);
      const c = await replicaCounts(r.port);
      const round = (x: number): number => Math.round(x * 10) / 10;
      return {
        hitsServed: c.hits,
        rssMiB: round(mem?.rssMiB ?? 0),
        fileMiB: round(mem?.fileMiB ?? 0),
        vmHwmMiB: round(mem?.peakMiB ?? 0),
        heapUsedMiB: round(c.heapUsedMiB),
        heapTotalMiB: round(c.heapTotalMiB),
      };
    }),
  );
  const rb: RedisBenchmark[] = [];
  if (stack.redis && mode === 'batch' && o.redisBenchRequests > 0) {
    for (const connections of o.connections) {
      const r = await redisBenchmark({
        port: stack.redis.port,
        password: stack.redisPassword,
        connections,
        requests: o.redisBenchRequests,
        signal: o.signal,
      });
      rb.push(r);
      log(`redis-benchmark -t incr -c ${connections}: ${Math.round(r.opsPerSec)} ops/s`);
    }
  }
  return { replicasAfter, redisBenchmark: rb };
}

/** More load (64 connections, 5 s at a time) until every replica has served `o.rssHits` hits in all. */
async function topUp(stack: Stack, o: BenchOptions, log: (line: string) => void): Promise<void> {
  const least = async (): Promise<number> =>
    Math.min(...(await Promise.all(stack.services.map((r) => countedHits(r.port)))));
  for (let round = 0; round < 100; round++) {
    const served = await least();
    if (served >= o.rssHits) return;
    if (round === 0) log(`more load until every replica has served ${o.rssHits} hits (now ${served})`);
    await runWrk({ url: stack.url, connections: 64, seconds: 5, threads: o.threads, signal: o.signal });
  }
  throw new Error(`the replicas did not reach ${o.rssHits} hits each after 100 rounds of load`);
}

async function benchStep(
  stack: Stack,
  mode: Mode,
  connections: number,
  o: BenchOptions,
): Promise<StepResult> {
  const redis = stack.redis;
  const replicaHits = (): Promise<ReplicaCounts[]> =>
    Promise.all(stack.services.map((r) => replicaCounts(r.port)));
  const commandStats = async (): Promise<Record<string, number>> =>
    redis ? parseCommandStats(await redis.cli('INFO', 'commandstats')) : {};
  const nginxPids = [stack.nginx.pid, ...childPids(stack.nginx.pid)];
  const cpu = () => ({
    service: sum(stack.services.map((r) => cpuSecondsOf(r.pid))),
    nginx: sum(nginxPids.map(cpuSecondsOf)),
    redis: redis ? cpuSecondsOf(redis.pid) : 0,
    machine: machineCpuSeconds(),
  });

  const counterBefore = redis ? await stack.counter() : 0n;
  const hitsBefore = await replicaHits();
  const cmdBefore = await commandStats();
  const cpuBefore = cpu();
  const peaks = stack.services.map(() => 0);
  const sample = (): void =>
    stack.services.forEach((r, i) => {
      peaks[i] = Math.max(peaks[i] ?? 0, memoryOf(r.pid)?.rssMiB ?? 0);
    });
  sample();
  const sampler = setInterval(sample, 200);
  let wrk: WrkResult;
  try {
    wrk = await runWrk({
      url: stack.url,
      connections,
      seconds: o.seconds,
      threads: o.threads,
      signal: o.signal,
    });
  } finally {
    clearInterval(sampler);
  }
  sample();
  const cpuAfter = cpu();
  const cmdAfter = await commandStats();
  const hitsAfter = await replicaHits();
  const counterAfter = redis ? await stack.counter() : 0n;

  const ranges: CounterRange[] = redis
    ? [{ from: counterBefore, to: counterAfter }]
    : hitsBefore.map((b, i) => ({ from: BigInt(b.hits), to: BigInt(hitsAfter[i]?.hits ?? b.hits) }));
  const exactness = checkExactness(wrk.numbers, ranges);
  const delta = (k: keyof ReplicaCounts): number =>
    sum(hitsAfter.map((x) => x[k])) - sum(hitsBefore.map((x) => x[k]));
  const serviceCounted = delta('hits');
  const batchCount = delta('batches');
  const batches = redis
    ? {
        count: batchCount,
        meanHits: batchCount ? Math.round((delta('batchedHits') / batchCount) * 100) / 100 : 0,
        singleHitShare: batchCount ? Math.round((delta('singleHitBatches') / batchCount) * 1000) / 1000 : 0,
      }
    : null;

  let redisStats: StepResult['redis'] = null;
  if (redis) {
    const commands = commandDelta(cmdBefore, cmdAfter);
    // The bench's own: the INFO that read `cmdBefore` and the AUTH of the redis-cli that read `cmdAfter`.
    for (const own of ['info', 'auth']) {
      commands[own] = (commands[own] ?? 0) - 1;
      if ((commands[own] ?? 0) <= 0) delete commands[own];
    }
    const counting = sum(COUNTING_COMMANDS.map((c) => commands[c] ?? 0));
    const all = sum(Object.values(commands));
    const hits = Math.max(wrk.gets2xx, 1);
    redisStats = { commands, countingCommandsPerHit: counting / hits, allCommandsPerHit: all / hits };
  }
  const used = {
    service: cpuAfter.service - cpuBefore.service,
    nginx: cpuAfter.nginx - cpuBefore.nginx,
    redis: cpuAfter.redis - cpuBefore.redis,
  };
  const busy = cpuAfter.machine.busy - cpuBefore.machine.busy;
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    mode,
    connections,
    threads: wrk.threads,
    seconds: o.seconds,
    hits: wrk.gets2xx,
    hitsPerSec: Math.round((wrk.gets2xx / o.seconds) * 10) / 10,
    latencyMs: wrk.latencyMs,
    non2xx: wrk.non2xx,
    statuses: wrk.statuses,
    errors: wrk.errors,
    redis: redisStats,
    serviceCounted,
    batches,
    replicas: stack.services.map((r, i) => ({
      pid: r.pid,
      peakRssMiB: round(peaks[i] ?? 0),
      vmHwmMiB: round(memoryOf(r.pid)?.peakMiB ?? 0),
    })),
    cpuSeconds: {
      service: round(used.service),
      nginx: round(used.nginx),
      redis: round(used.redis),
      other: round(Math.max(0, busy - used.service - used.nginx - used.redis)),
      machineCapacity: round(cpuAfter.machine.total - cpuBefore.machine.total),
    },
    exactness,
    loadavg1: round(loadavg()[0] ?? 0),
  };
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
