import path from 'node:path';
import { BulkheadError } from '../core/errors.js';
import { ciphers, type Cipher } from '../store/encrypted-database.js';
import { storeDefaults } from '../store/store.js';
import { readEnvFile } from './env-file.js';

/** The operator's configuration, validated once and frozen. Every default is here. */
export interface BulkheadConfig {
  readonly production: boolean;
  /** `BULKHEAD_DATA_DIR`, default `./data`. */
  readonly dataDir: string;
  /** Where development keys are written: `.env.local` in the working directory. */
  readonly envFile: string;
  /** Process environment merged over `.env.local` (the environment wins; production ignores the file). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly store: {
    /** `BULKHEAD_STORE_CIPHER`: aegis (default) or chacha20. */
    readonly cipher: Cipher;
    /** `BULKHEAD_STORE_MAX_OPEN_FILES`: default 256. */
    readonly maxOpenFiles: number;
    /** `BULKHEAD_STORE_PAGE_CACHE_KIB`: default 512. */
    readonly pageCacheKiB: number;
  };
}

/**
 * Reads the configuration from the environment and `.env.local` in `cwd`.
 *
 * @example
 * const config = loadConfig(process.env, process.cwd());
 */
export function loadConfig(processEnv: Readonly<Record<string, string | undefined>>, cwd: string): BulkheadConfig {
  const envFile = path.join(cwd, '.env.local');
  const production = processEnv['NODE_ENV'] === 'production';
  // .env.local is a development convenience: production takes its keys from the real environment.
  const env = production ? { ...processEnv } : { ...readEnvFile(envFile), ...processEnv };
  const config: BulkheadConfig = {
    production,
    dataDir: path.resolve(cwd, env['BULKHEAD_DATA_DIR'] || 'data'),
    envFile,
    env,
    store: {
      cipher: oneOf('BULKHEAD_STORE_CIPHER', env['BULKHEAD_STORE_CIPHER'], ciphers, storeDefaults.cipher),
      maxOpenFiles: integer('BULKHEAD_STORE_MAX_OPEN_FILES', env['BULKHEAD_STORE_MAX_OPEN_FILES'], 1, 100_000, storeDefaults.maxOpenFiles),
      pageCacheKiB: integer('BULKHEAD_STORE_PAGE_CACHE_KIB', env['BULKHEAD_STORE_PAGE_CACHE_KIB'], 64, 1_048_576, storeDefaults.pageCacheKiB),
    },
  };
  return Object.freeze({ ...config, store: Object.freeze(config.store) });
}

function oneOf<T extends string>(variable: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new BulkheadError('BH_CONFIG_INVALID', { variable, problem: `must be one of ${allowed.join(', ')}` });
}

function integer(variable: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw new BulkheadError('BH_CONFIG_INVALID', { variable, problem: `must be a whole number from ${min} to ${max}` });
  }
  return n;
}
