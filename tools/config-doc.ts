// README.md's table of the service's environment variables, generated from their declarations in
// service/src/config.ts. `bash tools/run node tools/config-doc.ts` rewrites the table in place;
// service/test/config-doc.test.ts fails while it is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { variables } from '../service/src/config.ts';

export const README = new URL('../README.md', import.meta.url);
export const REGENERATE = 'bash tools/run node tools/config-doc.ts';
const HEADER = ['variable', 'meaning', 'default'];

/** One row per declared variable, in declaration order: name, meaning, default. */
export function configRows(): string[][] {
  return Object.entries(variables).map(([name, v]) => {
    const fallback = 'defaultDoc' in v ? v.defaultDoc : 'default' in v ? `\`${v.default}\`` : 'unset';
    return [`\`${name}\``, v.doc, fallback].map((cell) => cell.replaceAll('|', '\\|'));
  });
}

/** The rows as markdown lines, aligned the way prettier aligns a table. */
export function renderTable(rows = configRows()): string[] {
  const widths = HEADER.map((_, i) => Math.max(3, ...[HEADER, ...rows].map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(HEADER), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** The table's lines [start, end): the table headed `| variable | meaning | default |`. */
function findTable(lines: string[]): [number, number] {
  const start = lines.findIndex((l) => /^\|\s*variable\s*\|\s*meaning\s*\|\s*default\s*\|$/.test(l));
  if (start < 0) throw new Error('README.md has no `| variable | meaning | default |` table');
  let end = start;
  while (lines[end]?.startsWith('|')) end++;
  return [start, end];
}

/** The cells of a table line, trimmed. */
const cells = (line: string): string[] =>
  line
    .split(/(?<!\\)\|/)
    .slice(1, -1)
    .map((cell) => cell.trim());

/** The variables whose README row is missing, says other than the declaration, or is not declared. */
export function staleVariables(readme: string): string[] {
  const byName = (rows: string[][]) =>
    new Map(rows.map((row) => [row[0]!.replaceAll('`', ''), row.join('|')]));
  const documented = byName(readmeTable(readme).slice(2).map(cells));
  const declared = byName(configRows());
  const stale = [...declared].filter(([name, row]) => documented.get(name) !== row).map(([name]) => name);
  const undeclared = [...documented.keys()].filter((name) => !declared.has(name));
  return [...stale, ...undeclared];
}

/** The table as it stands in the README. */
export function readmeTable(readme: string): string[] {
  const lines = readme.split('\n');
  const [start, end] = findTable(lines);
  return lines.slice(start, end);
}

/** The README with its table replaced by the generated one. */
export function regenerate(readme: string): string {
  const lines = readme.split('\n');
  const [start, end] = findTable(lines);
  lines.splice(start, end - start, ...renderTable());
  return lines.join('\n');
}

if (import.meta.main) {
  const readme = readFileSync(README, 'utf8');
  const updated = regenerate(readme);
  if (updated !== readme) writeFileSync(README, updated);
  console.log(updated === readme ? 'README.md: up to date' : 'README.md: table regenerated');
}
