// A change of master password killed with SIGKILL part-way through its re-seal is finished by the
// next unlock with the new password, and from the moment the change began the old password opens
// nothing. The host that changes runs in a child process (tests/fixtures/vault-change-child.ts);
// the one that finishes runs here. Checked through the host (every sealed value reads back) and
// at rest: each stored value is tried with keys derived here from the old and the new password.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fromRoot } from '../../host/core/paths.js';
import type { Host } from '../../host/host.js';
import { KeyService } from '../../host/keys/key-service.js';
import type { PluginManifest } from '../../host/manifest/manifest.js';
import { sealedWith } from '../../host/vault/sealed.js';
import { deriveVaultKey } from '../../host/vault/vault-keys.js';
import { VaultRecords } from '../../host/vault/vault-records.js';
import type { ResealPage } from '../../host/vault/vault-service.js';
import { consoleUser, fixturePluginsDir, openTestStore, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';

const child = fromRoot('dist', 'tests', 'fixtures', 'vault-change-child.js');
const keeper = consoleUser('keeper');
const records = 2_000;
/** Each change goes from one password to the next. */
const passwords = ['correct horse battery', 'second master password', 'third master password', 'fourth master password', 'fifth master password'];
/** Pages of the re-seal with records in them (200 a page); one more finds none left. */
const fullPages = records / 200;
const pages = fullPages + 1;
const sealedValues = records + Math.ceil(records / 2);

/** What record i holds: a sealed password, a sealed json on every other record. */
function expected(i: number): { service: string; password: string; extra: unknown } {
  return { service: `svc-${String(i).padStart(4, '0')}`, password: `pw-${i}-${'x'.repeat(i % 7)}`, extra: i % 2 === 0 ? { i, tags: ['t', i % 5] } : null };
}

interface Answer {
  ok: boolean;
  records?: Record<string, unknown>[];
  error?: { code: string };
}

interface Run {
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  /** Values re-sealed by each page the child reported. */
  readonly pages: number[];
  readonly changed: boolean;
}

/**
 * Runs the child's change of password. `killAfter` > 0: it kills itself right after that page;
 * `fromOutside`: this process kills it on reading that page, wherever it has got to by then.
 */
function runChild(dataDir: string, pluginsDir: string, env: Record<string, string>, killAfter: number, fromOutside: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dataDir, pluginsDir, fromOutside ? '0' : String(killAfter)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    const seen: number[] = [];
    let changed = false;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const [word, n, resealed] = line.split(' ');
      if (word === 'changed') changed = true;
      if (word !== 'page') return;
      seen.push(Number(resealed));
      if (fromOutside && Number(n) === killAfter) proc.kill('SIGKILL');
    });
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ signal, code, pages: seen, changed }));
  });
}

describe('a change of master password killed with SIGKILL during its re-seal', () => {
  const { dir, cleanup } = tempDir('bulkhead-vault-crash-');
  const dataDir = path.join(dir, 'host');
  const pluginsDir = path.join(dir, 'plugins-in');
  const env = { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };
  const keys = new KeyService({ master: Buffer.from(env.BULKHEAD_MASTER_KEY, 'hex'), signing: Buffer.from(env.BULKHEAD_SIGNING_KEY, 'hex') });
  /** The vault key each password made, derived here from the salt it was set up with. */
  const keyOf = new Map<string, Buffer>();
  let manifest: PluginManifest;
  const start = (onResealPage?: (page: ResealPage) => void): Host => startTestHost({ dataDir, builtInDirs: [pluginsDir], env, ...(onResealPage ? { onResealPage } : {}) });

  /** The user's vault record now, read from vault.db with the host's key. */
  const vaultRecord = (): { salt: Buffer; pending: string | null } => {
    const file = new VaultRecords(path.join(dataDir, 'vault.db'), keys.vaultRecordsKey(), 'aegis');
    try {
      const record = file.get(keeper.globalUserId);
      assert.ok(record, 'the vault record is there');
      return { salt: record.salt, pending: record.pending };
    } finally {
      file.close();
    }
  };

  /** Derives the key of the password that is current now (its salt is the record's). */
  const learnKey = async (password: string): Promise<void> => {
    keyOf.set(password, await deriveVaultKey(password, vaultRecord().salt, keys.vaultPepper(keeper.globalUserId)));
  };

  /** How many stored sealed values each key opens (by password), and how many none of them opens. */
  const atRest = (tried: readonly string[]): { opens: Record<string, number>; none: number } => {
    const t = openTestStore({ dataDir, master: Buffer.from(env.BULKHEAD_MASTER_KEY, 'hex'), signing: Buffer.from(env.BULKHEAD_SIGNING_KEY, 'hex'), manifests: [manifest] });
    const opens: Record<string, number> = Object.fromEntries(tried.map((p) => [p, 0]));
    let none = 0;
    try {
      const token = t.token(keeper.globalUserId, 'sealrelay');
      for (let after = ''; ; ) {
        const page = t.store.exportPage(token, 'sealrelay', 'secrets', after, 500);
        if (page.length === 0) break;
        for (const row of page) {
          for (const field of ['password', 'extra']) {
            const stored = row[field];
            if (stored === null) continue;
            const place = { user: keeper.globalUserId, plugin: 'sealrelay', collection: 'secrets', field, record: String(row['id']) };
            const opener = tried.find((p) => sealedWith([keyOf.get(p) as Buffer], String(stored), place) === 0);
            if (opener) opens[opener] = (opens[opener] ?? 0) + 1;
            else none += 1;
          }
        }
        after = String(page[page.length - 1]?.['id']);
      }
    } finally {
      t.close();
    }
    return { opens, none };
  };

  /** Every record as the host reads it, by its number. */
  const readAll = async (host: Host): Promise<Map<number, Record<string, unknown>>> => {
    const found = new Map<number, Record<string, unknown>>();
    for (let offset = 0; offset < records; offset += 500) {
      const answer = (await host.dispatcher.invoke(keeper, 'sealrelay', 'query_raw', { op: 'find', collection: 'secrets', orderBy: [{ field: 'service' }], limit: 500, offset })).result as Answer;
      assert.equal(answer.ok, true, answer.error?.code);
      for (const record of answer.records ?? []) found.set(Number(String(record['service']).slice(4)), record);
    }
    return found;
  };

  const assertAllReadable = async (host: Host): Promise<void> => {
    const found = await readAll(host);
    assert.equal(found.size, records);
    for (let i = 0; i < records; i++) {
      const { password, extra } = expected(i);
      const record = found.get(i);
      // Compared one by one, but reported without the values.
      if (record?.['password'] !== password) assert.fail(`record ${i}: the sealed password does not read back`);
      assert.deepEqual(record['extra'], extra, `record ${i}: the sealed json does not read back`);
    }
  };

  before(async () => {
    cpSync(path.join(fixturePluginsDir, 'sealrelay'), path.join(pluginsDir, 'sealrelay'), { recursive: true });
    const host = start();
    try {
      const sealrelay = host.catalog.plugins.get('sealrelay');
      assert.ok(sealrelay, 'the sealrelay fixture is built (npm run build)');
      manifest = sealrelay.manifest;
      await host.vault.setup(keeper, passwords[0] as string, passwords[0] as string);
      let next = 0;
      const lane = async (): Promise<void> => {
        for (let i = next++; i < records; i = next++) {
          const answer = await host.dispatcher.invoke(keeper, 'sealrelay', 'query_raw', { op: 'insert', collection: 'secrets', values: expected(i) });
          assert.equal((answer.result as Answer).ok, true);
        }
      };
      await Promise.all(Array.from({ length: 4 }, lane));
    } finally {
      await host.shutdown();
    }
    await learnKey(passwords[0] as string);
    assert.deepEqual(atRest([passwords[0] as string]), { opens: { [passwords[0] as string]: sealedValues }, none: 0 });
  });
  after(() => cleanup());

  // Killed from outside as soon as the first page is reported (it lands wherever the re-seal has got
  // to, often inside a page's transaction); then right after a page picked at random; then after the
  // last page, when every value is re-sealed but the change is not yet marked finished.
  const randomPage = 2 + Math.floor(Math.random() * (fullPages - 2));
  const kills = [
    { name: 'from outside, once the first page is reported', page: 1, fromOutside: true },
    { name: `right after page ${randomPage} of ${pages} (picked at random)`, page: randomPage, fromOutside: false },
    { name: 'right after page 1', page: 1, fromOutside: false },
    { name: `right after the last page (${pages}), before the change is marked finished`, page: pages, fromOutside: false },
  ];
  for (const [n, kill] of kills.entries()) {
    const [from, to] = [passwords[n] as string, passwords[n + 1] as string];
    test(`killed ${kill.name}: only the new password opens the vault, the next unlock finishes the change, every sealed value reads back`, async (t) => {
      const run = await runChild(dataDir, pluginsDir, { ...env, BH_TEST_VAULT_FROM: from, BH_TEST_VAULT_TO: to }, kill.page, kill.fromOutside);
      assert.equal(run.signal, 'SIGKILL', `the child was killed (exit code ${run.code})`);
      assert.equal(run.changed, false, 'the change did not finish before the kill');
      if (kill.fromOutside) assert.ok(run.pages.length >= kill.page);
      else assert.equal(run.pages.length, kill.page);

      // At rest: the change is recorded, and the values are part under the old key, part under the new.
      assert.notEqual(vaultRecord().pending, null, 'the change is recorded as unfinished');
      await learnKey(to);
      const killed = atRest([from, to]);
      t.diagnostic(`pages reported before the kill: ${run.pages.length}; sealed values under the new key: ${killed.opens[to]}, under the old: ${killed.opens[from]}`);
      assert.equal(killed.none, 0, 'every value opens under the old key or the new one');
      const reported = run.pages.reduce((a, b) => a + b, 0);
      // A kill from outside may land after a page committed and before it was reported.
      if (kill.fromOutside) assert.ok((killed.opens[to] ?? 0) >= reported, 'every page reported is committed');
      else assert.equal(killed.opens[to], reported, 'every page reported is committed, and nothing after it');
      if (kill.page === pages) assert.equal(killed.opens[from], 0, 'after the last page nothing is left under the old key');
      else assert.ok((killed.opens[from] ?? 0) > 0, 'killed part-way: some values are still under the old key');

      const finished: ResealPage[] = [];
      let host = start((page) => finished.push(page));
      try {
        assert.deepEqual(await host.vault.status(keeper.globalUserId), { setUp: true, unlocked: false, changing: true, retryAfterSeconds: 0 });
        assert.equal((await rejection(host.vault.unlock(keeper, from))).code, 'BH_VAULT_WRONG_PASSWORD', 'the old password opens nothing once the change began');
        assert.equal((await rejection(host.vault.change(keeper, from, 'yet another password', 'yet another password'))).code, 'BH_VAULT_LOCKED', 'nor start another change');
        await host.vault.unlock(keeper, to);
        assert.deepEqual(await host.vault.status(keeper.globalUserId), { setUp: true, unlocked: true, changing: false, retryAfterSeconds: 0 });
        assert.equal(
          finished.reduce((sum, page) => sum + page.resealed, 0),
          killed.opens[from],
          'the unlock re-sealed exactly the values the kill left under the old key',
        );
        assert.ok(finished.every((page) => page.unreadable === 0));
        await assertAllReadable(host);

        await host.vault.lock(keeper);
        assert.equal((await rejection(host.vault.unlock(keeper, from))).code, 'BH_VAULT_WRONG_PASSWORD');
        await host.vault.unlock(keeper, to);
        await assertAllReadable(host);
      } finally {
        await host.shutdown();
      }
      // A restart in between changes nothing.
      host = start();
      try {
        await host.vault.unlock(keeper, to);
        assert.equal((await host.vault.status(keeper.globalUserId)).changing, false);
      } finally {
        await host.shutdown();
      }
      assert.equal(vaultRecord().pending, null, 'the change is recorded as finished');
      assert.deepEqual(atRest([from, to]), { opens: { [from]: 0, [to]: sealedValues }, none: 0 }, 'at rest, every value is under the new key and none under the old');
    });
  }
});
