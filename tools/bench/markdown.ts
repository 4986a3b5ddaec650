// The results as markdown: the main table (mode × connections), the targets, start → ready,
// memory after the runs and redis-benchmark.
import type { BenchResults } from './results.ts';
import { FLOOR_LABELS } from './floors.ts';
import { DURABILITY_MODES, MODE_LABELS } from './run.ts';

const table = (head: string[], rows: (string | number)[][]): string =>
  [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

const fix = (x: number, d = 1): string => x.toFixed(d);

/** hits/s as a share of a floor's at the same connection count. */
function vsFloor(
  r: BenchResults,
  floor: 'fastify' | 'nginx',
  connections: number,
  hitsPerSec: number,
): string {
  const f = r.floors.find((x) => x.floor === floor && x.connections === connections)?.hitsPerSec;
  return f ? fix(hitsPerSec / f, 2) : '—';
}

export function mainTable(r: BenchResults): string {
  const rows = r.modes.flatMap((m) =>
    m.steps.map((s) => [
      MODE_LABELS[m.mode],
      s.connections,
      Math.round(s.hitsPerSec),
      vsFloor(r, 'fastify', s.connections, s.hitsPerSec),
      vsFloor(r, 'nginx', s.connections, s.hitsPerSec),
      s.latencyMs.p50,
      s.latencyMs.p99,
      s.latencyMs.max,
      s.non2xx,
      s.redis ? fix(s.redis.countingCommandsPerHit, 4) : '—',
      s.batches ? `${fix(s.batches.meanHits, 2)} (${Math.round(s.batches.singleHitShare * 100)} %)` : '—',
      s.replicas.map((p) => fix(p.peakRssMiB)).join(' / '),
      s.hits ? Math.round((s.cpuSeconds.service / s.hits) * 1e6) : '—',
      s.redis && s.hits ? fix((s.cpuSeconds.redis / s.hits) * 1e6) : '—',
      `${fix(s.cpuSeconds.service)} / ${fix(s.cpuSeconds.nginx)} / ${fix(s.cpuSeconds.redis)} / ${fix(s.cpuSeconds.other)}`,
      s.exactness.ok ? 'yes' : 'NO',
    ]),
  );
  return table(
    [
      'mode',
      'connections',
      'hits/s',
      '× bare Fastify',
      '× nginx return 200',
      'p50 ms',
      'p99 ms',
      'max ms',
      'non-2xx',
      'Redis commands/hit',
      'hits per INCRBY (share of 1-hit batches)',
      'peak RSS MiB per replica',
      'service CPU µs/hit',
      'Redis CPU µs/hit',
      'CPU s: service / nginx / redis / other',
      'exact',
    ],
    rows,
  );
}

/** The floors at each connection count, and the service alone as a share of bare Fastify. */
export function floorTable(r: BenchResults): string {
  const rows = r.floors.map((f) => [
    FLOOR_LABELS[f.floor],
    f.connections,
    Math.round(f.hitsPerSec),
    f.floor === 'fastify' ? '1.00' : vsFloor(r, 'fastify', f.connections, f.hitsPerSec),
    f.latencyMs.p50,
    f.latencyMs.p99,
    f.latencyMs.max,
    f.non2xx,
    f.hitsPerSec ? Math.round((f.cpuSeconds / (f.hitsPerSec * r.options.seconds)) * 1e6) : '—',
  ]);
  return table(
    [
      'floor',
      'connections',
      'hits/s',
      '× bare Fastify',
      'p50 ms',
      'p99 ms',
      'max ms',
      'non-2xx',
      'CPU µs/hit',
    ],
    rows,
  );
}

/**
 * The durability modes side by side at each connection count: hits/s, latency and batching, and
 * hits/s relative to everysec (the weakest), i.e. the measured price of each guarantee.
 */
export function durabilityTable(r: BenchResults): string | undefined {
  const modes = DURABILITY_MODES.map((mode) => r.modes.find((m) => m.mode === mode)).filter(
    (m) => m !== undefined,
  );
  if (modes.length < 2) return undefined;
  const base = r.modes.find((m) => m.mode === 'everysec');
  const conns = [...new Set(modes.flatMap((m) => m.steps.map((s) => s.connections)))].sort((a, b) => a - b);
  const rows = conns.flatMap((c) =>
    modes.flatMap((m) => {
      const s = m.steps.find((x) => x.connections === c);
      if (!s) return [];
      const ref = base?.steps.find((x) => x.connections === c)?.hitsPerSec;
      const rel = ref
        ? `${s.hitsPerSec >= ref ? '+' : ''}${fix(((s.hitsPerSec - ref) / ref) * 100, 0)} %`
        : '—';
      return [
        [
          c,
          MODE_LABELS[m.mode],
          Math.round(s.hitsPerSec),
          rel,
          s.latencyMs.p50,
          s.latencyMs.p99,
          s.batches ? fix(s.batches.meanHits, 2) : '—',
          s.non2xx,
        ],
      ];
    }),
  );
  return table(
    ['connections', 'mode', 'hits/s', 'vs everysec', 'p50 ms', 'p99 ms', 'hits per INCRBY', 'non-2xx'],
    rows,
  );
}

export function markdownReport(r: BenchResults, svgFile: string): string {
  const o = r.options;
  const m = r.machine;
  const parts: string[] = [];
  parts.push(`# hit-counter benchmark, ${r.startedAt}`);
  parts.push(
    `${m.cpus} CPUs (${m.cpuModel}), ${Math.round(m.memoryMiB)} MiB; load average at start ` +
      `${m.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${m.loadavgAtEnd.map((x) => x.toFixed(2)).join(' ')}. ` +
      `${Object.entries(m.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
  );
  parts.push(
    `${o.replicas} service replica(s) behind nginx (the embedded store: 1); wrk with ≤ ${o.threads} threads, ${o.seconds} s per run ` +
      `after a ${o.warmupSeconds} s warm-up${o.nodeOptions ? `; replicas with NODE_OPTIONS=${o.nodeOptions}` : ''}. ` +
      "wrk, nginx, the replicas and Redis share the machine's CPUs.",
  );
  parts.push(`![hits/s and p99 latency against connections](${svgFile})`);
  parts.push(
    `## Through nginx (wrk)\n\nEach mode's hits/s is also given as a share of two floors measured at ` +
      `the same connection count: a bare Fastify app and nginx answering return 200 (below).\n\n${mainTable(r)}`,
  );
  parts.push(
    `## Floors (wrk straight at each)\n\nThe service alone (one replica, embedded store, no nginx), a bare ` +
      `Fastify app answering the same sentence (logger off) and nginx with the chart's nginx.conf ` +
      `answering return 200 instead of proxying.\n\n${floorTable(r)}`,
  );
  const durability = durabilityTable(r);
  if (durability)
    parts.push(
      `## The price of durability\n\nThe same stack with appendfsync everysec, with always (the chart's ` +
        `default: fsync before each reply) and with replication (WAIT 1 after each batch). Measured, ` +
        `never asserted.\n\n${durability}`,
    );
  const inexact = r.modes.flatMap((md) => md.steps.filter((s) => !s.exactness.ok));
  if (inexact.length)
    parts.push(
      inexact
        .map(
          (s) => `- ${MODE_LABELS[s.mode]}, ${s.connections} connections: ${s.exactness.problems.join('; ')}`,
        )
        .join('\n'),
    );
  parts.push(
    `## Targets\n\n${table(
      ['target', 'measured', 'met'],
      r.targets.map((t) => [
        t.target,
        t.measured,
        t.met === undefined ? 'not measured' : t.met ? 'yes' : 'NO',
      ]),
    )}`,
  );
  parts.push(
    `## Start → ready\n\n${table(
      ['mode', 'median ms', 'runs ms'],
      [
        ...r.modes.map((md) => [
          MODE_LABELS[md.mode],
          md.startToReady.medianMs,
          md.startToReady.samplesMs.join(', '),
        ]),
        [
          'bare Fastify, start → first answer to GET /',
          r.bareStart.medianMs,
          r.bareStart.samplesMs.join(', '),
        ],
      ],
    )}`,
  );
  parts.push(
    `## Replicas after the runs\n\n${table(
      [
        'mode',
        'replica',
        'hits served',
        'RSS MiB',
        'of which file pages MiB',
        'peak RSS MiB',
        'V8 heap used / total MiB',
      ],
      [
        ...r.modes.flatMap((md) =>
          md.replicasAfter.map((x, i) => [
            MODE_LABELS[md.mode],
            i,
            x.hitsServed,
            fix(x.rssMiB),
            fix(x.fileMiB),
            fix(x.vmHwmMiB),
            `${fix(x.heapUsedMiB)} / ${fix(x.heapTotalMiB)}`,
          ]),
        ),
        ...r.floorsAfter.map((f) => [
          `floor: ${FLOOR_LABELS[f.floor]}`,
          '—',
          '—',
          fix(f.rssMiB),
          fix(f.fileMiB),
          '—',
          '—',
        ]),
      ],
    )}`,
  );
  const rb = r.modes.flatMap((md) => md.redisBenchmark);
  if (rb.length)
    parts.push(
      `## redis-benchmark -t incr (the store's own limit)\n\n${table(
        ['connections', 'requests', 'INCR/s', 'p50 ms', 'p99 ms', 'max ms'],
        rb.map((x) => [x.connections, x.requests, Math.round(x.opsPerSec), x.p50Ms, x.p99Ms, x.maxMs]),
      )}`,
    );
  return `${parts.join('\n\n')}\n`;
}
