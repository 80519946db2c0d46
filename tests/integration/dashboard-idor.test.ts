/**
 * Insecure direct object references, attacked as a matrix: user A, logged in, sends every
 * authenticated route B's identifiers (note ids, session id, user ids, platform identity) in
 * the path, the query string, the body and the headers. A must never see or change B's data, and
 * the caller is always the session's user: the browser names plugin, capability and params only.
 * That covers the data-rights routes too: A never reads B's activity, downloads B's export, or
 * cancels B's deletion. Also: capabilities the manifest does not offer to the dashboard, and
 * admin capabilities.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { publicRoutes, routeKey } from '../../dashboard/public-routes.js';
import { startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';
import { builtInPluginsDir, fixturePluginsDir, tempDir } from '../helpers/fixtures.js';

interface Note {
  id: string;
  text: string;
}

async function notes(dash: DashboardHost, cookie: string): Promise<Note[]> {
  const response = await dash.request('POST', '/api/v1/invoke/notes/list', { cookie, body: { params: {} } });
  assert.equal(response.statusCode, 200, response.body);
  return (JSON.parse(response.body) as { result: { notes: Note[] } }).result.notes;
}

describe('dashboard IDOR matrix', () => {
  let dash: DashboardHost;
  const extra = tempDir('bulkhead-gated-');
  before(async () => {
    cpSync(path.join(fixturePluginsDir, 'gated'), path.join(extra.dir, 'gated'), { recursive: true });
    dash = await startDashboardHost({ env: { BULKHEAD_LOGIN_PER_MINUTE: '10000', BULKHEAD_ADMINS: 'console:root' }, builtInDirs: [builtInPluginsDir, extra.dir] });
  });
  after(async () => {
    await dash.close();
    extra.cleanup();
  });

  test('user A with every one of user B\'s identifiers, on every authenticated route, in path, query, body and headers: never sees or changes B\'s data', async () => {
    const bob = await dash.login('bob');
    const secrets = [`bob-secret-${randomBytes(8).toString('hex')}`, `bob-other-${randomBytes(8).toString('hex')}`];
    for (const text of secrets) {
      const added = await dash.request('POST', '/api/v1/invoke/notes/add', { cookie: bob, body: { params: { text, tags: ['private'] } } });
      assert.equal(added.statusCode, 200, added.body);
    }
    const bobNotes = await notes(dash, bob);
    const bobSession = (JSON.parse((await dash.request('GET', '/api/v1/session', { cookie: bob })).body) as { session: { id: string } }).session.id;
    const deletion = await dash.request('POST', '/api/v1/account/deletion', { cookie: bob, body: { confirm: 'delete my account' } });
    assert.equal(deletion.statusCode, 200, deletion.body);
    const bobDeletion = JSON.parse(deletion.body) as { requestedAt: string; dueAt: string };
    // A's own deletion requests, made later, must carry other times than B's.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const identifiers = [...bobNotes.map((n) => n.id), bobSession, 'console:bob', 'bob'];
    // Everything that would show B's data leaked into A's answers. Audit lines name no value, but
    // only B ever calls notes.add here: a line about it in A's activity or export would be B's.
    const leaks = [...secrets, ...bobNotes.map((n) => n.id), bobSession, bobDeletion.requestedAt, bobDeletion.dueAt, '"capability":"add"'];

    const routes = [...new Set(dash.fronts.routes)]
      .map((r) => ({ method: r.slice(0, r.indexOf(' ')), url: r.slice(r.indexOf(' ') + 1) }))
      .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS' && !publicRoutes.has(routeKey(r.method, r.url)));
    assert.ok(routes.length >= 7, routes.map((r) => r.url).join(', '));

    // Requests the data-rights routes accept, so that the matrix reaches their handlers too (a
    // query or body they refuse proves less); every one also carries B's identifiers.
    const queriesFor = (url: string, id: string): string[] => {
      const named = `user=${encodeURIComponent(id)}&userId=${encodeURIComponent(id)}`;
      if (url === '/api/v1/activity') return [`?${named}`, '?limit=200', '?plugin=notes&limit=200'];
      if (url === '/api/v1/export' || url === '/api/v1/account' || url === '/api/v1/account/deletion') return [`?${named}`, ''];
      return [`?${named}`];
    };
    const extraBodies = (url: string, id: string): unknown[] =>
      url === '/api/v1/account/deletion' ? [{ confirm: 'delete my account' }, { confirm: 'delete my account', user: id }, { confirm: 'delete my account', globalUserId: id }] : [];

    let requests = 0;
    const reached = new Set<string>();
    for (const route of routes) {
      for (const id of identifiers) {
        // (add is left out: a note whose text is B's id is A's own data.)
        const capabilities = route.url.includes(':capability') ? ['list', 'search', 'delete'] : ['-'];
        for (const capability of capabilities) {
          const path = route.url
            .replace(':plugin', 'notes')
            .replace(':capability', capability)
            .replace(':id', encodeURIComponent(id));
          const paramsFor: Record<string, unknown> = { list: { tag: 'private' }, search: { text: secrets[0] }, delete: { id }, '-': {} };
          const bodies: unknown[] =
            route.method === 'GET' || route.method === 'DELETE'
              ? [undefined]
              : [
                  { params: paramsFor[capability] },
                  { params: paramsFor[capability], user: id },
                  { params: paramsFor[capability], globalUserId: id },
                  { params: { ...(paramsFor[capability] as object), userId: id } },
                  ...extraBodies(route.url, id),
                ];
          for (const body of bodies) {
            for (const query of queriesFor(route.url, id)) {
              // A fresh session each time: the logout routes end A's session, not B's.
              const alice = await dash.login('alice');
              const response = await dash.request(route.method as 'GET', `${path}${query}`, {
                cookie: alice,
                headers: { 'x-bulkhead-user': id, 'x-forwarded-user': id },
                ...(body === undefined ? {} : { body }),
              });
              requests++;
              if (response.statusCode === 200) reached.add(`${route.method} ${route.url}`);
              for (const leak of leaks) assert.ok(!response.body.includes(leak), `${route.method} ${path}${query} leaked B's data: ${response.body.slice(0, 200)}`);
              // The session's user and nobody else: a call that ran, ran as A.
              if (response.statusCode === 200 && route.url === '/api/v1/session') assert.match(response.body, /"identity":"console:alice"/);
            }
          }
        }
      }
    }
    assert.ok(requests > 100, `${requests} requests`);
    for (const route of ['GET /api/v1/activity', 'GET /api/v1/export', 'GET /api/v1/account', 'POST /api/v1/account/deletion', 'DELETE /api/v1/account/deletion']) {
      assert.ok(reached.has(route), `the matrix reached the handler of ${route}`);
    }

    // B's data, B's pending deletion and B's session are as they were.
    const bobAccount = JSON.parse((await dash.request('GET', '/api/v1/account', { cookie: bob })).body) as { deletion: unknown };
    assert.deepEqual(bobAccount.deletion, bobDeletion, "A's cancellations did not cancel B's deletion");
    assert.deepEqual((await notes(dash, bob)).map((n) => n.text), secrets);
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie: bob })).statusCode, 200);
    // A's own notes hold only what A added (B's ids as text), never B's notes.
    const alice = await dash.login('alice');
    const aliceNotes = await notes(dash, alice);
    assert.ok(aliceNotes.every((n) => !secrets.includes(n.text)));
  });

  test('a body that names a user, a token or a front is refused before anything runs', async () => {
    const alice = await dash.login('alice2');
    for (const extra of [{ user: 'console:bob' }, { token: 'x' }, { front: 'console' }, { globalUserId: 'console:bob' }]) {
      const response = await dash.request('POST', '/api/v1/invoke/notes/add', { cookie: alice, body: { params: { text: 'named' }, ...extra } });
      assert.equal(response.statusCode, 400, JSON.stringify(extra));
      assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, 'BH_REQUEST_INVALID');
    }
    assert.deepEqual(await notes(dash, alice), []);
  });

  test('capabilities the manifest does not offer to the dashboard are refused, and hidden from the list', async () => {
    const alice = await dash.login('alice3');
    const listed = JSON.parse((await dash.request('GET', '/api/v1/plugins', { cookie: alice })).body) as { plugins: { name: string; capabilities: { name: string }[] }[] };
    const gated = listed.plugins.find((p) => p.name === 'gated');
    assert.deepEqual(gated?.capabilities.map((c) => c.name), ['open']);
    assert.equal((await dash.request('POST', '/api/v1/invoke/gated/open', { cookie: alice, body: {} })).statusCode, 200);
    const refused = await dash.request('POST', '/api/v1/invoke/gated/chat-only', { cookie: alice, body: {} });
    assert.equal(refused.statusCode, 403);
    assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'BH_CAPABILITY_FORBIDDEN');
  });

  test('admin capabilities need the admin flag, which comes from the operator\'s list, not from the browser', async () => {
    const alice = await dash.login('alice4');
    const forbidden = await dash.request('POST', '/api/v1/invoke/gated/admin:peek', { cookie: alice, body: {}, headers: { 'x-admin': 'true' } });
    assert.equal(forbidden.statusCode, 403);
    const root = await dash.login('root');
    const listed = JSON.parse((await dash.request('GET', '/api/v1/plugins', { cookie: root })).body) as { plugins: { name: string; capabilities: { name: string }[] }[] };
    assert.deepEqual(listed.plugins.find((p) => p.name === 'gated')?.capabilities.map((c) => c.name), ['open', 'admin:peek']);
    const allowed = await dash.request('POST', '/api/v1/invoke/gated/admin:peek', { cookie: root, body: {} });
    assert.equal(allowed.statusCode, 200, allowed.body);
    assert.equal((JSON.parse((await dash.request('GET', '/api/v1/session', { cookie: root })).body) as { user: { admin: boolean } }).user.admin, true);
  });

  test('the server validates params again: bad params get a coded 400 that echoes nothing the caller typed', async () => {
    const alice = await dash.login('alice5');
    const marker = `typed-${randomBytes(6).toString('hex')}`;
    for (const params of [{ text: '' }, { text: 'ok', tags: ['Not Valid'] }, { [marker]: 1, text: 'x' }, { text: 'x'.repeat(2001) }]) {
      const response = await dash.request('POST', '/api/v1/invoke/notes/add', { cookie: alice, body: { params } });
      assert.equal(response.statusCode, 400, JSON.stringify(params).slice(0, 80));
      assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, 'BH_PARAMS_INVALID');
      assert.ok(!response.body.includes(marker) && !response.body.includes('Not Valid'));
    }
    const unknown = await dash.request('POST', '/api/v1/invoke/nope/list', { cookie: alice, body: {} });
    assert.equal(unknown.statusCode, 404);
    const bad = await dash.request('POST', '/api/v1/invoke/notes/list', { cookie: alice, body: { params: [] } });
    assert.equal(bad.statusCode, 400);
    const notJson = await dash.request('POST', '/api/v1/invoke/notes/list', { cookie: alice, body: undefined, headers: { 'content-type': 'application/json' } });
    assert.ok(notJson.statusCode === 400 || notJson.statusCode === 200, String(notJson.statusCode));
  });
});
