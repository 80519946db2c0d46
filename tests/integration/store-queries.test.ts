import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { isBulkheadError } from '../../host/core/errors.js';
import { openEncryptedDatabase } from '../../host/sqlite/encrypted-database.js';
import { openTestStore, tempDir, withTestStore, type TestStore } from '../helpers/fixtures.js';

function withStore(fn: (t: TestStore, token: string) => void, options: { maxOpenFiles?: number; now?: () => number } = {}): void {
  withTestStore((t) => fn(t, t.token('console:alice', 'notes')), options);
}

const records = (result: unknown): Record<string, unknown>[] => {
  assert.ok(result && typeof result === 'object' && 'records' in result);
  return (result as { records: Record<string, unknown>[] }).records;
};

test('insert returns the stored record with host-made id and timestamps, typed as declared', () => {
  let clock = 1_000;
  withStore(
    (t, token) => {
      const inserted = t.store.execute(token, 'notes', {
        op: 'insert',
        collection: 'notes',
        values: { text: 'héllo wörld ✓', tags: { nested: [1, 'two', null] }, priority: 3, score: 2.5, dueAt: 1_800_000_000_000 },
      });
      assert.ok('record' in inserted);
      const { record } = inserted;
      assert.match(record['id'] as string, /^[0-9a-f-]{36}$/);
      assert.equal(record['createdAt'], 1_000);
      assert.equal(record['pinned'], false, 'default applied');
      const [found] = records(t.store.execute(token, 'notes', { op: 'find', collection: 'notes', where: { id: record['id'] as string } }));
      assert.deepEqual(found, record, 'what find returns equals what insert returned');
      clock = 2_000;
      t.store.execute(token, 'notes', { op: 'update', collection: 'notes', where: { id: record['id'] as string }, set: { pinned: true } });
      const [updated] = records(t.store.execute(token, 'notes', { op: 'find', collection: 'notes' }));
      assert.equal(updated?.['pinned'], true);
      assert.equal(updated?.['updatedAt'], 2_000);
      assert.equal(updated?.['createdAt'], 1_000);
    },
    { now: () => clock },
  );
});

test('find filters, orders, limits and offsets like the query says', () => {
  withStore((t, token) => {
    for (let i = 0; i < 30; i++) {
      t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: `note ${i}`, priority: i % 5, pinned: i % 2 === 0 } });
    }
    const high = records(t.store.execute(token, 'notes', { op: 'find', collection: 'notes', where: { priority: { gte: 3 } }, orderBy: [{ field: 'priority', direction: 'desc' }, { field: 'text' }] }));
    assert.equal(high.length, 12);
    assert.equal(high[0]?.['priority'], 4);
    assert.ok(high.every((r) => (r['priority'] as number) >= 3));
    const page = records(t.store.execute(token, 'notes', { op: 'find', collection: 'notes', orderBy: [{ field: 'priority' }, { field: 'text' }], limit: 5, offset: 5 }));
    assert.deepEqual(page.map((r) => r['text']), ['note 5', 'note 1', 'note 11', 'note 16', 'note 21']);
    assert.deepEqual(t.store.execute(token, 'notes', { op: 'count', collection: 'notes', where: { or: [{ priority: 0 }, { text: { like: 'note 2_' } }] } }), { ok: true, count: 14 });
    assert.deepEqual(t.store.execute(token, 'notes', { op: 'count', collection: 'notes', where: { pinned: true, priority: { in: [0, 1] } } }), { ok: true, count: 6 });
    assert.deepEqual(t.store.execute(token, 'notes', { op: 'count', collection: 'notes', where: { text: { ne: 'note 1' } } }), { ok: true, count: 29 });
    assert.equal(records(t.store.execute(token, 'notes', { op: 'find', collection: 'notes' })).length, 30, 'default limit is above 30');
    assert.deepEqual(t.store.execute(token, 'notes', { op: 'delete', collection: 'notes', where: { priority: 0 } }), { ok: true, count: 6 });
    assert.deepEqual(t.store.execute(token, 'notes', { op: 'count', collection: 'notes' }), { ok: true, count: 24 });
  });
});

test('a failed write leaves the file as it was: a unique violation in a multi-row update changes no row', () => {
  const { dir, cleanup } = tempDir();
  const t = openTestStore({ dataDir: dir });
  try {
    const token = t.token('console:alice', 'tasks');
    for (const slug of ['a', 'b', 'c']) t.store.execute(token, 'tasks', { op: 'insert', collection: 'tasks', values: { title: slug, slug } });
    const before = t.store.execute(token, 'tasks', { op: 'find', collection: 'tasks', orderBy: [{ field: 'slug' }] });
    assert.throws(
      () => t.store.execute(token, 'tasks', { op: 'insert', collection: 'tasks', values: { title: 'dup', slug: 'a' } }),
      (e: unknown) => isBulkheadError(e, 'BH_STORE_UNIQUE_VIOLATION') && !e.message.includes("'a'"),
    );
    // Updating every slug to the same value fails on the second row: the first must roll back too.
    assert.throws(
      () => t.store.execute(token, 'tasks', { op: 'update', collection: 'tasks', where: {}, set: { slug: 'same', title: 'changed' } }),
      (e: unknown) => isBulkheadError(e, 'BH_STORE_UNIQUE_VIOLATION'),
    );
    assert.deepEqual(t.store.execute(token, 'tasks', { op: 'find', collection: 'tasks', orderBy: [{ field: 'slug' }] }), before);
    // The file stays open and usable after a refused write.
    assert.deepEqual(t.store.execute(token, 'tasks', { op: 'count', collection: 'tasks' }), { ok: true, count: 3 });
  } finally {
    t.close();
    cleanup();
  }
});

test('respond() wraps results and coded errors in the query.v1 response envelope', () => {
  withStore((t, token) => {
    assert.deepEqual(t.store.respond(token, 'notes', { op: 'count', collection: 'notes' }), { ok: true, count: 0 });
    const refused = t.store.respond(token, 'notes', { op: 'find', collection: 'nope' });
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.error.code === 'BH_QUERY_UNKNOWN_COLLECTION' && refused.error.message.includes('notes'));
  });
});

test('open files never exceed the configured cap, and evicted files reopen with their data', () => {
  withStore(
    (t) => {
      for (let u = 0; u < 20; u++) {
        const token = t.token(`console:user${u}`, 'notes');
        t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: `user ${u}` } });
        assert.ok(t.store.openFiles <= 4);
      }
      for (let u = 0; u < 20; u++) {
        const [only] = records(t.store.execute(t.token(`console:user${u}`, 'notes'), 'notes', { op: 'find', collection: 'notes' }));
        assert.equal(only?.['text'], `user ${u}`);
      }
      assert.equal(t.store.openFiles, 4);
    },
    { maxOpenFiles: 4 },
  );
});

test('a plugin without a storage section gets BH_STORE_NO_STORAGE and no file', () => {
  withStore((t) => {
    assert.throws(
      () => t.store.execute(t.token('console:alice', 'unknown-plugin'), 'unknown-plugin', { op: 'count', collection: 'x' }),
      (e: unknown) => isBulkheadError(e, 'BH_STORE_NO_STORAGE'),
    );
  });
});

test('after close, requests fail with BH_STORE_CLOSED', () => {
  const { dir, cleanup } = tempDir();
  const t = openTestStore({ dataDir: dir });
  const token = t.token('console:alice', 'notes');
  t.close();
  assert.throws(() => t.store.execute(token, 'notes', { op: 'count', collection: 'notes' }), (e: unknown) => isBulkheadError(e, 'BH_STORE_CLOSED'));
  cleanup();
});

test('a second host on the same data directory cannot open a file the first one holds (BH_STORE_BUSY), and nothing is written', () => {
  const { dir, cleanup } = tempDir();
  const master = Buffer.alloc(32, 7);
  const signing = Buffer.alloc(32, 9);
  const first = openTestStore({ dataDir: dir, master, signing });
  const second = openTestStore({ dataDir: dir, master, signing });
  try {
    first.store.execute(first.token('console:alice', 'notes'), 'notes', { op: 'insert', collection: 'notes', values: { text: 'one' } });
    assert.throws(
      () => second.store.execute(second.token('console:alice', 'notes'), 'notes', { op: 'insert', collection: 'notes', values: { text: 'two' } }),
      (e: unknown) => isBulkheadError(e, 'BH_STORE_BUSY'),
    );
    // Other users are unaffected, and once the first host lets go the second one can serve alice.
    assert.deepEqual(second.store.execute(second.token('console:bob', 'notes'), 'notes', { op: 'count', collection: 'notes' }), { ok: true, count: 0 });
    first.close();
    assert.deepEqual(second.store.execute(second.token('console:alice', 'notes'), 'notes', { op: 'count', collection: 'notes' }), { ok: true, count: 1 });
  } finally {
    first.close();
    second.close();
    cleanup();
  }
});

test('a refused query creates no file for the user', () => {
  withStore((t, token) => {
    assert.throws(() => t.store.execute(token, 'notes', { op: 'find', collection: 'missing' }), (e: unknown) => isBulkheadError(e, 'BH_QUERY_UNKNOWN_COLLECTION'));
    assert.equal(t.store.openFiles, 0);
    assert.ok(!existsSync(path.join(t.dataDir, 'plugins', 'notes')) || readdirSync(path.join(t.dataDir, 'plugins', 'notes')).length === 0);
  });
});

test('a keyring held by another writer gives BH_STORE_BUSY for a new user, and no file is left behind', () => {
  withTestStore((t) => {
    const other = openEncryptedDatabase(path.join(t.dataDir, 'keyring.db'), t.keys.keyringKey(), { cipher: 'aegis', cacheKiB: 256, create: false });
    try {
      other.exec('BEGIN IMMEDIATE');
      assert.throws(
        () => t.store.execute(t.token('console:newcomer', 'notes'), 'notes', { op: 'count', collection: 'notes' }),
        (e: unknown) => isBulkheadError(e, 'BH_STORE_BUSY'),
      );
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    assert.ok(!existsSync(path.join(t.dataDir, 'plugins', 'notes')) || readdirSync(path.join(t.dataDir, 'plugins', 'notes')).length === 0);
    assert.deepEqual(t.store.execute(t.token('console:newcomer', 'notes'), 'notes', { op: 'count', collection: 'notes' }), { ok: true, count: 0 });
  });
});

test('executeJson answers exactly what execute answers, for every field type, order, page and error', () => {
  withStore((t, token) => {
    const values = [
      { text: 'plain', priority: 1, score: 2.5, pinned: true, tags: ['a', { b: [1, null, 'ü'] }], dueAt: 1_800_000_000_000 },
      { text: 'quote " backslash \\ newline \n tab \t 🌍 日本', priority: -7, score: 1, pinned: false, tags: null },
      { text: 'nulls' },
      { text: 'big', priority: Number.MAX_SAFE_INTEGER, score: -1.25e-300, tags: { deep: { er: [[[]]] } } },
      { text: 'json scalars', tags: 'just a string' },
      { text: 'json number', tags: 42.5 },
    ];
    for (const v of values) t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: v });
    const requests: unknown[] = [
      { op: 'find', collection: 'notes' },
      { op: 'find', collection: 'notes', orderBy: [{ field: 'priority', direction: 'desc' }, { field: 'text' }] },
      { op: 'find', collection: 'notes', orderBy: [{ field: 'text', direction: 'desc' }], limit: 2, offset: 1 },
      { op: 'find', collection: 'notes', where: { pinned: true } },
      { op: 'find', collection: 'notes', where: { text: 'nothing like this' } },
      { op: 'count', collection: 'notes', where: { pinned: false } },
    ];
    for (const request of requests) {
      assert.deepEqual(JSON.parse(t.store.executeJson(token, 'notes', request)), t.store.execute(token, 'notes', request), JSON.stringify(request));
    }
    const update = { op: 'update', collection: 'notes', where: { text: 'nulls' }, set: { priority: 5 } };
    assert.deepEqual(JSON.parse(t.store.executeJson(token, 'notes', update)), { ok: true, count: 1 });
    assert.deepEqual(JSON.parse(t.store.executeJson(token, 'notes', { op: 'delete', collection: 'notes', where: { text: 'json number' } })), { ok: true, count: 1 });
    const inserted = JSON.parse(t.store.executeJson(token, 'notes', { op: 'insert', collection: 'notes', values: { text: 'via json', pinned: true } })) as { ok: boolean; record: Record<string, unknown> };
    assert.deepEqual(records(t.store.execute(token, 'notes', { op: 'find', collection: 'notes', where: { id: inserted.record['id'] as string } })), [inserted.record]);
    const after = t.store.execute(token, 'notes', { op: 'find', collection: 'notes', orderBy: [{ field: 'text' }] });
    assert.deepEqual(JSON.parse(t.store.executeJson(token, 'notes', { op: 'find', collection: 'notes', orderBy: [{ field: 'text' }] })), after);
    assert.equal(records(after).length, 6);
    assert.throws(() => t.store.executeJson(token, 'notes', { op: 'find', collection: 'secrets' }), (e) => isBulkheadError(e) && e.code === 'BH_QUERY_UNKNOWN_COLLECTION');
  });
});
