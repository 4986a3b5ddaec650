// prometheus-operator on the local cluster, for real: the pinned v0.85.0 build (tools/build-go.sh)
// with all the monitoring.coreos.com CRDs of the same release (from its module zip). It turns ServiceMonitors
// and PrometheusRules into the configuration it writes for each Prometheus object (the Secret
// prometheus-<name>); under kwok the Prometheus pods it creates are simulated, not run.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireBinary } from '../lib/proc.ts';
import { crdsEstablished } from './api.ts';
import type { AddOnContext } from './cluster.ts';

export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';

const toolsDir = process.env.HIT_COUNTER_TOOLS ?? resolve(import.meta.dirname, '../../.tools');

export interface PrometheusOperator {
  /** http://127.0.0.1:<port> (/healthz, /metrics) */
  url: string;
}

export async function startPrometheusOperator(ctx: AddOnContext): Promise<PrometheusOperator> {
  const bin = requireBinary('prometheus-operator');
  const crdDir = join(toolsDir, 'prometheus-operator-crds');
  if (!existsSync(crdDir)) throw new Error('prometheus-operator CRDs not found: run `bash tools/install.sh`');
  const crds = readdirSync(crdDir).filter((f) => f.endsWith('.yaml'));
  ctx.log(`applying prometheus-operator ${PROMETHEUS_OPERATOR_VERSION}'s CRDs ...`);
  await ctx.kubectl(['apply', '--server-side', ...crds.flatMap((f) => ['-f', join(crdDir, f)])]);
  const names = crds.map((f) =>
    f.replace(/^monitoring\.coreos\.com_(\w+)\.yaml$/, '$1.monitoring.coreos.com'),
  );
  await ctx.until('the monitoring CRDs Established', () => crdsEstablished(ctx.kubectl, names));
  ctx.log('starting prometheus-operator ...');
  const port = await ctx.start(
    'prometheus-operator',
    (port) => [`--web.listen-address=127.0.0.1:${port}`, '--log-format=logfmt'],
    { bin, env: { ...process.env, KUBECONFIG: ctx.kubeconfigs['prometheus-operator'] } },
  );
  const url = `http://127.0.0.1:${port}`;
  await ctx.until('prometheus-operator /healthz', async () => (await fetch(`${url}/healthz`)).ok);
  return { url };
}
