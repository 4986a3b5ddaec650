// Environment → typed configuration (env-schema). A bad value becomes a ConfigError whose message is
// one line naming the variable, the problem with its value and the expected form.
import { envSchema } from 'env-schema';

export type Config = {
  port: number;
  host: string;
  /** Unset = the embedded in-memory store. */
  redisUrl: string | undefined;
  redisPassword: string | undefined;
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
    REDIS_PASSWORD: { type: 'string', description: 'the Redis AUTH password' },
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
  REDIS_PASSWORD?: string;
  COUNTER_KEY: string;
  COUNTER_BATCH_MAX: number;
  SHUTDOWN_DELAY_MS: number;
  LOG_LEVEL: string;
  KEEP_ALIVE_TIMEOUT_MS: number;
};

type AjvError = { instancePath: string; keyword: string; message?: string };

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const data: Record<string, string> = {};
  for (const name of Object.keys(schema.properties)) {
    const value = env[name];
    // An empty REDIS_URL/REDIS_PASSWORD (common with Kubernetes env from optional values) means unset.
    if (value === undefined || (value === '' && (name === 'REDIS_URL' || name === 'REDIS_PASSWORD')))
      continue;
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
    throw new ConfigError(`${name}=${shown} is invalid (${problem}); expected ${spec.description}`);
  }
  return {
    port: raw.PORT,
    host: raw.HOST,
    redisUrl: raw.REDIS_URL,
    redisPassword: raw.REDIS_PASSWORD,
    counterKey: raw.COUNTER_KEY,
    batchMax: raw.COUNTER_BATCH_MAX,
    shutdownDelayMs: raw.SHUTDOWN_DELAY_MS,
    logLevel: raw.LOG_LEVEL,
    keepAliveTimeoutMs: raw.KEEP_ALIVE_TIMEOUT_MS,
  };
}
