// Sealed fields in real encrypted SQLite files (host/store with host/vault): what reaches the file,
// what a find returns, and what happens when someone with the file key (a stolen data directory
// and keyring) edits sealed values in place: moved between records, fields or users, truncated,
// or replaced by text that only looks like a sealed value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isBulkheadError } from '../../host/core/errors.js';
import { fileIdFor, fileKeyFor } from '../../host/keys/key-service.js';
import { parseManifest, type PluginManifest, type StorageSpec } from '../../host/manifest/manifest.js';
import { openEncryptedDatabase } from '../../host/sqlite/encrypted-database.js';
import { VaultKeys } from '../../host/vault/vault-keys.js';
import { openTestStore, tempDir, type TestStore } from '../helpers/fixtures.js';

const sealedStorage: StorageSpec = {
  collections: {
    secrets: {
      fields: { service: { type: 'text', required: true }, password: { type: 'text', sealed: true }, extra: { type: 'json', sealed: true }, note: { type: 'text' } },
      indexes: [{ fields: ['service'] }],
    },
  },
};
const plainStorage: StorageSpec = {
  collections: { secrets: { fields: { service: { type: 'text', required: true }, password: { type: 'text' }, extra: { type: 'json' }, note: { type: 'text' } }, indexes: [{ fields: ['service'] }] } },
};

function manifest(storage: StorageSpec, vault: boolean): PluginManifest {
  return parseManifest({ manifestVersion: 1, name: 'safe', version: '1.0.0', description: 'Safe', permissions: vault ? ['query', 'vault'] : ['query'], storage }, 'test');
}

interface Bench {
  readonly vault: VaultKeys;
  /** Runs fn on a store over the data directory (closed afterwards, so the raw file can be edited). */
  with<T>(storage: StorageSpec, fn: (t: TestStore, exec: (user: string, request: unknown) => Record<string, unknown>) => T): T;
  /** Runs SQL on the raw (decrypted) file of a user, as someone holding the data directory and keyring could. */
  raw<T>(user: string, fn: (db: ReturnType<typeof openEncryptedDatabase>) => T): T;
  cleanup(): void;
}

function bench(): Bench {
  const { dir, cleanup } = tempDir('bulkhead-vault-store-');
  const master = randomBytes(32);
  const signing = randomBytes(32);
  const vault = new VaultKeys(15 * 60_000);
  const open = (storage: StorageSpec): TestStore =>
    openTestStore({ dataDir: dir, master, signing, manifests: [manifest(storage, storage === sealedStorage)], store: { vault: (user) => vault.keys(user) } });
  return {
    vault,
    with(storage, fn) {
      const t = open(storage);
      try {
        return fn(t, (user, request) => t.store.execute(t.token(user, 'safe'), 'safe', request) as unknown as Record<string, unknown>);
      } finally {
        t.close();
      }
    },
    raw(user, fn) {
      const t = open(sealedStorage);
      const fileId = fileIdFor(t.keys.pluginKey('safe'), user);
      const salt = t.keyring.salt('safe', fileId) as Buffer;
      const key = fileKeyFor(t.keys.pluginKey('safe'), fileId, salt);
      t.close();
      const db = openEncryptedDatabase(path.join(dir, 'plugins', 'safe', `${fileId}.db`), key, { cipher: 'aegis', cacheKiB: 256, create: false });
      try {
        return fn(db);
      } finally {
        db.close();
      }
    },
    cleanup,
  };
}

type Row = Record<string, string | null>;
const records = (answer: Record<string, unknown>): Record<string, unknown>[] => answer['records'] as Record<string, unknown>[];
const coded = (code: string) => (error: unknown) => isBulkheadError(error) && error.code === code && !/hunter|legacy-plain/.test(error.message);

test('what reaches the file is enc:v1: text; a find opens it; an export page keeps it sealed', () => {
  const b = bench();
  try {
    b.vault.install('console:alice', randomBytes(32));
    const id = b.with(sealedStorage, (_t, exec) => {
      const inserted = exec('console:alice', { op: 'insert', collection: 'secrets', values: { service: 'mail', password: 'hunter2-mail', extra: { pin: 4711 }, note: 'plain note' } });
      return (inserted['record'] as { id: string }).id;
    });
    const stored = b.raw('console:alice', (db) => db.prepare('SELECT * FROM "c_secrets" WHERE "id" = ?').get(id) as Row);
    assert.match(stored['password'] as string, /^enc:v1:/);
    assert.match(stored['extra'] as string, /^enc:v1:/);
    assert.equal(stored['note'], 'plain note');
    assert.equal(stored['service'], 'mail', 'service names stay plaintext (they are what a lookup finds)');
    b.with(sealedStorage, (t, exec) => {
      assert.deepEqual(records(exec('console:alice', { op: 'find', collection: 'secrets' })).map((r) => [r['password'], r['extra']]), [['hunter2-mail', { pin: 4711 }]]);
      const page = t.store.exportPage(t.token('console:alice', 'safe'), 'safe', 'secrets', '', 10);
      assert.match(page[0]?.['password'] as string, /^enc:v1:/);
      assert.match(page[0]?.['extra'] as string, /^enc:v1:/, 'a sealed json value stays sealed text in an export');
      // Importing the export page back writes the sealed values as they are, and they open again.
      exec('console:alice', { op: 'delete', collection: 'secrets', where: {} });
      t.store.importRecords(t.token('console:alice', 'safe'), 'safe', 'secrets', page);
      assert.deepEqual(records(exec('console:alice', { op: 'find', collection: 'secrets' })).map((r) => [r['id'], r['password']]), [[id, 'hunter2-mail']]);
    });
  } finally {
    b.cleanup();
  }
});

test('attack: a sealed value moved to another record, another field or another user is refused, not opened', () => {
  const b = bench();
  try {
    // Alice and bob share one key here, so that only the additional data can tell their values apart.
    const shared = randomBytes(32);
    b.vault.install('console:alice', Buffer.from(shared));
    b.vault.install('console:bob', Buffer.from(shared));
    const ids = b.with(sealedStorage, (t, exec) => {
      const one = (exec('console:alice', { op: 'insert', collection: 'secrets', values: { service: 'one', password: 'hunter2-one', extra: 'x' } })['record'] as { id: string }).id;
      const two = (exec('console:alice', { op: 'insert', collection: 'secrets', values: { service: 'two', password: 'hunter2-two', extra: 'y' } })['record'] as { id: string }).id;
      // Bob has a record with the same id as alice's first one (an import keeps ids).
      t.store.importRecords(t.token('console:bob', 'safe'), 'safe', 'secrets', [{ id: one, createdAt: 1, updatedAt: 1, service: 'one', password: null, extra: null, note: null }]);
      return { one, two };
    });
    const aliceOne = b.raw('console:alice', (db) => db.prepare('SELECT "password" FROM "c_secrets" WHERE "id" = ?').get(ids.one) as Row);
    const find = (user: string) => b.with(sealedStorage, (_t, exec) => exec(user, { op: 'find', collection: 'secrets' }));

    // Another record of the same user.
    b.raw('console:alice', (db) => db.prepare('UPDATE "c_secrets" SET "password" = ? WHERE "id" = ?').run(aliceOne['password'], ids.two));
    assert.throws(() => find('console:alice'), coded('BH_VAULT_SEALED_INVALID'));
    b.raw('console:alice', (db) => db.prepare('UPDATE "c_secrets" SET "password" = NULL WHERE "id" = ?').run(ids.two));
    assert.equal(records(find('console:alice')).length, 2);

    // Another field of the same record.
    b.raw('console:alice', (db) => db.prepare('UPDATE "c_secrets" SET "extra" = ? WHERE "id" = ?').run(aliceOne['password'], ids.one));
    assert.throws(() => find('console:alice'), coded('BH_VAULT_SEALED_INVALID'));
    b.raw('console:alice', (db) => db.prepare('UPDATE "c_secrets" SET "extra" = NULL WHERE "id" = ?').run(ids.one));

    // The same place (plugin, collection, field, record id) in another user's file.
    b.raw('console:bob', (db) => db.prepare('UPDATE "c_secrets" SET "password" = ? WHERE "id" = ?').run(aliceOne['password'], ids.one));
    assert.throws(() => find('console:bob'), coded('BH_VAULT_SEALED_INVALID'));
    assert.equal(records(find('console:alice')).find((r) => r['id'] === ids.one)?.['password'], 'hunter2-one', 'the original still opens where it belongs');
  } finally {
    b.cleanup();
  }
});

test('attack: a truncated tag or text that only looks sealed is a coded error, never returned raw', () => {
  const b = bench();
  try {
    b.vault.install('console:alice', randomBytes(32));
    const id = b.with(sealedStorage, (_t, exec) => (exec('console:alice', { op: 'insert', collection: 'secrets', values: { service: 'one', password: 'hunter2-one' } })['record'] as { id: string }).id);
    const stored = b.raw('console:alice', (db) => (db.prepare('SELECT "password" FROM "c_secrets"').get() as Row)['password'] as string);
    const truncated = stored.slice(0, stored.lastIndexOf(':') + 1) + Buffer.from(stored.slice(stored.lastIndexOf(':') + 1), 'base64').subarray(0, 4).toString('base64');
    for (const bad of [truncated, 'enc:v1:not-really', `${stored}:extra`]) {
      b.raw('console:alice', (db) => db.prepare('UPDATE "c_secrets" SET "password" = ? WHERE "id" = ?').run(bad, id));
      assert.throws(() => b.with(sealedStorage, (_t, exec) => exec('console:alice', { op: 'find', collection: 'secrets' })), coded('BH_VAULT_SEALED_MALFORMED'), bad);
    }
    // Locked, nothing is opened, so nothing can fail: the value reads as the locked marker.
    b.vault.lock('console:alice');
    assert.deepEqual(records(b.with(sealedStorage, (_t, exec) => exec('console:alice', { op: 'find', collection: 'secrets' })))[0]?.['password'], { $sealed: 'locked' });
  } finally {
    b.cleanup();
  }
});

test('legacy plaintext: a field sealed after it held values reads them as they are, seals each on its next write, and a re-seal seals the rest', () => {
  const b = bench();
  try {
    const ids = b.with(plainStorage, (_t, exec) =>
      ['a', 'b', 'c'].map((service) => (exec('console:alice', { op: 'insert', collection: 'secrets', values: { service, password: `legacy-plain-${service}`, extra: { n: service } } })['record'] as { id: string }).id),
    );
    b.vault.install('console:alice', randomBytes(32));
    b.with(sealedStorage, (_t, exec) => {
      assert.deepEqual(records(exec('console:alice', { op: 'find', collection: 'secrets', orderBy: [{ field: 'service' }] })).map((r) => [r['password'], r['extra']]), [
        ['legacy-plain-a', { n: 'a' }],
        ['legacy-plain-b', { n: 'b' }],
        ['legacy-plain-c', { n: 'c' }],
      ]);
      exec('console:alice', { op: 'update', collection: 'secrets', where: { service: 'a' }, set: { password: 'rotated-a' } });
    });
    const raw = (): Row[] => b.raw('console:alice', (db) => db.prepare('SELECT * FROM "c_secrets" ORDER BY "service"').all() as Row[]);
    assert.match(raw()[0]?.['password'] as string, /^enc:v1:/, 'written: sealed');
    assert.equal(raw()[1]?.['password'], 'legacy-plain-b', 'not written yet: still as it was');
    b.with(sealedStorage, (t, exec) => {
      assert.equal(records(exec('console:alice', { op: 'find', collection: 'secrets', orderBy: [{ field: 'service' }] }))[0]?.['password'], 'rotated-a');
      const page = t.store.reseal(t.token('console:alice', 'safe'), 'safe', 'secrets', '', 100);
      assert.deepEqual(page, { next: null, resealed: 5, unreadable: 0 }, "b's and c's two values, and a's json value");
      assert.deepEqual(t.store.reseal(t.token('console:alice', 'safe'), 'safe', 'secrets', '', 100), { next: null, resealed: 0, unreadable: 0 }, 'running it again changes nothing');
      assert.deepEqual(records(exec('console:alice', { op: 'find', collection: 'secrets', orderBy: [{ field: 'service' }] })).map((r) => r['password']), ['rotated-a', 'legacy-plain-b', 'legacy-plain-c']);
    });
    assert.ok(raw().every((row) => /^enc:v1:/.test(row['password'] as string) && /^enc:v1:/.test(row['extra'] as string)));
    assert.ok(ids.length === 3);
    // Unsealing a sealed field would hand enc:v1: text to the plugin as if it were the value: refused.
    assert.throws(() => b.with(plainStorage, (_t, exec) => exec('console:alice', { op: 'count', collection: 'secrets' })), (e: unknown) => isBulkheadError(e, 'BH_STORE_DESTRUCTIVE_CHANGE') && /unseals/.test(e.message));
  } finally {
    b.cleanup();
  }
});
