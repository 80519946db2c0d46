// The vault keys a worker holds (host/vault/vault-keys.ts): used keys stay, idle ones are wiped,
// a lock wipes at once, and a wiped key is zeroed in memory, not just forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openPendingKey, sealPendingKey, VaultKeys, verifierMatches, verifierOf } from '../../host/vault/vault-keys.js';

const zeroed = (key: Buffer): boolean => key.every((byte) => byte === 0);

test('keys are wiped (zeroed) after the idle time; using them counts as activity, looking at the status does not', () => {
  let now = 0;
  const keys = new VaultKeys(15 * 60_000, () => now);
  const alice = randomBytes(32);
  const bob = randomBytes(32);
  keys.install('alice', alice);
  keys.install('bob', bob);
  now += 10 * 60_000;
  assert.ok(keys.keys('alice'), 'alice uses her vault');
  assert.equal(keys.isOpen('bob'), true);
  assert.equal(keys.hasOld('bob'), false);
  now += 5 * 60_000;
  assert.equal(keys.sweep(), 1, 'bob was idle 15 minutes (looking at his status is not use)');
  assert.equal(keys.keys('bob'), undefined);
  assert.ok(zeroed(bob), "bob's key is zeroed in memory");
  assert.ok(!zeroed(alice));
  now += 15 * 60_000;
  assert.equal(keys.sweep(), 1);
  assert.ok(zeroed(alice));
  assert.equal(keys.size, 0);
});

test('lock wipes at once; a change keeps both keys until the old one is dropped; an aborted change leaves the current key', () => {
  const keys = new VaultKeys(60_000);
  const current = randomBytes(32);
  keys.install('alice', current);
  const next = randomBytes(32);
  const oldCopy = Buffer.from(current);
  keys.stage('alice', next, oldCopy);
  assert.equal(keys.keys('alice')?.current, current, 'staged only: the vault still seals with the current key');
  keys.abortStaged('alice');
  assert.ok(zeroed(next) && zeroed(oldCopy), 'an aborted change wipes what it staged');
  assert.equal(keys.keys('alice')?.current, current);

  const again = randomBytes(32);
  const old = Buffer.from(current);
  keys.stage('alice', again, old);
  assert.equal(keys.commitStaged('alice'), true);
  assert.ok(zeroed(current), 'the key before the change is wiped when the change takes effect');
  assert.equal(keys.keys('alice')?.current, again);
  assert.equal(keys.keys('alice')?.old, old);
  keys.dropOld('alice');
  assert.ok(zeroed(old));
  assert.equal(keys.keys('alice')?.old, undefined);
  keys.lock('alice');
  assert.ok(zeroed(again));
  assert.equal(keys.keys('alice'), undefined);
  assert.equal(keys.commitStaged('alice'), false, 'nothing to commit for a locked vault');
});

test('the verifier recognises the key and only it; the pending old key opens only with the new key and for its own user', () => {
  const key = randomBytes(32);
  const verifier = verifierOf(key);
  assert.equal(verifierMatches(key, verifier), true);
  assert.equal(verifierMatches(randomBytes(32), verifier), false);
  assert.equal(verifierMatches(key, verifier.subarray(0, 16)), false, 'a shortened verifier never matches');
  const old = randomBytes(32);
  const pending = sealPendingKey(key, old, 'alice');
  assert.deepEqual(openPendingKey(key, pending, 'alice'), old);
  assert.equal(openPendingKey(randomBytes(32), pending, 'alice'), undefined);
  assert.equal(openPendingKey(key, pending, 'bob'), undefined, "bound to its user: bob's record cannot carry alice's old key");
});
