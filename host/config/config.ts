import type { MarketSettings } from '../market/market.js';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { BulkheadError } from '../core/errors.js';
import { ciphers, type Cipher } from '../sqlite/encrypted-database.js';
import type { LimitCaps } from '../sandbox/limits.js';
import { storeDefaults } from '../store/store.js';
import { masterKeyVariable, signingKeyVariable } from '../keys/load-keys.js';
import { validTimeZone } from '../core/date-time.js';
import { readEnvFile } from './env-file.js';
import { limitNames, limitRegistry, type SettableLimitName } from './limits.js';

/**
 * Where settings and keys come from: the process environment merged over `.env.local` (the
 * environment wins). Production ignores the file: it takes its keys from the real environment.
 * Only start-up reads this; the configuration derived from it holds no secret.
 */
export interface Environment {
  readonly vars: Readonly<Record<string, string | undefined>>;
  readonly production: boolean;
  /** `.env.local` in the working directory: read in development, where dev keys are written. */
  readonly envFile: string;
  /**
   * The names in `vars` whose value came from `.env.local` (the real environment did not set
   * them): messages about them can say where to fix them. Empty in production.
   */
  readonly fromFile: ReadonlySet<string>;
}

export function readEnvironment(processEnv: Readonly<Record<string, string | undefined>>, cwd: string): Environment {
  const envFile = path.join(cwd, '.env.local');
  const production = processEnv['NODE_ENV'] === 'production';
  const file = production ? {} : readEnvFile(envFile);
  const fromFile = new Set(Object.keys(file).filter((name) => !Object.hasOwn(processEnv, name)));
  return { vars: { ...file, ...processEnv }, production, envFile, fromFile };
}

/** The variables `loadConfig` reads by name (the limits' variables are in host/config/limits.ts). */
const configVariables = [
  'BULKHEAD_DATA_DIR',
  'BULKHEAD_STORE_CIPHER',
  'BULKHEAD_PLUGIN_PATH',
  'BULKHEAD_WORKERS',
  'BULKHEAD_PUBLIC_URL',
  'BULKHEAD_SESSION_HOURS',
  'BULKHEAD_SESSION_IDLE_MINUTES',
  'BULKHEAD_LOGIN_PER_MINUTE',
  'BULKHEAD_INVOKE_PER_MINUTE',
  'BULKHEAD_EXPORT_PER_MINUTE',
  'BULKHEAD_VAULT_PER_MINUTE',
  'BULKHEAD_LOG_LEVEL',
  'BULKHEAD_AUDIT_RETENTION_DAYS',
  'BULKHEAD_DELETION_GRACE_DAYS',
  'BULKHEAD_TIMERS_PER_PLUGIN',
  'BULKHEAD_MARKET_URL',
  'BULKHEAD_MARKET_CACHE_SECONDS',
  'BULKHEAD_MARKET_TIMEOUT_MS',
  'BULKHEAD_TIMER_RETRIES',
  'BULKHEAD_VAULT_IDLE_MINUTES',
  'BULKHEAD_VAULT_UNLOCKS_AT_ONCE',
  'BULKHEAD_AUDIT_TAP',
  'BULKHEAD_HTTP_HOST',
  'BULKHEAD_HTTP_PORT',
  'BULKHEAD_ADMINS',
  'BULKHEAD_DEFAULT_TZ',
  'BULKHEAD_LLM_MODEL',
  'BULKHEAD_LLM_TIMEOUT_MS',
  'BULKHEAD_LLM_MAX_RETRIES',
  'SLACK_API_URL',
  'OPENAI_BASE_URL',
] as const;
type ConfigVariable = (typeof configVariables)[number];

/**
 * Every `BULKHEAD_` variable Bulkhead reads, from this one list: the settings `loadConfig` reads,
 * the limits' variables (host/config/limits.ts) and the root keys with their `_FILE` forms
 * (host/keys/load-keys.ts). Any other `BULKHEAD_` name is reported as a likely typo
 * (`settingWarnings`); tests/unit/config.test.ts fails when this file reads a name not listed.
 */
export const knownVariables: readonly string[] = Object.freeze([
  ...configVariables.filter((name) => name.startsWith('BULKHEAD_')),
  ...limitNames.flatMap((name) => limitRegistry[name].env ?? []),
  ...[masterKeyVariable, signingKeyVariable].flatMap((name) => [name, `${name}_FILE`]),
]);

/**
 * Warnings about the environment, for the CLI to print (as `warning: ...`) before it reads the
 * configuration: a `BULKHEAD_` name that is no setting (a typo would otherwise be ignored
 * silently), and a `NODE_ENV` that looks meant to turn production mode on but does not. They
 * name variables only, never a value.
 */
export function settingWarnings(environment: Environment): string[] {
  const warnings: string[] = [];
  const known = new Set(knownVariables);
  for (const name of Object.keys(environment.vars).sort()) {
    if (!/^bulkhead_/i.test(name) || known.has(name) || environment.vars[name] === undefined) continue;
    const shown = name.replace(/[^A-Za-z0-9_]/g, '?').slice(0, 64);
    const where = environment.fromFile.has(name) ? ' (set in .env.local)' : '';
    const suggestion = closestVariable(name);
    warnings.push(`${shown}${where} is not a Bulkhead setting; ${suggestion === undefined ? 'it is ignored' : `did you mean ${suggestion}?`}`);
  }
  const nodeEnv = environment.vars['NODE_ENV'];
  if (environment.fromFile.has('NODE_ENV')) {
    warnings.push(
      'NODE_ENV in .env.local has no effect: only NODE_ENV=production in the real environment turns production mode on, so this runs in development mode.',
    );
  } else if (nodeEnv !== undefined && nodeEnv !== '' && !['production', 'development', 'test'].includes(nodeEnv)) {
    warnings.push(
      'NODE_ENV is set to something other than production, development or test: only NODE_ENV=production turns production mode on, ' +
        'so this runs in development mode (it reads .env.local and generates missing keys there).',
    );
  }
  return warnings;
}

/**
 * The known variable closest to a misspelled one: within 3 edits (case ignored), or one name
 * starting with the other when at least 4 characters follow `BULKHEAD_`. None when nothing is close.
 */
export function closestVariable(name: string): string | undefined {
  const wanted = name.toUpperCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of knownVariables) {
    const distance = editDistance(wanted, candidate);
    const shorter = Math.min(wanted.length, candidate.length);
    const prefix = shorter >= 'BULKHEAD_'.length + 4 && (candidate.startsWith(wanted) || wanted.startsWith(candidate));
    if (distance > 3 && !prefix) continue;
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  return best?.name;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The operator's configuration, validated once and frozen. Every default is here. */
export interface BulkheadConfig {
  readonly production: boolean;
  /** `BULKHEAD_DATA_DIR`, default `./data`. */
  readonly dataDir: string;
  readonly store: StoreSettings;
  readonly plugins: PluginSettings;
  readonly chat: ChatSettings;
  readonly dashboard: DashboardSettings;
  readonly account: AccountSettings;
  readonly scheduler: SchedulerConfig;
  readonly vault: VaultSettings;
  /** The price source of the `market` host function (host/market). */
  readonly market: MarketSettings;
  /** `BULKHEAD_LOG_LEVEL`: fatal, error, warn, info (default), debug, trace or silent. */
  readonly logLevel: LogLevelName;
  /**
   * `BULKHEAD_DEFAULT_TZ`: the IANA time zone where times written as words ("tomorrow 9:00") are
   * read for a caller whose platform names none (the console, the dashboard, a Slack user whose
   * zone could not be looked up). Default UTC.
   */
  readonly defaultTimeZone: string;
}

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevelName = (typeof logLevels)[number];

/** Timers set by plugins (host/scheduler). */
export interface SchedulerConfig {
  /** `BULKHEAD_TIMERS_PER_PLUGIN`: most timers one user may have with one plugin. Default 100. */
  readonly timersPerPlugin: number;
  /** `BULKHEAD_TIMER_RETRIES`: retries (with backoff) of a timer whose capability failed, before it is dropped. Default 5. */
  readonly timerRetries: number;
}

/** The vault tier (host/vault): sealed fields opened by each user's master password. */
export interface VaultSettings {
  /** `BULKHEAD_VAULT_IDLE_MINUTES`: an open vault's key is wiped after this long without activity. Default 15. */
  readonly idleMinutes: number;
  /** `BULKHEAD_VAULT_UNLOCKS_AT_ONCE`: most key derivations (64 MiB of Argon2id each) running at once. Default 2. */
  readonly unlocksAtOnce: number;
}

/** Chat fronts and routing. Secrets (tokens, API keys) are not here: see `readChatSecrets`. */
export interface ChatSettings {
  /** `BULKHEAD_HTTP_HOST` / `BULKHEAD_HTTP_PORT`: the host's HTTP server (Slack HTTP mode, later the dashboard). Default 127.0.0.1:3000. */
  readonly httpHost: string;
  readonly httpPort: number;
  /** `BULKHEAD_ADMINS`: platform identities with the admin flag, comma-separated, e.g. `slack:T0123:U0456`. */
  readonly admins: ReadonlySet<string>;
  /** `SLACK_API_URL`: the Slack Web API base URL (GovSlack, proxies, test servers). Default Slack's. */
  readonly slackApiUrl: string | undefined;
  /** `OPENAI_BASE_URL`, `BULKHEAD_LLM_MODEL` (default gpt-4o-mini), `BULKHEAD_LLM_TIMEOUT_MS` (default 8000), `BULKHEAD_LLM_MAX_RETRIES` (default 1). */
  readonly llm: LlmSettings;
}

/** The browser front, served on the host's HTTP server (`BULKHEAD_HTTP_HOST`/`BULKHEAD_HTTP_PORT`). */
export interface DashboardSettings {
  /**
   * `BULKHEAD_PUBLIC_URL`: where browsers reach the dashboard (e.g. https://bulkhead.example.com
   * behind a proxy). Login links use it, and only when it is set are proxy headers trusted.
   * Default: http://<BULKHEAD_HTTP_HOST>:<port>.
   */
  readonly publicUrl: string | undefined;
  /** `BULKHEAD_SESSION_HOURS`: absolute lifetime of a login, default 12. */
  readonly sessionHours: number;
  /** `BULKHEAD_SESSION_IDLE_MINUTES`: a session unused this long ends, default 30. */
  readonly idleMinutes: number;
  /** `BULKHEAD_LOGIN_PER_MINUTE`: login requests per client address per minute, default 10. */
  readonly loginPerMinute: number;
  /** `BULKHEAD_INVOKE_PER_MINUTE`: capability calls per user per minute from the dashboard, default 600. */
  readonly invokePerMinute: number;
  /** `BULKHEAD_EXPORT_PER_MINUTE`: data exports (downloads of a whole account) per user per minute, default 10. */
  readonly exportPerMinute: number;
  /**
   * `BULKHEAD_VAULT_PER_MINUTE`: master-password tries per user per minute from the dashboard, for
   * each of vault set-up, unlock and change; default 10. Each costs 64 MiB of Argon2id; wrong
   * passwords are slowed down by the vault itself as well.
   */
  readonly vaultPerMinute: number;
}

/** Users' data rights: their audit logs and the deletion of their accounts. */
export interface AccountSettings {
  /** `BULKHEAD_AUDIT_RETENTION_DAYS`: audit lines older than this are pruned (lazily, as a log is used). Default 365. */
  readonly auditRetentionDays: number;
  /** `BULKHEAD_DELETION_GRACE_DAYS`: days between a deletion request and the purge, during which it can be cancelled. Default 30; 0 purges at once. */
  readonly deletionGraceDays: number;
  /**
   * `BULKHEAD_AUDIT_TAP`: for tests and debugging, a file that every process also appends each
   * audit line to, as JSON (lines hold no user data and, here, no user id either). Default: none.
   */
  readonly auditTap: string | undefined;
}

export interface LlmSettings {
  readonly baseURL: string | undefined;
  readonly model: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
}

/** Secrets for the chat fronts, read once at start-up and handed only to the code that uses them. */
export interface ChatSecrets {
  readonly slackBotToken: string | undefined;
  readonly slackAppToken: string | undefined;
  readonly slackSigningSecret: string | undefined;
  readonly openaiApiKey: string | undefined;
}

export function readChatSecrets(environment: Environment): ChatSecrets {
  const value = (name: string): string | undefined => {
    const v = environment.vars[name]?.trim();
    return v ? v : undefined;
  };
  return {
    slackBotToken: value('SLACK_BOT_TOKEN'),
    slackAppToken: value('SLACK_APP_TOKEN'),
    slackSigningSecret: value('SLACK_SIGNING_SECRET'),
    openaiApiKey: value('OPENAI_API_KEY'),
  };
}

export interface PluginSettings {
  /** `BULKHEAD_PLUGIN_PATH`: extra plugin folders (or folders of them), colon-separated. */
  readonly path: readonly string[];
  /** `BULKHEAD_WORKERS`: executor worker threads. Default: one per core. */
  readonly workers: number;
  /** `BULKHEAD_INSTANCES_PER_WORKER`: plugin instances kept warm per worker. Default 256. */
  readonly instancesPerWorker: number;
  /** `BULKHEAD_QUEUE_PER_WORKER`: calls waiting for one worker before new ones are refused. Default 1024. */
  readonly queuePerWorker: number;
  /** `BULKHEAD_LIMIT_*`: one ceiling per manifest limit, over every manifest (host/sandbox/limits.ts). */
  readonly caps: LimitCaps;
  /** `BULKHEAD_INSTANCE_CACHE_MIB`: bytes (linear memory, variables) the warm instances of one worker keep. Default 256. */
  readonly instanceCacheMiB: number;
}

export interface StoreSettings {
  /** `BULKHEAD_STORE_CIPHER`: aegis (default) or chacha20. */
  readonly cipher: Cipher;
  /** `BULKHEAD_STORE_MAX_OPEN_FILES`: default 256. */
  readonly maxOpenFiles: number;
  /** `BULKHEAD_STORE_PAGE_CACHE_KIB`: default 512. */
  readonly pageCacheKiB: number;
  /** `BULKHEAD_QUERY_MAX_ROWS`: most rows one query may examine before it is stopped. Default 100,000. */
  readonly maxRowsExamined: number;
  /** `BULKHEAD_STORE_BUSY_TIMEOUT_MS`: longest wait for a file another process holds (never past the call's deadline). Default 2000. */
  readonly busyTimeoutMs: number;
  /**
   * `BULKHEAD_STORE_IDLE_CLOSE_SECONDS`: a user file unused this long is closed, so its lock goes
   * back to other processes (`bulkhead invoke` for a console user who also used the dashboard). Default 60.
   */
  readonly idleCloseSeconds: number;
}

/**
 * Reads and validates the configuration; relative paths are resolved against `cwd`.
 *
 * @example
 * const environment = readEnvironment(process.env, process.cwd());
 * const config = loadConfig(environment, process.cwd());
 */
export function loadConfig(environment: Environment, cwd: string): BulkheadConfig {
  // Typed so that reading a name missing from `configVariables` (and so from `knownVariables`) does not compile.
  const env: Readonly<Partial<Record<ConfigVariable, string>>> = environment.vars;
  const config: BulkheadConfig = {
    production: environment.production,
    dataDir: path.resolve(cwd, env['BULKHEAD_DATA_DIR'] || 'data'),
    store: {
      cipher: oneOf('BULKHEAD_STORE_CIPHER', env['BULKHEAD_STORE_CIPHER'], ciphers, storeDefaults.cipher),
      maxOpenFiles: limit(environment.vars, 'store.maxOpenFiles'),
      pageCacheKiB: limit(environment.vars, 'store.pageCacheKiB'),
      maxRowsExamined: limit(environment.vars, 'store.maxRowsExamined'),
      busyTimeoutMs: limit(environment.vars, 'store.busyTimeoutMs'),
      idleCloseSeconds: limit(environment.vars, 'store.idleCloseSeconds'),
    },
    plugins: {
      path: (env['BULKHEAD_PLUGIN_PATH'] ?? '').split(':').filter((entry) => entry !== '').map((entry) => path.resolve(cwd, entry)),
      workers: integer('BULKHEAD_WORKERS', env['BULKHEAD_WORKERS'], 1, 256, availableParallelism()),
      instancesPerWorker: limit(environment.vars, 'executor.maxInstancesPerWorker'),
      queuePerWorker: limit(environment.vars, 'executor.maxQueuePerWorker'),
      caps: Object.freeze({
        timeoutMs: limit(environment.vars, 'ceiling.timeoutMs'),
        memoryMiB: limit(environment.vars, 'ceiling.memoryMiB'),
        maxInputBytes: limit(environment.vars, 'ceiling.maxInputBytes'),
        maxOutputBytes: limit(environment.vars, 'ceiling.maxOutputBytes'),
        maxQueriesPerCall: limit(environment.vars, 'ceiling.maxQueriesPerCall'),
        maxRepliesPerCall: limit(environment.vars, 'ceiling.maxRepliesPerCall'),
        storeMiB: limit(environment.vars, 'ceiling.storeMiB'),
      }),
      instanceCacheMiB: limit(environment.vars, 'executor.instanceCacheMiBPerWorker'),
    },
    dashboard: {
      publicUrl: publicUrl(env['BULKHEAD_PUBLIC_URL']),
      sessionHours: integer('BULKHEAD_SESSION_HOURS', env['BULKHEAD_SESSION_HOURS'], 1, 720, 12),
      idleMinutes: integer('BULKHEAD_SESSION_IDLE_MINUTES', env['BULKHEAD_SESSION_IDLE_MINUTES'], 1, 1440, 30),
      loginPerMinute: integer('BULKHEAD_LOGIN_PER_MINUTE', env['BULKHEAD_LOGIN_PER_MINUTE'], 1, 10_000, 10),
      invokePerMinute: integer('BULKHEAD_INVOKE_PER_MINUTE', env['BULKHEAD_INVOKE_PER_MINUTE'], 1, 10_000_000, 600),
      exportPerMinute: integer('BULKHEAD_EXPORT_PER_MINUTE', env['BULKHEAD_EXPORT_PER_MINUTE'], 1, 1_000, 10),
      vaultPerMinute: integer('BULKHEAD_VAULT_PER_MINUTE', env['BULKHEAD_VAULT_PER_MINUTE'], 1, 1_000, 10),
    },
    account: {
      auditRetentionDays: integer('BULKHEAD_AUDIT_RETENTION_DAYS', env['BULKHEAD_AUDIT_RETENTION_DAYS'], 1, 36_500, 365),
      deletionGraceDays: integer('BULKHEAD_DELETION_GRACE_DAYS', env['BULKHEAD_DELETION_GRACE_DAYS'], 0, 3650, 30),
      auditTap: env['BULKHEAD_AUDIT_TAP'] ? path.resolve(cwd, env['BULKHEAD_AUDIT_TAP']) : undefined,
    },
    scheduler: {
      timersPerPlugin: integer('BULKHEAD_TIMERS_PER_PLUGIN', env['BULKHEAD_TIMERS_PER_PLUGIN'], 1, 100_000, 100),
      timerRetries: integer('BULKHEAD_TIMER_RETRIES', env['BULKHEAD_TIMER_RETRIES'], 0, 20, 5),
    },
    vault: {
      idleMinutes: integer('BULKHEAD_VAULT_IDLE_MINUTES', env['BULKHEAD_VAULT_IDLE_MINUTES'], 1, 1440, 15),
      unlocksAtOnce: integer('BULKHEAD_VAULT_UNLOCKS_AT_ONCE', env['BULKHEAD_VAULT_UNLOCKS_AT_ONCE'], 1, 16, 2),
    },
    market: {
      url: url('BULKHEAD_MARKET_URL', env['BULKHEAD_MARKET_URL']),
      cacheSeconds: integer('BULKHEAD_MARKET_CACHE_SECONDS', env['BULKHEAD_MARKET_CACHE_SECONDS'], 0, 86_400, 30),
      timeoutMs: integer('BULKHEAD_MARKET_TIMEOUT_MS', env['BULKHEAD_MARKET_TIMEOUT_MS'], 100, 30_000, 1500),
    },
    logLevel: oneOf('BULKHEAD_LOG_LEVEL', env['BULKHEAD_LOG_LEVEL'], logLevels, 'info'),
    defaultTimeZone: timeZone('BULKHEAD_DEFAULT_TZ', env['BULKHEAD_DEFAULT_TZ'], 'UTC'),
    chat: {
      httpHost: env['BULKHEAD_HTTP_HOST'] || '127.0.0.1',
      httpPort: integer('BULKHEAD_HTTP_PORT', env['BULKHEAD_HTTP_PORT'], 0, 65_535, 3000),
      admins: Object.freeze(new Set(list(env['BULKHEAD_ADMINS']).map((entry) => adminIdentity(entry)))),
      slackApiUrl: url('SLACK_API_URL', env['SLACK_API_URL']),
      llm: Object.freeze({
        baseURL: url('OPENAI_BASE_URL', env['OPENAI_BASE_URL']),
        model: env['BULKHEAD_LLM_MODEL'] || 'gpt-4o-mini',
        timeoutMs: integer('BULKHEAD_LLM_TIMEOUT_MS', env['BULKHEAD_LLM_TIMEOUT_MS'], 100, 120_000, 8000),
        maxRetries: integer('BULKHEAD_LLM_MAX_RETRIES', env['BULKHEAD_LLM_MAX_RETRIES'], 0, 5, 1),
      }),
    },
  };
  return Object.freeze({ ...config, store: Object.freeze(config.store), plugins: Object.freeze(config.plugins), chat: Object.freeze(config.chat), dashboard: Object.freeze(config.dashboard), account: Object.freeze(config.account), scheduler: Object.freeze(config.scheduler), vault: Object.freeze(config.vault), market: Object.freeze(config.market) });
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
}

const adminPattern = /^slack:[A-Z0-9]{1,32}:[A-Z0-9]{1,32}$|^console:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function adminIdentity(entry: string): string {
  if (!adminPattern.test(entry)) {
    throw new BulkheadError('BH_CONFIG_INVALID', { variable: 'BULKHEAD_ADMINS', problem: 'each entry must look like slack:<team id>:<user id> or console:<name>' });
  }
  return entry;
}

function url(variable: string, value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    const parsed = new URL(value.trim());
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed.toString();
  } catch {
    // reported below
  }
  throw new BulkheadError('BH_CONFIG_INVALID', { variable, problem: 'must be an http or https URL' });
}

/** An origin without path, query or credentials: links are built as `${publicUrl}/login#...`. */
function publicUrl(value: string | undefined): string | undefined {
  const parsed = url('BULKHEAD_PUBLIC_URL', value);
  if (parsed === undefined) return undefined;
  const u = new URL(parsed);
  if (u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw new BulkheadError('BH_CONFIG_INVALID', { variable: 'BULKHEAD_PUBLIC_URL', problem: 'must be an origin such as https://bulkhead.example.com, without a path, query or credentials' });
  }
  return u.origin;
}

/** An IANA time zone name that Intl knows, e.g. `Europe/Berlin`. */
function timeZone(variable: string, value: string | undefined, fallback: string): string {
  if (value === undefined || value.trim() === '') return fallback;
  const zone = validTimeZone(value.trim());
  if (zone !== undefined) return zone;
  throw new BulkheadError('BH_CONFIG_INVALID', { variable, problem: 'must be an IANA time zone name such as UTC, Europe/Berlin or America/New_York' });
}

function oneOf<T extends string>(variable: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new BulkheadError('BH_CONFIG_INVALID', { variable, problem: `must be one of ${allowed.join(', ')}` });
}

/**
 * A limit an operator may set, validated against its registry entry (host/config/limits.ts): the
 * entry holds its variable, its default and its range, so none of them is repeated here.
 */
function limit(env: Environment['vars'], name: SettableLimitName): number {
  const entry = limitRegistry[name];
  if (entry.env === undefined) throw new Error('a settable limit without a variable');
  return integer(entry.env, env[entry.env], entry.min, entry.max, entry.default);
}

function integer(variable: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw new BulkheadError('BH_CONFIG_INVALID', { variable, problem: `must be a whole number from ${min} to ${max}` });
  }
  return n;
}
