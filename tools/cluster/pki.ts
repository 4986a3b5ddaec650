// The local cluster's PKI, made with openssl into the cluster's directory: a CA, the API server's
// serving certificate, client certificates for each component (the user and group in the subject,
// as Kubernetes reads them) and the service-account signing key. ECDSA P-256 throughout: fast to
// generate and accepted by every component.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from '../lib/proc.ts';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
  /** client certificate and key per component name */
  clients: Record<string, { cert: string; key: string }>;
}

export interface ClientIdentity {
  /** file name stem */
  name: string;
  /** the user (CN) */
  user: string;
  /** groups (O) */
  groups?: string[];
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr?.toString() || e.message).trim()}`, {
      cause: err,
    });
  }
}

function subject(cn: string, groups: string[] = []): string {
  return [...groups.map((g) => `/O=${g}`), `/CN=${cn}`].join('');
}

/** Signs a new key's certificate with the CA; `ext` are openssl extension lines. */
function issue(dir: string, stem: string, subj: string, ext: string[]): { cert: string; key: string } {
  const extFile = join(dir, `${stem}.ext`);
  writeFileSync(extFile, `${ext.join('\n')}\n`);
  openssl(['req', '-new', ...EC, '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', subj], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${stem}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '30',
      '-sha256',
      '-extfile',
      extFile,
      '-out',
      `${stem}.crt`,
    ],
    dir,
  );
  return { cert: join(dir, `${stem}.crt`), key: join(dir, `${stem}.key`) };
}

export function createPki(
  dir: string,
  o: { serverIps: string[]; serverNames: string[]; clients: ClientIdentity[] },
): Pki {
  requireBinary('openssl');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  openssl(
    [
      'req',
      '-x509',
      '-new',
      ...EC,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '30',
      '-subj',
      '/CN=hit-counter-local-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
  const san = [...o.serverIps.map((ip) => `IP:${ip}`), ...o.serverNames.map((n) => `DNS:${n}`)].join(',');
  const server = issue(dir, 'apiserver', subject('kube-apiserver'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${san}`,
  ]);
  const clients: Pki['clients'] = {};
  for (const c of o.clients)
    clients[c.name] = issue(dir, c.name, subject(c.user, c.groups), [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=clientAuth',
    ]);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key'], dir);
  openssl(['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: server.cert,
    serverKey: server.key,
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
    clients,
  };
}

/** A kubeconfig for one client certificate (paths, not embedded data: the files stay beside it). */
export function writeKubeconfig(
  file: string,
  o: { server: string; caCert: string; cert: string; key: string; user: string },
): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'hit-counter-local', cluster: { server: o.server, 'certificate-authority': o.caCert } },
    ],
    users: [{ name: o.user, user: { 'client-certificate': o.cert, 'client-key': o.key } }],
    contexts: [{ name: 'hit-counter-local', context: { cluster: 'hit-counter-local', user: o.user } }],
    'current-context': 'hit-counter-local',
  };
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}
