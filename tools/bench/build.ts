// The bench measures what the image runs: the service compiled to JavaScript (service/dist, as
// `npm run build` and the Dockerfile make it), not the TypeScript sources node would strip types
// from at start. Stripping loads a compiler into the process: about 20 MiB more RSS and a slower
// start, neither of which a replica in a cluster pays.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const COMPILED_MAIN = join(ROOT, 'service', 'dist', 'main.js');

/** Compiles the service into service/dist (tsc from the project's node_modules); returns main.js. */
export function buildService(log: (line: string) => void): string {
  log('compiling the service as the image does (tsc -p service/tsconfig.build.json)');
  try {
    execFileSync(
      join(ROOT, 'node_modules', '.bin', 'tsc'),
      ['-p', join(ROOT, 'service', 'tsconfig.build.json')],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`the service did not compile:\n${String(e.stdout ?? '')}${String(e.stderr ?? '')}`, {
      cause: err,
    });
  }
  return COMPILED_MAIN;
}
