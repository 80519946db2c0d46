// The enc:v1: format of sealed field values (host/vault/sealed.ts): a round trip, and every way a
// stored value can be damaged or moved is refused with a coded error that carries no part of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isBulkheadError } from '../../host/core/errors.js';
import { additionalData, open, parseSealed, seal, sealedPrefix, sealedWith, type SealedPlace } from '../../host/vault/sealed.js';

const key = randomBytes(32);
const place: SealedPlace = { user: 'console:alice', plugin: 'passwords', collection: 'entries', field: 'password', record: 'r-1' };
const secret = 'hunter2 – correct horse battery staple ✓';

/** The stored value with one of its three base64 parts replaced. */
function withPart(stored: string, index: 0 | 1 | 2, change: (bytes: Buffer) => Buffer): string {
  const parts = stored.slice(sealedPrefix.length).split(':');
  parts[index] = change(Buffer.from(parts[index] as string, 'base64')).toString('base64');
  return sealedPrefix + parts.join(':');
}

/** The error has the code, and its message carries no part of the value (plaintext or stored text). */
const refused = (code: string) => (error: unknown) =>
  isBulkheadError(error) && error.code === code && !error.message.includes('hunter2') && !/[A-Za-z0-9+/]{12,}/.test(error.message.replace(/enc:v1:/g, ''));

test('a value round-trips, in the documented shape, with a fresh 12-byte IV and a 16-byte tag each time', () => {
  const a = seal(key, secret, place);
  const b = seal(key, secret, place);
  assert.match(a, /^enc:v1:[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$/);
  assert.notEqual(a, b, 'the same plaintext never gives the same stored text');
  const parts = parseSealed(a);
  assert.equal(parts?.iv.length, 12);
  assert.equal(parts?.tag.length, 16);
  assert.equal(open([key], a, place), secret);
  assert.equal(open([key], seal(key, '', place), place), '', 'the empty string too');
  assert.ok(!a.includes('hunter2'));
});

test('attack: a truncated, altered or missing tag is refused (GCM tag length enforced)', () => {
  const stored = seal(key, secret, place);
  for (const bad of [
    withPart(stored, 2, (tag) => tag.subarray(0, 4)),
    withPart(stored, 2, (tag) => tag.subarray(0, 15)),
    withPart(stored, 2, (tag) => Buffer.concat([tag, Buffer.from([0])])),
    stored.slice(0, stored.lastIndexOf(':')),
    stored.slice(0, stored.lastIndexOf(':') + 1),
  ]) {
    assert.throws(() => open([key], bad, place), refused('BH_VAULT_SEALED_MALFORMED'));
  }
  assert.throws(() => open([key], withPart(stored, 2, (tag) => Buffer.from(tag.map((b, i) => (i === 0 ? b ^ 1 : b)))), place), refused('BH_VAULT_SEALED_INVALID'));
});

test('attack: an altered IV or ciphertext, or a truncated one, is refused', () => {
  const stored = seal(key, secret, place);
  assert.throws(() => open([key], withPart(stored, 0, (iv) => Buffer.from(iv.map((b, i) => (i === 11 ? b ^ 0x80 : b)))), place), refused('BH_VAULT_SEALED_INVALID'));
  assert.throws(() => open([key], withPart(stored, 0, (iv) => iv.subarray(0, 8)), place), refused('BH_VAULT_SEALED_MALFORMED'));
  assert.throws(() => open([key], withPart(stored, 1, (ct) => Buffer.from(ct.map((b, i) => (i === 3 ? b ^ 4 : b)))), place), refused('BH_VAULT_SEALED_INVALID'));
  assert.throws(() => open([key], withPart(stored, 1, (ct) => ct.subarray(0, ct.length - 1)), place), refused('BH_VAULT_SEALED_INVALID'));
  assert.throws(() => open([key], withPart(stored, 1, (ct) => Buffer.concat([ct, Buffer.from('x')])), place), refused('BH_VAULT_SEALED_INVALID'));
});

test('attack: text that only starts like a sealed value is a coded error, never returned raw', () => {
  for (const bad of ['enc:v1:', 'enc:v1:abc', 'enc:v1:a:b:c:d', 'enc:v1:!!!!:AAAA:AAAA', `enc:v1:${'A'.repeat(16)}:AAB=:${'A'.repeat(22)}==`]) {
    assert.throws(() => open([key], bad, place), refused('BH_VAULT_SEALED_MALFORMED'), bad);
  }
  // Well-formed but sealed by nobody: fails its check.
  assert.throws(() => open([key], `enc:v1:${'A'.repeat(16)}:AAAA:${'A'.repeat(22)}==`, place), refused('BH_VAULT_SEALED_INVALID'));
  // Non-canonical base64 (padding bits set) would let two texts name the same bytes: refused.
  const stored = seal(key, 'x', place);
  const [iv, ct, tag] = stored.slice(sealedPrefix.length).split(':') as [string, string, string];
  const last = tag.at(-3) as string;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const bumped = alphabet[alphabet.indexOf(last) + 1] ?? 'A';
  assert.throws(() => open([key], `${sealedPrefix}${iv}:${ct}:${tag.slice(0, -3)}${bumped}==`, place), (e: unknown) => isBulkheadError(e) && /BH_VAULT_SEALED_(MALFORMED|INVALID)/.test(e.code));
});

test('attack: a value moved to another field, record, collection, plugin or user is refused (additional data)', () => {
  const stored = seal(key, secret, place);
  for (const moved of [
    { ...place, field: 'username' },
    { ...place, record: 'r-2' },
    { ...place, collection: 'other' },
    { ...place, plugin: 'notes' },
    { ...place, user: 'console:bob' },
  ]) {
    assert.throws(() => open([key], stored, moved), refused('BH_VAULT_SEALED_INVALID'), JSON.stringify(moved));
  }
  // The additional data cannot be made ambiguous by separators inside names.
  assert.notDeepEqual(additionalData({ ...place, user: 'a:b', plugin: 'c' }), additionalData({ ...place, user: 'a', plugin: 'b:c' }));
});

test('attack: a value sealed under another key (another user, an old password) is refused; during a change both keys open', () => {
  const other = randomBytes(32);
  const stored = seal(other, secret, place);
  assert.throws(() => open([key], stored, place), refused('BH_VAULT_SEALED_INVALID'));
  assert.equal(open([key, other], stored, place), secret);
  assert.equal(sealedWith([key, other], stored, place), 1);
  assert.equal(sealedWith([key], stored, place), -1);
  assert.equal(sealedWith([other], stored, place), 0);
});

test('legacy plaintext (no prefix) is returned as it is', () => {
  assert.equal(open([key], 'written before the field was sealed', place), 'written before the field was sealed');
  assert.equal(open([key], '', place), '');
  assert.equal(open([key], 'enc:v2:something', place), 'enc:v2:something', 'only enc:v1: is the format');
});
