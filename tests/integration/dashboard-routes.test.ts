/**
 * Every route on the host's HTTP server is either listed as public (dashboard/public-routes.ts),
 * authenticated its own way (Slack's signature), or refused without a session. A route added
 * later without thought fails here: the list of routes comes from the server, not from this file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { otherwiseAuthenticatedRoutes, publicRoutes, routeKey } from '../../dashboard/public-routes.js';
import { startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-web-api.js';

/** A URL for a route pattern, with every parameter filled in. */
function concrete(url: string, value: string): string {
  return url.replace(/:(\w+)/g, () => encodeURIComponent(value)).replace('*', value);
}

/** The vault's routes (dashboard/vault-routes.ts): its state, then its four password actions. */
const vaultPaths = ['/api/v1/vault', '/api/v1/vault/setup', '/api/v1/vault/unlock', '/api/v1/vault/lock', '/api/v1/vault/change'];

describe('routes that answer without a session', () => {
  let dash: DashboardHost;
  let slack: FakeSlackApi;
  before(async () => {
    slack = await startFakeSlackApi();
    // Slack in HTTP mode mounts its route on the same server: it must be accounted for too.
    dash = await startDashboardHost({ env: { SLACK_BOT_TOKEN: slack.workspace.botToken, SLACK_SIGNING_SECRET: 'fake-signing-secret-0123456789abcdef', SLACK_API_URL: slack.url } });
  });
  after(async () => {
    await dash.close();
    await slack.close();
  });

  test('the server has the routes the API promises (so the enumeration below sees them)', () => {
    const routes = new Set(dash.fronts.routes.map((r) => routeKey(r.split(' ')[0] as string, r.slice(r.indexOf(' ') + 1))));
    const dataRights = ['GET /api/v1/activity', 'GET /api/v1/export', 'GET /api/v1/account', 'POST /api/v1/account/deletion', 'DELETE /api/v1/account/deletion'];
    const vault = ['GET /api/v1/vault', ...vaultPaths.slice(1).map((p) => `POST ${p}`)];
    for (const expected of ['GET /api/v1/session', 'POST /api/v1/invoke/:plugin/:capability', 'DELETE /api/v1/sessions/:id', 'POST /slack/events', ...dataRights, ...vault, ...publicRoutes]) {
      assert.ok(routes.has(expected), expected);
    }
  });

  test('forgotten access checks: every registered route outside the public list refuses a request without a session, or with a forged cookie', async () => {
    const checked: string[] = [];
    for (const route of dash.fronts.routes) {
      const method = route.slice(0, route.indexOf(' '));
      const url = route.slice(route.indexOf(' ') + 1);
      if (method === 'OPTIONS') continue;
      const key = routeKey(method, url);
      if (publicRoutes.has(key)) continue;
      for (const cookie of [undefined, `__Host-bulkhead=${encodeURIComponent(randomBytes(80).toString('base64'))}`]) {
        const response = await dash.request(method as 'GET', concrete(url, 'notes'), {
          ...(cookie ? { cookie } : {}),
          ...(method === 'GET' || method === 'HEAD' || method === 'DELETE' ? {} : { body: { params: {} } }),
        });
        if (otherwiseAuthenticatedRoutes.has(key)) {
          // Slack's route answers only requests with Slack's signature.
          assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${route}: ${response.statusCode}`);
        } else {
          assert.equal(response.statusCode, 401, `${route} answered ${response.statusCode} without a session`);
          if (method !== 'HEAD') assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, 'BH_SESSION_REQUIRED', route);
        }
      }
      checked.push(route);
    }
    assert.ok(checked.length >= 8, `checked ${checked.join(', ')}`);
  });

  test('unknown addresses answer 401 without a session (the route map is not revealed) and 404 with one', async () => {
    assert.equal((await dash.request('GET', '/api/v1/admin')).statusCode, 401);
    const cookie = await dash.login('routes');
    const response = await dash.request('GET', '/api/v1/admin', { cookie });
    assert.equal(response.statusCode, 404);
    assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, 'BH_ROUTE_NOT_FOUND');
  });

  test('the public routes answer without a session and carry no user data', async () => {
    assert.equal((await dash.request('GET', '/api/v1/health')).body, '{"status":"ok"}');
    for (const url of ['/', '/login', '/assets/app.js', '/assets/style.css']) {
      const response = await dash.request('GET', url);
      assert.equal(response.statusCode, 200, url);
    }
    // Only the listed files: no path from the request reaches the file system.
    for (const url of ['/assets/..%2f..%2fpackage.json', '/assets/server.js', '/assets/.env.local', '/assets/%2e%2e%2f.env.local']) {
      assert.equal((await dash.request('GET', url)).statusCode, 404, url);
    }
  });

  test('the OpenAPI 3.1 document describes every API route with its schemas, and no route outside /api/v1', async () => {
    const response = await dash.request('GET', '/api/v1/openapi.json');
    assert.equal(response.statusCode, 200);
    const doc = JSON.parse(response.body) as { openapi: string; paths: Record<string, Record<string, { responses?: Record<string, unknown>; requestBody?: unknown }>> };
    assert.equal(doc.openapi, '3.1.0');
    const paths = Object.keys(doc.paths);
    for (const path of ['/api/v1/login', '/api/v1/session', '/api/v1/sessions', '/api/v1/sessions/{id}', '/api/v1/logout', '/api/v1/logout-everywhere', '/api/v1/plugins', '/api/v1/invoke/{plugin}/{capability}', '/api/v1/health', '/api/v1/activity', '/api/v1/export', '/api/v1/account', '/api/v1/account/deletion', ...vaultPaths]) {
      assert.ok(paths.includes(path), path);
    }
    assert.ok(paths.every((p) => p.startsWith('/api/v1/')), paths.join(', '));
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        assert.ok(operation.responses?.['200'], `${method} ${path} documents its answer`);
        const bodyless = ['/api/v1/logout', '/api/v1/logout-everywhere', '/api/v1/vault/lock'];
        if (method === 'post' && !bodyless.includes(path)) assert.ok(operation.requestBody, `${method} ${path} documents its body`);
      }
    }
  });
});
