// Environment → typed configuration (env-schema). A bad value becomes a ConfigError whose message is
// one line naming the variable, the problem with its value and the expected form.
import { envSchema } from 'env-schema';

export type Config = {
  port: number;
  host: string;
  /** One Redis; unset (and no sentinels) = the embedded in-memory store. */
  redisUrl: string | undefined;
  /** Redis behind Sentinel: every sentinel's address (instead of redisUrl). */
  redisSentinels: { host: string; port: number }[] | undefined;
  /** Sentinel's name for the primary. */
  redisSentinelName: string;
  /** Database number in Sentinel mode (with redisUrl it is the URL's path). */
  redisDb: number;
  /** Password of Redis, and of the sentinels in Sentinel mode. */
  redisPassword: string | undefined;
  /** Replicas that must acknowledge each batch (WAIT) before its hits are answered. */
  redisWaitReplicas: number;
  counterKey: string;
  batchMax: number;
  shutdownDelayMs: number;
  logLevel: string;
  keepAliveTimeoutMs: number;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// `description` is the expected form quoted in error messages.
const schema = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8000, description: 'an integer 0-65535' },
    HOST: { type: 'string', minLength: 1, default: '0.0.0.0', description: 'a listen address, e.g. 0.0.0.0' },
    REDIS_URL: {
      type: 'string',
      pattern: '^rediss?://[^\\s/]+(/\\d+)?$',
      description: 'redis://host:port/db (or unset for the embedded store)',
    },
    REDIS_SENTINELS: {
      type: 'string',
      pattern: '^[^\\s,:/]+:\\d{1,5}(,[^\\s,:/]+:\\d{1,5}){0,15}$',
      description: 'host:port of every Redis Sentinel, comma-separated, at most 16 (instead of REDIS_URL)',
    },
    REDIS_SENTINEL_NAME: {
      type: 'string',
      pattern: '^[A-Za-z0-9._-]{1,128}$',
      default: 'hit-counter',
      description: "Sentinel's name for the primary: 1-128 letters, digits, '.', '_' or '-'",
    },
    REDIS_DB: {
      type: 'integer',
      minimum: 0,
      maximum: 15,
      description:
        "an integer 0-15, with REDIS_SENTINELS only (with REDIS_URL the database is the URL's path)",
    },
    REDIS_PASSWORD: { type: 'string', description: 'the Redis AUTH password' },
    REDIS_WAIT_REPLICAS: {
      type: 'integer',
      minimum: 0,
      maximum: 16,
      description: 'an integer 0-16 (default 1 with REDIS_SENTINELS, else 0), with a Redis store',
    },
    COUNTER_KEY: {
      type: 'string',
      minLength: 1,
      maxLength: 512,
      default: 'hits',
      description: 'a non-empty Redis key of at most 512 characters',
    },
    COUNTER_BATCH_MAX: {
      type: 'integer',
      minimum: 1,
      maximum: 1_000_000,
      default: 1024,
      description: 'an integer 1-1000000 (1 = no batching)',
    },
    SHUTDOWN_DELAY_MS: {
      type: 'integer',
      minimum: 0,
      maximum: 600_000,
      default: 0,
      description: 'milliseconds, an integer 0-600000',
    },
    LOG_LEVEL: {
      type: 'string',
      enum: LOG_LEVELS,
      default: 'info',
      description: `one of ${LOG_LEVELS.join('|')}`,
    },
    KEEP_ALIVE_TIMEOUT_MS: {
      type: 'integer',
      minimum: 1000,
      maximum: 3_600_000,
      default: 65_000,
      description: "milliseconds, an integer 1000-3600000, above the proxy's upstream keepalive_timeout",
    },
  },
} as const;

type Raw = {
  PORT: number;
  HOST: string;
  REDIS_URL?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_NAME: string;
  REDIS_DB?: number;
  REDIS_PASSWORD?: string;
  REDIS_WAIT_REPLICAS?: number;
  COUNTER_KEY: string;
  COUNTER_BATCH_MAX: number;
  SHUTDOWN_DELAY_MS: number;
  LOG_LEVEL: string;
  KEEP_ALIVE_TIMEOUT_MS: number;
};

const EMPTY_IS_UNSET = new Set([
  'REDIS_URL',
  'REDIS_SENTINELS',
  'REDIS_PASSWORD',
  'REDIS_DB',
  'REDIS_WAIT_REPLICAS',
]);

type AjvError = { instancePath: string; keyword: string; message?: string };

/** The one-line error: the variable, its value as shown, the problem and the expected form. */
const invalid = (name: string, shown: string, problem: string | undefined, expected: string): ConfigError =>
  new ConfigError(`${name}=${shown} is invalid (${problem}); expected ${expected}`);

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const data: Record<string, string> = {};
  for (const name of Object.keys(schema.properties)) {
    const value = env[name];
    // An empty optional variable (common with Kubernetes env from optional values) means unset.
    if (value === undefined || (value === '' && EMPTY_IS_UNSET.has(name))) continue;
    data[name] = value;
  }
  let raw: Raw;
  try {
    raw = envSchema<Raw>({ schema: structuredClone(schema) as object, data, env: false });
  } catch (err) {
    const first = ((err as { errors?: AjvError[] }).errors ?? [])[0];
    const name = first?.instancePath.replace(/^\//, '') ?? '';
    const spec = (schema.properties as Record<string, { description: string }>)[name];
    if (!first || !spec) throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
    // Credentials never reach the logs: the password is hidden, a URL's user-info is masked.
    const shown =
      name === 'REDIS_PASSWORD'
        ? '(hidden)'
        : JSON.stringify((data[name] ?? '').replace(/\/\/[^@/]*@/, '//***@'));
    const problem = first.keyword === 'pattern' ? 'wrong form' : first.message;
    throw invalid(name, shown, problem, spec.description);
  }
  // Checks across variables, on the values as they were given.
  const given = (name: string): string => JSON.stringify(data[name]);
  const sentinels = raw.REDIS_SENTINELS?.split(',').map((address) => {
    const at = address.lastIndexOf(':');
    return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
  });
  if (sentinels?.some((s) => s.port < 1 || s.port > 65535))
    throw invalid('REDIS_SENTINELS', given('REDIS_SENTINELS'), 'a port is out of range', 'ports 1-65535');
  if (raw.REDIS_URL && sentinels)
    throw invalid(
      'REDIS_SENTINELS',
      given('REDIS_SENTINELS'),
      'REDIS_URL is set too',
      'one of them: REDIS_URL for one Redis, REDIS_SENTINELS for Redis behind Sentinel',
    );
  if (raw.REDIS_DB !== undefined && !sentinels)
    throw invalid(
      'REDIS_DB',
      given('REDIS_DB'),
      'REDIS_SENTINELS is unset',
      `the database in REDIS_URL's path (redis://host:port/${raw.REDIS_DB})`,
    );
  const hasRedis = raw.REDIS_URL !== undefined || sentinels !== undefined;
  if (raw.REDIS_WAIT_REPLICAS && !hasRedis)
    throw invalid(
      'REDIS_WAIT_REPLICAS',
      given('REDIS_WAIT_REPLICAS'),
      'no Redis store is set',
      'REDIS_URL or REDIS_SENTINELS too',
    );
  return {
    port: raw.PORT,
    host: raw.HOST,
    redisUrl: raw.REDIS_URL,
    redisSentinels: sentinels,
    redisSentinelName: raw.REDIS_SENTINEL_NAME,
    redisDb: raw.REDIS_DB ?? 0,
    redisPassword: raw.REDIS_PASSWORD,
    redisWaitReplicas: raw.REDIS_WAIT_REPLICAS ?? (sentinels ? 1 : 0),
    counterKey: raw.COUNTER_KEY,
    batchMax: raw.COUNTER_BATCH_MAX,
    shutdownDelayMs: raw.SHUTDOWN_DELAY_MS,
    logLevel: raw.LOG_LEVEL,
    keepAliveTimeoutMs: raw.KEEP_ALIVE_TIMEOUT_MS,
  };
}
