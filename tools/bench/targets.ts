// The issue's targets, evaluated on a run's results (reported, never asserted in tests).
import type { ModeResult, StepResult } from './run.ts';

export interface Target {
  target: string;
  measured: string;
  /** undefined when the run did not measure it (mode or connection count not in the run) */
  met: boolean | undefined;
}

const RSS_LIMIT_MIB = 80;

const cpuPerHit = (s: StepResult | undefined): string =>
  s?.hits ? `${Math.round((s.cpuSeconds.service / s.hits) * 1e6)} µs` : '?';
const READY_LIMIT_MS = 500;

export function evaluateTargets(modes: ModeResult[]): Target[] {
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
  const steps = modes.flatMap((m) => m.steps);
  const inexact = steps.filter((s) => !s.exactness.ok).length;
  out.push({
    target: '0 counting errors in every run',
    measured: `${inexact} of ${steps.length} runs inexact`,
    met: steps.length ? inexact === 0 : undefined,
  });
  const after = modes.flatMap((m) => m.replicasAfter);
  const worst = after.reduce((a, r) => (r.rssMiB > a.rssMiB ? r : a), {
    rssMiB: 0,
    hitsServed: 0,
    vmHwmMiB: 0,
  });
  const minHits = Math.min(...after.map((r) => r.hitsServed));
  out.push({
    target: `replica RSS ≤ ${RSS_LIMIT_MIB} MiB after 100k hits`,
    measured: after.length
      ? `${worst.rssMiB.toFixed(1)} MiB at most (every replica served ≥ ${minHits} hits)`
      : 'not measured',
    // below 100k hits per replica the target is not measured, whatever the RSS
    met: after.length && minHits >= 100_000 ? worst.rssMiB <= RSS_LIMIT_MIB : undefined,
  });
  const ready = modes.map((m) => m.startToReady.medianMs);
  out.push({
    target: `start → ready ≤ ${READY_LIMIT_MS} ms`,
    measured: ready.length
      ? `median ${modes.map((m) => `${m.startToReady.medianMs} ms (${m.mode})`).join(', ')}`
      : 'not measured',
    met: ready.length ? Math.max(...ready) <= READY_LIMIT_MS : undefined,
  });
  return out;
}
