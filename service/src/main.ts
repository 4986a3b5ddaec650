// The process: configuration, the app, listen, signals, exit codes (2 = bad configuration,
// 1 = could not start or could not shut down cleanly, 0 = clean shutdown).
import { buildApp, type Lifecycle } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { stdoutDestination } from './log.ts';
import { handleShutdownSignals } from './shutdown.ts';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`hit-counter: configuration error: ${err.message}\n`);
  process.exit(2);
}

/**
 * Connections the kernel may hold for the process before it accepts them (capped by
 * net.core.somaxconn). Node's default, 511, overflowed when nginx opened hundreds of upstream
 * connections at once under overload: the kernel dropped their SYNs, nginx's connects waited for
 * retransmits (seconds) and, timed out, marked the replica down. The same as nginx's own backlog.
 */
const LISTEN_BACKLOG = 4096;

const lifecycle: Lifecycle = { draining: false };
const log = stdoutDestination();
const app = buildApp(config, {
  lifecycle,
  logger: { level: config.logLevel, stream: log.stream },
  logLinesDropped: log.dropped,
});
handleShutdownSignals({ app, lifecycle, delayMs: config.shutdownDelayMs });

process.on('unhandledRejection', (err) => {
  app.log.fatal({ err }, 'unhandled rejection');
  process.exit(1);
});

try {
  await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
} catch (err) {
  app.log.fatal({ err }, 'could not start listening');
  process.exit(1);
}
