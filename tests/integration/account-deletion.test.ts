// Account deletion by crypto-shredding: after the purge nothing of the user is left in the data
// directory (files, keyring salts, sessions, identity links), other users are untouched, and a
// copy of the user's files taken before the purge can no longer be read by this host. A
// cancellation inside the grace period keeps everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startFakeSlackApi } from '../fakes/slack-web-api.js';
import { eventCallback } from '../fakes/slack-signing.js';
import { fakeWorkspace } from '../fakes/slack-workspace.js';
import { startChatHost } from '../helpers/chat-host.js';
import { cookieOf } from '../helpers/dashboard-host.js';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';
import { KeyService, fileIdFor } from '../../host/keys/key-service.js';
import { Keyring } from '../../host/keys/keyring.js';
import { openEncryptedDatabase } from '../../host/sqlite/encrypted-database.js';
import type { CallerContext } from '../../host/identity/caller-context.js';

const day = 86_400_000;

function keysOf(env: Record<string, string>): KeyService {
  return new KeyService({ master: Buffer.from(env['BULKHEAD_MASTER_KEY'] as string, 'hex'), signing: Buffer.from(env['BULKHEAD_SIGNING_KEY'] as string, 'hex') });
}

function freshKeys(): Record<string, string> {
  return { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };
}

/** Every file under the data directory, relative, with its size. */
function scan(dir: string): Map<string, number> {
  const files = new Map<string, number>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, full), readFileSync(full).length);
  }
  return files;
}

/** Rows of one of the host's own encrypted databases, read with the host's keys after it stopped. */
function rowsOf(file: string, key: Buffer, sql: string): unknown[] {
  const db = openEncryptedDatabase(file, key, { cipher: 'aegis', cacheKiB: 256, create: false });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

test('grace 0: the purge leaves no file, salt, session or identity link of the Slack user; other users are untouched; their next message starts an empty account', async () => {
  const keysEnv = freshKeys();
  const slack = await startFakeSlackApi();
  const chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken, env: { ...keysEnv, BULKHEAD_DELETION_GRACE_DAYS: '0' } });
  const dataDir = chat.host.config.dataDir;
  const keys = keysOf(keysEnv);
  let eventNo = 0;
  const dm = async (user: string, text: string): Promise<string> => {
    const channel = `D0${user.slice(2)}`;
    const before = slack.calls.length;
    const response = await chat.post(JSON.stringify(eventCallback({ text, userId: user, channel, eventId: `Ev0DEL${String(++eventNo).padStart(4, '0')}` })));
    assert.equal(response.status, 200);
    const reply = await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === channel && slack.calls.indexOf(c) >= before);
    return String(reply.body['text']);
  };
  let victim = '';
  try {
    const { host, fronts } = chat;
    await dm('U0VICTIM01', 'notes add victim secret');
    await dm('U0OTHER001', 'notes add other note');
    await host.dispatcher.invoke(consoleUser('olga'), 'notes', 'add', { text: 'olga note' });
    victim = host.identities.resolve('slack', fakeWorkspace.teamId, 'U0VICTIM01');
    // The victim is logged in to the dashboard too.
    const headers = { 'sec-fetch-site': 'same-origin', origin: fronts.dashboardUrl, 'content-type': 'application/json' };
    const link = fronts.loginLink({ globalUserId: victim, platformIdentity: `slack:${fakeWorkspace.teamId}:U0VICTIM01` });
    const login = await fronts.http.inject({ method: 'POST', url: '/api/v1/login', headers, payload: JSON.stringify({ token: link.slice(link.indexOf('#') + 1) }) });
    assert.equal(login.statusCode, 200);
    const cookie = cookieOf(login);

    const victimFiles = [
      path.join('plugins', 'notes', `${fileIdFor(keys.pluginKey('notes'), victim)}.db`),
      path.join('audit', `${fileIdFor(keys.auditKey(), victim)}.db`),
    ];
    const before = scan(dataDir);
    for (const file of victimFiles) assert.ok(before.has(file), `the victim has ${file.split('/')[0]} data before`);

    // A login link minted before the purge (it lives 10 minutes) is used after it.
    const early = fronts.loginLink({ globalUserId: victim, platformIdentity: `slack:${fakeWorkspace.teamId}:U0VICTIM01` });
    const caller: CallerContext = { globalUserId: victim, front: 'slack', replyTo: 'slack:D0VICTIM01', admin: false, authTime: Date.now() };
    const status = await host.account.requestDeletion(caller);
    const late = await fronts.http.inject({ method: 'POST', url: '/api/v1/login', headers, payload: JSON.stringify({ token: early.slice(early.indexOf('#') + 1) }) });
    assert.equal(late.statusCode, 401, 'a link minted before the purge does not start an account under the old id');
    assert.equal(status.dueAt, status.requestedAt, 'no grace period');

    const after = scan(dataDir);
    for (const file of victimFiles) {
      for (const suffix of ['', '-wal', '-shm']) assert.equal(after.has(file + suffix), false, `${file}${suffix} is gone`);
    }
    // Nothing else disappeared: every other user's file is still there.
    const gone = [...before.keys()].filter((f) => !after.has(f) && !/-(wal|shm)$/.test(f));
    assert.deepEqual(gone.sort(), [...victimFiles].sort());
    // The session ended at once.
    assert.equal((await fronts.http.inject({ method: 'GET', url: '/api/v1/session', headers: { ...headers, cookie } })).statusCode, 401);
    // Others still have their data.
    assert.match(await dm('U0OTHER001', 'notes list'), /other note/);
    assert.match(JSON.stringify((await host.dispatcher.invoke(consoleUser('olga'), 'notes', 'list', {})).result), /olga note/);
    // The victim's next message starts a fresh, empty account under a new id.
    assert.match(await dm('U0VICTIM01', 'notes list'), /no notes/i);
    assert.notEqual(host.identities.resolve('slack', fakeWorkspace.teamId, 'U0VICTIM01'), victim);
    // The host's own databases (read next to the running host, with its keys) keep nothing of the old id.
    const sessions = rowsOf(path.join(dataDir, 'dashboard.db'), keys.dashboardSessionsKey(), 'SELECT "global_user_id" AS "id" FROM "sessions"');
    assert.deepEqual(sessions, [], 'no session is left');
    const identities = rowsOf(path.join(dataDir, 'identities.db'), keys.identityKey(), 'SELECT "global_user_id" AS "id" FROM "identities"') as { id: string }[];
    assert.equal(identities.length, 2, 'the other user and the new account');
    assert.ok(!identities.some((row) => row.id === victim), 'no identity link to the old id');
    const keyring = new Keyring(path.join(dataDir, 'keyring.db'), keys.keyringKey(), 'aegis');
    try {
      assert.equal(keyring.entry('notes', fileIdFor(keys.pluginKey('notes'), victim)), undefined);
      assert.equal(keyring.entry('~audit', fileIdFor(keys.auditKey(), victim)), undefined);
    } finally {
      keyring.close();
    }
  } finally {
    await chat.close().catch(() => undefined);
    await slack.close();
  }
  assert.ok(victim.startsWith('u_'));
});

test('crypto-shredding: a copy of the user\'s files taken before the purge, put back, yields no data; the keyring, sessions and identity directory keep nothing of them; the host audit log has only a purge id', async () => {
  const { dir, cleanup } = tempDir();
  const backupDir = tempDir();
  const keysEnv = freshKeys();
  const keys = keysOf(keysEnv);
  const clock = { now: Date.now() };
  try {
    const env = { ...keysEnv, BULKHEAD_DELETION_GRACE_DAYS: '0' };
    let host = startTestHost({ dataDir: dir, env, now: () => clock.now });
    const ivan = consoleUser('ivan');
    const judy = consoleUser('judy');
    await host.dispatcher.invoke(ivan, 'notes', 'add', { text: 'ivan private' });
    await host.dispatcher.invoke(judy, 'notes', 'add', { text: 'judy private' });
    await host.shutdown();
    // The backup: the user's files as they were (the data directory without the keyring).
    const backup = path.join(backupDir.dir, 'copy');
    mkdirSync(backup, { recursive: true });
    const ivanFiles = [path.join('plugins', 'notes', `${fileIdFor(keys.pluginKey('notes'), 'console:ivan')}.db`), path.join('audit', `${fileIdFor(keys.auditKey(), 'console:ivan')}.db`)];
    for (const file of ivanFiles) copyFileSync(path.join(dir, file), path.join(backup, path.basename(file)));

    // A call that arrives while the purge runs is refused: run after a removed file, it would
    // create it again.
    let during: Promise<{ code: string }> | undefined;
    host = startTestHost({ dataDir: dir, env, now: () => clock.now, onPurgeStep: (step) => {
      if (step === 'file') during ??= rejection(host.dispatcher.invoke(ivan, 'notes', 'add', { text: 'during the purge' }));
    } });
    await host.account.requestDeletion(ivan);
    assert.equal((await (during as Promise<{ code: string }>)).code, 'BH_ACCOUNT_BEING_DELETED');
    await host.shutdown();

    const keyring = new Keyring(path.join(dir, 'keyring.db'), keys.keyringKey(), 'aegis');
    try {
      assert.equal(keyring.entry('notes', fileIdFor(keys.pluginKey('notes'), 'console:ivan')), undefined, 'the notes salt is shredded');
      assert.equal(keyring.entry('~audit', fileIdFor(keys.auditKey(), 'console:ivan')), undefined, 'the audit salt is shredded');
      assert.ok(keyring.entry('notes', fileIdFor(keys.pluginKey('notes'), 'console:judy')), 'judy keeps hers');
    } finally {
      keyring.close();
    }
    assert.deepEqual(rowsOf(path.join(dir, 'deletions.db'), keys.deletionsKey(), 'SELECT * FROM "deletions"'), [], 'the deletion queue keeps nothing');
    const hostAudit = readFileSync(path.join(dir, 'host-audit.jsonl'), 'utf8');
    assert.match(hostAudit, /"event":"account.purged","purgeId":"p_/);
    assert.equal(hostAudit.includes('ivan'), false, 'the host audit log never names the user');

    // The backup is put back where it was.
    for (const file of ivanFiles) copyFileSync(path.join(backup, path.basename(file)), path.join(dir, file));
    host = startTestHost({ dataDir: dir, env, now: () => clock.now });
    try {
      const error = await rejection(host.dispatcher.invoke(ivan, 'notes', 'list', {}));
      assert.equal(error.code, 'BH_STORE_SHREDDED', 'the restored copy cannot be decrypted');
      assert.equal(JSON.stringify((await host.dispatcher.invoke(judy, 'notes', 'list', {})).result).includes('judy private'), true);
    } finally {
      await host.shutdown();
    }
  } finally {
    cleanup();
    backupDir.cleanup();
  }
});

test('a deletion waits for its grace period (injectable clock); cancelled inside it, everything is kept; asking twice keeps the first date', async () => {
  const { dir, cleanup } = tempDir();
  const clock = { now: Date.UTC(2026, 0, 1) };
  const host = startTestHost({ dataDir: dir, now: () => clock.now });
  try {
    const kim = consoleUser('kim');
    const leo = consoleUser('leo');
    await host.dispatcher.invoke(kim, 'notes', 'add', { text: 'kim keeps this' });
    await host.dispatcher.invoke(leo, 'notes', 'add', { text: 'leo loses this' });
    const first = await host.account.requestDeletion(kim);
    assert.equal(first.dueAt, new Date(clock.now + 30 * day).toISOString(), 'the default grace is 30 days');
    clock.now += day;
    assert.deepEqual(await host.account.requestDeletion(kim), first, 'asking again keeps the first date');
    await host.account.requestDeletion(leo);
    assert.deepEqual((await host.account.status(kim)).deletion, first);

    clock.now += 28 * day;
    assert.equal(await host.account.purgeDue(), 0, 'nothing is due inside the grace period');
    assert.equal(await host.account.cancelDeletion(kim), true);
    assert.equal(await host.account.cancelDeletion(kim), false, 'nothing left to cancel');
    assert.equal((await host.account.status(kim)).deletion, null);

    clock.now += 3 * day;
    assert.equal(await host.account.purgeDue(), 1, 'leo\'s deletion came due');
    assert.match(JSON.stringify((await host.dispatcher.invoke(kim, 'notes', 'list', {})).result), /kim keeps this/);
    assert.equal(JSON.stringify((await host.dispatcher.invoke(leo, 'notes', 'list', {})).result).includes('leo loses this'), false);
    const kinds = (await host.account.activity(kim)).lines.filter((l) => l.kind === 'account').map((l) => l.op);
    assert.deepEqual(kinds, ['deletion-cancelled', 'deletion-requested', 'deletion-requested'], 'her log shows what she asked for');
  } finally {
    await host.shutdown();
    cleanup();
  }
});
