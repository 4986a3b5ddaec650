// The real service/Dockerfile, built with podman on a local base image (tools/base-image.sh, no
// registry) and run the way Kubernetes runs it: read-only root filesystem, the image's own
// non-root user, SIGTERM to stop.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir, waitFor } from '../../tools/lib/proc.ts';
import { inspect, podman, repoRoot, runLogged } from './podman.ts';

const TAG = 'localhost/hit-counter:image-test';
// The version tools/lab-images.sh builds too, so both share one image in podman's cache.
const VERSION = '0.0.0-local';
const GRACE_SECONDS = 10;

type ImageInfo = {
  Config: {
    User?: string;
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    ExposedPorts?: Record<string, unknown>;
    Labels?: Record<string, string>;
  };
  Size: number;
};
type ContainerInfo = {
  State: { Status: string; ExitCode: number };
  HostConfig: { ReadonlyRootfs: boolean };
};

// The CA bundle the host's Node trusts; handed to the build as the npm_ca secret.
const caFile = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find(
  (f): f is string => !!f && existsSync(f),
);

/** A line of base64 from inside the bundle's last certificate: if it is in the image, so is the CA. */
function caMarker(file: string): string {
  const pem = readFileSync(file, 'utf8');
  const last = pem.slice(pem.lastIndexOf('-----BEGIN CERTIFICATE-----')).split('\n');
  const line = last[3]?.trim();
  if (!line || line.length < 40) throw new Error(`cannot find a certificate line in ${file}`);
  return line;
}

// ---- build (base image first; both cached by podman) ------------------------------------------
let started = Date.now();
const baseOut = await runLogged('bash', [join(repoRoot, 'tools/base-image.sh')], (stop) => t.teardown(stop));
const baseImage = baseOut.trim().split('\n').at(-1) ?? '';
t.comment(`base image ${baseImage} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

// The image this tag named before, removed below once the tag moves (only if nothing uses it).
const previous = await podman('image', 'inspect', '--format={{.Id}}', TAG).catch(() => '');
const iidDir = tempDir('image-test-', t);
const iidFile = join(iidDir, 'iid');
started = Date.now();
await runLogged(
  'podman',
  [
    'build',
    '--pull=never',
    '--jobs=2',
    '-f=service/Dockerfile',
    `--build-arg=NODE_IMAGE=${baseImage}`,
    `--build-arg=VERSION=${VERSION}`,
    ...(caFile ? [`--secret=id=npm_ca,src=${caFile}`] : []),
    `--iidfile=${iidFile}`,
    `--tag=${TAG}`,
    '.',
  ],
  (stop) => t.teardown(stop),
);
// Everything below uses the built image by id: a concurrent build may move the tag meanwhile.
const IMAGE = readFileSync(iidFile, 'utf8')
  .trim()
  .replace(/^sha256:/, '');
const image = await inspect<ImageInfo>('image', IMAGE);
if (previous && !IMAGE.startsWith(previous) && !previous.startsWith(IMAGE)) {
  await podman('rmi', previous).catch(() => {}); // still in use or tagged elsewhere: keep it
}
t.comment(
  `image built in ${((Date.now() - started) / 1000).toFixed(1)} s, size ${(image.Size / 1e6).toFixed(1)} MB`,
);

/**
 * Runs a one-off command in a throwaway container of the image (no network, no tmpfs over /run
 * or /tmp, so what the image holds there is visible); resolves with its stdout.
 */
async function inImage(args: string[], opts: { root?: boolean } = {}): Promise<string> {
  const user = opts.root ? ['--user=0'] : [];
  return podman(
    'run',
    '--rm',
    '--read-only',
    '--read-only-tmpfs=false',
    '--network=none',
    ...user,
    IMAGE,
    ...args,
  );
}

t.test('image config: numeric non-root user, port 8000, exec-form CMD, labels', async (t) => {
  const { User, Cmd, Entrypoint, ExposedPorts, Labels } = image.Config;
  t.match(User, /^\d+(:\d+)?$/, `the user is numeric (got ${User})`);
  t.not(Number(User?.split(':')[0]), 0, 'the user is not root');
  t.same(Cmd, ['node', 'dist/main.js'], 'exec-form CMD, so node itself receives SIGTERM');
  t.same(Entrypoint ?? [], [], 'no entrypoint wrapper between the runtime and node');
  t.ok(ExposedPorts?.['8000/tcp'], 'EXPOSE 8000');
  t.equal(Labels?.['org.opencontainers.image.version'], VERSION, 'OCI version label from the build arg');
});

t.test('no build secret or CA reaches the image', async (t) => {
  const env = image.Config.Env ?? [];
  t.notOk(
    env.find((e) => /^(NODE_EXTRA_CA_CERTS|NPM_CONFIG_USERCONFIG|NPM_TOKEN)=/i.test(e)),
    'no CA or npm config in the image environment',
  );
  const history = await podman('history', '--no-trunc', '--format={{.CreatedBy}}', IMAGE);
  t.notMatch(history, /npm_ca|npmrc|NODE_EXTRA_CA_CERTS/, 'no build secret in the runtime history');
  const secretsDir = await inImage(['sh', '-c', 'ls -A /run/secrets 2>/dev/null; true'], { root: true });
  t.equal(secretsDir, '', 'no /run/secrets in the image');
  if (!caFile) return t.comment('no CA bundle on this host: built without the npm_ca secret');
  // Searched as root so nothing is unreadable; proc/sys/dev are the kernel's, not the image's.
  const found = await inImage(
    [
      'sh',
      '-c',
      'grep -rlsF -e "$1" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; true',
      'sh',
      caMarker(caFile),
    ],
    { root: true },
  );
  t.equal(found, '', `the npm_ca certificate is in no file of the image${found ? `: ${found}` : ''}`);
});

t.test('runtime holds only dist, runtime dependencies and package.json', async (t) => {
  // Package names as require() sees them: scoped ones (@scope/name) one folder deeper.
  const listing = JSON.parse(
    await inImage([
      'node',
      '--input-type=module',
      '-e',
      `import { readdirSync as ls } from 'node:fs';
       const pkgs = (dir) => ls(dir).flatMap((d) => (d.startsWith('@') ? ls(dir + '/' + d).map((n) => d + '/' + n) : [d]));
       console.log(JSON.stringify({ service: ls('.'), hoisted: pkgs('../node_modules'), own: pkgs('node_modules'),
         dist: ls('dist', { recursive: true }) }));`,
    ]),
  ) as { service: string[]; hoisted: string[]; own: string[]; dist: string[] };
  t.same(listing.service.sort(), ['dist', 'node_modules', 'package.json'], 'the service folder');
  t.ok(listing.dist.includes('main.js'), 'the compiled entry point is there');
  t.same(
    listing.dist.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    [],
    'no TypeScript sources',
  );
  const installed = new Set([...listing.hoisted, ...listing.own]);
  const service = JSON.parse(readFileSync(join(repoRoot, 'service/package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const dep of Object.keys(service.dependencies ?? {})) {
    t.ok(installed.has(dep), `runtime dependency ${dep} is installed`);
  }
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const devDeps = ['typescript', 'tap', ...Object.keys(root.devDependencies ?? {})];
  const present = [...new Set(devDeps)].filter((d) => installed.has(d));
  t.same(present, [], 'no development dependency (typescript, tap, ...) in the runtime image');
});

t.test("a start reads the module graph's code cache made at build time, as the image user", async (t) => {
  const out = await inImage([
    'sh',
    '-c',
    // with the heap flags the chart sets (NODE_OPTIONS), as a pod starts it
    'NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2" NODE_DEBUG_NATIVE=COMPILE_CACHE ' +
      'node --input-type=module -e "await import(\'./dist/app.js\')" 2>&1',
  ]);
  const accepted = out.split('\n').filter((l) => /code cache for \S+ \S+ was accepted/.test(l));
  t.ok(accepted.length > 100, `the cached code of ${accepted.length} modules was used`);
  t.ok(
    accepted.some((l) => l.includes('/app/service/dist/app.js')),
    "the service's own modules among them",
  );
  t.notMatch(out, /was rejected/, 'no cache entry is rejected (the image is the one it was made for)');
});

t.test('runs read-only as its user, serves, and stops on SIGTERM with exit 0', async (t) => {
  const started = performance.now();
  const cid = await podman('run', '--detach', '--read-only', '--publish=127.0.0.1::8000', IMAGE);
  t.teardown(() => podman('rm', '--force', cid).catch(() => {}));

  const container = await inspect<ContainerInfo>('container', cid);
  t.equal(container.HostConfig.ReadonlyRootfs, true, 'the root filesystem is read-only');
  const address = await podman('port', cid, '8000/tcp'); // e.g. 127.0.0.1:34287
  const base = `http://${address}`;

  await waitFor(async () => (await fetch(`${base}/ready`).catch(() => undefined))?.ok, {
    timeoutMs: 30_000,
    intervalMs: 5,
    what: 'GET /ready to answer 200',
  }).catch(async (err: Error) => {
    throw new Error(`${err.message}; container log:\n${await podman('logs', cid)}`);
  });
  // Reported, never asserted: podman run (container creation included) → the first 200 from /ready.
  t.comment(`start → ready: ${Math.round(performance.now() - started)} ms`);
  const health = (await (await fetch(`${base}/health`)).json()) as unknown;
  t.same(health, { status: 'UP' }, 'GET /health');

  const uid = await podman('exec', cid, 'id', '-u');
  t.equal(uid, image.Config.User?.split(':')[0], 'the process runs as the image user');
  t.not(uid, '0', 'and that user is not root');
  await t.rejects(
    podman('exec', cid, 'sh', '-c', 'echo x > /app/service/probe'),
    /Read-only file system/,
    'nothing can write to the root filesystem',
  );

  for (const n of [1, 2]) {
    const res = await fetch(`${base}/`, { headers: { accept: 'text/plain' } });
    t.equal(res.status, 200, `GET / number ${n}`);
    t.equal(await res.text(), `Holla! we have hit ${n} times\n`, `hit ${n} counted by the embedded store`);
  }

  // If SIGTERM did not reach a handler, podman would SIGKILL after the grace: exit code 137.
  const stopping = Date.now();
  await podman('stop', `--time=${GRACE_SECONDS}`, cid);
  t.comment(`stopped in ${Date.now() - stopping} ms (grace ${GRACE_SECONDS} s)`);
  const stopped = await inspect<ContainerInfo>('container', cid);
  t.equal(stopped.State.Status, 'exited', 'the container exited');
  t.equal(
    stopped.State.ExitCode,
    0,
    'exit code 0: the service drained and exited on SIGTERM within the grace',
  );
});
