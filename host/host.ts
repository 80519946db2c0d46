import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BulkheadConfig } from './config/config.js';
import { CallerTokens } from './core/caller-token.js';
import { KeyService } from './keys/key-service.js';
import { Keyring } from './keys/keyring.js';
import { loadRootKeys } from './keys/load-keys.js';
import type { PluginManifest } from './manifest/manifest.js';
import { Store } from './store/store.js';

export interface Host {
  readonly config: BulkheadConfig;
  readonly tokens: CallerTokens;
  readonly store: Store;
  /** Plugins known to the host, by name. */
  readonly plugins: ReadonlyMap<string, PluginManifest>;
  close(): void;
}

export interface HostOptions {
  readonly plugins?: readonly PluginManifest[];
  readonly warn?: (message: string) => void;
}

/**
 * Assembles the host from its configuration: keys, keyring, caller tokens and store.
 * The root keys stay inside the KeyService created here.
 */
export function createHost(config: BulkheadConfig, options: HostOptions = {}): Host {
  const root = loadRootKeys({
    env: config.env,
    production: config.production,
    envFile: config.envFile,
    warn: options.warn ?? ((message) => console.warn(`warning: ${message}`)),
  });
  const keys = new KeyService(root);
  // The key service keeps its own copies; no other copy of the root keys stays in memory here.
  root.master.fill(0);
  root.signing.fill(0);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const keyring = new Keyring(path.join(config.dataDir, 'keyring.db'), keys.keyringKey(), config.store.cipher);
  const tokens = new CallerTokens({ current: keys.tokenKey() });
  const plugins = new Map((options.plugins ?? []).map((m) => [m.name, m]));
  const store = new Store({
    dataDir: config.dataDir,
    keyring,
    tokens,
    pluginKey: (plugin) => keys.pluginKey(plugin),
    manifest: (plugin) => plugins.get(plugin),
    ...config.store,
  });
  return {
    config,
    tokens,
    store,
    plugins,
    close() {
      store.close();
      keyring.close();
    },
  };
}
