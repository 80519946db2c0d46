import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isBulkheadError, type ErrorCode } from '../../host/core/errors.js';
import { fileIdFor, fileKeyFor } from '../../host/keys/key-service.js';
import { parseManifest, type PluginManifest, type StorageSpec } from '../../host/manifest/manifest.js';
import { openEncryptedDatabase } from '../../host/sqlite/encrypted-database.js';
import { openTestStore, tempDir } from '../helpers/fixtures.js';

const v1: StorageSpec = {
  collections: {
    items: { fields: { name: { type: 'text', required: true }, qty: { type: 'integer' } }, indexes: [{ fields: ['name'] }] },
  },
};

function manifest(storage: StorageSpec): PluginManifest {
  return parseManifest({ manifestVersion: 1, name: 'shop', version: '1.0.0', description: 'Shop', permissions: ['query'], storage }, 'test');
}

interface Scenario {
  readonly dataDir: string;
  readonly master: Buffer;
  readonly signing: Buffer;
  run<T>(storage: StorageSpec, fn: (exec: (request: unknown) => unknown) => T): T;
  fileHash(): string;
  userVersion(): number;
  cleanup(): void;
}

function scenario(): Scenario {
  const { dir, cleanup } = tempDir();
  const master = randomBytes(32);
  const signing = randomBytes(32);
  const s: Scenario = {
    dataDir: dir,
    master,
    signing,
    run(storage, fn) {
      const t = openTestStore({ dataDir: dir, master, signing, manifests: [manifest(storage)] });
      try {
        const token = t.token('console:alice', 'shop');
        return fn((request) => t.store.execute(token, 'shop', request));
      } finally {
        t.close();
      }
    },
    fileHash() {
      const t = openTestStore({ dataDir: dir, master, signing, manifests: [] });
      const file = path.join(dir, 'plugins', 'shop', `${fileIdFor(t.keys.pluginKey('shop'), 'console:alice')}.db`);
      t.close();
      return createHash('sha256').update(readFileSync(file)).digest('hex');
    },
    userVersion() {
      const t = openTestStore({ dataDir: dir, master, signing, manifests: [] });
      const fileId = fileIdFor(t.keys.pluginKey('shop'), 'console:alice');
      const salt = t.keyring.salt('shop', fileId) as Buffer;
      t.close();
      const db = openEncryptedDatabase(path.join(dir, 'plugins', 'shop', `${fileId}.db`), fileKeyFor(t.keys.pluginKey('shop'), fileId, salt), {
        cipher: 'aegis',
        cacheKiB: 256,
        create: false,
      });
      const version = db.pragma('user_version', { simple: true }) as number;
      db.close();
      return version;
    },
    cleanup,
  };
  return s;
}

function seed(s: Scenario): void {
  s.run(v1, (exec) => {
    for (let i = 0; i < 50; i++) exec({ op: 'insert', collection: 'items', values: { name: `item ${i}`, qty: i } });
  });
}

test('adding a field, a collection and an index upgrades an existing file on next open, keeping every record', () => {
  const s = scenario();
  try {
    seed(s);
    assert.equal(s.userVersion(), 1);
    const v2: StorageSpec = {
      collections: {
        items: {
          fields: { name: { type: 'text', required: true }, qty: { type: 'integer' }, price: { type: 'real', required: true, default: 9.5 }, note: { type: 'text' } },
          indexes: [{ fields: ['name'] }, { fields: ['price', 'qty'] }],
        },
        orders: { fields: { item: { type: 'text', required: true }, paid: { type: 'boolean', default: false } } },
      },
    };
    s.run(v2, (exec) => {
      const all = exec({ op: 'find', collection: 'items', orderBy: [{ field: 'qty' }], limit: 1000 }) as { records: Record<string, unknown>[] };
      assert.equal(all.records.length, 50, 'every record kept');
      assert.deepEqual(all.records[7], { ...all.records[7], name: 'item 7', qty: 7, price: 9.5, note: null }, 'new required field filled with its default');
      exec({ op: 'insert', collection: 'orders', values: { item: 'item 7' } });
      assert.deepEqual(exec({ op: 'count', collection: 'orders', where: { paid: false } }), { ok: true, count: 1 });
      exec({ op: 'insert', collection: 'items', values: { name: 'new', note: 'added later' } });
    });
    assert.equal(s.userVersion(), 2, 'the schema version is recorded in the file');
    // Opening again with the same manifest changes nothing.
    const hash = s.fileHash();
    s.run(v2, (exec) => assert.deepEqual(exec({ op: 'count', collection: 'items' }), { ok: true, count: 51 }));
    assert.equal(s.userVersion(), 2);
    assert.equal(s.fileHash(), hash);
  } finally {
    s.cleanup();
  }
});

const refusals: { name: string; storage: StorageSpec; code: ErrorCode }[] = [
  { name: 'removing a collection', storage: { collections: { other: { fields: { x: { type: 'text' } } } } }, code: 'BH_STORE_DESTRUCTIVE_CHANGE' },
  { name: 'removing a field', storage: { collections: { items: { fields: { name: { type: 'text', required: true } } } } }, code: 'BH_STORE_DESTRUCTIVE_CHANGE' },
  {
    name: 'changing a field type',
    storage: { collections: { items: { fields: { name: { type: 'text', required: true }, qty: { type: 'text' } } } } },
    code: 'BH_STORE_DESTRUCTIVE_CHANGE',
  },
  {
    name: 'adding a required field without a default',
    storage: { collections: { items: { fields: { name: { type: 'text', required: true }, qty: { type: 'integer' }, sku: { type: 'text', required: true } } } } },
    code: 'BH_STORE_DESTRUCTIVE_CHANGE',
  },
  {
    name: 'a new unique index that existing records break (fails inside the migration, rolled back)',
    storage: {
      collections: {
        items: { fields: { name: { type: 'text', required: true }, qty: { type: 'integer' }, kind: { type: 'text', default: 'same' } }, indexes: [{ fields: ['kind'], unique: true }] },
      },
    },
    code: 'BH_STORE_MIGRATION_FAILED',
  },
];

for (const r of refusals) {
  test(`${r.name} is refused with ${r.code}, and the file is left exactly as it was`, () => {
    const s = scenario();
    try {
      seed(s);
      const before = s.fileHash();
      assert.throws(
        () => s.run(r.storage, (exec) => exec({ op: 'count', collection: Object.keys(r.storage.collections)[0] })),
        (e: unknown) => isBulkheadError(e, r.code) && e.message.includes("'shop'"),
      );
      assert.equal(s.fileHash(), before);
      assert.equal(s.userVersion(), 1);
      // The old manifest still works with all data.
      s.run(v1, (exec) => assert.deepEqual(exec({ op: 'count', collection: 'items' }), { ok: true, count: 50 }));
    } finally {
      s.cleanup();
    }
  });
}
