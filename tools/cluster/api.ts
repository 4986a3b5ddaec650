// Talking to the local cluster: plain HTTPS GETs with the admin certificate for readiness polling
// (no process per poll), and kubectl / helm with the cluster's kubeconfig for everything else.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Credentials {
  /** https://127.0.0.1:<port> */
  server: string;
  caCert: string;
  cert: string;
  key: string;
}

export interface Response {
  status: number;
  body: string;
}

/** GET with a client certificate, or without one (a component's /healthz); `insecure` skips the CA check. */
export function httpsGet(
  url: string,
  o: { caCert?: string; cert?: string; key?: string; insecure?: boolean; timeoutMs?: number } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: o.caCert ? readFileSync(o.caCert) : undefined,
        cert: o.cert ? readFileSync(o.cert) : undefined,
        key: o.key ? readFileSync(o.key) : undefined,
        rejectUnauthorized: !o.insecure,
        timeout: o.timeoutMs ?? 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export function apiGet(c: Credentials, path: string): Promise<Response> {
  return httpsGet(c.server + path, { caCert: c.caCert, cert: c.cert, key: c.key });
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command; a non-zero exit throws an Error whose message is the command's stderr (or
 * stdout), so the API server's own words reach the caller.
 */
export async function runCommand(
  cmd: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const child = run(cmd, args, {
    env: o.env,
    cwd: o.cwd,
    maxBuffer: 64 * 1024 * 1024,
    timeout: o.timeoutMs ?? 300_000,
  });
  if (o.input !== undefined) child.child.stdin?.end(o.input);
  try {
    const { stdout, stderr } = await child;
    return { stdout, stderr };
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    const name = cmd.split('/').pop();
    throw new Error(
      `${name} ${args.slice(0, 2).join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * True once every named CustomResourceDefinition is Established (its API served). Polled instead
 * of `kubectl wait`, which fails on a CRD so new that it has no conditions yet.
 */
export async function crdsEstablished(
  kubectl: (args: string[]) => Promise<string>,
  names: string[],
): Promise<boolean> {
  type Crd = { status?: { conditions?: { type: string; status: string }[] } };
  const got = JSON.parse(await kubectl(['get', 'customresourcedefinitions', ...names, '-o', 'json'])) as
    Crd | { items: Crd[] };
  const crds = 'items' in got ? got.items : [got];
  return (
    crds.length === names.length &&
    crds.every((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))
  );
}
