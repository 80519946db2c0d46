import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isBulkheadError } from '../../host/core/errors.js';
import { IdentityDirectory } from '../../host/identity/directory.js';
import { tempDir } from '../helpers/fixtures.js';

/** A fresh directory file in a temporary folder; closed and removed afterwards. */
function withDirectory(fn: (directory: IdentityDirectory, file: string, key: Buffer) => void): void {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'identities.db');
  const key = randomBytes(32);
  const directory = new IdentityDirectory(file, key, 'aegis');
  try {
    fn(directory, file, key);
  } finally {
    directory.close();
    cleanup();
  }
}

test('a verified Slack identity gets one stable globalUserId, created on first contact and kept across restarts', () => {
  withDirectory((directory, file, key) => {
    assert.equal(existsSync(file), false, 'nothing is created before the first lookup');
    const alice = directory.resolve('slack', 'T0001', 'U0001');
    assert.match(alice, /^u_[A-Za-z0-9_-]{22}$/);
    assert.equal(directory.resolve('slack', 'T0001', 'U0001'), alice);
    directory.close();
    const again = new IdentityDirectory(file, key, 'aegis');
    assert.equal(again.resolve('slack', 'T0001', 'U0001'), alice, 'same id after a restart');
    again.close();
  });
});

test('swapped ids: the same user id in another workspace, or another user in the same one, is someone else', () => {
  withDirectory((directory) => {
    const ids = [directory.resolve('slack', 'T0001', 'U0001'), directory.resolve('slack', 'T0002', 'U0001'), directory.resolve('slack', 'T0001', 'U0002')];
    assert.equal(new Set(ids).size, 3);
  });
});

test('the directory file is encrypted: no platform id or globalUserId is readable on disk, and a wrong key is refused', () => {
  withDirectory((directory, file) => {
    const id = directory.resolve('slack', 'TMARKERTEAM', 'UMARKERUSER');
    directory.close();
    const dir = path.dirname(file);
    for (const name of readdirSync(dir)) {
      const bytes = readFileSync(path.join(dir, name));
      for (const marker of ['TMARKERTEAM', 'UMARKERUSER', id]) assert.equal(bytes.includes(Buffer.from(marker)), false, `${marker} in ${name}`);
    }
    const wrongKey = new IdentityDirectory(file, randomBytes(32), 'aegis');
    assert.throws(() => wrongKey.resolve('slack', 'T0001', 'U0001'), (e) => isBulkheadError(e) && e.code === 'BH_STORE_KEY_MISMATCH');
  });
});

test('malformed platform ids are refused before touching the directory (injection through a forged payload)', () => {
  withDirectory((directory, file) => {
    for (const [team, user] of [["T1' OR 1=1 --", 'U1'], ['T1', ''], ['T1', 'u1'], ['T1', 'U'.repeat(33)]] as const) {
      assert.throws(() => directory.resolve('slack', team, user), (e) => isBulkheadError(e) && e.code === 'BH_IDENTITY_INVALID');
    }
    assert.equal(existsSync(file), false);
  });
});
