import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { isBulkheadError } from '../../host/core/errors.js';
import { openEncryptedDatabase } from '../../host/sqlite/encrypted-database.js';
import { tempDir, withTestStore } from '../helpers/fixtures.js';

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => statSync(f).isFile());
}

/** Files whose bytes contain the marker in UTF-8 or UTF-16. */
function filesContaining(files: string[], marker: string): string[] {
  const needles = [Buffer.from(marker, 'utf8'), Buffer.from(marker, 'utf16le')];
  return files.filter((f) => {
    const bytes = readFileSync(f);
    return needles.some((n) => bytes.includes(n));
  });
}

test('two users x two plugins give four encrypted files, with no plaintext and no user id anywhere on disk', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const dataDir = path.join(dir, 'data');
    const sqliteTmp = path.join(dir, 'sqlite-tmp');
    mkdirSync(sqliteTmp);
    const marker = `PLAINTEXT-${randomBytes(6).toString('hex')}`;
    const master = randomBytes(32).toString('hex');
    const signing = randomBytes(32).toString('hex');
    const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'store-writer.js');
    const child = spawn(process.execPath, [writer, dataDir, marker], {
      env: { ...process.env, SQLITE_TMPDIR: sqliteTmp, TMPDIR: sqliteTmp, TEST_MASTER_KEY: master, TEST_SIGNING_KEY: signing },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    while (!output.includes('written')) {
      if (child.exitCode !== null) assert.fail('writer exited early');
      await new Promise((r) => setTimeout(r, 20));
    }

    // The scanner itself works: it finds the marker in a plaintext control file.
    const control = path.join(dir, 'control.txt');
    writeFileSync(control, `xx${marker}xx`);
    assert.deepEqual(filesContaining([control], marker), [control]);

    const openFiles = [...listFiles(dataDir), ...listFiles(sqliteTmp)];
    assert.ok(openFiles.some((f) => f.endsWith('-wal')), 'the scan covers the write-ahead logs');
    assert.deepEqual(filesContaining(openFiles, marker), [], 'no plaintext while the files are open');

    child.stdin.write('close\n');
    await once(child, 'exit');
    const files = [...listFiles(dataDir), ...listFiles(sqliteTmp)];
    assert.deepEqual(filesContaining(files, marker), [], 'no plaintext after closing');

    const userFiles = files.filter((f) => f.endsWith('.db') && !f.endsWith('keyring.db'));
    assert.equal(userFiles.length, 4, 'one file per user per plugin');
    assert.deepEqual(
      userFiles.map((f) => path.basename(path.dirname(f))).sort(),
      ['notes', 'notes', 'tasks', 'tasks'],
    );
    for (const f of files) {
      for (const id of ['alice', 'bob', 'console']) assert.ok(!f.includes(id), 'no user id in any file or folder name');
    }
    assert.deepEqual(filesContaining(files, 'console:alice'), [], 'user ids are not stored in plaintext either');
    for (const f of userFiles) assert.equal(statSync(f).mode & 0o077, 0, 'user files are private to the host user');
  } finally {
    cleanup();
  }
});

test('each user sees only their own records, whatever the request says', () => {
  withTestStore((t) => {
  const alice = t.token('console:alice', 'notes');
  const bob = t.token('console:bob', 'notes');
  const a = t.store.execute(alice, 'notes', { op: 'insert', collection: 'notes', values: { text: 'alice secret' } });
  t.store.execute(bob, 'notes', { op: 'insert', collection: 'notes', values: { text: 'bob secret' } });
  assert.ok('record' in a);
  const aliceId = a.record['id'] as string;

  // Bob knows Alice's record id and tries every way the language offers to reach it.
  const attempts: unknown[] = [
    { op: 'find', collection: 'notes', where: { id: aliceId } },
    { op: 'find', collection: 'notes', where: { text: { like: '%alice%' } } },
    { op: 'find', collection: 'notes', where: { or: [{ id: aliceId }, { id: { ne: null } }] } },
    { op: 'count', collection: 'notes', where: { id: { in: [aliceId] } } },
  ];
  for (const request of attempts) {
    const result = t.store.execute(bob, 'notes', request);
    if ('records' in result) assert.ok(result.records.every((r) => r['text'] === 'bob secret'));
    if ('count' in result) assert.equal(result.count, 0);
  }
  assert.deepEqual(t.store.execute(bob, 'notes', { op: 'update', collection: 'notes', where: { id: aliceId }, set: { text: 'pwned' } }), { ok: true, count: 0 });
  assert.deepEqual(t.store.execute(bob, 'notes', { op: 'delete', collection: 'notes', where: { id: aliceId } }), { ok: true, count: 0 });
  const aliceView = t.store.execute(alice, 'notes', { op: 'find', collection: 'notes' });
  assert.ok('records' in aliceView);
  assert.deepEqual(aliceView.records.map((r) => r['text']), ['alice secret']);

  // A user id in the request body is just an unknown field; the token decides whose file opens.
  assert.throws(
    () => t.store.execute(bob, 'notes', { op: 'find', collection: 'notes', where: { userId: 'console:alice' } }),
    (e: unknown) => isBulkheadError(e, 'BH_QUERY_UNKNOWN_FIELD'),
  );
  });
});

test('a token for one plugin cannot open that user\'s file of another plugin (attack: swapped plugin id)', () => {
  withTestStore((t) => {
  const notesToken = t.token('console:alice', 'notes');
  assert.throws(
    () => t.store.execute(notesToken, 'tasks', { op: 'find', collection: 'tasks' }),
    (e: unknown) => isBulkheadError(e, 'BH_TOKEN_WRONG_PLUGIN'),
  );
  assert.throws(
    () => t.store.execute('v1.forged.token', 'notes', { op: 'find', collection: 'notes' }),
    (e: unknown) => isBulkheadError(e) && e.code.startsWith('BH_TOKEN_'),
  );
  assert.deepEqual(readdirSync(t.dataDir).filter((f) => f !== 'keyring.db' && !f.startsWith('keyring.db-')), [], 'no file was created');
  });
});

test('the same user id under two plugins gives unrelated file names (derived per plugin)', () => {
  withTestStore((t) => {
  t.store.execute(t.token('console:alice', 'notes'), 'notes', { op: 'count', collection: 'notes' });
  t.store.execute(t.token('console:alice', 'tasks'), 'tasks', { op: 'count', collection: 'tasks' });
  const names = listFiles(t.dataDir).filter((f) => f.endsWith('.db') && !f.endsWith('keyring.db')).map((f) => path.basename(f));
  assert.equal(names.length, 2);
  assert.notEqual(names[0], names[1]);
  for (const n of names) assert.match(n, /^[0-9a-f]{64}\.db$/);
  });
});

test('every encrypted connection keeps SQLite temporary storage in memory (spilled sorts never reach disk)', () => {
  // SQLite unlinks a temp file as soon as it opens it, so no directory scan can see one: assert the
  // setting on the function every store and keyring connection is opened with.
  const { dir, cleanup } = tempDir();
  try {
    const db = openEncryptedDatabase(path.join(dir, 'probe.db'), randomBytes(32), { cipher: 'aegis', cacheKiB: 64, create: true });
    assert.equal(db.pragma('temp_store', { simple: true }), 2, 'temp_store=MEMORY');
    assert.equal(db.pragma('cipher', { simple: true }), 'aegis', 'the cipher is named, not left to the default');
    db.close();
  } finally {
    cleanup();
  }
});
