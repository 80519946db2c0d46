// A purge killed with SIGKILL at any step is finished by the next start: afterwards nothing of the
// user is left half-deleted, and no other user's file was touched. The host runs in a child
// process (tests/fixtures/purge-child.ts) that kills itself right after the chosen step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fromRoot } from '../../host/core/paths.js';
import { KeyService, fileIdFor } from '../../host/keys/key-service.js';
import { Keyring } from '../../host/keys/keyring.js';
import { runStart } from '../helpers/cli.js';
import { builtInPluginsDir, consoleUser, startTestHost, tempDir } from '../helpers/fixtures.js';

const child = fromRoot('dist', 'tests', 'fixtures', 'purge-child.js');

function runChild(dataDir: string, env: Record<string, string>, killAt: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dataDir, killAt], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

interface Seeded {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly keys: KeyService;
  readonly cleanup: () => void;
}

/**
 * A data directory where the victim and a bystander each have notes and an audit log, and where
 * the victim also has a file of a plugin the host no longer loads (`old-plugin`, a salt in the
 * keyring and a file on disk): the purge must find it all the same.
 */
async function seed(): Promise<Seeded> {
  const { dir, cleanup } = tempDir();
  const env = { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };
  const keys = new KeyService({ master: Buffer.from(env.BULKHEAD_MASTER_KEY, 'hex'), signing: Buffer.from(env.BULKHEAD_SIGNING_KEY, 'hex') });
  const host = startTestHost({ dataDir: dir, env, builtInDirs: [builtInPluginsDir] });
  try {
    for (const name of ['victim', 'bystander']) await host.dispatcher.invoke(consoleUser(name), 'notes', 'add', { text: `${name} note` });
  } finally {
    await host.shutdown();
  }
  const keyring = new Keyring(path.join(dir, 'keyring.db'), keys.keyringKey(), 'aegis');
  try {
    for (const name of ['victim', 'bystander']) {
      const fileId = fileIdFor(keys.pluginKey('old-plugin'), `console:${name}`);
      keyring.saltOrCreate('old-plugin', fileId);
      keyring.markCreated('old-plugin', fileId);
      mkdirSync(path.join(dir, 'plugins', 'old-plugin'), { recursive: true });
      writeFileSync(path.join(dir, 'plugins', 'old-plugin', `${fileId}.db`), randomBytes(4096));
    }
  } finally {
    keyring.close();
  }
  return { dir, env, keys, cleanup };
}

/** The victim's files and salts, and the bystander's, as they are on disk now. */
function state(seeded: Seeded): { victimFiles: number; victimSalts: number; bystanderFiles: number; bystanderSalts: number } {
  const { dir, keys } = seeded;
  const places = (user: string): { file: string; keyring: string; fileId: string }[] =>
    [
      ...['notes', 'old-plugin'].map((plugin) => ({ keyring: plugin, fileId: fileIdFor(keys.pluginKey(plugin), user) })).map((p) => ({ ...p, file: path.join(dir, 'plugins', p.keyring, `${p.fileId}.db`) })),
      { keyring: '~audit', fileId: fileIdFor(keys.auditKey(), user), file: path.join(dir, 'audit', `${fileIdFor(keys.auditKey(), user)}.db`) },
    ];
  const keyring = new Keyring(path.join(dir, 'keyring.db'), keys.keyringKey(), 'aegis');
  try {
    const count = (user: string): [number, number] => {
      const list = places(user);
      return [list.filter((p) => existsSync(p.file)).length, list.filter((p) => keyring.entry(p.keyring, p.fileId) !== undefined).length];
    };
    const [victimFiles, victimSalts] = count('console:victim');
    const [bystanderFiles, bystanderSalts] = count('console:bystander');
    return { victimFiles, victimSalts, bystanderFiles, bystanderSalts };
  } finally {
    keyring.close();
  }
}

function hostAuditEvents(dir: string): { event: string; purgeId?: string }[] {
  const file = path.join(dir, 'host-audit.jsonl');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { event: string; purgeId?: string }) : [];
}

// After the purge marked itself started; after the first file (notes), the second (old-plugin) and
// the last (the audit log, which goes last, after one step per plugin name: every built-in and
// old-plugin); after the sessions; after the identity links; after the host audit line.
const builtIns = readdirSync(builtInPluginsDir).filter((name) => existsSync(path.join(builtInPluginsDir, name, 'plugin.json')));
const lastFile = `file:${builtIns.length + 2}`;
const killPoints = ['started:1', 'file:1', 'file:2', lastFile, 'sessions:1', 'identities:1', 'audited:1'];

for (const killAt of killPoints) {
  test(`SIGKILL after purge step ${killAt}: the next start finishes the purge, and the bystander keeps everything`, async () => {
    const seeded = await seed();
    try {
      const before = state(seeded);
      assert.deepEqual(before, { victimFiles: 3, victimSalts: 3, bystanderFiles: 3, bystanderSalts: 3 });
      const point = killAt;
      const run = await runChild(seeded.dir, seeded.env, point);
      assert.equal(run.signal, 'SIGKILL', `the host was killed at ${point} (exit code ${run.code})`);
      const killed = state(seeded);
      assert.deepEqual({ bystanderFiles: killed.bystanderFiles, bystanderSalts: killed.bystanderSalts }, { bystanderFiles: 3, bystanderSalts: 3 }, 'the bystander is untouched');
      if (killAt === 'started:1') assert.equal(killed.victimSalts, 3, 'killed before any file');
      if (killAt === 'file:1') assert.deepEqual([killed.victimFiles, killed.victimSalts], [2, 2], 'killed after the first file');
      if (killAt === lastFile || killAt === 'sessions:1') assert.deepEqual([killed.victimFiles, killed.victimSalts], [0, 0]);

      // The next start finishes it.
      const host = startTestHost({ dataDir: seeded.dir, env: seeded.env, builtInDirs: [builtInPluginsDir] });
      try {
        assert.equal(await host.account.purgeDue(), 1, 'one interrupted purge was finished');
        assert.equal(await host.account.purgeDue(), 0);
        assert.equal((await host.account.status(consoleUser('victim'))).deletion, null);
        const listed = await host.dispatcher.invoke(consoleUser('bystander'), 'notes', 'list', {});
        assert.match(JSON.stringify(listed.result), /bystander note/);
      } finally {
        await host.shutdown();
      }
      const after = state(seeded);
      assert.deepEqual(after, { victimFiles: 0, victimSalts: 0, bystanderFiles: 3, bystanderSalts: 3 });
      const events = hostAuditEvents(seeded.dir).filter((e) => e.event.startsWith('account.'));
      assert.deepEqual(
        events.map((e) => e.event),
        killAt === 'audited:1' ? ['account.purge-started', 'account.purged', 'account.purged'] : ['account.purge-started', 'account.purged'],
      );
      assert.equal(new Set(events.map((e) => e.purgeId)).size, 1, 'one purge id throughout');
    } finally {
      seeded.cleanup();
    }
  });
}

test('`bulkhead start` finishes an interrupted purge before it says it is running', async () => {
  const seeded = await seed();
  try {
    const run = await runChild(seeded.dir, seeded.env, 'file:2');
    assert.equal(run.signal, 'SIGKILL');
    assert.notDeepEqual(state(seeded), { victimFiles: 0, victimSalts: 0, bystanderFiles: 3, bystanderSalts: 3 });
    const started = await runStart(seeded.dir, { ...seeded.env, BULKHEAD_DATA_DIR: seeded.dir });
    assert.equal(started.code, 0, started.stderr);
    assert.deepEqual(state(seeded), { victimFiles: 0, victimSalts: 0, bystanderFiles: 3, bystanderSalts: 3 });
  } finally {
    seeded.cleanup();
  }
});
