import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Front } from '../../host/identity/caller-token.js';
import { loadConfig, readEnvironment } from '../../host/config/config.js';
import { BulkheadError } from '../../host/core/errors.js';
import { fromRoot } from '../../host/core/paths.js';
import type { CallerContext } from '../../host/identity/caller-context.js';
import { assembleHost, createHost, type Host, type HostCore, type HostOptions } from '../../host/host.js';
import { parseManifest, type PluginManifest } from '../../host/manifest/manifest.js';
import type { Cipher } from '../../host/sqlite/encrypted-database.js';
import { Keyring } from '../../host/keys/keyring.js';
import { Store, storeDefaults, type StoreOptions } from '../../host/store/store.js';

/** A fresh directory under the OS temp dir; removed by the returned cleanup. */
export function tempDir(prefix = 'bulkhead-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const notesManifest: PluginManifest = parseManifest(
  {
    manifestVersion: 1,
    name: 'notes',
    version: '1.0.0',
    description: 'Notes',
    permissions: ['query', 'reply'],
    storage: {
      collections: {
        notes: {
          fields: {
            text: { type: 'text', required: true },
            tags: { type: 'json' },
            pinned: { type: 'boolean', default: false },
            priority: { type: 'integer' },
            score: { type: 'real' },
            dueAt: { type: 'timestamp' },
          },
          indexes: [{ fields: ['createdAt'] }],
        },
      },
    },
  },
  'tests/helpers/fixtures.ts',
);

export const tasksManifest: PluginManifest = parseManifest(
  {
    manifestVersion: 1,
    name: 'tasks',
    version: '1.0.0',
    description: 'Tasks',
    permissions: ['query'],
    storage: {
      collections: {
        tasks: {
          fields: { title: { type: 'text', required: true }, done: { type: 'boolean', default: false }, slug: { type: 'text' } },
          indexes: [{ fields: ['slug'], unique: true }],
        },
      },
    },
  },
  'tests/helpers/fixtures.ts',
);

/**
 * A store opened directly in the test's thread, over a real data directory: what a worker opens,
 * without the executor around it (the production host has no store in its main thread).
 */
export interface TestStore extends HostCore {
  readonly keyring: Keyring;
  readonly store: Store;
  close(): void;
  readonly dataDir: string;
  /** A caller token for this user and plugin, as the host would mint it. */
  token(user: string, plugin: string, front?: Front): string;
}

export interface TestStoreOptions {
  readonly dataDir: string;
  readonly master?: Buffer;
  readonly signing?: Buffer;
  readonly manifests?: readonly PluginManifest[];
  readonly cipher?: Cipher;
  readonly maxOpenFiles?: number;
  readonly now?: () => number;
  /** Other store settings (row budget, busy timeout, quota per plugin). */
  readonly store?: Partial<Omit<StoreOptions, 'dataDir' | 'keyring' | 'tokens' | 'pluginKey' | 'manifest'>>;
}

/** A real host core (keys, keyring, tokens, store) on real encrypted SQLite files in `dataDir`. */
export function openTestStore(options: TestStoreOptions): TestStore {
  const core = assembleHost({
    dataDir: options.dataDir,
    rootKeys: { master: options.master ?? randomBytes(32), signing: options.signing ?? randomBytes(32) },
    plugins: options.manifests ?? [notesManifest, tasksManifest],
    ...(options.now ? { now: options.now } : {}),
  });
  const cipher = options.cipher ?? storeDefaults.cipher;
  const keyring = new Keyring(path.join(options.dataDir, 'keyring.db'), core.keys.keyringKey(), cipher);
  const store = new Store({
    dataDir: options.dataDir,
    keyring,
    tokens: core.tokens,
    pluginKey: (plugin) => core.keys.pluginKey(plugin),
    manifest: (plugin) => core.plugins.get(plugin),
    cipher,
    ...(options.maxOpenFiles ? { maxOpenFiles: options.maxOpenFiles } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...options.store,
  });
  return {
    ...core,
    keyring,
    store,
    dataDir: options.dataDir,
    token: (user, plugin, front = 'console') => core.tokens.sign({ sub: user, plg: plugin, front }),
    close() {
      store.close();
      keyring.close();
    },
  };
}

/** Runs `fn` on a real store in a fresh temporary data directory, then closes and removes both. */
export function withTestStore(fn: (t: TestStore) => void, options: Omit<TestStoreOptions, 'dataDir'> = {}): void {
  const { dir, cleanup } = tempDir();
  const t = openTestStore({ dataDir: dir, ...options });
  try {
    fn(t);
  } finally {
    t.close();
    cleanup();
  }
}

/** Built plugin folders: the built-ins and the test fixtures (tests/fixtures/plugins, built by npm run build). */
export const builtInPluginsDir = fromRoot('dist', 'plugins');
export const fixturePluginsDir = fromRoot('dist', 'tests', 'fixtures', 'plugins');

export interface TestHostOptions {
  readonly dataDir: string;
  /** Extra environment (BULKHEAD_* settings). Keys are generated unless given. */
  readonly env?: Readonly<Record<string, string>>;
  /** Folders of plugin folders loaded without approval. Default: built-ins and fixtures. */
  readonly builtInDirs?: readonly string[];
  /** The host's clock (deletion grace periods, audit times). */
  readonly now?: () => number;
  /** Hears each completed purge step. */
  readonly onPurgeStep?: HostOptions['onPurgeStep'];
  /** Hears each committed page of a vault re-seal. */
  readonly onResealPage?: HostOptions['onResealPage'];
  /** False: no audit log (the benchmark of its cost). */
  readonly auditLog?: boolean;
}

/**
 * BULKHEAD_AUDIT_TAP as the test runner set it (tests/run-tests.mjs): hosts the tests start get it,
 * so that every audit line written during the suite is checked against its schema at the end.
 */
export const auditTapEnv: Readonly<Record<string, string>> = process.env['BULKHEAD_AUDIT_TAP'] ? { BULKHEAD_AUDIT_TAP: process.env['BULKHEAD_AUDIT_TAP'] } : {};

/** A whole host (catalog, executor workers, dispatcher) on a temporary data directory. */
export function startTestHost(options: TestHostOptions): Host {
  const env = {
    BULKHEAD_DATA_DIR: options.dataDir,
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_WORKERS: '2',
    ...auditTapEnv,
    ...options.env,
  };
  const environment = readEnvironment(env, options.dataDir);
  return createHost(loadConfig(environment, options.dataDir), environment, {
    builtInDirs: options.builtInDirs ?? [builtInPluginsDir, fixturePluginsDir],
    ...(options.now ? { now: options.now } : {}),
    ...(options.onPurgeStep ? { onPurgeStep: options.onPurgeStep } : {}),
    ...(options.onResealPage ? { onResealPage: options.onResealPage } : {}),
    ...(options.auditLog === false ? { auditLog: false } : {}),
  });
}

/** The caller context a console user gets. */
export function consoleUser(name: string): CallerContext {
  return { globalUserId: `console:${name}`, front: 'console', replyTo: `console:${name}`, admin: false, authTime: Date.now() };
}

/** Resolves to the BulkheadError a promise rejects with; fails when it resolves or throws anything else. */
export async function rejection(promise: Promise<unknown>): Promise<BulkheadError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BulkheadError) return error;
    throw error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
