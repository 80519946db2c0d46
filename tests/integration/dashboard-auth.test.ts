/**
 * The dashboard's login and sessions, attacked through fastify.inject on a real host: cookie
 * attributes, security headers, cross-site requests, login flooding, link reuse, expiry and
 * forgery, stolen cookie copies after logout, and sessions past their lifetime or idle too long.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LoginLinks } from '../../dashboard/login-links.js';
import { requireFreshLogin } from '../../dashboard/server.js';
import { BulkheadError } from '../../host/core/errors.js';
import { cookieOf, startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';
import { tempDir } from '../helpers/fixtures.js';

const expectedCsp = "default-src 'self';script-src 'self';style-src 'self';object-src 'none';base-uri 'none';frame-ancestors 'none';form-action 'self'";

function codeOf(body: string): string | undefined {
  return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
}

async function notesOf(dash: DashboardHost, cookie: string): Promise<string[]> {
  const response = await dash.request('POST', '/api/v1/invoke/notes/list', { cookie, body: { params: {} } });
  assert.equal(response.statusCode, 200, response.body);
  return (JSON.parse(response.body) as { result: { notes: { text: string }[] } }).result.notes.map((n) => n.text);
}

describe('dashboard login and sessions', () => {
  let dash: DashboardHost;
  before(async () => {
    dash = await startDashboardHost({ env: { BULKHEAD_LOGIN_PER_MINUTE: '1000' } });
  });
  after(async () => dash.close());

  test('cookie theft by script, cross-site sending and subdomain overwrite: the session cookie is __Host-, HttpOnly, Secure, SameSite=Strict, Path=/', async () => {
    const response = await dash.request('POST', '/api/v1/login', { body: { token: dash.linkToken('cookie') } });
    assert.equal(response.statusCode, 200);
    const header = [response.headers['set-cookie']].flat().find((c) => c?.startsWith('__Host-bulkhead='));
    assert.ok(header, 'a __Host-bulkhead cookie is set');
    const attributes = header.split(';').slice(1).map((a) => a.trim().toLowerCase());
    assert.ok(attributes.includes('httponly'));
    assert.ok(attributes.includes('secure'));
    assert.ok(attributes.includes('samesite=strict'));
    assert.ok(attributes.includes('path=/'));
    assert.ok(!attributes.some((a) => a.startsWith('domain=')), '__Host- cookies carry no Domain');
    // The cookie holds no readable identity: only an encrypted random secret.
    assert.ok(!decodeURIComponent(header).includes('console:cookie'));
  });

  test('script injection, framing, MIME sniffing and referrer leaks: every answer carries the security headers', async () => {
    const cookie = await dash.login('headers');
    const answers = [
      await dash.request('GET', '/'),
      await dash.request('GET', '/login'),
      await dash.request('GET', '/assets/app.js'),
      await dash.request('GET', '/api/v1/session', { cookie }),
      await dash.request('GET', '/api/v1/session'), // 401
      await dash.request('POST', '/api/v1/invoke/notes/list', { cookie, body: { params: {} } }),
      await dash.request('GET', '/no/such/route', { cookie }),
    ];
    for (const response of answers) {
      const csp = String(response.headers['content-security-policy']);
      assert.ok(csp.startsWith(expectedCsp), `CSP ${csp}`);
      assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'));
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['referrer-policy'], 'no-referrer');
      assert.equal(response.headers['x-frame-options'], 'DENY');
      assert.equal(response.headers['strict-transport-security'], undefined, 'no HSTS over plain http');
    }
  });

  test('cross-site request forgery: a POST from a foreign Origin, without Sec-Fetch-Site, or from another site is refused and does nothing', async () => {
    const cookie = await dash.login('csrf');
    const forged: Record<string, string>[] = [
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }, // a lying header still needs the right Origin
      { 'sec-fetch-site': '' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'none' },
      { 'sec-fetch-site': 'cross-site', origin: '' },
    ];
    for (const headers of forged) {
      const response = await dash.fronts.http.inject({
        method: 'POST',
        url: '/api/v1/invoke/notes/add',
        headers: { 'content-type': 'application/json', cookie, ...headers },
        payload: JSON.stringify({ params: { text: 'forged' } }),
      });
      assert.equal(response.statusCode, 403, JSON.stringify(headers));
      assert.equal(codeOf(response.body), 'BH_CROSS_SITE_REFUSED');
    }
    // Without the header at all (an old or non-browser client).
    const bare = await dash.fronts.http.inject({ method: 'POST', url: '/api/v1/logout', headers: { cookie } });
    assert.equal(bare.statusCode, 403);
    // Login CSRF (logging the victim into the attacker's account) is refused the same way.
    const login = await dash.fronts.http.inject({
      method: 'POST',
      url: '/api/v1/login',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      payload: JSON.stringify({ token: dash.linkToken('csrf') }),
    });
    assert.equal(login.statusCode, 403);
    assert.deepEqual(await notesOf(dash, cookie), [], 'no forged note was added');
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie })).statusCode, 200, 'the session was not logged out');
  });

  test('link replay: a login link works once', async () => {
    const token = dash.linkToken('once');
    const first = await dash.request('POST', '/api/v1/login', { body: { token } });
    assert.equal(first.statusCode, 200);
    const second = await dash.request('POST', '/api/v1/login', { body: { token } });
    assert.equal(second.statusCode, 401);
    assert.equal(codeOf(second.body), 'BH_LOGIN_LINK_INVALID');
    assert.equal(second.headers['set-cookie'], undefined);
  });

  test('stale links: a link is refused 10 minutes after it was minted', async () => {
    const token = dash.linkToken('stale');
    dash.clock.now += 10 * 60 * 1000;
    try {
      const response = await dash.request('POST', '/api/v1/login', { body: { token } });
      assert.equal(response.statusCode, 401);
      assert.equal(codeOf(response.body), 'BH_LOGIN_LINK_INVALID');
    } finally {
      dash.clock.now -= 10 * 60 * 1000;
    }
    const fresh = dash.linkToken('stale');
    dash.clock.now += 10 * 60 * 1000 - 1000;
    try {
      assert.equal((await dash.request('POST', '/api/v1/login', { body: { token: fresh } })).statusCode, 200, 'still valid just before 10 minutes');
    } finally {
      dash.clock.now -= 10 * 60 * 1000 - 1000;
    }
  });

  test('forged links: altered, truncated, random, empty, oversized and other-key tokens all get the one same refusal', async () => {
    const good = dash.linkToken('forge');
    const flip = (s: string, at: number): string => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    const otherKey = new LoginLinks(randomBytes(32)).mint({ globalUserId: 'console:forge', platformIdentity: 'console:forge' });
    const tokens = [
      flip(good, 5),
      flip(good, Math.floor(good.length / 2)),
      flip(good, good.length - 2),
      good.slice(0, -4),
      `${good}AAAA`,
      randomBytes(120).toString('base64url'),
      otherKey,
      'x',
      'not a token!',
      'A'.repeat(1024),
    ];
    const bodies = new Set<string>();
    for (const token of tokens) {
      const response = await dash.request('POST', '/api/v1/login', { body: { token } });
      assert.equal(response.statusCode, 401, token.slice(0, 20));
      bodies.add(response.body);
    }
    // The same refusal for a used and an expired link too: nothing tells the cases apart.
    await dash.request('POST', '/api/v1/login', { body: { token: good } });
    bodies.add((await dash.request('POST', '/api/v1/login', { body: { token: good } })).body);
    assert.equal(bodies.size, 1, [...bodies].join('\n'));
    // Shapes fastify refuses before the handler get the API's coded answer, without echoing input.
    const tooLong = await dash.request('POST', '/api/v1/login', { body: { token: 'A'.repeat(5000) } });
    assert.equal(tooLong.statusCode, 400);
    assert.equal(codeOf(tooLong.body), 'BH_REQUEST_INVALID');
    const extra = await dash.request('POST', '/api/v1/login', { body: { token: good, user: 'console:admin' } });
    assert.equal(extra.statusCode, 400);
  });

  test('identity probing: a link for a never-seen identity and one for a user with data log in with the same answer shape', async () => {
    const known = await dash.login('probe-known');
    await dash.request('POST', '/api/v1/invoke/notes/add', { cookie: known, body: { params: { text: 'x' } } });
    const a = await dash.request('POST', '/api/v1/login', { body: { token: dash.linkToken('probe-known') } });
    const b = await dash.request('POST', '/api/v1/login', { body: { token: dash.linkToken('probe-never-seen') } });
    assert.equal(a.statusCode, 200);
    assert.equal(b.statusCode, 200);
    const shape = (body: string): string => JSON.stringify(Object.keys(JSON.parse(body) as object)) + JSON.stringify(Object.keys((JSON.parse(body) as { session: object }).session));
    assert.equal(shape(a.body), shape(b.body));
  });

  test('a login over a live session ends that session: its old cookie copy is refused', async () => {
    const first = await dash.login('relogin');
    const again = await dash.request('POST', '/api/v1/login', { cookie: first, body: { token: dash.linkToken('other-account') } });
    assert.equal(again.statusCode, 200);
    assert.equal((JSON.parse(again.body) as { user: { identity: string } }).user.identity, 'console:other-account');
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie: first })).statusCode, 401);
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie: cookieOf(again) })).statusCode, 200);
  });

  test('stolen cookie after logout: an old copy of the cookie is refused once the user logs out', async () => {
    const cookie = await dash.login('logout');
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie })).statusCode, 200);
    const out = await dash.request('POST', '/api/v1/logout', { cookie });
    assert.equal(out.statusCode, 200);
    const cleared = [out.headers['set-cookie']].flat().find((c) => c?.startsWith('__Host-bulkhead='));
    assert.ok(cleared && /max-age=0|expires=thu, 01 jan 1970/i.test(cleared), 'the browser is told to drop the cookie');
    for (const url of ['/api/v1/session', '/api/v1/plugins']) {
      const replay = await dash.request('GET', url, { cookie });
      assert.equal(replay.statusCode, 401);
      assert.equal(codeOf(replay.body), 'BH_SESSION_REQUIRED');
    }
    assert.equal((await dash.request('POST', '/api/v1/invoke/notes/list', { cookie, body: { params: {} } })).statusCode, 401);
  });

  test('a session left on a lost device: "log out everywhere" ends every session of the user at once, and no one else\'s', async () => {
    const laptop = await dash.login('everywhere');
    const phone = await dash.login('everywhere');
    const other = await dash.login('someone-else');
    const listed = await dash.request('GET', '/api/v1/sessions', { cookie: phone });
    assert.equal((JSON.parse(listed.body) as { sessions: unknown[] }).sessions.length, 2);
    const out = await dash.request('POST', '/api/v1/logout-everywhere', { cookie: phone });
    assert.equal(out.statusCode, 200);
    assert.equal((JSON.parse(out.body) as { ended: number }).ended, 2);
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie: laptop })).statusCode, 401);
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie: phone })).statusCode, 401);
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie: other })).statusCode, 200);
  });

  test('ending one session by its id (the phone from the laptop) ends only that one', async () => {
    const laptop = await dash.login('one-of-two');
    const phone = await dash.login('one-of-two');
    const phoneId = (JSON.parse((await dash.request('GET', '/api/v1/session', { cookie: phone })).body) as { session: { id: string } }).session.id;
    const ended = await dash.request('DELETE', `/api/v1/sessions/${phoneId}`, { cookie: laptop });
    assert.equal(ended.statusCode, 200);
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie: phone })).statusCode, 401);
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie: laptop })).statusCode, 200);
    assert.equal((await dash.request('DELETE', `/api/v1/sessions/${phoneId}`, { cookie: laptop })).statusCode, 404);
  });

  test('a session used all day still ends at its absolute lifetime (12 h)', async () => {
    const cookie = await dash.login('lifetime');
    const start = dash.clock.now;
    try {
      // Active every 20 minutes: never idle, and still cut off after 12 hours.
      for (let t = 20; t < 12 * 60; t += 20) {
        dash.clock.now = start + t * 60_000;
        assert.equal((await dash.request('GET', '/api/v1/session', { cookie })).statusCode, 200, `at ${t} min`);
      }
      dash.clock.now = start + 12 * 3_600_000;
      const late = await dash.request('GET', '/api/v1/session', { cookie });
      assert.equal(late.statusCode, 401);
      assert.equal(codeOf(late.body), 'BH_SESSION_REQUIRED');
    } finally {
      dash.clock.now = start;
    }
    assert.equal((await dash.request('GET', '/api/v1/session', { cookie })).statusCode, 401, 'an expired session is deleted, not revived by a clock going back');
  });

  test('an unattended session ends after 30 idle minutes', async () => {
    const cookie = await dash.login('idle');
    const start = dash.clock.now;
    try {
      dash.clock.now = start + 29 * 60_000;
      assert.equal((await dash.request('GET', '/api/v1/session', { cookie })).statusCode, 200);
      dash.clock.now = start + 29 * 60_000 + 30 * 60_000;
      assert.equal((await dash.request('GET', '/api/v1/session', { cookie })).statusCode, 401);
    } finally {
      dash.clock.now = start;
    }
  });

  test('tampered and foreign cookies are refused', async () => {
    const cookie = await dash.login('tamper');
    const [name, value] = cookie.split('=') as [string, string];
    const raw = decodeURIComponent(value);
    const altered = `${name}=${encodeURIComponent(raw.slice(0, 10) + (raw[10] === 'A' ? 'B' : 'A') + raw.slice(11))}`;
    for (const c of [altered, `${name}=`, `${name}=${randomBytes(60).toString('base64')}`]) {
      assert.equal((await dash.request('GET', '/api/v1/session', { cookie: c })).statusCode, 401);
    }
    const other = await startDashboardHost();
    try {
      const foreign = await other.login('tamper');
      assert.equal((await dash.request('GET', '/api/v1/session', { cookie: foreign })).statusCode, 401, "another host's cookie");
    } finally {
      await other.close();
    }
  });

  test('sensitive actions need a login from the last 5 minutes', () => {
    const now = Date.now();
    requireFreshLogin({ authTime: now - 4 * 60_000 }, now);
    assert.throws(
      () => requireFreshLogin({ authTime: now - 5 * 60_000 - 1 }, now),
      (e: unknown) => e instanceof BulkheadError && e.code === 'BH_FRESH_LOGIN_REQUIRED',
    );
  });

  test('no login token or cookie reaches a log line', () => {
    const text = dash.logLines.join('\n');
    assert.ok(text.includes('dashboard.login'), 'logins are logged');
    assert.ok(!/__Host-bulkhead=|"token"/.test(text));
  });
});

describe('dashboard login flood and restarts', () => {
  test('login flooding: the 11th login attempt within a minute from one address is refused with 429, even with a valid link', async () => {
    const dash = await startDashboardHost();
    try {
      for (let i = 0; i < 10; i++) {
        const response = await dash.request('POST', '/api/v1/login', { body: { token: `guess${i}` } });
        assert.equal(response.statusCode, 401);
      }
      const limited = await dash.request('POST', '/api/v1/login', { body: { token: dash.linkToken('flood') } });
      assert.equal(limited.statusCode, 429);
      assert.equal(codeOf(limited.body), 'BH_RATE_LIMITED');
      assert.ok(Number(limited.headers['retry-after']) > 0);
      // The landing page is rate-limited too.
      let landing = 0;
      for (let i = 0; i < 31; i++) landing = (await dash.request('GET', '/login')).statusCode;
      assert.equal(landing, 429);
    } finally {
      await dash.close();
    }
  });

  test('rate-limit evasion: a made-up X-Forwarded-For does not reset the login budget unless a proxy is declared (BULKHEAD_PUBLIC_URL)', async () => {
    const direct = await startDashboardHost({ env: { BULKHEAD_LOGIN_PER_MINUTE: '3' } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await direct.request('POST', '/api/v1/login', { body: { token: 'guess' }, headers: { 'x-forwarded-for': `203.0.113.${i}` } })).statusCode);
      assert.deepEqual(codes, [401, 401, 401, 429]);
    } finally {
      await direct.close();
    }
    const proxied = await startDashboardHost({ env: { BULKHEAD_LOGIN_PER_MINUTE: '3', BULKHEAD_PUBLIC_URL: 'https://bulkhead.example.com' } });
    try {
      const client = (address: string) => proxied.request('POST', '/api/v1/login', { body: { token: 'guess' }, headers: { 'x-forwarded-for': address } });
      for (let i = 0; i < 3; i++) assert.equal((await client('198.51.100.7')).statusCode, 401);
      assert.equal((await client('198.51.100.7')).statusCode, 429, 'one client behind the proxy is limited');
      assert.equal((await client('198.51.100.8')).statusCode, 401, 'another client behind the proxy keeps its budget');
    } finally {
      await proxied.close();
    }
  });

  test('invoke flooding: capability calls beyond the per-user minute budget get 429', async () => {
    const dash = await startDashboardHost({ env: { BULKHEAD_INVOKE_PER_MINUTE: '5' } });
    try {
      const cookie = await dash.login('busy');
      const other = await dash.login('calm');
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) codes.push((await dash.request('POST', '/api/v1/invoke/notes/list', { cookie, body: { params: {} } })).statusCode);
      assert.deepEqual(codes, [200, 200, 200, 200, 200, 429]);
      assert.equal((await dash.request('POST', '/api/v1/invoke/notes/list', { cookie: other, body: { params: {} } })).statusCode, 200, 'another user keeps their budget');
    } finally {
      await dash.close();
    }
  });

  test('sessions and used links survive a restart: the cookie still works, the spent link is still spent, a logout stays a logout', async () => {
    const { dir, cleanup } = tempDir('bulkhead-restart-');
    const env = { BULKHEAD_DATA_DIR: dir, BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'), BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') };
    try {
      const first = await startDashboardHost({ env });
      const token = first.linkToken('restart');
      const login = await first.request('POST', '/api/v1/login', { body: { token } });
      const cookie = cookieOf(login);
      const gone = await first.login('restart');
      await first.request('POST', '/api/v1/logout', { cookie: gone });
      await first.close();

      const second = await startDashboardHost({ env });
      try {
        assert.equal((await second.request('GET', '/api/v1/session', { cookie })).statusCode, 200);
        assert.equal((await second.request('POST', '/api/v1/login', { body: { token } })).statusCode, 401);
        assert.equal((await second.request('GET', '/api/v1/session', { cookie: gone })).statusCode, 401);
      } finally {
        await second.close();
      }
    } finally {
      cleanup();
    }
  });

  test('HSTS is sent when the dashboard is served over https (BULKHEAD_PUBLIC_URL)', async () => {
    const dash = await startDashboardHost({ env: { BULKHEAD_PUBLIC_URL: 'https://bulkhead.example.com' } });
    try {
      const response = await dash.fronts.http.inject({ method: 'GET', url: '/api/v1/health' });
      assert.match(String(response.headers['strict-transport-security']), /max-age=\d{7,}/);
      assert.ok(dash.fronts.loginLink({ globalUserId: 'console:x', platformIdentity: 'console:x' }).startsWith('https://bulkhead.example.com/login#'));
      // The Origin check uses the public URL.
      const cookie = await dash.login('https');
      const fromPublic = await dash.request('GET', '/api/v1/session', { cookie });
      assert.equal(fromPublic.statusCode, 200);
      const post = await dash.fronts.http.inject({
        method: 'POST',
        url: '/api/v1/logout',
        headers: { cookie, origin: 'http://127.0.0.1', 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(post.statusCode, 403);
    } finally {
      await dash.close();
    }
  });
});
