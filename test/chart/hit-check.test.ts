// The helm test script (files/hit-check.sh) run outside Kubernetes against real HTTP servers:
// it passes on a growing count, fails on a stuck count or a wrong answer; with curl and with wget.
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { requireBinary, tempDir } from '../../tools/lib/proc.ts';
import { chartDir } from './chart.ts';

const run = promisify(execFile);
const script = path.join(chartDir, 'files/hit-check.sh');

async function server(t: Test, answer: (n: number) => string): Promise<string> {
  let n = 0;
  const s = createServer((_req, res) => {
    n += 1;
    res.end(answer(n));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}/`;
}

/** The error of a command expected to fail. */
async function failure(p: Promise<unknown>): Promise<{ code?: number; stderr?: string }> {
  return p.then(
    () => ({ stderr: 'the command succeeded' }),
    (err: { code?: number; stderr?: string }) => err,
  );
}

/** A PATH with sh tools and only one of curl / wget, removed by the test's teardown. */
function pathWith(t: Test, fetcher: 'curl' | 'wget'): string {
  const root = tempDir('hit-check-bin-', t);
  const dir = path.join(root, 'bin');
  mkdirSync(dir);
  for (const tool of ['sh', 'sed', 'head', fetcher]) symlinkSync(requireBinary(tool), path.join(dir, tool));
  return dir;
}

for (const fetcher of ['curl', 'wget'] as const) {
  t.test(`with ${fetcher}`, async (t) => {
    const env = { PATH: pathWith(t, fetcher) };
    const good = await server(t, (n) => `<p>Holla! we have hit ${n + 99} times</p>`);
    const { stdout } = await run('sh', [script], { env: { ...env, HIT_URL: good } });
    t.match(stdout, 'hit-check: ok (100, then 101)');
    const stuck = await server(t, () => 'Holla! we have hit 7 times');
    const stuckRun = await failure(run('sh', [script], { env: { ...env, HIT_URL: stuck } }));
    t.equal(stuckRun.code, 1);
    t.match(stuckRun.stderr, /did not grow \(7, then 7\)/);
    const wrong = await server(t, () => 'Hello');
    const wrongRun = await failure(run('sh', [script], { env: { ...env, HIT_URL: wrong } }));
    t.equal(wrongRun.code, 1);
    t.match(wrongRun.stderr, /lacks "Holla! we have hit N times"/);
  });
}

t.test('without HIT_URL it says what to set', async (t) => {
  t.match((await failure(run('sh', [script], { env: { PATH: process.env.PATH } }))).stderr, /HIT_URL/);
});
