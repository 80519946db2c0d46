import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Database from '../../host/sqlite/sqlite-driver.js';
import path from 'node:path';
import { isBulkheadError, type ErrorCode } from '../../host/core/errors.js';
import { fileIdFor, fileKeyFor } from '../../host/keys/key-service.js';
import { openEncryptedDatabase } from '../../host/sqlite/encrypted-database.js';
import { openTestStore, tempDir, type TestStore } from '../helpers/fixtures.js';

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function userFile(t: TestStore, user: string, plugin: string): string {
  return path.join(t.dataDir, 'plugins', plugin, `${fileIdFor(t.keys.pluginKey(plugin), user)}.db`);
}

/** Writes a few hundred notes for a user and closes the store, so the file is checkpointed. */
function seed(dataDir: string, master: Buffer, signing: Buffer, users: string[]): void {
  const t = openTestStore({ dataDir, master, signing });
  for (const user of users) {
    const token = t.token(user, 'notes');
    for (let i = 0; i < 300; i++) t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: `${user} note ${i} ${'x'.repeat(100)}` } });
  }
  t.close();
}

/** Seeds the users' files, then runs `fn` on a freshly opened store over them. */
function withSeededStore(users: string[], fn: (t: TestStore) => void): void {
  const { dir, cleanup } = tempDir();
  const master = randomBytes(32);
  const signing = randomBytes(32);
  seed(dir, master, signing, users);
  const t = openTestStore({ dataDir: dir, master, signing });
  try {
    fn(t);
  } finally {
    t.close();
    cleanup();
  }
}

function refused(fn: () => unknown, codes: ErrorCode[]): void {
  assert.throws(fn, (e: unknown) => isBulkheadError(e) && codes.includes(e.code), `expected one of ${codes.join(', ')}`);
}

test('a file moved into another user\'s place does not open, and is not modified (attack: swapped files on disk)', () => {
  withSeededStore(['console:alice', 'console:bob'], (t) => {
  const alice = userFile(t, 'console:alice', 'notes');
  const bob = userFile(t, 'console:bob', 'notes');
  copyFileSync(alice, bob);
  const before = sha256(bob);
  refused(() => t.store.execute(t.token('console:bob', 'notes'), 'notes', { op: 'find', collection: 'notes' }), ['BH_STORE_KEY_MISMATCH']);
  assert.equal(sha256(bob), before, 'the file bytes are unchanged');
  assert.ok(!existsSync(`${bob}-wal`), 'no write-ahead log was started');
  // Alice's own file is unharmed.
  const own = t.store.execute(t.token('console:alice', 'notes'), 'notes', { op: 'count', collection: 'notes' });
  assert.deepEqual(own, { ok: true, count: 300 });
  });
});

test('opening a file with another user\'s key fails with BH_STORE_KEY_MISMATCH and writes nothing', () => {
  withSeededStore(['console:alice'], (t) => {
  const alice = userFile(t, 'console:alice', 'notes');
  const before = sha256(alice);
  refused(() => openEncryptedDatabase(alice, randomBytes(32), { cipher: 'aegis', cacheKiB: 256, create: false }), ['BH_STORE_KEY_MISMATCH']);
  refused(() => openEncryptedDatabase(alice, randomBytes(31), { cipher: 'aegis', cacheKiB: 256, create: false }), ['BH_STORE_KEY_LENGTH']);
  assert.equal(sha256(alice), before);
  });
});

test('a different master key cannot open existing files (keys are not guessable from the data directory)', () => {
  const { dir, cleanup } = tempDir();
  const signing = randomBytes(32);
  seed(dir, randomBytes(32), signing, ['console:alice']);
  // The keyring itself is encrypted under a key derived from the master key.
  refused(() => openTestStore({ dataDir: dir, master: randomBytes(32), signing }), ['BH_STORE_KEY_MISMATCH']);
  cleanup();
});

for (const where of ['first page', 'middle page', 'last page'] as const) {
  test(`one flipped bit in the ${where} gives a coded error and the file is not modified (attack: tampering with ciphertext)`, () => {
    withSeededStore(['console:alice'], (t) => {
    const file = userFile(t, 'console:alice', 'notes');
    const bytes = readFileSync(file);
    const pages = bytes.length / 4096;
    assert.ok(pages >= 4, 'the file spans several pages');
    const page = where === 'first page' ? 0 : where === 'middle page' ? Math.floor(pages / 2) : pages - 1;
    const offset = page * 4096 + 200;
    bytes[offset] = (bytes[offset] as number) ^ 0x10;
    writeFileSync(file, bytes);
    const before = sha256(file);
    const token = t.token('console:alice', 'notes');
    // Between them these reads touch every page: the table, the id index and the createdAt index.
    const reads: unknown[] = [
      { op: 'find', collection: 'notes', orderBy: [{ field: 'text' }], limit: 1000 },
      { op: 'find', collection: 'notes', orderBy: [{ field: 'createdAt' }], limit: 1000 },
      { op: 'find', collection: 'notes', orderBy: [{ field: 'id' }], limit: 1000 },
    ];
    const codes: string[] = [];
    for (const request of reads) {
      try {
        const result = t.store.execute(token, 'notes', request);
        assert.ok('records' in result && result.records.length === 300, 'a read that succeeds returns intact data');
      } catch (error) {
        assert.ok(isBulkheadError(error), 'only coded errors');
        codes.push(error.code);
      }
    }
    assert.ok(codes.length > 0, 'the damage is detected');
    assert.ok(codes.every((c) => c === 'BH_STORE_CORRUPT' || c === 'BH_STORE_KEY_MISMATCH'));
    assert.equal(sha256(file), before, 'the damaged file is left exactly as it was');
    });
  });
}

test('crypto-shredding: once its salt is deleted, a copy of the file can never be opened again', () => {
  withSeededStore(['console:alice'], (t) => {
  const file = userFile(t, 'console:alice', 'notes');
  const backup = `${file}.backup`;
  copyFileSync(file, backup);
  const token = t.token('console:alice', 'notes');
  t.store.shred(token, 'notes');
  assert.ok(!existsSync(file), 'the live file is gone');
  // Restore the old copy, as from a backup of the data directory without the keyring.
  copyFileSync(backup, file);
  refused(() => t.store.execute(token, 'notes', { op: 'count', collection: 'notes' }), ['BH_STORE_SHREDDED']);
  assert.equal(sha256(file), sha256(backup));
  });
});

test('a plaintext SQLite file planted in a user\'s place is refused, not adopted (attack: planting a file)', () => {
  withSeededStore(['console:alice'], (t) => {
  const file = userFile(t, 'console:alice', 'notes');
  const planted = new Database(`${file}.plain`);
  planted.exec('CREATE TABLE "c_notes" ("id" TEXT); INSERT INTO "c_notes" VALUES (\'planted\')');
  planted.close();
  copyFileSync(`${file}.plain`, file);
  const before = sha256(file);
  refused(() => t.store.execute(t.token('console:alice', 'notes'), 'notes', { op: 'find', collection: 'notes' }), ['BH_STORE_KEY_MISMATCH']);
  assert.equal(sha256(file), before);
  });
});

test('an empty file left by a power cut during creation (its keyring entry not yet marked created) is initialised on the next open', () => {
  const { dir, cleanup } = tempDir();
  const master = randomBytes(32);
  const signing = randomBytes(32);
  const first = openTestStore({ dataDir: dir, master, signing });
  const file = userFile(first, 'console:alice', 'notes');
  // What the store leaves when the power goes between recording the salt and completing the file.
  first.keyring.saltOrCreate('notes', fileIdFor(first.keys.pluginKey('notes'), 'console:alice'));
  first.close();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.alloc(0));
  const t = openTestStore({ dataDir: dir, master, signing });
  try {
    const token = t.token('console:alice', 'notes');
    t.store.execute(token, 'notes', { op: 'insert', collection: 'notes', values: { text: 'after the power cut' } });
    assert.deepEqual(t.store.execute(token, 'notes', { op: 'count', collection: 'notes' }), { ok: true, count: 1 });
  } finally {
    t.close();
    cleanup();
  }
});

test('a user file that was deleted or emptied is reported missing or truncated, never silently recreated empty (attack: losing a user\'s data)', () => {
  withSeededStore(['console:alice', 'console:bob'], (t) => {
    const alice = userFile(t, 'console:alice', 'notes');
    const bob = userFile(t, 'console:bob', 'notes');
    for (const suffix of ['', '-wal', '-shm']) rmSync(alice + suffix, { force: true });
    writeFileSync(bob, Buffer.alloc(0));
    refused(() => t.store.execute(t.token('console:alice', 'notes'), 'notes', { op: 'count', collection: 'notes' }), ['BH_STORE_FILE_MISSING']);
    refused(() => t.store.execute(t.token('console:alice', 'notes'), 'notes', { op: 'insert', collection: 'notes', values: { text: 'new' } }), ['BH_STORE_FILE_MISSING']);
    assert.equal(existsSync(alice), false, 'nothing was created in its place');
    refused(() => t.store.execute(t.token('console:bob', 'notes'), 'notes', { op: 'insert', collection: 'notes', values: { text: 'new' } }), ['BH_STORE_FILE_TRUNCATED']);
    assert.equal(readFileSync(bob).length, 0, 'the empty file is left as it is');
  });
});

test('a file that decrypts but was not made by Bulkhead is refused with BH_STORE_FOREIGN_FILE and left alone', () => {
  withSeededStore([], (t) => {
    const file = userFile(t, 'console:mallory', 'notes');
    const fileId = path.basename(file, '.db');
    mkdirSync(path.dirname(file), { recursive: true });
    // Someone holding the keys writes a file of their own making in the user's place.
    const key = fileKeyFor(t.keys.pluginKey('notes'), fileId, t.keyring.saltOrCreate('notes', fileId));
    const foreign = openEncryptedDatabase(file, key, { cipher: 'aegis', cacheKiB: 256, create: true });
    foreign.exec('CREATE TABLE "c_notes" ("id" TEXT)');
    foreign.close();
    const before = sha256(file);
    refused(() => t.store.execute(t.token('console:mallory', 'notes'), 'notes', { op: 'count', collection: 'notes' }), ['BH_STORE_FOREIGN_FILE']);
    assert.equal(sha256(file), before);
  });
});
