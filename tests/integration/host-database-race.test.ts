// A host database (the keyring, vault.db, ...) created by several threads at once, as every
// executor worker opens the keyring when a host starts on a fresh data directory: none of them may
// take the half-created file for someone else's (BH_STORE_FOREIGN_FILE), which killed a worker
// at start-up about once in six starts on two cores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fromRoot } from '../../host/core/paths.js';
import { openHostDatabase } from '../../host/sqlite/encrypted-database.js';
import { tempDir } from '../helpers/fixtures.js';

const applicationId = 0x42487478;
const schemaSql = 'CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY NOT NULL, v TEXT) STRICT';
const threads = 4;
const rounds = 30;

// Each thread waits for the others at a barrier, then opens the same file: the code of the error it
// got, or 'ok'.
const opener = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.module).then(({ openHostDatabase }) => {
  const gate = new Int32Array(workerData.gate);
  Atomics.add(gate, 0, 1);
  while (Atomics.load(gate, 0) < workerData.threads) Atomics.wait(gate, 1, 0, 1);
  try {
    openHostDatabase(workerData.file, Buffer.from(workerData.key), 'aegis', { applicationId: workerData.applicationId, schemaSql: workerData.schemaSql }).close();
    parentPort.postMessage('ok');
  } catch (error) {
    parentPort.postMessage(error.code ?? 'unknown');
  }
});
`;

function race(file: string, key: Buffer): Promise<string[]> {
  const gate = new SharedArrayBuffer(8);
  const module = fromRoot('dist', 'host', 'sqlite', 'encrypted-database.js');
  return Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<string>((resolve, reject) => {
          const worker = new Worker(opener, { eval: true, workerData: { module, gate, threads, file, key, applicationId, schemaSql } });
          worker.once('message', (outcome: string) => resolve(outcome));
          worker.once('error', reject);
        }),
    ),
  );
}

test('threads creating the same host database at once all open it, and it is whole afterwards', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const key = randomBytes(32);
    for (let round = 0; round < rounds; round++) {
      const file = path.join(dir, `race-${round}.db`);
      assert.deepEqual(await race(file, key), Array<string>(threads).fill('ok'), `round ${round}`);
      const db = openHostDatabase(file, key, 'aegis', { applicationId, schemaSql });
      try {
        assert.equal(db.pragma('application_id', { simple: true }), applicationId);
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        db.close();
      }
    }
  } finally {
    cleanup();
  }
});
