import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CallerTokens, type TokenKey } from '../../host/identity/caller-token.js';
import { isBulkheadError, type ErrorCode } from '../../host/core/errors.js';
import { KeyService } from '../../host/keys/key-service.js';

const t0 = Date.UTC(2026, 10, 23, 12, 0, 0);

function setup(now = t0): { tokens: CallerTokens; key: TokenKey; clock: { now: number } } {
  const key = new KeyService({ master: randomBytes(32), signing: randomBytes(32) }).tokenKey();
  const clock = { now };
  return { tokens: new CallerTokens({ current: key, now: () => clock.now }), key, clock };
}

function refusedWith(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (error: unknown) => isBulkheadError(error, code), `expected ${code}`);
}

/** Signs arbitrary claims with the right key, the way only a holder of the signing key could. */
function signRaw(key: TokenKey, claims: unknown): string {
  const body = `v1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${createHmac('sha256', key.key).update(body).digest('base64url')}`;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

test('a token minted by the host verifies for its plugin and yields its claims', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'slack:T1:U1', plg: 'notes', front: 'slack' });
  const claims = tokens.verify(token, 'notes');
  assert.equal(claims.sub, 'slack:T1:U1');
  assert.equal(claims.plg, 'notes');
  assert.equal(claims.front, 'slack');
  assert.equal(claims.exp - claims.iat, 60);
  assert.match(token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
});

test('forged: a token signed with another key is refused (attack: minting tokens for any user)', () => {
  const { tokens, key } = setup();
  const forged = signRaw({ kid: key.kid, key: randomBytes(32) }, claimsOf(tokens.sign({ sub: 'a', plg: 'notes', front: 'console' })));
  refusedWith(() => tokens.verify(forged, 'notes'), 'BH_TOKEN_BAD_SIGNATURE');
});

test('forged: changing the user in the claims breaks the signature (attack: swapped user id)', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'console:alice', plg: 'notes', front: 'console' });
  const [v, , mac] = token.split('.');
  const claims = { ...claimsOf(token), sub: 'console:bob' };
  const swapped = `${v}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
  refusedWith(() => tokens.verify(swapped, 'notes'), 'BH_TOKEN_BAD_SIGNATURE');
});

test('expired: a token past exp plus the 30 s skew is refused, and accepted within the skew', () => {
  const { tokens, clock } = setup();
  const token = tokens.sign({ sub: 'u', plg: 'notes', front: 'console', ttlSeconds: 60 });
  clock.now = t0 + 89_000;
  assert.equal(tokens.verify(token, 'notes').sub, 'u');
  clock.now = t0 + 91_000;
  refusedWith(() => tokens.verify(token, 'notes'), 'BH_TOKEN_EXPIRED');
});

test('expired: a cached token still expires (attack: replay of a once-valid token)', () => {
  const { tokens, clock } = setup();
  const token = tokens.sign({ sub: 'u', plg: 'notes', front: 'console', ttlSeconds: 10 });
  tokens.verify(token, 'notes');
  clock.now = t0 + 41_000;
  refusedWith(() => tokens.verify(token, 'notes'), 'BH_TOKEN_EXPIRED');
});

test('future-dated: a token issued more than 30 s ahead is refused', () => {
  const { tokens, clock, key } = setup();
  const iat = Math.floor(t0 / 1000) + 31;
  const future = signRaw(key, { ...claimsOf(tokens.sign({ sub: 'u', plg: 'notes', front: 'console' })), iat, exp: iat + 60 });
  refusedWith(() => tokens.verify(future, 'notes'), 'BH_TOKEN_NOT_YET_VALID');
  clock.now = t0 + 2_000;
  assert.equal(tokens.verify(future, 'notes').sub, 'u', 'within the skew once the clock catches up');
});

test('a signed token claiming a lifetime over 120 s is refused (attack: long-lived token from a leaked key path)', () => {
  const { tokens, key } = setup();
  const iat = Math.floor(t0 / 1000);
  const long = signRaw(key, { ...claimsOf(tokens.sign({ sub: 'u', plg: 'notes', front: 'console' })), exp: iat + 121 });
  refusedWith(() => tokens.verify(long, 'notes'), 'BH_TOKEN_BAD_CLAIMS');
  assert.throws(() => tokens.sign({ sub: 'u', plg: 'notes', front: 'console', ttlSeconds: 121 }));
});

test('unknown kid: a token naming a key this host does not have is refused', () => {
  const { tokens, key } = setup();
  const other = signRaw(key, { ...claimsOf(tokens.sign({ sub: 'u', plg: 'notes', front: 'console' })), kid: 'someone-else' });
  refusedWith(() => tokens.verify(other, 'notes'), 'BH_TOKEN_UNKNOWN_KEY');
});

test('non-canonical: flipping unused low bits of the last base64url character is refused (attack: cache and replay-filter bypass)', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'u', plg: 'notes', front: 'console' });
  const [v, claims, mac] = token.split('.') as [string, string, string];
  // 32 bytes = 43 characters; the last one carries 4 meaningful bits and 2 ignored ones.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(mac.at(-1) as string);
  const twin = `${mac.slice(0, -1)}${alphabet[last ^ 1]}`;
  assert.deepEqual(Buffer.from(twin, 'base64url'), Buffer.from(mac, 'base64url'), 'the twin decodes to the same MAC');
  refusedWith(() => tokens.verify(`${v}.${claims}.${twin}`, 'notes'), 'BH_TOKEN_NON_CANONICAL');
  refusedWith(() => tokens.verify(`${v}.${claims}.${mac}=`, 'notes'), 'BH_TOKEN_NON_CANONICAL');
  refusedWith(() => tokens.verify(`${v}.${claims}.${mac.slice(0, 20)}+${mac.slice(21)}`, 'notes'), 'BH_TOKEN_NON_CANONICAL');
});

test('wrong plugin: a token for one plugin is refused by another (attack: calling plugin B with plugin A\'s token)', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'u', plg: 'notes', front: 'console' });
  tokens.verify(token, 'notes');
  refusedWith(() => tokens.verify(token, 'tasks'), 'BH_TOKEN_WRONG_PLUGIN');
});

test('truncated and malformed tokens are refused', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'u', plg: 'notes', front: 'console' });
  for (const bad of [token.slice(0, -1), token.slice(0, token.lastIndexOf('.')), token.slice(0, 10), '', 'v1..', 'v2' + token.slice(2), `${token}.x`]) {
    assert.throws(() => tokens.verify(bad, 'notes'), (e: unknown) => isBulkheadError(e) && e.code.startsWith('BH_TOKEN_'));
  }
  refusedWith(() => tokens.verify('v1.' + 'A'.repeat(2000) + '.x', 'notes'), 'BH_TOKEN_MALFORMED');
  refusedWith(() => tokens.verify(undefined as unknown as string, 'notes'), 'BH_TOKEN_MALFORMED');
});

test('a cached token does not let a forgery that reuses its jti through', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'console:alice', plg: 'notes', front: 'console' });
  tokens.verify(token, 'notes');
  const [v, , mac] = token.split('.');
  const forged = `${v}.${Buffer.from(JSON.stringify({ ...claimsOf(token), sub: 'console:bob' })).toString('base64url')}.${mac}`;
  refusedWith(() => tokens.verify(forged, 'notes'), 'BH_TOKEN_BAD_SIGNATURE');
});

test('error messages never contain the token or its claims', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'console:secret-user-name', plg: 'notes', front: 'console' });
  for (const bad of [token.slice(0, -2), token.replace('v1', 'v0')]) {
    try {
      tokens.verify(bad, 'tasks');
      assert.fail('should refuse');
    } catch (error) {
      assert.ok(isBulkheadError(error));
      assert.ok(!error.message.includes('secret-user-name') && !error.message.includes(token.split('.')[1] as string));
    }
  }
});

test('property: no single-character edit, truncation or splice of a valid token ever verifies', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'slack:T1:U1', plg: 'notes', front: 'slack' });
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/';
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('replace'), at: fc.nat(token.length - 1), ch: fc.constantFrom(...alphabet) }),
    fc.record({ kind: fc.constant('insert'), at: fc.nat(token.length), ch: fc.constantFrom(...alphabet) }),
    fc.record({ kind: fc.constant('delete'), at: fc.nat(token.length - 1), ch: fc.constant('') }),
    fc.record({ kind: fc.constant('truncate'), at: fc.nat(token.length - 1), ch: fc.constant('') }),
  );
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      let changed = token;
      for (const m of mutations) {
        const at = Math.min(m.at, changed.length);
        if (m.kind === 'replace') changed = changed.slice(0, at) + m.ch + changed.slice(at + 1);
        else if (m.kind === 'insert') changed = changed.slice(0, at) + m.ch + changed.slice(at);
        else if (m.kind === 'delete') changed = changed.slice(0, at) + changed.slice(at + 1);
        else changed = changed.slice(0, at);
      }
      fc.pre(changed !== token);
      assert.throws(() => tokens.verify(changed, 'notes'), (e: unknown) => isBulkheadError(e));
    }),
    { numRuns: 3000 },
  );
});

test('property: random bit flips in the decoded claims or MAC never verify', () => {
  const { tokens } = setup();
  const token = tokens.sign({ sub: 'console:alice', plg: 'notes', front: 'console' });
  const [v, claims, mac] = token.split('.') as [string, string, string];
  const claimBytes = Buffer.from(claims, 'base64url');
  const macBytes = Buffer.from(mac, 'base64url');
  fc.assert(
    fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 7 }), (inClaims, index, bit) => {
      const target = Buffer.from(inClaims ? claimBytes : macBytes);
      target[index % target.length] = (target[index % target.length] as number) ^ (1 << bit);
      const changed = inClaims ? `${v}.${target.toString('base64url')}.${mac}` : `${v}.${claims}.${target.toString('base64url')}`;
      assert.throws(() => tokens.verify(changed, 'notes'), (e: unknown) => isBulkheadError(e));
    }),
    { numRuns: 2000 },
  );
});

test('rotation: tokens of a previous key still verify; new tokens use the current kid', () => {
  const oldKey = new KeyService({ master: randomBytes(32), signing: randomBytes(32) }).tokenKey();
  const newKey = new KeyService({ master: randomBytes(32), signing: randomBytes(32) }).tokenKey();
  const before = new CallerTokens({ current: oldKey, now: () => t0 }).sign({ sub: 'u', plg: 'notes', front: 'console' });
  const after = new CallerTokens({ current: newKey, previous: [oldKey], now: () => t0 });
  assert.equal(after.verify(before, 'notes').kid, oldKey.kid);
  assert.equal(claimsOf(after.sign({ sub: 'u', plg: 'notes', front: 'console' }))['kid'], newKey.kid);
});
