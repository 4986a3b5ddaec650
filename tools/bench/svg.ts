// The results as an SVG line chart, two panels: hits/s and p99 latency against connections, one
// line per mode. Connections are spaced evenly (they usually grow geometrically: 1, 16, 64, 256).
import type { BenchResults } from './results.ts';
import { MODE_LABELS, type Mode } from './run.ts';

const COLORS: Record<Mode, string> = {
  batch: '#1f77b4',
  everysec: '#9467bd',
  ha: '#ff7f0e',
  nobatch: '#d62728',
  memory: '#2ca02c',
};
const W = 1000;
const H = 400;
const PANEL = { w: 400, h: 260, top: 60, left: [80, 560] as const };

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About five round tick values from 0 to at least `max`. */
export function ticks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((f) => f * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = 0; v < max + step; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function panel(
  r: BenchResults,
  left: number,
  title: string,
  value: (s: BenchResults['modes'][number]['steps'][number]) => number,
): string {
  const conns = [...new Set(r.modes.flatMap((m) => m.steps.map((s) => s.connections)))].sort((a, b) => a - b);
  const ys = ticks(Math.max(0, ...r.modes.flatMap((m) => m.steps.map(value))));
  const yMax = ys.at(-1) ?? 1;
  const x = (c: number): number =>
    left + (conns.length === 1 ? PANEL.w / 2 : (conns.indexOf(c) / (conns.length - 1)) * PANEL.w);
  const y = (v: number): number => PANEL.top + PANEL.h - (v / yMax) * PANEL.h;
  const bottom = PANEL.top + PANEL.h;
  const out: string[] = [];
  out.push(`<text x="${left + PANEL.w / 2}" y="${PANEL.top - 12}" class="title">${esc(title)}</text>`);
  for (const v of ys) {
    out.push(`<line x1="${left}" x2="${left + PANEL.w}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" class="ylabel">${esc(String(v))}</text>`);
  }
  for (const c of conns) out.push(`<text x="${x(c)}" y="${bottom + 18}" class="xlabel">${c}</text>`);
  out.push(`<text x="${left + PANEL.w / 2}" y="${bottom + 38}" class="xlabel">connections</text>`);
  out.push(`<line x1="${left}" x2="${left}" y1="${PANEL.top}" y2="${bottom}" class="axis"/>`);
  out.push(`<line x1="${left}" x2="${left + PANEL.w}" y1="${bottom}" y2="${bottom}" class="axis"/>`);
  for (const m of r.modes) {
    const pts = m.steps.map((s) => `${x(s.connections).toFixed(1)},${y(value(s)).toFixed(1)}`);
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[m.mode]}" stroke-width="2"/>`);
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${COLORS[m.mode]}"/>`);
    }
  }
  return out.join('\n  ');
}

export function svgChart(r: BenchResults): string {
  const legend = r.modes.map((m, i) => {
    const lx = 80 + i * 220;
    return (
      `<line x1="${lx}" x2="${lx + 24}" y1="${H - 14}" y2="${H - 14}" stroke="${COLORS[m.mode]}" stroke-width="3"/>` +
      `<text x="${lx + 30}" y="${H - 10}" class="legend">${esc(MODE_LABELS[m.mode])}</text>`
    );
  });
  const sub = `${r.options.replicas} replica(s) behind nginx (embedded store: 1), ${r.machine.cpus} CPUs shared by wrk, nginx, the service and Redis; ${r.startedAt}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
  <style>
    .title { font-size: 14px; font-weight: bold; text-anchor: middle; }
    .sub { font-size: 11px; fill: #555; text-anchor: middle; }
    .xlabel { text-anchor: middle; fill: #333; }
    .ylabel { text-anchor: end; fill: #333; }
    .legend { fill: #222; }
    .grid { stroke: #e5e5e5; }
    .axis { stroke: #333; }
  </style>
  <rect width="${W}" height="${H}" fill="#fff"/>
  <text x="${W / 2}" y="20" class="sub">${esc(sub)}</text>
  ${panel(r, PANEL.left[0], 'hits/s', (s) => s.hitsPerSec)}
  ${panel(r, PANEL.left[1], 'p99 latency, ms', (s) => s.latencyMs.p99)}
  ${legend.join('\n  ')}
</svg>
`;
}
