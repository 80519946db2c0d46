// An export holds exactly the caller's data, matches schemas/export.v1.json, round-trips into a
// fresh store, and is produced page by page (a user with many records never sits in memory whole).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { fromRoot } from '../../host/core/paths.js';
import { consoleUser, openTestStore, startTestHost, tempDir } from '../helpers/fixtures.js';
import type { PluginManifest } from '../../host/manifest/manifest.js';

interface ExportDocument {
  format: string;
  account: { id: string; createdAt: string | null; identities: unknown[] };
  plugins: Record<string, { version: string; collections: Record<string, Record<string, unknown>[]> }>;
  audit: { kind: string; front: string; plugin?: string; op?: string }[];
}

function exportValidator(): (value: unknown) => boolean {
  const ajv = new Ajv2020({ strict: true });
  addFormats.default(ajv);
  for (const name of ['audit-line.v1.json', 'export.v1.json']) ajv.addSchema(JSON.parse(readFileSync(fromRoot('schemas', name), 'utf8')) as object);
  const validate = ajv.getSchema('https://bulkhead.local/schemas/export.v1.json');
  assert.ok(validate);
  return (value) => {
    const ok = validate(value) as boolean;
    if (!ok) assert.fail(ajv.errorsText(validate.errors));
    return ok;
  };
}

test('an export holds exactly its user\'s records and log (two users writing interleaved), matches its schema, and re-imports into a fresh store unchanged', async () => {
  const { dir, cleanup } = tempDir();
  const host = startTestHost({ dataDir: path.join(dir, 'host') });
  try {
    const alice = consoleUser('alice');
    const bob = consoleUser('bob');
    for (let i = 0; i < 12; i++) {
      await host.dispatcher.invoke(alice, 'notes', 'add', { text: `alice note ${i} "quoted" \u00e9\u{1F600}`, tags: [`t${i % 3}`] });
      await host.dispatcher.invoke(bob, 'notes', 'add', { text: `bob note ${i}` });
    }
    const listed = await host.dispatcher.invoke(alice, 'notes', 'list', {});
    const firstId = (listed.result as { notes: { id: string }[] }).notes[0]?.id as string;
    await host.dispatcher.invoke(alice, 'notes', 'delete', { id: firstId });

    let text = '';
    const summary = await host.account.exportTo(alice, (chunk) => {
      text += chunk;
    });
    const document = JSON.parse(text) as ExportDocument;
    exportValidator()(document);
    assert.equal(document.format, 'bulkhead-export');
    assert.equal(document.account.id, 'console:alice');
    assert.deepEqual(document.account.identities, [{ platform: 'console', name: 'alice' }]);
    const notes = document.plugins['notes']?.collections['notes'] ?? [];
    assert.equal(notes.length, 11);
    assert.equal(summary.records, 11);
    assert.ok(notes.every((n) => String(n['text']).startsWith('alice note')), 'only alice\'s notes');
    assert.equal(text.includes('bob note'), false, 'nothing of bob\'s');
    assert.ok(!notes.some((n) => n['id'] === firstId), 'a deleted note is not exported');
    // Her log: 12 adds, a list and a delete (a call line and a store line each), then the export itself.
    assert.equal(document.audit.length, 2 * 14 + 1);
    assert.ok(document.audit.every((line) => line.front === 'console'));
    assert.deepEqual(document.audit.at(-1), { ...document.audit.at(-1), kind: 'account', op: 'export' });

    // Round trip: into a fresh data directory with other keys, then read back record by record.
    const manifests: PluginManifest[] = [...host.catalog.plugins.values()].map((p) => p.manifest);
    const fresh = openTestStore({ dataDir: path.join(dir, 'fresh'), manifests });
    try {
      for (const [plugin, { collections }] of Object.entries(document.plugins)) {
        for (const [collection, records] of Object.entries(collections)) {
          fresh.store.importRecords(fresh.token('console:alice', plugin), plugin, collection, records);
          const back = fresh.store.execute(fresh.token('console:alice', plugin), plugin, { op: 'find', collection, orderBy: [{ field: 'id' }], limit: 1000 });
          assert.deepEqual('records' in back ? back.records : undefined, records, `${plugin}.${collection} round-trips`);
        }
      }
    } finally {
      fresh.close();
    }
  } finally {
    await host.shutdown();
    cleanup();
  }
});

test('an export of 20,000 records is streamed page by page: no chunk written holds more than one page (the memory figure for 100,000 is in npm run bench)', async () => {
  const { dir, cleanup } = tempDir();
  const master = randomBytes(32);
  const signing = randomBytes(32);
  const count = 20_000;
  try {
    // Seeded straight into the user's file (the full path would take minutes), with the host's keys.
    const host0 = startTestHost({ dataDir: dir, env: { BULKHEAD_MASTER_KEY: master.toString('hex'), BULKHEAD_SIGNING_KEY: signing.toString('hex') } });
    const manifests = [...host0.catalog.plugins.values()].map((p) => p.manifest);
    await host0.shutdown();
    const seeded = openTestStore({ dataDir: dir, master, signing, manifests });
    const records = Array.from({ length: count }, (_, i) => ({
      id: `n${String(i).padStart(6, '0')}`,
      createdAt: 1_700_000_000_000 + i,
      updatedAt: 1_700_000_000_000 + i,
      text: `seeded note ${i} ${'x'.repeat(200)}`,
      tags: '',
    }));
    seeded.store.importRecords(seeded.token('console:heidi', 'notes'), 'notes', 'notes', records);
    seeded.close();

    const host = startTestHost({ dataDir: dir, env: { BULKHEAD_MASTER_KEY: master.toString('hex'), BULKHEAD_SIGNING_KEY: signing.toString('hex') } });
    try {
      let largest = 0;
      let bytes = 0;
      let chunks = 0;
      let exported = 0;
      const summary = await host.account.exportTo(consoleUser('heidi'), (chunk) => {
        largest = Math.max(largest, chunk.length);
        bytes += chunk.length;
        chunks++;
        exported += (chunk.match(/"seeded note /g) ?? []).length;
      });
      assert.equal(summary.records, count);
      assert.equal(exported, count);
      assert.ok(bytes > 4_000_000, `the document is large (${bytes} bytes)`);
      // A page is 500 records of about 280 bytes.
      assert.ok(largest < 200_000, `no chunk holds more than a page (largest ${largest} bytes)`);
      assert.ok(chunks >= count / 500, `written in ${chunks} chunks`);
    } finally {
      await host.shutdown();
    }
  } finally {
    cleanup();
  }
});
