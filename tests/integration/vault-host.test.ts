// The vault tier through a whole host (dispatcher, executor workers, the store's sealed fields,
// vault.db), with an injectable clock. The `sealrelay` fixture hands its params to `query`
// unchanged, so these tests send what a hostile or careless plugin could.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Host } from '../../host/host.js';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';
import { wrongPasswordPolicy } from '../../host/vault/vault-service.js';
import { scanDataDir } from '../helpers/plaintext-scan.js';

const keys = { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };

interface Answer {
  ok: boolean;
  record?: Record<string, unknown>;
  records?: Record<string, unknown>[];
  count?: number;
  vault?: string;
  error?: { code: string; message: string };
}

describe('the vault through the host', () => {
  const { dir, cleanup } = tempDir('bulkhead-vault-');
  let clock = Date.now();
  let host: Host;
  const start = (env: Record<string, string> = {}): Host => startTestHost({ dataDir: dir, env: { ...keys, ...env }, now: () => clock });
  const query = async (user: string, request: unknown): Promise<Answer> => (await host.dispatcher.invoke(consoleUser(user), 'sealrelay', 'query_raw', request)).result as Answer;
  const find = (user: string): Promise<Answer> => query(user, { op: 'find', collection: 'secrets', orderBy: [{ field: 'service' }] });

  before(() => {
    host = start();
  });
  after(async () => {
    await host.shutdown();
    cleanup();
  });

  test('sealed fields round-trip while the vault is open; reads say locked and writes are refused while it is locked', async () => {
    const alice = consoleUser('alice');
    // No vault yet: a sealed value cannot be written, a record without one can.
    const refused = await query('alice', { op: 'insert', collection: 'secrets', values: { service: 'early', password: 'x-secret-x' } });
    assert.equal(refused.error?.code, 'BH_VAULT_LOCKED');
    assert.equal((await query('alice', { op: 'insert', collection: 'secrets', values: { service: 'plain', note: 'n' } })).ok, true);

    await host.vault.setup(alice, 'correct horse battery', 'correct horse battery');
    assert.deepEqual(await host.vault.status('console:alice'), { setUp: true, unlocked: true, changing: false, retryAfterSeconds: 0 });
    const added = await host.dispatcher.invoke(alice, 'sealrelay', 'query_raw', { op: 'insert', collection: 'secrets', values: { service: 'netflix', password: 'hunter2-netflix', extra: { pin: 1234 } } });
    assert.equal((added.result as Answer).ok, true, JSON.stringify(added.result));
    assert.deepEqual(added.vault, { opened: true, locked: false }, 'a call that sealed a value is marked: fronts show it to the user alone');
    const open = await find('alice');
    assert.deepEqual(open.records?.map((r) => [r['service'], r['password'], r['extra']]), [['netflix', 'hunter2-netflix', { pin: 1234 }], ['plain', null, null]]);

    await host.vault.lock(alice);
    const locked = await host.dispatcher.invoke(alice, 'sealrelay', 'query_raw', { op: 'find', collection: 'secrets', orderBy: [{ field: 'service' }] });
    const records = (locked.result as Answer).records ?? [];
    assert.deepEqual(records.map((r) => [r['service'], r['password'], r['extra']]), [['netflix', { $sealed: 'locked' }, { $sealed: 'locked' }], ['plain', null, null]]);
    assert.deepEqual(locked.vault, { opened: false, locked: true });
    const write = await query('alice', { op: 'update', collection: 'secrets', where: { service: 'netflix' }, set: { password: 'new-one-here' } });
    assert.equal(write.error?.code, 'BH_VAULT_LOCKED');
    // A write that touches no sealed field goes through.
    assert.equal((await query('alice', { op: 'update', collection: 'secrets', where: { service: 'netflix' }, set: { note: 'still fine' } })).count, 1);

    await host.vault.unlock(alice, 'correct horse battery');
    assert.equal((await query('alice', { op: 'update', collection: 'secrets', where: { service: 'netflix' }, set: { password: 'rotated-pass' } })).count, 1);
    assert.equal((await find('alice')).records?.[0]?.['password'], 'rotated-pass');
  });

  test('attack: filtering, sorting or counting on a sealed field (a guessing oracle) is refused', async () => {
    for (const request of [
      { op: 'find', collection: 'secrets', where: { password: 'hunter2' } },
      { op: 'find', collection: 'secrets', where: { or: [{ service: 'x' }, { password: { like: 'h%' } }] } },
      { op: 'count', collection: 'secrets', where: { extra: null } },
      { op: 'find', collection: 'secrets', orderBy: [{ field: 'password' }] },
      { op: 'delete', collection: 'secrets', where: { password: { gt: 'a' } } },
    ]) {
      const answer = await query('alice', request);
      assert.equal(answer.error?.code, 'BH_QUERY_SEALED_FIELD', JSON.stringify(request));
    }
  });

  test('attack: another user never opens alice\'s sealed values, and has a vault of their own', async () => {
    const bob = consoleUser('bob');
    assert.deepEqual(await find('bob'), { ok: true, records: [] });
    await assert.rejects(host.vault.unlock(bob, 'correct horse battery'), /BH_VAULT_NOT_SET_UP|no vault/);
    await host.vault.setup(bob, 'bobs own password', 'bobs own password');
    await query('bob', { op: 'insert', collection: 'secrets', values: { service: 'mail', password: 'bob-secret-1' } });
    assert.deepEqual((await find('bob')).records?.map((r) => r['password']), ['bob-secret-1']);
    assert.equal((await find('alice')).records?.[0]?.['password'], 'rotated-pass');
  });

  test("attack: a plugin that fails quoting the sealed values it read: its text is withheld from the caller's error (which fronts may show in a channel)", async () => {
    const alice = consoleUser('alice');
    const failed = await rejection(host.dispatcher.invoke(alice, 'sealrelay', 'query_then_fail', { op: 'find', collection: 'secrets' }));
    assert.equal(failed.code, 'BH_PLUGIN_ERROR');
    assert.ok(!JSON.stringify(failed.toJSON()).includes('rotated-pass'), 'the opened value is not in the error');
    assert.match(failed.detail ?? '', /withheld/);
    // A failure that opened nothing keeps its text.
    const plain = await rejection(host.dispatcher.invoke(alice, 'sealrelay', 'query_then_fail', { op: 'count', collection: 'secrets' }));
    assert.match(plain.detail ?? '', /"count":\d+/);
  });

  test('after the idle time (injectable clock) the key is gone; activity keeps it; lock wipes at once', async () => {
    const alice = consoleUser('alice');
    await host.vault.unlock(alice, 'correct horse battery');
    clock += 10 * 60_000;
    await find('alice'); // activity
    clock += 10 * 60_000;
    assert.equal(await host.vault.sweep(), 1, 'bob (idle 20 minutes) is locked');
    assert.equal((await find('alice')).records?.[0]?.['password'], 'rotated-pass', 'alice was active 10 minutes ago: still open');
    assert.equal((await host.vault.status('console:bob')).unlocked, false);
    clock += 15 * 60_000 + 1;
    assert.equal(await host.vault.sweep(), 1);
    assert.deepEqual((await find('alice')).records?.[0]?.['password'], { $sealed: 'locked' }, 'idle 15 minutes: locked');
    assert.equal((await host.vault.status('console:alice')).unlocked, false);
  });

  test('attack: guessing the master password is slowed down, per user, with growing waits that survive a restart', async () => {
    const alice = consoleUser('alice');
    for (let i = 0; i < wrongPasswordPolicy.free; i++) {
      assert.equal((await rejection(host.vault.unlock(alice, `guess number ${i}`))).code, 'BH_VAULT_WRONG_PASSWORD');
    }
    assert.equal((await rejection(host.vault.unlock(alice, 'guess number 4'))).code, 'BH_VAULT_WRONG_PASSWORD');
    const limited = await rejection(host.vault.unlock(alice, 'correct horse battery'));
    assert.equal(limited.code, 'BH_VAULT_RATE_LIMITED', 'even the right password waits its turn');
    assert.match(limited.message, /Wait 5 seconds/);
    // Another user is not slowed down by alice's attacker.
    await host.vault.unlock(consoleUser('bob'), 'bobs own password');
    await host.shutdown();
    host = start();
    assert.equal((await rejection(host.vault.unlock(alice, 'correct horse battery'))).code, 'BH_VAULT_RATE_LIMITED', 'a restart does not reset the count');
    clock += 5_001;
    assert.equal((await rejection(host.vault.unlock(alice, 'guess number 5'))).code, 'BH_VAULT_WRONG_PASSWORD');
    clock += 5_001;
    const longer = await rejection(host.vault.unlock(alice, 'correct horse battery'));
    assert.match(longer.message, /Wait 5 seconds/, 'the wait doubled to 10 s: 5 of them are left');
    clock += 5_000;
    await host.vault.unlock(alice, 'correct horse battery');
    await host.vault.lock(alice);
    assert.equal((await rejection(host.vault.unlock(alice, 'wrong again!!'))).code, 'BH_VAULT_WRONG_PASSWORD', 'a right password reset the count');
  });

  test("the user's own audit log records each vault action and each refused password, and never a password", async () => {
    const page = await host.account.activity(consoleUser('alice'), { limit: 200 });
    const lines = page.lines.filter((line) => line.kind === 'account').map((line) => `${line.op}:${line.outcome}${line.code ? `:${line.code}` : ''}`);
    for (const expected of ['vault-setup:ok', 'vault-unlock:ok', 'vault-lock:ok', 'vault-unlock:refused:BH_VAULT_WRONG_PASSWORD']) {
      assert.ok(lines.includes(expected), `${expected} in ${lines.join(', ')}`);
    }
    assert.ok(!JSON.stringify(page).includes('correct horse'), 'no password in the log');
    assert.ok(!JSON.stringify(page).includes('guess number'));
  });

  test('a restart locks every vault', async () => {
    const alice = consoleUser('alice');
    await host.vault.unlock(alice, 'correct horse battery');
    assert.equal((await find('alice')).records?.[0]?.['password'], 'rotated-pass');
    await host.shutdown();
    host = start();
    assert.deepEqual((await find('alice')).records?.[0]?.['password'], { $sealed: 'locked' });
    assert.equal((await host.vault.status('console:alice')).unlocked, false);
  });

  test('a change of master password re-seals every value: the old password opens nothing, the new one everything', async () => {
    const alice = consoleUser('alice');
    for (let i = 0; i < 450; i++) await query('alice', { op: 'insert', collection: 'secrets', values: { service: `svc-${String(i).padStart(3, '0')}`, password: `pw-${i}` } }).catch(() => undefined);
    assert.equal((await rejection(host.vault.change(alice, 'not the password', 'a brand new password', 'a brand new password'))).code, 'BH_VAULT_WRONG_PASSWORD');
    assert.equal((await rejection(host.vault.change(alice, 'correct horse battery', 'a brand new password', 'a brand new passwort'))).code, 'BH_VAULT_PASSWORD_MISMATCH');
    assert.equal((await rejection(host.vault.change(alice, 'correct horse battery', 'short', 'short'))).code, 'BH_VAULT_PASSWORD_INVALID');
    await host.vault.unlock(alice, 'correct horse battery');
    for (let i = 0; i < 450; i++) await query('alice', { op: 'insert', collection: 'secrets', values: { service: `svc-${String(i).padStart(3, '0')}`, password: `pw-${i}` } });
    await host.vault.change(alice, 'correct horse battery', 'a brand new password', 'a brand new password');
    assert.equal((await host.vault.status('console:alice')).changing, false);
    assert.equal((await find('alice')).records?.[0]?.['password'], 'rotated-pass', 'still open, under the new key');
    await host.vault.lock(alice);
    assert.equal((await rejection(host.vault.unlock(alice, 'correct horse battery'))).code, 'BH_VAULT_WRONG_PASSWORD');
    await host.vault.unlock(alice, 'a brand new password');
    const all = await query('alice', { op: 'find', collection: 'secrets', where: { service: { like: 'svc-%' } }, limit: 500 });
    assert.equal(all.records?.length, 450);
    assert.ok(all.records?.every((r) => r['password'] === `pw-${Number(String(r['service']).slice(4))}`));
  });

  test('attack: a thief with the data directory and the root keys finds no sealed value in any file, decrypted or not', async () => {
    await host.shutdown();
    const root = { master: Buffer.from(keys.BULKHEAD_MASTER_KEY, 'hex'), signing: Buffer.from(keys.BULKHEAD_SIGNING_KEY, 'hex') };
    const { findings, decrypted } = scanDataDir(dir, root, ['hunter2-netflix', 'rotated-pass', 'bob-secret-1', 'pw-449', 'still fine', 'svc-449']);
    assert.ok(decrypted.some((f) => f.startsWith('plugins')) && decrypted.includes('vault.db') && decrypted.some((f) => f.startsWith('audit')), decrypted.join(', '));
    const sealed = findings.filter((f) => !['still fine', 'svc-449'].includes(f.marker));
    assert.deepEqual(sealed, [], 'no sealed value anywhere');
    // The control: plaintext fields are found where they live, so the scan does read the files.
    assert.ok(findings.some((f) => f.marker === 'still fine' && f.how === 'decrypted'));
    assert.ok(findings.some((f) => f.marker === 'svc-449' && f.how === 'decrypted'));
    assert.ok(findings.every((f) => f.how === 'decrypted'), 'nothing readable without the keys');
    host = start();
  });
});
