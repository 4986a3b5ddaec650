// The helm test Pod's check, taken from the rendered chart, run against the stack's URL.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { withStack } from './fixture.ts';

const run = promisify(execFile);

t.test("the chart's helm test check passes against the stack", async (t) => {
  const stack = await withStack(t, { replicas: 2 });
  const script = join(stack.dir, 'hit-check.sh');
  writeFileSync(script, stack.rendered.hitCheckScript);
  const before = await stack.counter();

  const { stdout } = await run('sh', [script], {
    env: { ...process.env, HIT_URL: stack.url },
    timeout: 30_000,
  });
  t.match(stdout, /^hit-check: ok \((\d+), then (\d+)\)/m, 'the check passes');
  t.equal(await stack.counter(), before + 2n, 'the check counted its two GETs');

  // The check must be able to fail: against a URL that does not answer the sentence, it does.
  const bad = await run('sh', [script], {
    env: { ...process.env, HIT_URL: `${stack.url}health` },
    timeout: 30_000,
  }).then(
    () => undefined,
    (err: { code?: number; stderr?: string }) => err,
  );
  t.ok(bad && bad.code !== 0, 'the check fails when the answer lacks the sentence');
  t.match(bad?.stderr ?? '', /lacks "Holla! we have hit N times"/, 'and says why');
});
