// npm run stack -- [--replicas N] [--port P] [--memory | --ha] [--monitoring]
// Starts the local stack (see stack.ts), prints every part's pid, port and log, then the URL,
// and stops everything on Ctrl-C (SIGINT) or SIGTERM.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startMonitoring, type Monitoring } from './monitoring.ts';
import { startStack, type Stack } from './stack.ts';

const usage =
  'usage: npm run stack -- [--replicas N (default 3)] [--port P (default: a free port)] [--memory | --ha] [--monitoring]';

function parse(): {
  replicas: number;
  port: number | undefined;
  memory: boolean;
  ha: boolean;
  monitoring: boolean;
} {
  const { values } = parseArgs({
    options: {
      replicas: { type: 'string', default: '3' },
      port: { type: 'string' },
      memory: { type: 'boolean', default: false },
      ha: { type: 'boolean', default: false },
      monitoring: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      `${usage}\n  --memory      no Redis: one replica with the embedded store` +
        `\n  --ha          the chart's replication architecture: 3 Redis nodes and 3 Redis Sentinels` +
        `\n  --monitoring  also Prometheus, redis_exporter and nginx-prometheus-exporter (chart's ServiceMonitors and rules)`,
    );
    process.exit(0);
  }
  const replicas = Number(values.replicas);
  if (!/^\d+$/.test(values.replicas) || replicas < 1 || replicas > 64)
    throw new Error(`--replicas must be a whole number from 1 to 64, got "${values.replicas}"`);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port < 1 || port > 65535)
      throw new Error(`--port must be a TCP port from 1 to 65535, got "${values.port}"`);
  }
  if (values.memory && replicas > 1)
    throw new Error('--memory keeps the count inside one process: use it with --replicas 1');
  if (values.monitoring && values.memory) throw new Error('--monitoring needs Redis: leave out --memory');
  if (values.ha && values.memory) throw new Error('--ha runs Redis with Sentinel: leave out --memory');
  if (values.ha && values.monitoring) throw new Error('--monitoring scrapes one Redis: use it without --ha');
  return { replicas, port, memory: values.memory, ha: values.ha, monitoring: values.monitoring };
}

async function print(s: Stack): Promise<void> {
  const row = (part: string, pid: number, port: number | string, log: string): string =>
    `${part.padEnd(10)} pid ${String(pid).padEnd(8)} port ${String(port).padEnd(6)} log ${log}`;
  if (s.replication) {
    const { nodes, sentinels, primaryName } = s.replication;
    nodes.forEach((n, i) => console.log(row(`redis-${i}`, n.pid, n.port, n.proc.logFile)));
    sentinels.forEach((n, i) => console.log(row(`sentinel-${i}`, n.pid, n.port, n.proc.logFile)));
    console.log(
      `${''.padEnd(11)}primary: redis-${await s.replication.primary()} (Sentinel name ${primaryName})`,
    );
  } else if (s.redis) console.log(row('redis', s.redis.pid, s.redis.port, s.redis.proc.logFile));
  s.services.forEach((r, i) => console.log(row(`service-${i}`, r.pid, r.port, r.logFile)));
  console.log(row('nginx', s.nginx.pid, s.nginx.port, join(s.logs, 'nginx-access.log')));
  console.log(`${''.padEnd(34)}error log ${join(s.logs, 'nginx-error.log')}`);
  console.log(`\nhit-counter is up: ${s.url}   (Ctrl-C stops everything)`);
}

async function main(): Promise<void> {
  let opts;
  try {
    opts = parse();
  } catch (err) {
    console.error(`stack: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }

  // The handlers are installed before anything starts: a signal during startup is recorded and
  // acted on between the steps, so whatever was started by then is stopped.
  let stack: Stack | undefined;
  let monitoring: Monitoring | undefined;
  let stopRequested: string | undefined;
  let serving = false;
  let stopping = false;
  const stopEverything = async (): Promise<void> => {
    try {
      await monitoring?.stop();
    } finally {
      await stack?.stop();
    }
  };
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${sig}: stopping nginx, the service replicas and redis ...`);
    stopEverything().then(
      () => {
        console.log(stack ? `stopped; logs and data kept in ${stack.dir}` : 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        console.error(`stack: stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  const onSignal = (sig: string): void => {
    if (serving) shutdown(sig);
    else if (!stopRequested) {
      stopRequested = sig;
      console.log(`\n${sig} during startup: stopping once the current step is done ...`);
    }
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  class StopRequested extends Error {}
  const checkpoint = (): void => {
    if (stopRequested) throw new StopRequested(stopRequested);
  };

  try {
    const redis = opts.memory ? '' : opts.ha ? '3 redis nodes and 3 sentinels, ' : 'redis, ';
    console.log(`starting the stack: ${redis}${opts.replicas} service replica(s), nginx ...`);
    stack = await startStack({
      replicas: opts.replicas,
      port: opts.port,
      store: opts.memory ? 'memory' : 'redis',
      ha: opts.ha,
      keepDir: true,
    });
    checkpoint();
    await print(stack);
    if (opts.monitoring) {
      monitoring = await startMonitoring(stack);
      checkpoint();
      await monitoring.waitForTargetsUp();
      checkpoint();
      const { prometheus, redisExporter, nginxExporter } = monitoring.pids;
      console.log(
        `prometheus pid ${prometheus}, redis_exporter pid ${redisExporter}, nginx exporter pid ${nginxExporter}`,
      );
      console.log(`Prometheus: ${monitoring.prometheusUrl}   (alerts: ${monitoring.prometheusUrl}/alerts)`);
    }
  } catch (err) {
    if (err instanceof StopRequested) {
      shutdown(err.message);
      return;
    }
    await stopEverything().catch((stopErr: unknown) => {
      console.error(`stack: stop failed: ${(stopErr as Error).message}`);
    });
    throw err;
  }
  serving = true;
  if (stopRequested) shutdown(stopRequested);
}

main().catch((err: unknown) => {
  console.error(`stack: ${(err as Error).message}`);
  process.exit(1);
});
