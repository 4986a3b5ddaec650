// A benchmark run's results: the JSON document, and the files written from it
// (<stamp>.json, <stamp>.md, <stamp>.svg, and latest.svg, the stable name the README shows).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { markdownReport } from './markdown.ts';
import type { BenchOptions, BenchRun, FloorStep, ModeResult } from './run.ts';
import type { StartToReady } from './ready.ts';
import { svgChart } from './svg.ts';
import type { Target } from './targets.ts';

export interface BenchResults {
  /** 2: with the floors and the bare Fastify app's start */
  version: 2;
  startedAt: string;
  finishedAt: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryMiB: number;
    /** 1-, 5- and 15-minute load averages when the run started and ended (other work on the machine) */
    loadavgAtStart: number[];
    loadavgAtEnd: number[];
    versions: Record<string, string>;
  };
  options: Omit<BenchOptions, 'log'>;
  modes: ModeResult[];
  floors: FloorStep[];
  floorsAfter: BenchRun['floorsAfter'];
  bareStart: StartToReady;
  targets: Target[];
}

/** "2026-11-25T1612Z" from an ISO date: sortable, and safe in file names. */
export function stampOf(iso: string): string {
  return `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

export function writeResults(dir: string, r: BenchResults): { json: string; md: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = stampOf(r.startedAt);
  const files = {
    json: join(dir, `${stamp}.json`),
    md: join(dir, `${stamp}.md`),
    svg: join(dir, `${stamp}.svg`),
  };
  writeFileSync(files.json, `${JSON.stringify(r, bigintSafe, 2)}\n`);
  const svg = svgChart(r);
  writeFileSync(files.svg, svg);
  writeFileSync(join(dir, 'latest.svg'), svg);
  writeFileSync(files.md, markdownReport(r, `${stamp}.svg`));
  return files;
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
