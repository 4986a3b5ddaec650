// README.md's table of environment variables is the one generated from the declarations in
// src/config.ts: every declared variable with its meaning and default, no variable that is not declared.
import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  README,
  REGENERATE,
  readmeTable,
  regenerate,
  renderTable,
  staleVariables,
} from '../../tools/config-doc.ts';

const readme = readFileSync(README, 'utf8');

t.test("README.md's table matches the declarations", async (t) => {
  const stale = staleVariables(readme);
  t.same(stale, [], `README.md is out of date for ${stale.join(', ')}: run \`${REGENERATE}\``);
  t.same(readmeTable(readme), renderTable(), `README.md's table is not as generated: run \`${REGENERATE}\``);
});

t.test('a row that differs, is missing or is not declared is named', async (t) => {
  const current = regenerate(readme);
  const lines = readmeTable(current);
  const row = (name: string) => lines.find((l) => l.startsWith(`| \`${name}\``))!;
  const edited = (from: string, to: string) => current.replace(from, to);
  t.same(staleVariables(edited(row('PORT'), row('PORT').replace('`8000`', '`8080`'))), ['PORT']);
  t.same(staleVariables(edited(row('LOG_LEVEL'), row('LOG_LEVEL').replace('pino', 'the'))), ['LOG_LEVEL']);
  t.same(staleVariables(edited(`${row('REDIS_DB')}\n`, '')), ['REDIS_DB']);
  t.same(staleVariables(edited(row('HOST'), `${row('HOST')}\n| \`LISTEN\` | unused | unset |`)), ['LISTEN']);
  t.same(staleVariables(regenerate(edited(row('HOST'), row('HOST').replace('listen', 'bind')))), []);
});
