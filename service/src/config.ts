// Environment → typed configuration. Each variable is declared once, in `variables`: its rules (a
// small subset of JSON Schema: type, bounds, lengths, pattern, enum), its Config field (the
// camelCase of its name) and that field's type, its default, the expected form quoted in errors and
// its row in README.md all come from that declaration. A bad value becomes a ConfigError whose
// message is one line naming the variable, the problem with its value and the expected form.
// The rules are checked directly, without a schema compiler: that kept ~160 ms (a JSON Schema
// validator's import and compile) off every start.

// The value when unset, applied after the checks across variables (they see only what was given):
// a constant, or a function of the given values that `defaultDoc` documents.
type Default =
  | { default?: number | string; defaultDoc?: undefined }
  | { default: (given: Record<string, unknown>) => number | string; defaultDoc: string };

/** What a value must be: an integer (a string JSON Schema coercion reads as one) or a string. */
type Rules = {
  type: 'integer' | 'string';
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  enum?: readonly string[];
};

type Variable = Default & {
  /** The value's rules; an integer is turned into a number. */
  schema: Rules;
  /** The expected form, quoted in error messages. */
  expected: string;
  /** The meaning, for README.md (markdown). */
  doc: string;
  /** An empty value (common with Kubernetes env from optional values) means unset. */
  emptyIsUnset?: true;
  /** The value is never shown in an error message. */
  secret?: true;
  /** Turns the validated value into the Config value. */
  parse?: (value: string) => unknown;
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const variables = {
  PORT: {
    schema: { type: 'integer', minimum: 0, maximum: 65535 },
    default: 8000,
    expected: 'an integer 0-65535',
    doc: 'listen port',
  },
  HOST: {
    schema: { type: 'string', minLength: 1 },
    default: '0.0.0.0',
    expected: 'a listen address, e.g. 0.0.0.0',
    doc: 'listen address',
  },
  REDIS_URL: {
    schema: { type: 'string', pattern: '^rediss?://[^\\s/]+(/\\d+)?$' },
    emptyIsUnset: true,
    expected: 'redis://host:port/db (or unset for the embedded store)',
    doc: '`redis://host:port/db`; unset = embedded in-memory store (a warning is logged)',
  },
  REDIS_SENTINELS: {
    schema: { type: 'string', pattern: '^[^\\s,:/]+:\\d{1,5}(,[^\\s,:/]+:\\d{1,5}){0,15}$' },
    emptyIsUnset: true,
    parse: (list: string) =>
      list.split(',').map((address) => {
        const at = address.lastIndexOf(':');
        return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
      }),
    expected: 'host:port of every Redis Sentinel, comma-separated, at most 16 (instead of REDIS_URL)',
    doc: '`host:port,…` of every Redis Sentinel, instead of `REDIS_URL`',
  },
  REDIS_SENTINEL_NAME: {
    schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
    default: 'hit-counter',
    expected: "Sentinel's name for the primary: 1-128 letters, digits, '.', '_' or '-'",
    doc: "Sentinel's name for the primary",
  },
  REDIS_DB: {
    schema: { type: 'integer', minimum: 0, maximum: 15 },
    emptyIsUnset: true,
    default: 0,
    expected: "an integer 0-15, with REDIS_SENTINELS only (with REDIS_URL the database is the URL's path)",
    doc: 'database number with `REDIS_SENTINELS`',
  },
  REDIS_USERNAME: {
    schema: { type: 'string', pattern: '^\\S{1,128}$' },
    emptyIsUnset: true,
    expected: 'a Redis ACL user name: 1-128 characters, no spaces',
    doc: 'Redis (and Sentinel) ACL user; unset = `default`',
  },
  REDIS_PASSWORD: {
    schema: { type: 'string' },
    emptyIsUnset: true,
    secret: true,
    expected: 'the Redis AUTH password',
    doc: 'Redis (and Sentinel) AUTH password',
  },
  REDIS_WAIT_REPLICAS: {
    schema: { type: 'integer', minimum: 0, maximum: 16 },
    emptyIsUnset: true,
    default: (given) => (given.REDIS_SENTINELS ? 1 : 0),
    defaultDoc: '`1` with Sentinel, else `0`',
    expected: 'an integer 0-16 (default 1 with REDIS_SENTINELS, else 0), with a Redis store',
    doc: 'replicas that must hold each batch (`WAIT`) before it is answered',
  },
  COUNTER_KEY: {
    schema: { type: 'string', minLength: 1, maxLength: 512 },
    default: 'hits',
    expected: 'a non-empty Redis key of at most 512 characters',
    doc: 'the Redis key',
  },
  COUNTER_BATCH_MAX: {
    schema: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    default: 1024,
    expected: 'an integer 1-1000000 (1 = no batching)',
    doc: 'most hits one `INCRBY` may carry (1 = no batching)',
  },
  SHUTDOWN_DELAY_MS: {
    schema: { type: 'integer', minimum: 0, maximum: 600_000 },
    default: 0,
    expected: 'milliseconds, an integer 0-600000',
    doc: 'readiness drain on SIGTERM before closing',
  },
  LOG_LEVEL: {
    schema: { type: 'string', enum: LOG_LEVELS },
    default: 'info',
    expected: `one of ${LOG_LEVELS.join('|')}`,
    doc: 'pino level',
  },
  KEEP_ALIVE_TIMEOUT_MS: {
    schema: { type: 'integer', minimum: 1000, maximum: 3_600_000 },
    default: 65_000,
    expected: "milliseconds, an integer 1000-3600000, above the proxy's upstream keepalive_timeout",
    doc: "Node's keep-alive; stays above nginx's upstream keep-alive (30 s)",
  },
  MAX_CONNECTIONS: {
    schema: { type: 'integer', minimum: 1, maximum: 100_000 },
    default: 4096,
    expected: 'an integer 1-100000',
    doc: "most open connections (probes and nginx's idle ones included); more are closed at once",
  },
} as const satisfies Record<string, Variable>;

type Declared = typeof variables;
type Name = keyof Declared;
/** A declaration's value: what `parse` returns, one of `enum`, or the schema's type. */
type Value<V> = V extends { parse: (value: string) => infer T }
  ? T
  : V extends { schema: { enum: readonly (infer E)[] } }
    ? E
    : V extends { schema: { type: 'integer' } }
      ? number
      : string;
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>;
/** The variables that were given, validated and parsed. */
type Given = { [N in Name]?: Value<Declared[N]> };

/** One field per variable, named by its camelCase (COUNTER_BATCH_MAX → counterBatchMax). */
export type Config = {
  [N in Name as CamelCase<N>]:
    Value<Declared[N]> | (Declared[N] extends { default: unknown } ? never : undefined);
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const declared: Record<string, Variable> = variables;
const patterns = new Map<string, RegExp>();
const camelCase = (name: string): string =>
  name.toLowerCase().replace(/_(.)/g, (_, letter: string) => letter.toUpperCase());

/** The value checked against its rules: the problem, or the value (a number for an integer). */
function check(value: string, r: Rules): { problem: string } | { value: string | number } {
  if (r.type === 'integer') {
    // As JSON Schema coercion reads it: surrounding spaces, "8.0" and "1e3" are integers too;
    // a blank value is not.
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n)) return { problem: 'must be integer' };
    if (r.minimum !== undefined && n < r.minimum) return { problem: `must be >= ${r.minimum}` };
    if (r.maximum !== undefined && n > r.maximum) return { problem: `must be <= ${r.maximum}` };
    return { value: n };
  }
  const length = [...value].length; // characters, not UTF-16 units
  if (r.minLength !== undefined && length < r.minLength)
    return { problem: `must NOT have fewer than ${r.minLength} characters` };
  if (r.maxLength !== undefined && length > r.maxLength)
    return { problem: `must NOT have more than ${r.maxLength} characters` };
  if (r.pattern !== undefined) {
    let re = patterns.get(r.pattern);
    if (!re) patterns.set(r.pattern, (re = new RegExp(r.pattern, 'u')));
    if (!re.test(value)) return { problem: 'wrong form' };
  }
  if (r.enum && !r.enum.includes(value)) return { problem: 'must be equal to one of the allowed values' };
  return { value };
}

/** The one-line error: the variable, its value as shown, the problem and the expected form. */
const invalid = (name: string, shown: string, problem: string | undefined, expected: string): ConfigError =>
  new ConfigError(`${name}=${shown} is invalid (${problem}); expected ${expected}`);

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const data: Record<string, string> = {};
  for (const [name, v] of Object.entries(declared)) {
    const value = env[name];
    if (value === undefined || (value === '' && v.emptyIsUnset)) continue;
    data[name] = value;
  }
  const validated: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(data)) {
    const spec = declared[name] as Variable;
    const result = check(value, spec.schema);
    if ('value' in result) {
      validated[name] = result.value;
      continue;
    }
    // Credentials never reach the logs: a secret is hidden, a URL's user-info is masked.
    const shown = spec.secret ? '(hidden)' : JSON.stringify(value.replace(/\/\/[^@/]*@/, '//***@'));
    throw invalid(name, shown, result.problem, spec.expected);
  }
  const given: Given = Object.fromEntries(
    Object.entries(validated).map(([name, value]) => {
      const parse = declared[name]?.parse;
      return [name, parse ? parse(value as string) : value];
    }),
  );

  // Checks across variables, on the values as they were given.
  const shown = (name: Name): string => JSON.stringify(data[name]);
  const sentinels = given.REDIS_SENTINELS;
  if (sentinels?.some((s) => s.port < 1 || s.port > 65535))
    throw invalid('REDIS_SENTINELS', shown('REDIS_SENTINELS'), 'a port is out of range', 'ports 1-65535');
  if (given.REDIS_URL && sentinels)
    throw invalid(
      'REDIS_SENTINELS',
      shown('REDIS_SENTINELS'),
      'REDIS_URL is set too',
      'one of them: REDIS_URL for one Redis, REDIS_SENTINELS for Redis behind Sentinel',
    );
  if (given.REDIS_DB !== undefined && !sentinels)
    throw invalid(
      'REDIS_DB',
      shown('REDIS_DB'),
      'REDIS_SENTINELS is unset',
      `the database in REDIS_URL's path (redis://host:port/${given.REDIS_DB})`,
    );
  const hasRedis = given.REDIS_URL !== undefined || sentinels !== undefined;
  if (given.REDIS_WAIT_REPLICAS && !hasRedis)
    throw invalid(
      'REDIS_WAIT_REPLICAS',
      shown('REDIS_WAIT_REPLICAS'),
      'no Redis store is set',
      'REDIS_URL or REDIS_SENTINELS too',
    );

  const config: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(declared)) {
    const value = given[name as Name];
    config[camelCase(name)] =
      value !== undefined ? value : typeof v.default === 'function' ? v.default(given) : v.default;
  }
  return config as Config;
}
