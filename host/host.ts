import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BulkheadConfig, Environment, StoreSettings } from './config/config.js';
import { CallerTokens } from './core/caller-token.js';
import { KeyService } from './keys/key-service.js';
import { Keyring } from './keys/keyring.js';
import { loadRootKeys, type RootKeys } from './keys/load-keys.js';
import type { PluginManifest } from './manifest/manifest.js';
import { Store } from './store/store.js';

/** The parts of a running host below the fronts. */
export interface HostCore {
  /** The only holder of the root keys; everything else gets keys derived from it. */
  readonly keys: KeyService;
  readonly keyring: Keyring;
  readonly tokens: CallerTokens;
  readonly store: Store;
  /** Plugins known to the host, by name. */
  readonly plugins: ReadonlyMap<string, PluginManifest>;
  close(): void;
}

export interface HostCoreOptions {
  readonly dataDir: string;
  /** Copied into the key service; the caller should zero its own copy. */
  readonly rootKeys: RootKeys;
  readonly store: StoreSettings;
  readonly plugins: readonly PluginManifest[];
  /** Milliseconds since the epoch, for tokens and records; injectable for tests. */
  readonly now?: () => number;
}

/** Wires keys, keyring, caller tokens and store together over a data directory. */
export function assembleHost(options: HostCoreOptions): HostCore {
  const keys = new KeyService(options.rootKeys);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const keyring = new Keyring(path.join(options.dataDir, 'keyring.db'), keys.keyringKey(), options.store.cipher);
  const clock = options.now ? { now: options.now } : {};
  const tokens = new CallerTokens({ current: keys.tokenKey(), ...clock });
  const plugins = new Map(options.plugins.map((m) => [m.name, m]));
  const store = new Store({
    dataDir: options.dataDir,
    keyring,
    tokens,
    pluginKey: (plugin) => keys.pluginKey(plugin),
    manifest: (plugin) => plugins.get(plugin),
    ...options.store,
    ...clock,
  });
  return {
    keys,
    keyring,
    tokens,
    store,
    plugins,
    close() {
      store.close();
      keyring.close();
    },
  };
}

export interface Host extends HostCore {
  readonly config: BulkheadConfig;
}

export interface HostOptions {
  readonly plugins?: readonly PluginManifest[];
  readonly warn?: (message: string) => void;
}

/**
 * Starts the host from its configuration: loads (or, in development, generates) the root keys
 * from the environment, then assembles the rest. The configuration itself holds no secret.
 */
export function createHost(config: BulkheadConfig, environment: Environment, options: HostOptions = {}): Host {
  const rootKeys = loadRootKeys({
    env: environment.vars,
    production: environment.production,
    envFile: environment.envFile,
    warn: options.warn ?? ((message) => console.warn(`warning: ${message}`)),
  });
  try {
    const core = assembleHost({ dataDir: config.dataDir, rootKeys, store: config.store, plugins: options.plugins ?? [] });
    return { ...core, config };
  } finally {
    // The key service keeps its own copies; no other copy of the root keys stays in memory here.
    rootKeys.master.fill(0);
    rootKeys.signing.fill(0);
  }
}
