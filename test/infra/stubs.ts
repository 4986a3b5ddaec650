// Stand-ins for tofu, aws and kubectl in the infra tests: one script of the test's, linked under the
// three names in a bin directory the test puts first on PATH; it logs each call to the file named
// by $CALLS and answers what the script says. The directory is removed after the run.
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../../tools/lib/proc.ts';

export type Stubs = {
  /** the run's directory (for the script's own state files) */
  dir: string;
  /** where tofu, aws and kubectl are */
  bin: string;
  /** the calls log ($CALLS) */
  calls: string;
};

/** Runs `body` with the stand-ins in place; its result, with the calls logged, one per line. */
export async function withStubs<R extends object>(
  prefix: string,
  script: string,
  body: (s: Stubs) => Promise<R>,
): Promise<R & { log: string[] }> {
  const dir = tempDir(prefix);
  try {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    const stub = path.join(dir, 'stub');
    writeFileSync(stub, script);
    chmodSync(stub, 0o755);
    for (const name of ['tofu', 'aws', 'kubectl']) symlinkSync(stub, path.join(bin, name));
    const calls = path.join(dir, 'calls');
    writeFileSync(calls, '');
    const result = await body({ dir, bin, calls });
    return { ...result, log: readFileSync(calls, 'utf8').trim().split('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
