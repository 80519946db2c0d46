import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Front } from '../../host/core/caller-token.js';
import { assembleHost, type HostCore } from '../../host/host.js';
import { parseManifest, type PluginManifest } from '../../host/manifest/manifest.js';
import type { Cipher } from '../../host/store/encrypted-database.js';
import { storeDefaults } from '../../host/store/store.js';

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

export interface TestStore extends HostCore {
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
}

/** A real host core (keys, keyring, tokens, store) on real encrypted SQLite files in `dataDir`. */
export function openTestStore(options: TestStoreOptions): TestStore {
  const core = assembleHost({
    dataDir: options.dataDir,
    rootKeys: { master: options.master ?? randomBytes(32), signing: options.signing ?? randomBytes(32) },
    store: { ...storeDefaults, ...(options.cipher ? { cipher: options.cipher } : {}), ...(options.maxOpenFiles ? { maxOpenFiles: options.maxOpenFiles } : {}) },
    plugins: options.manifests ?? [notesManifest, tasksManifest],
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    ...core,
    dataDir: options.dataDir,
    token: (user, plugin, front = 'console') => core.tokens.sign({ sub: user, plg: plugin, front }),
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
