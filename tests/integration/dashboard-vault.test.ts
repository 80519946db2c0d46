/**
 * The dashboard's vault routes against a real host: the state of the caller's vault, set-up and
 * change (fresh login only), unlock with a wrong and a right password, the growing waits after
 * wrong ones (429 with Retry-After), the per-minute limit, lock, and what a capability's answer
 * says about the vault. Every request goes through the real HTTP server (fastify on 127.0.0.1),
 * sessions, vault service, executor worker (Argon2id) and store; the `sealrelay` fixture writes
 * and reads sealed fields.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freshLoginMs } from '../../dashboard/server.js';
import { builtInPluginsDir, fixturePluginsDir, tempDir } from '../helpers/fixtures.js';
import { startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';
import { scanDataDir } from '../helpers/plaintext-scan.js';
import { wrongPasswordPolicy } from '../../host/vault/vault-service.js';

interface VaultState {
  setUp: boolean;
  unlocked: boolean;
  changing: boolean;
  retryAfterSeconds: number;
  passwordRules: { minChars: number; maxChars: number };
}

interface Invoked {
  replies: string[];
  result: { ok: boolean; records?: Record<string, unknown>[]; error?: { code: string } };
  vault?: { opened: boolean; locked: boolean };
}

/** Every password these tests type: none may ever show in a log line. */
const typed = new Set<string>();
const pw = (text: string): string => {
  typed.add(text);
  return text;
};

const perMinute = 6;

describe('dashboard vault', () => {
  let dash: DashboardHost;
  const extra = tempDir('bulkhead-sealrelay-');
  before(async () => {
    // sealrelay as a plugin whose capabilities the dashboard may call.
    const folder = path.join(extra.dir, 'sealrelay');
    cpSync(path.join(fixturePluginsDir, 'sealrelay'), folder, { recursive: true });
    const manifest = JSON.parse(readFileSync(path.join(folder, 'plugin.json'), 'utf8')) as { capabilities: Record<string, unknown>[] };
    manifest.capabilities = manifest.capabilities.map((capability) => ({ ...capability, dashboard: true }));
    writeFileSync(path.join(folder, 'plugin.json'), JSON.stringify(manifest));
    dash = await startDashboardHost({
      builtInDirs: [builtInPluginsDir, extra.dir],
      env: { BULKHEAD_LOGIN_PER_MINUTE: '10000', BULKHEAD_VAULT_PER_MINUTE: String(perMinute) },
    });
  });
  after(async () => {
    await dash?.close();
    extra.cleanup();
  });

  async function call<T>(method: 'GET' | 'POST', url: string, cookie: string, body?: unknown): Promise<{ status: number; body: T; text: string; headers: Record<string, unknown> }> {
    const response = await dash.request(method, url, { cookie, ...(body === undefined ? {} : { body }) });
    return { status: response.statusCode, body: JSON.parse(response.body) as T, text: response.body, headers: response.headers };
  }
  const state = async (cookie: string): Promise<VaultState> => (await call<VaultState>('GET', '/api/v1/vault', cookie)).body;
  const codeOf = (text: string): string => (JSON.parse(text) as { error: { code: string } }).error.code;
  const query = (cookie: string, request: unknown) => call<Invoked>('POST', '/api/v1/invoke/sealrelay/query_raw', cookie, { params: request });

  /** Logs in and sets up a vault with `password`, on a fresh login. */
  async function withVault(name: string, password: string): Promise<string> {
    const cookie = await dash.login(name);
    const setup = await call<VaultState>('POST', '/api/v1/vault/setup', cookie, { password, confirmation: password });
    assert.equal(setup.status, 200, setup.text);
    return cookie;
  }

  test('a new user has no vault: GET /api/v1/vault says so, with the password rules, and is not cached', async () => {
    const cookie = await dash.login('state-alice');
    const answer = await call<VaultState>('GET', '/api/v1/vault', cookie);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { setUp: false, unlocked: false, changing: false, retryAfterSeconds: 0, passwordRules: { minChars: 10, maxChars: 1024 } });
    assert.equal(answer.headers['cache-control'], 'no-store');
    const unlock = await call('POST', '/api/v1/vault/unlock', cookie, { password: pw('no vault here yet') });
    assert.equal(unlock.status, 409);
    assert.equal(codeOf(unlock.text), 'BH_VAULT_NOT_SET_UP');
  });

  test('attack: a session left open (login older than 5 minutes) cannot set up a vault, or change its password', async () => {
    const cookie = await dash.login('stale-bob');
    dash.clock.now += freshLoginMs + 1_000;
    try {
      const setup = await call('POST', '/api/v1/vault/setup', cookie, { password: pw('stale session pass'), confirmation: 'stale session pass' });
      assert.equal(setup.status, 403, setup.text);
      assert.equal(codeOf(setup.text), 'BH_FRESH_LOGIN_REQUIRED');
      assert.equal((await state(cookie)).setUp, false, 'nothing was set up');
    } finally {
      dash.clock.now -= freshLoginMs + 1_000;
    }

    const owner = await withVault('stale-carol', pw('carols own password'));
    dash.clock.now += freshLoginMs + 1_000;
    try {
      const change = await call('POST', '/api/v1/vault/change', owner, { current: 'carols own password', password: pw('an intruders choice'), confirmation: 'an intruders choice' });
      assert.equal(change.status, 403, change.text);
      assert.equal(codeOf(change.text), 'BH_FRESH_LOGIN_REQUIRED');
      // Unlock needs no fresh login: the master password is the proof.
      assert.equal((await call('POST', '/api/v1/vault/lock', owner)).status, 200);
      assert.equal((await call('POST', '/api/v1/vault/unlock', owner, { password: 'carols own password' })).status, 200, 'the old password still opens it');
    } finally {
      dash.clock.now -= freshLoginMs + 1_000;
    }
  });

  test('set-up checks the two passwords and their length, then the vault is open', async () => {
    const cookie = await dash.login('setup-dave');
    const mismatch = await call('POST', '/api/v1/vault/setup', cookie, { password: pw('daves first try'), confirmation: pw('daves first trie') });
    assert.equal(mismatch.status, 400);
    assert.equal(codeOf(mismatch.text), 'BH_VAULT_PASSWORD_MISMATCH');
    const short = await call('POST', '/api/v1/vault/setup', cookie, { password: pw('short'), confirmation: 'short' });
    assert.equal(short.status, 400);
    assert.equal(codeOf(short.text), 'BH_VAULT_PASSWORD_INVALID');
    const missing = await call('POST', '/api/v1/vault/setup', cookie, { password: pw('daves real password') });
    assert.equal(missing.status, 400);
    assert.equal(codeOf(missing.text), 'BH_REQUEST_INVALID');
    const made = await call<VaultState>('POST', '/api/v1/vault/setup', cookie, { password: 'daves real password', confirmation: 'daves real password' });
    assert.equal(made.status, 200, made.text);
    assert.equal(made.headers['cache-control'], 'no-store');
    assert.deepEqual({ setUp: made.body.setUp, unlocked: made.body.unlocked }, { setUp: true, unlocked: true });
    const again = await call('POST', '/api/v1/vault/setup', cookie, { password: pw('another password!'), confirmation: 'another password!' });
    assert.equal(again.status, 409);
    assert.equal(codeOf(again.text), 'BH_VAULT_ALREADY_SET_UP');
  });

  test('lock, a call that meets the locked vault (vault.locked), unlock wrong (403) and right, then the call opens it (vault.opened, no-store)', async () => {
    const cookie = await withVault('lock-erin', pw('erins master password'));
    const inserted = await query(cookie, { op: 'insert', collection: 'secrets', values: { service: 'mail', password: pw('erins-mail-secret') } });
    assert.equal(inserted.status, 200, inserted.text);
    assert.deepEqual(inserted.body.vault, { opened: true, locked: false });

    const locked = await call<VaultState>('POST', '/api/v1/vault/lock', cookie);
    assert.equal(locked.status, 200);
    assert.equal(locked.body.unlocked, false);

    const read = await query(cookie, { op: 'find', collection: 'secrets' });
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body.vault, { opened: false, locked: true }, 'the UI offers the unlock form on this');
    assert.deepEqual(read.body.result.records?.[0]?.['password'], { $sealed: 'locked' });
    assert.equal(read.headers['cache-control'], 'no-store');
    assert.ok(!read.text.includes('erins-mail-secret'));
    const write = await query(cookie, { op: 'update', collection: 'secrets', where: { service: 'mail' }, set: { password: pw('erins-new-secret') } });
    assert.equal(write.body.result.error?.code, 'BH_VAULT_LOCKED', 'a write of a sealed field is refused to the plugin');
    assert.deepEqual(write.body.vault, { opened: false, locked: true });

    const wrong = await call('POST', '/api/v1/vault/unlock', cookie, { password: pw('not erins password') });
    assert.equal(wrong.status, 403, 'a wrong password is 403: the session itself is fine (401 would log the UI out)');
    assert.equal(codeOf(wrong.text), 'BH_VAULT_WRONG_PASSWORD');
    assert.equal((await state(cookie)).unlocked, false);

    const right = await call<VaultState>('POST', '/api/v1/vault/unlock', cookie, { password: 'erins master password' });
    assert.equal(right.status, 200, right.text);
    assert.equal(right.body.unlocked, true);
    const opened = await query(cookie, { op: 'find', collection: 'secrets' });
    assert.deepEqual(opened.body.vault, { opened: true, locked: false });
    assert.equal(opened.body.result.records?.[0]?.['password'], 'erins-mail-secret');
    assert.equal(opened.headers['cache-control'], 'no-store', 'attack: a shared or back-button cache keeping a page of secrets');

    // A call that touches no sealed field says nothing about the vault.
    const plain = await call<Invoked>('POST', '/api/v1/invoke/notes/list', cookie, { params: {} });
    assert.equal(plain.status, 200);
    assert.equal(plain.body.vault, undefined);
  });

  test("attack: another user's session sees and opens nothing of this vault (no route names a user)", async () => {
    await withVault('own-frank', pw('franks master password'));
    const mallory = await dash.login('own-mallory');
    assert.equal((await state(mallory)).setUp, false);
    const unlock = await call('POST', '/api/v1/vault/unlock', mallory, { password: 'franks master password' });
    assert.equal(codeOf(unlock.text), 'BH_VAULT_NOT_SET_UP', "frank's password opens only frank's vault");
    assert.deepEqual((await query(mallory, { op: 'find', collection: 'secrets' })).body.result.records, []);
  });

  test('attack: guessing the master password online gets growing waits: 429 with Retry-After, seen in GET /api/v1/vault too', async () => {
    const cookie = await withVault('guess-grace', pw('graces master password'));
    await call('POST', '/api/v1/vault/lock', cookie);
    for (let i = 0; i <= wrongPasswordPolicy.free; i++) {
      const wrong = await call('POST', '/api/v1/vault/unlock', cookie, { password: pw(`guess number ${i}`) });
      assert.equal(codeOf(wrong.text), 'BH_VAULT_WRONG_PASSWORD', `guess ${i}`);
    }
    const limited = await call('POST', '/api/v1/vault/unlock', cookie, { password: 'graces master password' });
    assert.equal(limited.status, 429, limited.text);
    assert.equal(codeOf(limited.text), 'BH_VAULT_RATE_LIMITED', 'even the right password waits its turn');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 5, `Retry-After ${String(limited.headers['retry-after'])}`);
    const seen = await state(cookie);
    assert.ok(seen.retryAfterSeconds >= 1 && seen.retryAfterSeconds <= 5, JSON.stringify(seen));
    assert.equal(seen.unlocked, false);
  });

  test(`attack: Argon2id as a denial of service (64 MiB a try): at most BULKHEAD_VAULT_PER_MINUTE (${perMinute} here) unlocks per user per minute, then 429`, async () => {
    const cookie = await withVault('flood-heidi', pw('heidis master password'));
    for (let i = 0; i < perMinute; i++) assert.equal((await call('POST', '/api/v1/vault/unlock', cookie, { password: 'heidis master password' })).status, 200, `unlock ${i}`);
    const refused = await call('POST', '/api/v1/vault/unlock', cookie, { password: 'heidis master password' });
    assert.equal(refused.status, 429);
    assert.equal(codeOf(refused.text), 'BH_RATE_LIMITED');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    // Another user has a limit of their own.
    assert.equal((await call('POST', '/api/v1/vault/unlock', await dash.login('flood-ivan'), { password: pw('ivan has no vault') })).status, 409);
  });

  test('change: the current password is checked, then only the new one opens the vault', async () => {
    const cookie = await withVault('change-judy', pw('judys first password'));
    await query(cookie, { op: 'insert', collection: 'secrets', values: { service: 'bank', password: pw('judys-bank-pin-77') } });
    const wrong = await call('POST', '/api/v1/vault/change', cookie, { current: pw('not judys password'), password: pw('judys second password'), confirmation: 'judys second password' });
    assert.equal(wrong.status, 403);
    assert.equal(codeOf(wrong.text), 'BH_VAULT_WRONG_PASSWORD');
    const changed = await call<VaultState>('POST', '/api/v1/vault/change', cookie, { current: 'judys first password', password: 'judys second password', confirmation: 'judys second password' });
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.body.changing, false);
    await call('POST', '/api/v1/vault/lock', cookie);
    assert.equal(codeOf((await call('POST', '/api/v1/vault/unlock', cookie, { password: 'judys first password' })).text), 'BH_VAULT_WRONG_PASSWORD');
    assert.equal((await call('POST', '/api/v1/vault/unlock', cookie, { password: 'judys second password' })).status, 200);
    assert.equal((await query(cookie, { op: 'find', collection: 'secrets' })).body.result.records?.[0]?.['password'], 'judys-bank-pin-77');
  });

  test('attack: another site makes the browser post to the vault routes (CSRF): refused before anything is tried, over a real socket', async () => {
    const cookie = await withVault('csrf-kim', pw('kims master password'));
    await call('POST', '/api/v1/vault/lock', cookie);
    const body = JSON.stringify({ password: 'kims master password' });
    for (const headers of [
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      { 'sec-fetch-site': 'same-site', origin: 'https://evil.example' },
      { 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' },
      {},
    ]) {
      for (const route of ['/api/v1/vault/unlock', '/api/v1/vault/lock', '/api/v1/vault/setup', '/api/v1/vault/change']) {
        const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const request = http.request(`${dash.origin}${route}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
          });
          request.on('error', reject);
          request.end(body);
        });
        assert.equal(answer.status, 403, `${route} ${JSON.stringify(headers)}`);
        assert.equal(codeOf(answer.text), 'BH_CROSS_SITE_REFUSED');
      }
    }
    assert.equal((await state(cookie)).unlocked, false, 'nothing was unlocked');
  });

  test('a malformed body is refused without echoing it', async () => {
    const cookie = await dash.login('body-liam');
    const secret = pw('liams password in the wrong field');
    for (const body of [{ password: 123 }, { password: 'liams master password', extra: secret }, { pass: secret }]) {
      const answer = await call('POST', '/api/v1/vault/unlock', cookie, body);
      assert.equal(answer.status, 400, answer.text);
      assert.equal(codeOf(answer.text), 'BH_REQUEST_INVALID');
      assert.ok(!answer.text.includes(secret) && !answer.text.includes('liams master password'));
    }
  });

  test('attack: the log as a copy of the passwords: no line the server wrote holds any password typed here', () => {
    assert.ok(dash.logLines.length > 10, 'the server logged its requests');
    for (const line of dash.logLines) for (const password of typed) assert.ok(!line.includes(password), "a log line holds a password typed in this file");
  });

  test('attack: a thief with the data directory and the root keys finds no password typed here and no sealed value, in any file or database decrypted', async () => {
    await dash.stop();
    const { findings, decrypted } = scanDataDir(dash.dataDir, dash.rootKeys, [...typed, 'bank']);
    assert.ok(decrypted.some((file) => file.startsWith('plugins/sealrelay/')) && decrypted.includes('vault.db') && decrypted.includes('dashboard.db'), decrypted.join(', '));
    assert.deepEqual(findings.filter((f) => f.marker !== 'bank'), []);
    assert.ok(findings.some((f) => f.marker === 'bank' && f.how === 'decrypted'), 'the control: a plaintext service name is found');
  });
});
