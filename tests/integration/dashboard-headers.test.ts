// The dashboard's security headers, on every kind of answer: pages, 304s, API answers, refusals
// (no session, cross-site) and unknown routes. They are helmet's, found once at start
// (helmetHeaders) and set on every request; this pins the whole set, so a change of options or of
// helmet that drops or loosens one fails here.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { helmetHeaders } from '../../dashboard/server.js';
import { startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';

const expected: Record<string, string> = {
  'content-security-policy':
    "default-src 'self';script-src 'self';style-src 'self';object-src 'none';base-uri 'none';frame-ancestors 'none';form-action 'self';img-src 'self';connect-src 'self'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

let h: DashboardHost;
let cookie: string;

before(async () => {
  h = await startDashboardHost();
  cookie = await h.login('alice');
});
after(async () => h.close());

test('helmetHeaders is exactly the pinned set', async () => {
  assert.deepEqual(Object.fromEntries(await helmetHeaders()), expected);
});

async function check(what: string, status: number, path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${h.origin}${path}`, init);
  await response.arrayBuffer();
  assert.equal(response.status, status, what);
  for (const [name, value] of Object.entries(expected)) assert.equal(response.headers.get(name), value, `${what}: ${name}`);
  assert.equal(response.headers.get('x-powered-by'), null, what);
  assert.equal(response.headers.get('strict-transport-security'), null, `${what}: no HSTS over http`);
  return response;
}

test('every kind of answer carries the headers', async () => {
  const page = await check('page', 200, '/');
  await check('page not modified', 304, '/', { headers: { 'if-none-match': page.headers.get('etag') ?? '' } });
  await check('public API', 200, '/api/v1/health');
  await check('OpenAPI document', 200, '/api/v1/openapi.json');
  await check('no session', 401, '/api/v1/session');
  await check('unknown route', 404, '/no/such/route', { headers: { cookie } });
  const json = { 'content-type': 'application/json', cookie };
  await check('cross-site POST', 403, '/api/v1/invoke/notes/list', { method: 'POST', headers: { ...json, 'sec-fetch-site': 'cross-site' }, body: '{"params":{}}' });
  await check('bad body', 400, '/api/v1/invoke/notes/list', { method: 'POST', headers: { ...json, 'sec-fetch-site': 'same-origin', origin: h.origin }, body: '{"params":' });
  const invoked = await check('invoke', 200, '/api/v1/invoke/notes/list', { method: 'POST', headers: { ...json, 'sec-fetch-site': 'same-origin', origin: h.origin }, body: '{"params":{}}' });
  assert.equal(invoked.headers.get('content-type'), 'application/json; charset=utf-8');
});
