/**
 * The dashboard's data-rights routes against a real host: the activity log of the caller's own
 * calls, the streamed export (fresh login only, rate-limited, only the caller's data) and the
 * deletion of an account (an exact confirmation, a grace date, cancellation). Every request goes
 * through the real HTTP server, sessions, dispatcher, executor, store and audit log.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { AuditLine } from '../../host/account/types.js';
import { fromRoot } from '../../host/core/paths.js';
import { freshLoginMs } from '../../dashboard/server.js';
import { startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';

interface Page {
  lines: AuditLine[];
  next?: number;
}

interface Download {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const day = 86_400_000;

describe('dashboard data rights', () => {
  let dash: DashboardHost;
  before(async () => {
    dash = await startDashboardHost({ env: { BULKHEAD_LOGIN_PER_MINUTE: '10000', BULKHEAD_EXPORT_PER_MINUTE: '3' } });
  });
  after(async () => {
    await dash?.close();
  });

  async function json<T>(method: 'GET' | 'POST' | 'DELETE', url: string, cookie: string, body?: unknown): Promise<{ status: number; body: T; text: string }> {
    const response = await dash.request(method, url, { cookie, ...(body === undefined ? {} : { body }) });
    return { status: response.statusCode, body: JSON.parse(response.body) as T, text: response.body };
  }

  async function invoke(cookie: string, capability: string, params: Record<string, unknown>): Promise<number> {
    return (await dash.request('POST', `/api/v1/invoke/notes/${capability}`, { cookie, body: { params } })).statusCode;
  }

  async function activity(cookie: string, query = ''): Promise<Page> {
    const response = await json<Page>('GET', `/api/v1/activity${query}`, cookie);
    assert.equal(response.status, 200, response.text);
    return response.body;
  }

  /** GET /api/v1/export over a real socket, as a browser downloads it. */
  function download(cookie: string): Promise<Download> {
    return new Promise((resolve, reject) => {
      const request = http.get(`${dash.origin}/api/v1/export`, { headers: { cookie } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('error', reject);
    });
  }

  const codeOf = (text: string): string => (JSON.parse(text) as { error: { code: string } }).error.code;

  test("your activity shows your own call, as a call line and a store line naming the plugin, never the note's text", async () => {
    const alice = await dash.login('act-alice');
    const secret = `secret-${randomBytes(6).toString('hex')}`;
    assert.equal(await invoke(alice, 'add', { text: secret }), 200);
    const { lines } = await activity(alice);
    const call = lines.find((line) => line.kind === 'call');
    const store = lines.find((line) => line.kind === 'store');
    assert.deepEqual(
      call && { v: call.v, front: call.front, plugin: call.plugin, capability: call.capability, outcome: call.outcome },
      { v: 1, front: 'dashboard', plugin: 'notes', capability: 'add', outcome: 'ok' },
    );
    assert.deepEqual(store && { front: store.front, plugin: store.plugin, collection: store.collection, rows: store.rows, outcome: store.outcome }, {
      front: 'dashboard',
      plugin: 'notes',
      collection: 'notes',
      rows: 1,
      outcome: 'ok',
    });
    assert.ok(Math.abs(Date.parse(call?.at ?? '') - Date.now()) < 60_000, 'a time close to now');
    const seqs = lines.map((line) => line.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
    assert.ok(!JSON.stringify(lines).includes(secret));
  });

  test("another user's calls never show in your activity", async () => {
    const alice = await dash.login('own-alice');
    const bob = await dash.login('own-bob');
    assert.equal(await invoke(alice, 'list', {}), 200);
    for (let i = 0; i < 3; i++) assert.equal(await invoke(bob, 'add', { text: `bob ${i}` }), 200);
    const { lines } = await activity(alice);
    assert.ok(lines.length > 0);
    assert.ok(lines.every((line) => line.capability !== 'add'), JSON.stringify(lines));
  });

  test('filters narrow the log: plugin, front, outcome and time', async () => {
    const carol = await dash.login('filter-carol');
    assert.equal(await invoke(carol, 'add', { text: 'one' }), 200);
    assert.equal(await invoke(carol, 'delete', { id: 'no-such-note' }), 422);
    const all = (await activity(carol)).lines;
    assert.ok(all.some((line) => line.outcome === 'error') && all.some((line) => line.outcome === 'ok'));

    const failed = (await activity(carol, '?outcome=error')).lines;
    assert.ok(failed.length > 0 && failed.every((line) => line.outcome === 'error'));
    assert.ok(failed.some((line) => line.kind === 'call' && line.capability === 'delete' && line.code === 'BH_PLUGIN_ERROR'), JSON.stringify(failed));
    assert.deepEqual((await activity(carol, '?plugin=notes')).lines, all);
    assert.deepEqual((await activity(carol, '?plugin=weather')).lines, []);
    assert.deepEqual((await activity(carol, '?front=dashboard')).lines, all);
    assert.deepEqual((await activity(carol, '?front=slack')).lines, []);
    const iso = (ms: number): string => encodeURIComponent(new Date(ms).toISOString());
    assert.deepEqual((await activity(carol, `?from=${iso(Date.now() - day)}&to=${iso(Date.now() + day)}`)).lines, all);
    assert.deepEqual((await activity(carol, `?from=${iso(Date.now() + day)}`)).lines, []);
    assert.deepEqual((await activity(carol, `?to=${iso(Date.now() - day)}`)).lines, []);
  });

  test('pages follow `next`: disjoint, each newest first, and together the whole log', async () => {
    const dave = await dash.login('page-dave');
    for (let i = 0; i < 4; i++) assert.equal(await invoke(dave, 'add', { text: `n${i}` }), 200);
    const whole = (await activity(dave, '?limit=200')).lines;
    assert.ok(whole.length >= 8, String(whole.length));
    const pages: AuditLine[][] = [];
    let query = '?limit=3';
    for (;;) {
      const page = await activity(dave, query);
      assert.ok(page.lines.length <= 3);
      pages.push(page.lines);
      if (page.next === undefined) break;
      assert.ok(pages.length < 20, 'the pages end');
      query = `?limit=3&before=${page.next}`;
    }
    assert.ok(pages.length >= 3);
    const seqs = pages.flat().map((line) => line.seq);
    assert.equal(new Set(seqs).size, seqs.length, 'no line on two pages');
    assert.deepEqual(pages.flat(), whole);
  });

  test('bad activity queries are refused with a coded 400 that echoes nothing the caller sent', async () => {
    const erin = await dash.login('bad-erin');
    const marker = `m${randomBytes(5).toString('hex')}`;
    for (const query of [
      'limit=0',
      'limit=201',
      `limit=${marker}`,
      'before=-1',
      `before=${marker}`,
      `from=${marker}`,
      'from=2026-05-01',
      'to=yesterday',
      `front=${marker}`,
      'outcome=maybe',
      `plugin=Not_${marker}`,
      `${marker}=1`,
      'user=console:bob',
    ]) {
      const response = await dash.request('GET', `/api/v1/activity?${query}`, { cookie: erin });
      assert.equal(response.statusCode, 400, query);
      assert.equal(codeOf(response.body), 'BH_REQUEST_INVALID', query);
      assert.ok(!response.body.includes(marker), response.body);
    }
  });

  test('a session whose login is older than 5 minutes cannot download the account (BH_FRESH_LOGIN_REQUIRED, 403), and the session says so', async () => {
    const frank = await dash.login('stale-frank');
    const fresh = await json<{ freshLoginSeconds: number }>('GET', '/api/v1/session', frank);
    assert.equal(fresh.body.freshLoginSeconds, freshLoginMs / 1000);
    dash.clock.now += freshLoginMs + 1000;
    const refused = await download(frank);
    assert.equal(refused.status, 403);
    assert.equal(codeOf(refused.body), 'BH_FRESH_LOGIN_REQUIRED');
    assert.match(refused.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(refused.headers['content-disposition'], undefined, 'no file');
    assert.equal((await json<{ freshLoginSeconds: number }>('GET', '/api/v1/session', frank)).body.freshLoginSeconds, 0);
    // The session itself still works for everything else; a new login can download again.
    assert.equal((await dash.request('GET', '/api/v1/activity', { cookie: frank })).statusCode, 200);
    assert.equal((await download(await dash.login('stale-frank'))).status, 200);
  });

  test("a fresh login downloads the whole account as one streamed JSON attachment: the caller's notes, never another user's", async () => {
    const gina = await dash.login('export-gina');
    const hank = await dash.login('export-hank');
    const mine = `gina-${randomBytes(6).toString('hex')}`;
    const theirs = `hank-${randomBytes(6).toString('hex')}`;
    assert.equal(await invoke(gina, 'add', { text: mine, tags: ['kept'] }), 200);
    assert.equal(await invoke(hank, 'add', { text: theirs }), 200);

    const exported = await download(gina);
    assert.equal(exported.status, 200, exported.body.slice(0, 300));
    assert.match(exported.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(exported.headers['content-disposition'], `attachment; filename="bulkhead-export-${new Date(dash.clock.now).toISOString().slice(0, 10)}.json"`);
    assert.equal(exported.headers['cache-control'], 'no-store');
    assert.equal(exported.headers['x-content-type-options'], 'nosniff');
    // Streamed as it is written, not buffered into one answer of known length.
    assert.equal(exported.headers['transfer-encoding'], 'chunked');
    assert.equal(exported.headers['content-length'], undefined);

    const document = JSON.parse(exported.body) as Record<string, unknown>;
    assert.equal(document['format'], 'bulkhead-export');
    assert.equal(document['version'], 1);
    const schema = (name: string): object => JSON.parse(readFileSync(fromRoot('schemas', name), 'utf8')) as object;
    const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).addSchema(schema('audit-line.v1.json')).compile(schema('export.v1.json'));
    assert.ok(validate(document), JSON.stringify(validate.errors));
    assert.ok(exported.body.includes(mine), "the caller's note is in it");
    assert.ok(!exported.body.includes(theirs), "another user's note is not");

    // The download is itself in the caller's log.
    const { lines } = await activity(gina);
    assert.ok(lines.some((line) => line.kind === 'account' && line.op === 'export'), JSON.stringify(lines.slice(0, 3)));
  });

  test('a stolen fresh session cannot download the account over and over: BULKHEAD_EXPORT_PER_MINUTE (3 here), then 429', async () => {
    const ivan = await dash.login('limit-ivan');
    for (let i = 0; i < 3; i++) assert.equal((await download(ivan)).status, 200, `export ${i + 1}`);
    const limited = await download(ivan);
    assert.equal(limited.status, 429);
    assert.equal(codeOf(limited.body), 'BH_RATE_LIMITED');
    // Per user: someone else still can.
    assert.equal((await download(await dash.login('limit-judy'))).status, 200);
  });

  test('a deletion without the exact confirmation is refused and schedules nothing', async () => {
    const kate = await dash.login('confirm-kate');
    for (const body of [{}, { confirm: 'Delete my account' }, { confirm: 'delete my account ' }, { confirm: 'delete' }, { confirm: true }, { confirm: 'delete my account', user: 'console:bob' }]) {
      const response = await dash.request('POST', '/api/v1/account/deletion', { cookie: kate, body });
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(codeOf(response.body), 'BH_REQUEST_INVALID');
    }
    const noBody = await dash.request('POST', '/api/v1/account/deletion', { cookie: kate });
    assert.equal(noBody.statusCode, 400);
    assert.equal((await json<{ deletion: unknown }>('GET', '/api/v1/account', kate)).body.deletion, null);
  });

  test('a deletion request answers its date (BULKHEAD_DELETION_GRACE_DAYS, 30 days ahead), shows in the account, keeps its first date, and can be cancelled once', async () => {
    const liam = await dash.login('delete-liam');
    assert.equal(await invoke(liam, 'add', { text: 'to be deleted' }), 200);
    const before = await json<{ createdAt: string | null; deletion: unknown }>('GET', '/api/v1/account', liam);
    assert.equal(before.status, 200);
    assert.equal(before.body.deletion, null);
    assert.ok(before.body.createdAt !== null && Math.abs(Date.parse(before.body.createdAt) - Date.now()) < 3_600_000, before.text);

    const requested = await json<{ requestedAt: string; dueAt: string }>('POST', '/api/v1/account/deletion', liam, { confirm: 'delete my account' });
    assert.equal(requested.status, 200, requested.text);
    const { requestedAt, dueAt } = requested.body;
    assert.ok(Math.abs(Date.parse(requestedAt) - Date.now()) < 3_600_000);
    assert.equal(Date.parse(dueAt) - Date.parse(requestedAt), 30 * day);
    assert.deepEqual((await json('GET', '/api/v1/account', liam)).body, { createdAt: before.body.createdAt, deletion: { requestedAt, dueAt }, graceDays: 30 });
    assert.deepEqual((await json('POST', '/api/v1/account/deletion', liam, { confirm: 'delete my account' })).body, { requestedAt, dueAt }, 'asking again keeps the first date');

    assert.deepEqual((await json('DELETE', '/api/v1/account/deletion', liam)).body, { cancelled: true });
    assert.equal((await json<{ deletion: unknown }>('GET', '/api/v1/account', liam)).body.deletion, null);
    assert.deepEqual((await json('DELETE', '/api/v1/account/deletion', liam)).body, { cancelled: false }, 'nothing was pending');
    // Cancelled: the data is still there.
    assert.equal(await invoke(liam, 'list', {}), 200);
    const { lines } = await activity(liam, '?limit=5');
    assert.deepEqual(lines.filter((line) => line.kind === 'account').map((line) => line.op).slice(0, 2), ['deletion-cancelled', 'deletion-requested']);
  });

  test('CSRF: a deletion or its cancellation sent from another site is refused and changes nothing', async () => {
    const mia = await dash.login('csrf-mia');
    const crossSite = { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' };
    const post = await dash.request('POST', '/api/v1/account/deletion', { cookie: mia, body: { confirm: 'delete my account' }, headers: crossSite });
    assert.equal(post.statusCode, 403);
    assert.equal(codeOf(post.body), 'BH_CROSS_SITE_REFUSED');
    assert.equal((await json<{ deletion: unknown }>('GET', '/api/v1/account', mia)).body.deletion, null);

    assert.equal((await json('POST', '/api/v1/account/deletion', mia, { confirm: 'delete my account' })).status, 200);
    const cancel = await dash.request('DELETE', '/api/v1/account/deletion', { cookie: mia, headers: crossSite });
    assert.equal(cancel.statusCode, 403);
    assert.notEqual((await json<{ deletion: unknown }>('GET', '/api/v1/account', mia)).body.deletion, null);
  });

  test('the OpenAPI document describes the data-rights routes under the tag "account"', async () => {
    const doc = JSON.parse((await dash.request('GET', '/api/v1/openapi.json')).body) as { paths: Record<string, Record<string, { tags?: string[]; parameters?: { name: string; in: string }[]; requestBody?: unknown }>> };
    const operations = [
      ['get', '/api/v1/activity'],
      ['get', '/api/v1/export'],
      ['get', '/api/v1/account'],
      ['post', '/api/v1/account/deletion'],
      ['delete', '/api/v1/account/deletion'],
    ] as const;
    for (const [method, path] of operations) assert.deepEqual(doc.paths[path]?.[method]?.tags, ['account'], `${method} ${path}`);
    assert.deepEqual(
      doc.paths['/api/v1/activity']?.get?.parameters?.map((p) => `${p.in} ${p.name}`).sort(),
      ['query before', 'query from', 'query front', 'query limit', 'query outcome', 'query plugin', 'query to'],
    );
    assert.ok(doc.paths['/api/v1/account/deletion']?.post?.requestBody);
  });
  test("notifications: what the caller's fired reminders said, newest first, and nobody else's (attack: reading another user's notifications)", async () => {
    const alice = await dash.login('notif-alice');
    const bob = await dash.login('notif-bob');
    const marker = `notification-${randomBytes(4).toString('hex')}`;
    const when = new Date(Date.now() + 1000).toISOString();
    assert.equal((await dash.request('POST', '/api/v1/invoke/reminders/add', { cookie: alice, body: { params: { text: marker, when } } })).statusCode, 200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(await dash.host.scheduler.runDue(), 1);
    const mine = await json<{ notifications: { plugin: string; text: string; late: boolean }[] }>('GET', '/api/v1/notifications', alice);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.notifications.map((n) => [n.plugin, n.text, n.late]), [['reminders', `Reminder: ${marker}`, false]]);
    const theirs = await json<{ notifications: unknown[] }>('GET', '/api/v1/notifications', bob);
    assert.deepEqual(theirs.body.notifications, []);
    assert.equal(theirs.text.includes(marker), false);
    assert.equal((await dash.request('GET', '/api/v1/notifications')).statusCode, 401, 'no session, no notifications');
  });
});
