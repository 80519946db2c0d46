// The user's own audit log: every capability call and every store operation leaves exactly one
// line in that user's log, whichever front it came through, and nothing in anyone else's; and no
// line anywhere (the users' logs, the host's audit log, the host's log output) holds a value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeSlackApi } from '../fakes/slack-web-api.js';
import { eventCallback } from '../fakes/slack-signing.js';
import { fakeWorkspace } from '../fakes/slack-workspace.js';
import { startChatHost } from '../helpers/chat-host.js';
import { cookieOf } from '../helpers/dashboard-host.js';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';
import type { AuditLine } from '../../host/account/types.js';

const marker = 'MARKER-AUDIT-7f3a2c';

test('a notes.add from Slack, the console and the dashboard each leaves one call line and one store line in its own user log only; the marker is in no audit line, host audit line or log line', async () => {
  const slack = await startFakeSlackApi();
  const chat = await startChatHost({ slackApiUrl: slack.url, botToken: slack.workspace.botToken });
  try {
    const { host, fronts } = chat;
    // Slack: a DM through the deterministic router.
    const slackUser = 'U0AUDIT001';
    const response = await chat.post(JSON.stringify(eventCallback({ text: `notes add ${marker} from slack`, userId: slackUser, channel: 'D0AUDIT001', eventId: 'Ev0AUDIT01' })));
    assert.equal(response.status, 200);
    await slack.waitFor('chat.postMessage', (c) => c.body['channel'] === 'D0AUDIT001');
    const slackId = host.identities.resolve('slack', fakeWorkspace.teamId, slackUser);
    // The console: the dispatcher, as `bulkhead invoke` and `console` call it.
    await host.dispatcher.invoke(consoleUser('carol'), 'notes', 'add', { text: `${marker} from the console` });
    // The dashboard: a real login and invoke over the host's HTTP server.
    const origin = fronts.dashboardUrl;
    const headers = { 'sec-fetch-site': 'same-origin', origin, 'content-type': 'application/json' };
    const link = fronts.loginLink({ globalUserId: 'console:dave', platformIdentity: 'console:dave' });
    const login = await fronts.http.inject({ method: 'POST', url: '/api/v1/login', headers, payload: JSON.stringify({ token: link.slice(link.indexOf('#') + 1) }) });
    assert.equal(login.statusCode, 200);
    const invoked = await fronts.http.inject({
      method: 'POST',
      url: '/api/v1/invoke/notes/add',
      headers: { ...headers, cookie: cookieOf(login) },
      payload: JSON.stringify({ params: { text: `${marker} from the dashboard` } }),
    });
    assert.equal(invoked.statusCode, 200, invoked.body);

    const logs = new Map<string, { front: string; lines: readonly AuditLine[] }>([
      [slackId, { front: 'slack', lines: [] }],
      ['console:carol', { front: 'console', lines: [] }],
      ['console:dave', { front: 'dashboard', lines: [] }],
    ]);
    for (const [id, entry] of logs) {
      const page = await host.account.activity({ ...consoleUser('x'), globalUserId: id }, { limit: 200 });
      logs.set(id, { ...entry, lines: page.lines });
    }
    for (const [id, { front, lines }] of logs) {
      const shape = lines.map((l) => `${l.kind} ${l.front} ${l.plugin}.${l.capability} ${l.op ?? '-'} ${l.collection ?? '-'} ${l.rows ?? '-'} ${l.outcome}`);
      assert.deepEqual(shape, [`call ${front} notes.add - - - ok`, `store ${front} notes.add insert notes 1 ok`], `the log of the ${front} user has exactly its own call: ${id.slice(0, 8)}`);
    }
    // Nobody else has a log: the directory holds exactly three audit files.
    const auditFiles = readdirSync(path.join(chat.host.config.dataDir, 'audit')).filter((f) => f.endsWith('.db'));
    assert.equal(auditFiles.length, 3);

    const everyLine = [...logs.values()].flatMap((l) => l.lines.map((line) => JSON.stringify(line)));
    assert.deepEqual(everyLine.filter((line) => line.includes(marker) || line.includes('from the')), [], 'no audit line holds a value');
    const hostAudit = path.join(chat.host.config.dataDir, 'host-audit.jsonl');
    if (existsSync(hostAudit)) assert.equal(readFileSync(hostAudit, 'utf8').includes(marker), false, 'the host audit log holds no value');
    assert.deepEqual(chat.logLines.filter((line) => line.includes(marker)), [], 'no log line holds the marker');
  } finally {
    await chat.close();
    await slack.close();
  }
});

test('refused calls, failed store requests and a plugin error are recorded by what they were, never by what they held', async () => {
  const { dir, cleanup } = tempDir();
  const host = startTestHost({ dataDir: dir });
  try {
    const erin = consoleUser('erin');
    // Params that do not fit the schema: refused before the plugin runs, recorded as refused.
    await rejection(host.dispatcher.invoke(erin, 'notes', 'add', { text: marker, [marker]: 1 }));
    // A plugin error whose detail is the plugin talking (no note with that id).
    await rejection(host.dispatcher.invoke(erin, 'notes', 'delete', { id: marker }));
    // A hostile plugin sends store requests carrying the marker where names go and where values go.
    await host.dispatcher.invoke(erin, 'raw', 'query_raw', { op: 'find', collection: marker });
    await host.dispatcher.invoke(erin, 'raw', 'query_raw', { op: marker, collection: 'items' });
    await host.dispatcher.invoke(erin, 'raw', 'query_raw', { op: 'insert', collection: 'items', record: { [marker]: marker } });
    await host.dispatcher.invoke(erin, 'raw', 'query_raw', { op: 'find', collection: 'items', where: { field: 'id', eq: marker } });
    const { lines } = await host.account.activity(erin, { limit: 200 });
    const text = JSON.stringify(lines);
    assert.equal(text.includes(marker), false);
    assert.deepEqual(
      lines.map((l) => [l.kind, l.capability, l.op ?? '-', l.collection ?? '-', l.rows ?? '-', l.outcome, l.code ?? '-'].join(' ')),
      [
        'call query_raw - - - ok -',
        'store query_raw find items - error BH_QUERY_UNKNOWN_FIELD',
        'call query_raw - - - ok -',
        'store query_raw insert items - error BH_QUERY_INVALID',
        'call query_raw - - - ok -',
        // The operation it named is not one: left out. The collection is declared: kept.
        'store query_raw - items - error BH_QUERY_INVALID',
        'call query_raw - - - ok -',
        // The collection it named is not declared (it was the marker): left out.
        'store query_raw find - - error BH_QUERY_UNKNOWN_COLLECTION',
        'call delete - - - error BH_PLUGIN_ERROR',
        'store delete delete notes 0 ok -',
        'call add - - - refused BH_PARAMS_INVALID',
      ],
    );
  } finally {
    await host.shutdown();
    cleanup();
  }
});

test('a call whose audit line cannot be written fails with BH_AUDIT_WRITE_FAILED, and its store write is rolled back (no silent gap)', async () => {
  const { dir, cleanup } = tempDir();
  const env = { BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };
  const frank = consoleUser('frank');
  try {
    let host = startTestHost({ dataDir: dir, env });
    await host.dispatcher.invoke(frank, 'notes', 'add', { text: 'first' });
    await host.shutdown();
    const auditDir = path.join(dir, 'audit');
    const [file] = readdirSync(auditDir).filter((f) => f.endsWith('.db'));
    const log = path.join(auditDir, file as string);
    const intact = readFileSync(log);
    // The log is damaged (a disk error, a bad restore): nothing can be appended to it.
    writeFileSync(log, randomBytes(intact.length));
    host = startTestHost({ dataDir: dir, env });
    try {
      const error = await rejection(host.dispatcher.invoke(frank, 'notes', 'add', { text: 'second' }));
      assert.equal(error.code, 'BH_AUDIT_WRITE_FAILED');
      // Reading needs a line too.
      assert.equal((await rejection(host.dispatcher.invoke(frank, 'notes', 'list', {}))).code, 'BH_AUDIT_WRITE_FAILED');
      // Other users are not affected.
      await host.dispatcher.invoke(consoleUser('grace'), 'notes', 'add', { text: 'unaffected' });
    } finally {
      await host.shutdown();
    }
    writeFileSync(log, intact);
    host = startTestHost({ dataDir: dir, env });
    try {
      const listed = await host.dispatcher.invoke(frank, 'notes', 'list', {});
      assert.deepEqual((listed.result as { notes: { text: string }[] }).notes.map((n) => n.text), ['first'], 'the write whose line failed was rolled back');
    } finally {
      await host.shutdown();
    }
  } finally {
    cleanup();
  }
});
