// What one query may make the host do and hold is bounded where the query runs: rows examined,
// the call's deadline and the answer's size are checked inside SQLite for every row (the worker
// running it can never be terminated there), each file has a quota, and values have a size and
// depth limit at write. Each test names the attack it stops.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isBulkheadError, type ErrorCode } from '../../host/core/errors.js';
import { fileIdFor } from '../../host/keys/key-service.js';
import { queryLimits } from '../../host/store/query-compiler.js';
import { withTestStore, type TestStore } from '../helpers/fixtures.js';

function refusedWith(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (error: unknown) => isBulkheadError(error, code), `expected ${code}`);
}

function fill(t: TestStore, user: string, count: number, text = 'a note'): void {
  const token = t.token(user, 'notes');
  for (let i = 0; i < count; i++) t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: `${text} ${i}`, priority: i } });
}

test('a scan over more rows than the query budget allows is stopped with BH_QUERY_BUDGET_EXCEEDED (find, count, update, delete)', () => {
  withTestStore(
    (t) => {
      fill(t, 'console:alice', 150);
      const token = t.token('console:alice', 'notes');
      // Unindexed conditions make SQLite examine every row.
      for (const request of [
        { op: 'find', collection: 'notes', where: { text: { like: '%zzz%' } } },
        { op: 'count', collection: 'notes', where: { priority: { gt: -1 } } },
        { op: 'update', collection: 'notes', where: { priority: { gte: 0 } }, set: { text: 'changed' } },
        { op: 'delete', collection: 'notes', where: { text: { like: '%note%' } } },
      ]) {
        refusedWith(() => t.store.execute(token, 'notes', request), 'BH_QUERY_BUDGET_EXCEEDED');
      }
      // Stopped statements are rolled back: nothing was changed or deleted.
      const all = t.store.execute(token, 'notes', { op: 'find', collection: 'notes', limit: 100 }) as unknown as { records: { text: string }[] };
      assert.equal(all.records.length, 100);
      assert.ok(all.records.every((r) => r.text.startsWith('a note')));
      assert.deepEqual(t.store.execute(token, 'notes', { op: 'count', collection: 'notes' }), { ok: true, count: 150 });
    },
    { store: { maxRowsExamined: 120 } },
  );
});

test('a query that runs into the call deadline is stopped inside SQLite, not left running', () => {
  withTestStore((t) => {
    fill(t, 'console:alice', 50);
    const token = t.token('console:alice', 'notes');
    const past = { deadline: Date.now() - 1, maxAnswerBytes: Number.POSITIVE_INFINITY };
    refusedWith(() => t.store.execute(token, 'notes', { op: 'find', collection: 'notes' }, past), 'BH_QUERY_BUDGET_EXCEEDED');
    refusedWith(() => t.store.executeJson(token, 'notes', { op: 'update', collection: 'notes', where: {}, set: { priority: 1 } }, past), 'BH_QUERY_BUDGET_EXCEEDED');
    // The file is not held or damaged: the next query with time left works.
    assert.deepEqual(t.store.execute(token, 'notes', { op: 'count', collection: 'notes', where: { priority: 1 } }), { ok: true, count: 1 });
  });
});

test('hoarding: an answer larger than what is left of the memory budget is refused before it is built', () => {
  withTestStore((t) => {
    const token = t.token('console:alice', 'notes');
    fill(t, 'console:alice', 20, 'x'.repeat(1000));
    const budget = (bytes: number) => ({ deadline: Date.now() + 10_000, maxAnswerBytes: bytes });
    refusedWith(() => t.store.executeJson(token, 'notes', { op: 'find', collection: 'notes', limit: 20 }, budget(5000)), 'BH_HOST_ANSWER_TOO_LARGE');
    const fits = JSON.parse(t.store.executeJson(token, 'notes', { op: 'find', collection: 'notes', limit: 3 }, budget(5000))) as { records: unknown[] };
    assert.equal(fits.records.length, 3);
  });
});

test('disk filling: a file stops growing at its quota with BH_STORE_QUOTA_EXCEEDED, and what was written stays readable', () => {
  withTestStore(
    (t) => {
      const token = t.token('console:alice', 'notes');
      const big = 'y'.repeat(60_000);
      let written = 0;
      let refusal: unknown;
      for (let i = 0; i < 100 && !refusal; i++) {
        try {
          t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: big } });
          written++;
        } catch (error) {
          refusal = error;
        }
      }
      assert.ok(isBulkheadError(refusal, 'BH_STORE_QUOTA_EXCEEDED'), 'the quota stops the writes');
      assert.match((refusal as Error).message, /1 MiB/);
      assert.ok(written > 5 && written < 20, `${written} notes fit in 1 MiB`);
      const fileId = fileIdFor(t.keys.pluginKey('notes'), 'console:alice');
      assert.ok(statSync(path.join(t.dataDir, 'plugins', 'notes', `${fileId}.db`)).size <= 1048576);
      assert.deepEqual(t.store.execute(token, 'notes', { op: 'count', collection: 'notes' }), { ok: true, count: written });
    },
    { store: { pluginQuotaMiB: () => 1 } },
  );
});

test('oversized and overdeep values are refused at write, so they can never break a later read', () => {
  withTestStore((t) => {
    const token = t.token('console:alice', 'notes');
    const insert = (values: Record<string, unknown>) => () => t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: 'n', ...values } });
    refusedWith(insert({ text: 'é'.repeat(queryLimits.maxValueBytes / 2 + 1) }), 'BH_QUERY_VALUE_TOO_LARGE');
    refusedWith(insert({ tags: 'z'.repeat(queryLimits.maxValueBytes) }), 'BH_QUERY_VALUE_TOO_LARGE');
    let deep: unknown = 1;
    for (let i = 0; i < queryLimits.maxJsonDepth + 1; i++) deep = [deep];
    refusedWith(insert({ tags: deep }), 'BH_QUERY_TOO_COMPLEX');
    // 10,000 levels: JSON.parse builds it without trouble; the write must refuse it, not overflow the stack.
    refusedWith(insert({ tags: JSON.parse(`${'['.repeat(10_000)}${']'.repeat(10_000)}`) }), 'BH_QUERY_TOO_COMPLEX');
    let ok: unknown = 1;
    for (let i = 0; i < queryLimits.maxJsonDepth - 1; i++) ok = { a: ok };
    insert({ tags: ok })();
    refusedWith(
      () => t.store.execute(token, 'notes', { op: 'update', collection: 'notes', where: {}, set: { text: 'w'.repeat(queryLimits.maxValueBytes + 1) } }),
      'BH_QUERY_VALUE_TOO_LARGE',
    );
    refusedWith(() => t.store.execute(token, 'notes', { op: 'find', collection: 'notes', where: { text: { like: `%${'a'.repeat(queryLimits.maxLikeLength)}` } } }), 'BH_QUERY_INVALID');
    const found = JSON.parse(t.store.executeJson(token, 'notes', { op: 'find', collection: 'notes' })) as { records: unknown[] };
    assert.equal(found.records.length, 1);
  });
});
