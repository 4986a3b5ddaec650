// The issue's targets, evaluated on a run's results (reported, never asserted in tests).
import type { BenchRun, StepResult } from './run.ts';

export interface Target {
  target: string;
  measured: string;
  /** undefined when the run did not measure it (mode or connection count not in the run) */
  met: boolean | undefined;
}

const RSS_LIMIT_MIB = 80;

const cpuPerHit = (s: StepResult | undefined): string =>
  s?.hits ? `${Math.round((s.cpuSeconds.service / s.hits) * 1e6)} µs` : '?';
/** The service alone against the bare Fastify app, at 64 connections. */
const SERVICE_VS_FASTIFY = 0.8;
/** At 256 connections, in every mode: the tail against the median, the worst latency. */
const TAIL_RATIO = 10;
const MAX_LATENCY_MS = 1000;
/** Start → ready against the bare Fastify app's start → listening. */
const READY_VS_BARE = 2;

export function evaluateTargets({ modes, floors, floorsAfter, bareStart }: BenchRun): Target[] {
  const step = (mode: string, c: number): StepResult | undefined =>
    modes.find((m) => m.mode === mode)?.steps.find((s) => s.connections === c);
  const out: Target[] = [];
  const cph = (s: StepResult | undefined): number | undefined => s?.redis?.countingCommandsPerHit;

  const b256 = cph(step('batch', 256));
  out.push({
    target: 'batching on: Redis commands per hit ≤ 0.1 at 256 connections',
    measured: b256 === undefined ? 'not measured' : b256.toFixed(4),
    met: b256 === undefined ? undefined : b256 <= 0.1,
  });
  const b1 = cph(step('batch', 1));
  out.push({
    target: 'batching on: exactly 1 Redis command per hit at 1 connection',
    measured: b1 === undefined ? 'not measured' : b1.toFixed(4),
    met: b1 === undefined ? undefined : b1 === 1,
  });
  const p50b = step('batch', 1)?.latencyMs.p50;
  const p50n = step('nobatch', 1)?.latencyMs.p50;
  out.push({
    target: 'p50 at 1 connection: batching on no worse than batching off',
    measured: p50b === undefined || p50n === undefined ? 'not measured' : `${p50b} ms on vs ${p50n} ms off`,
    met: p50b === undefined || p50n === undefined ? undefined : p50b <= p50n,
  });
  const r64 = step('batch', 64)?.hitsPerSec;
  const m64 = step('memory', 64)?.hitsPerSec;
  const ratio = r64 !== undefined && m64 ? r64 / m64 : undefined;
  out.push({
    target: 'Redis stack hits/s ≥ 0.7 × embedded-store stack at 64 connections',
    measured:
      ratio === undefined
        ? 'not measured'
        : `${ratio.toFixed(2)} (${r64} / ${m64}); service CPU per hit ${cpuPerHit(step('batch', 64))} vs ${cpuPerHit(step('memory', 64))}`,
    met: ratio === undefined ? undefined : ratio >= 0.7,
  });
  const alone = floors.find((f) => f.floor === 'service' && f.connections === 64)?.hitsPerSec;
  const bare = floors.find((f) => f.floor === 'fastify' && f.connections === 64)?.hitsPerSec;
  const vsBare = alone !== undefined && bare ? alone / bare : undefined;
  out.push({
    target: `the service alone ≥ ${SERVICE_VS_FASTIFY} × bare Fastify at 64 connections`,
    measured: vsBare === undefined ? 'not measured' : `${vsBare.toFixed(2)} (${alone} / ${bare})`,
    met: vsBare === undefined ? undefined : vsBare >= SERVICE_VS_FASTIFY,
  });
  const at256 = modes.flatMap((m) => m.steps.filter((s) => s.connections === 256));
  const worstAt256 = (f: (s: StepResult) => number): StepResult | undefined =>
    at256.reduce<StepResult | undefined>((a, s) => (a === undefined || f(s) > f(a) ? s : a), undefined);
  const tail = (s: StepResult): number => s.latencyMs.p99 / Math.max(s.latencyMs.p50, 0.001);
  const wTail = worstAt256(tail);
  out.push({
    target: `256 connections, every mode: p99 ≤ ${TAIL_RATIO} × p50`,
    measured: wTail
      ? `worst ${tail(wTail).toFixed(1)} × (${wTail.mode}: p99 ${wTail.latencyMs.p99} ms, p50 ${wTail.latencyMs.p50} ms)`
      : 'not measured',
    met: wTail ? tail(wTail) <= TAIL_RATIO : undefined,
  });
  const wMax = worstAt256((s) => s.latencyMs.max);
  out.push({
    target: `256 connections, every mode: max latency ≤ ${MAX_LATENCY_MS} ms`,
    measured: wMax ? `worst ${wMax.latencyMs.max} ms (${wMax.mode})` : 'not measured',
    met: wMax ? wMax.latencyMs.max <= MAX_LATENCY_MS : undefined,
  });
  const wErr = worstAt256((s) => s.non2xx);
  out.push({
    target: '256 connections, every mode: 0 non-2xx',
    measured: wErr ? `worst ${wErr.non2xx} (${wErr.mode})` : 'not measured',
    met: wErr ? wErr.non2xx === 0 : undefined,
  });
  const steps = modes.flatMap((m) => m.steps);
  const inexact = steps.filter((s) => !s.exactness.ok).length;
  out.push({
    target: '0 counting errors in every run',
    measured: `${inexact} of ${steps.length} runs inexact`,
    met: steps.length ? inexact === 0 : undefined,
  });
  const after = modes.flatMap((m) => m.replicasAfter);
  const worst = after.reduce((a, r) => (r.rssMiB > a.rssMiB ? r : a), { rssMiB: 0, fileMiB: 0 });
  const bareAfter = floorsAfter.find((f) => f.floor === 'fastify')?.rssMiB;
  const bareRss = bareAfter ? `; bare Fastify after the same runs: ${bareAfter.toFixed(1)} MiB` : '';
  const minHits = Math.min(...after.map((r) => r.hitsServed));
  out.push({
    target: `replica RSS ≤ ${RSS_LIMIT_MIB} MiB after 100k hits`,
    measured: after.length
      ? `${worst.rssMiB.toFixed(1)} MiB at most, of which ${worst.fileMiB.toFixed(1)} MiB file pages` +
        ` (every replica served ≥ ${minHits} hits)` +
        bareRss
      : 'not measured',
    // below 100k hits per replica the target is not measured, whatever the RSS
    met: after.length && minHits >= 100_000 ? worst.rssMiB <= RSS_LIMIT_MIB : undefined,
  });
  const ready = modes.map((m) => m.startToReady.medianMs);
  const limit = bareStart.samplesMs.length ? READY_VS_BARE * bareStart.medianMs : undefined;
  out.push({
    target: `start → ready ≤ ${READY_VS_BARE} × bare Fastify's start → first answer`,
    measured:
      ready.length && limit !== undefined
        ? `median ${modes.map((m) => `${m.startToReady.medianMs} ms (${m.mode})`).join(', ')}; ` +
          `bare Fastify ${bareStart.medianMs} ms, limit ${limit} ms`
        : 'not measured',
    met: ready.length && limit !== undefined ? Math.max(...ready) <= limit : undefined,
  });
  return out;
}
