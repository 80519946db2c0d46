// The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium) driven through
// playwright-core, against a real host on 127.0.0.1. It checks what only a browser can: that the
// session cookie is kept as a __Host- cookie the page's scripts cannot read, that the CSP really
// blocks inline script and style, that stored markup is shown as text and never run, and that a
// cookie copied before logout is dead. One browser for the file, a fresh context (profile) per
// test. CI installs chromium; without it this file fails, it does not skip.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium, logInWithLink } from '../helpers/browser.js';
import { startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';

// The page's globals, for the callbacks page.evaluate runs inside Chromium (the project compiles without lib.dom).
interface PageElement {
  textContent: string | null;
  setAttribute(name: string, value: string): void;
}
interface PageDocument {
  readonly body: { append(...nodes: unknown[]): void };
  readonly cookie: string;
  createElement(tag: string): PageElement;
  addEventListener(type: 'securitypolicyviolation', listener: (event: { violatedDirective: string }) => void): void;
}
declare const document: PageDocument;
declare const window: Record<string, unknown>;
declare function getComputedStyle(element: PageElement): { color: string };

describe('dashboard in Chromium', () => {
  let dash: DashboardHost;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    // Every test logs in from 127.0.0.1: room above the default 10 logins a minute. Both start side
    // by side and each is kept once up, so that `after` closes the host even when Chromium is
    // missing (an open host would keep the test process alive).
    const [host, launched] = await Promise.allSettled([startDashboardHost({ env: { BULKHEAD_LOGIN_PER_MINUTE: '100' } }), launchChromium()]);
    if (host.status === 'fulfilled') dash = host.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    for (const outcome of [host, launched]) if (outcome.status === 'rejected') throw outcome.reason;
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  after(async () => {
    await browser?.close();
    await dash?.close();
  });

  /** A fresh browser profile: no cookies, no storage. */
  const freshContext = async (): Promise<BrowserContext> => {
    const context = await browser.newContext();
    contexts.push(context);
    return context;
  };

  /** Logs console user `name` in through a link, the way a person does: the login page, then "Log in". */
  async function logIn(context: BrowserContext, name: string): Promise<Page> {
    const page = await logInWithLink(context, dash.origin, dash.linkToken(name));
    assert.equal(await page.locator('#identity').textContent(), `console:${name}`);
    return page;
  }

  /** A session made outside the browser (another device), as the raw cookie the host set. */
  async function sessionElsewhere(name: string): Promise<{ name: string; value: string; id: string }> {
    const response = await dash.request('POST', '/api/v1/login', { body: { token: dash.linkToken(name) } });
    assert.equal(response.statusCode, 200);
    const pair = String([response.headers['set-cookie']].flat()[0]).split(';')[0] ?? '';
    const id = (response.json() as { session: { id: string } }).session.id;
    return { name: pair.slice(0, pair.indexOf('=')), value: pair.slice(pair.indexOf('=') + 1), id };
  }

  /** Whether a copy of the cookie still opens a session (asked outside the browser). */
  async function alive(cookie: { name: string; value: string }): Promise<boolean> {
    const response = await dash.request('GET', '/api/v1/session', { cookie: `${cookie.name}=${cookie.value}` });
    return response.statusCode === 200;
  }

  /** The dashboard in a fresh browser that holds the cookie of a session made elsewhere (quicker than the login page). */
  async function openAs(name: string): Promise<Page> {
    const context = await freshContext();
    const { name: cookieName, value } = await sessionElsewhere(name);
    await context.addCookies([{ name: cookieName, value, domain: new URL(dash.origin).hostname, path: '/', secure: true, httpOnly: true, sameSite: 'Strict' }]);
    const page = await context.newPage();
    await page.goto(`${dash.origin}/`);
    await page.locator('#identity').filter({ hasText: `console:${name}` }).waitFor();
    return page;
  }

  /** Fills a capability's form (field name -> text), submits it and waits for its result region. */
  async function run(page: Page, capability: string, fields: Record<string, string> = {}): Promise<Locator> {
    const form = page.locator(`form[data-capability="${capability}"]`);
    for (const [name, value] of Object.entries(fields)) await form.locator(`[name="${name}"]`).fill(value);
    const [plugin, name] = capability.split('.');
    await Promise.all([page.waitForResponse(`${dash.origin}/api/v1/invoke/${plugin}/${name}`), form.getByRole('button').click()]);
    await page.locator(`[data-result-for="${capability}"][aria-busy="false"]`).waitFor();
    return page.locator(`[data-result-for="${capability}"]`);
  }

  /** The cells of a result table, row by row, under their header names. */
  async function tableOf(result: Locator): Promise<Record<string, string>[]> {
    const headers = await result.locator('thead th').allTextContents();
    const rows = await result.locator('tbody tr').all();
    return Promise.all(rows.map(async (row) => Object.fromEntries((await row.locator('td').allTextContents()).map((text, i) => [headers[i], text]))));
  }

  test('a login link opened in the browser logs in; notes are added and listed through the forms made from the manifest', async () => {
    const page = await logIn(await freshContext(), 'alice');
    assert.equal(page.url(), `${dash.origin}/`, 'the token left the address bar');
    for (const capability of ['notes.add', 'notes.list', 'notes.search', 'notes.delete']) assert.equal(await page.locator(`form[data-capability="${capability}"]`).count(), 1, capability);
    // Attributes from the schema; a label for every field; the description as its help text.
    const text = page.locator('form[data-capability="notes.add"] [name=text]');
    assert.equal(await text.getAttribute('required'), '');
    assert.equal(await text.getAttribute('maxlength'), '2000');
    assert.equal(await page.locator(`#${await text.getAttribute('aria-describedby')}`).textContent(), 'The note.');
    assert.equal(await page.locator('form[data-capability="notes.add"] label').first().textContent(), 'text (required)');
    const notesFields = await page.locator('#plugins form[data-capability^="notes."] [name]').count();
    assert.equal(notesFields, 5);
    // Every field of every plugin's form (reminders, price alerts, tally too) has its label.
    const ids = await page.locator('#plugins form [name]').evaluateAll((fields) => fields.map((field) => String(field.id)));
    assert.ok(ids.length > notesFields);
    for (const id of ids) assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `a label for ${id}`);

    const added = await run(page, 'notes.add', { text: 'renew passport', tags: 'admin, travel' });
    assert.equal(await added.getByRole('status').textContent(), 'Done.');
    assert.match((await added.locator('.replies p').textContent()) ?? '', /^Saved note [0-9a-f]{8}\.$/);
    await run(page, 'notes.add', { text: 'call the dentist', tags: 'health' });
    const rows = await tableOf(await run(page, 'notes.list'));
    assert.deepEqual(rows.map((row) => [row['text'], row['tags']]), [['renew passport', '["admin", "travel"]'], ['call the dentist', '["health"]']]);
    assert.match(rows[0]?.['id'] ?? '', /^[0-9a-f-]{36}$/);
    const byTag = await tableOf(await run(page, 'notes.list', { tag: 'travel' }));
    assert.deepEqual(byTag.map((row) => row['text']), ['renew passport']);
  });

  test('every kind of param gets its control (text, number, checkbox, select, list, JSON) and reads back as typed JSON', async () => {
    const page = await (await freshContext()).newPage();
    await page.goto(`${dash.origin}/login`);
    const schema = {
      type: 'object',
      required: ['title', 'count', 'size'],
      properties: {
        title: { type: 'string', minLength: 2, maxLength: 40, description: 'A title.' },
        count: { type: 'integer', minimum: 1, maximum: 9 },
        ratio: { type: 'number', minimum: 0, maximum: 1 },
        urgent: { type: 'boolean' },
        color: { type: 'string', enum: ['red', 'green'] },
        size: { enum: [1, 2, 3] },
        labels: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' } },
        lines: { type: 'array', items: { type: 'string' } },
        extra: { type: 'object' },
      },
    };
    await page.evaluate(async (params) => {
      const url: string = '/assets/forms.js';
      const forms = (await import(url)) as { capabilityForm(plugin: string, capability: unknown): unknown };
      const form = forms.capabilityForm('demo', { name: 'try-it', description: '', params });
      document.body.append(form);
      window['__forms'] = forms;
      window['__form'] = form;
    }, schema);
    const form = page.locator('form[data-capability="demo.try-it"]');
    const control = async (name: string): Promise<string> =>
      form.locator(`[name=${name}]`).evaluate((e) => [e.tagName, e.type, e.required && 'required', e.min, e.max, e.step, e.minLength > 0 && e.minLength, e.maxLength > 0 && e.maxLength].filter((v) => v !== '' && v !== false && v !== undefined).join(' '));
    assert.deepEqual(
      Object.fromEntries(await Promise.all(Object.keys(schema.properties).map(async (name) => [name, await control(name)]))),
      {
        title: 'INPUT text required 2 40',
        count: 'INPUT number required 1 9 1',
        ratio: 'INPUT number 0 1 any',
        urgent: 'INPUT checkbox',
        color: 'SELECT select-one',
        size: 'SELECT select-one required',
        labels: 'INPUT text',
        lines: 'TEXTAREA textarea',
        extra: 'TEXTAREA textarea',
      },
    );
    assert.equal(await page.locator(`#${await form.locator('[name=title]').getAttribute('aria-describedby')}`).textContent(), 'A title.');
    assert.deepEqual(await form.locator('[name=color] option').allTextContents(), ['(none)', 'red', 'green']);
    assert.deepEqual(await form.locator('[name=size] option').allTextContents(), ['1', '2', '3']);

    await form.locator('[name=title]').fill('Hi');
    await form.locator('[name=count]').fill('3');
    await form.locator('[name=ratio]').fill('0.5');
    await form.locator('[name=urgent]').check();
    await form.locator('[name=color]').selectOption({ label: 'green' });
    await form.locator('[name=size]').selectOption({ label: '2' });
    await form.locator('[name=labels]').fill('a, b');
    await form.locator('[name=lines]').fill('x, y\nz');
    await form.locator('[name=extra]').fill('{"k":[1]}');
    const read = (): Promise<unknown> => page.evaluate(() => (window['__forms'] as { readParams(form: unknown): unknown }).readParams(window['__form']));
    assert.deepEqual(await read(), { title: 'Hi', count: 3, ratio: 0.5, urgent: true, color: 'green', size: 2, labels: ['a', 'b'], lines: ['x, y', 'z'], extra: { k: [1] } });
    await form.locator('[name=count]').fill('12');
    assert.equal(await read(), undefined, 'over the maximum');
    await form.locator('[name=count]').fill('3');
    await form.locator('[name=extra]').fill('{not json');
    assert.equal(await read(), undefined, 'not JSON');
  });

  test("the form refuses what the schema refuses before sending; the host's refusals and a plugin's own error text show in the status region", async () => {
    const page = await openAs('erin');
    let invokes = 0;
    page.on('request', (request) => {
      if (request.url().includes('/api/v1/invoke/')) invokes++;
    });
    const form = page.locator('form[data-capability="notes.add"]');
    const message = (name: string): Promise<string> => form.locator(`[name=${name}]`).evaluate((input) => String(input.validationMessage));
    await form.locator('[name=text]').fill('');
    await form.getByRole('button').click();
    assert.notEqual(await message('text'), '', 'a required field left empty');
    await form.locator('[name=text]').fill('x'.repeat(2001));
    assert.equal(await form.locator('[name=text]').evaluate((input) => (input as unknown as { value: string }).value.length), 2000, 'maxLength holds the field to the schema');
    assert.equal(invokes, 0, 'nothing was sent');

    // Patterns and uniqueItems are left to the host: a manifest's pattern never runs in the
    // browser's backtracking engine (a pattern like (a|a)*b would freeze the tab).
    for (const values of [{ text: 'a note', tags: 'ok, Not A Tag' }, { text: '   ', tags: '' }]) {
      const rejected = await run(page, 'notes.add', values);
      assert.match((await rejected.getByRole('status').textContent()) ?? '', /^Error: .+\(BH_PARAMS_INVALID\)$/);
    }
    const refused = await run(page, 'notes.add', { text: 'twice tagged', tags: 'work, work' });
    assert.match((await refused.getByRole('status').textContent()) ?? '', /^Error: .+\(BH_PARAMS_INVALID\)$/);
    const failed = await run(page, 'notes.delete', { id: 'no-such-note' });
    assert.match((await failed.getByRole('status').textContent()) ?? '', /^Error: .+\(BH_PLUGIN_ERROR\)No note with that id\.$/);
    assert.equal(await failed.locator('[role=status] .detail').textContent(), 'No note with that id.');
  });

  test('data rights in the browser: Activity shows the note just added; "Download my data" saves the export; a deletion shows its date and is cancelled; a stale login is sent for a new link', async () => {
    const page = await openAs('nina');
    await run(page, 'notes.add', { text: 'for the log' });
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator('#activity-lines tbody tr[data-kind="call"]').first().waitFor();
    const rows = await tableOf(page.locator('#activity-lines'));
    assert.ok(
      rows.some((row) => row['Front'] === 'dashboard' && row['Plugin'] === 'notes' && row['Capability / op'] === 'add' && row['Outcome'] === 'ok'),
      JSON.stringify(rows),
    );
    assert.ok(!JSON.stringify(rows).includes('for the log'), 'the log names no value');

    await page.getByRole('link', { name: 'Your data' }).click();
    const form = page.locator('#deletion-form');
    await form.waitFor();
    assert.equal(await page.locator('#activity').isHidden(), true);
    const [saved] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download my data' }).click()]);
    assert.match(saved.suggestedFilename(), /^bulkhead-export-\d{4}-\d{2}-\d{2}\.json$/);
    assert.equal((JSON.parse(await readFile(await saved.path(), 'utf8')) as { format: string }).format, 'bulkhead-export');
    let posted = 0;
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/api/v1/account/deletion')) posted++;
    });
    await form.locator('#deletion-confirm').fill('delete my acount');
    await form.getByRole('button', { name: 'Delete my account' }).click();
    assert.notEqual(await form.locator('#deletion-confirm').evaluate((input) => String(input.validationMessage)), '');
    assert.equal(posted, 0, 'a mistyped confirmation sends nothing');
    await form.locator('#deletion-confirm').fill('delete my account');
    const [answer] = await Promise.all([page.waitForResponse(`${dash.origin}/api/v1/account/deletion`), form.getByRole('button', { name: 'Delete my account' }).click()]);
    const { dueAt } = (await answer.json()) as { dueAt: string };
    await page.locator('#deletion-pending').waitFor();
    assert.equal(await page.locator('#deletion-due time').getAttribute('datetime'), dueAt);
    assert.match((await page.locator('#account-status').textContent()) ?? '', /^Deletion requested: your account will be deleted on .+\.$/);

    await page.getByRole('button', { name: 'Cancel the deletion' }).click();
    await form.waitFor();
    assert.equal(await page.locator('#account-status').textContent(), 'The deletion is cancelled: your account stays as it is.');
    assert.equal(await page.locator('#deletion-pending').isHidden(), true);

    // Six minutes on (the host's clock): the download link gives way to the way to a new login.
    dash.clock.now += 6 * 60_000;
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('link', { name: 'Your data' }).click();
    await page.locator('#export-stale').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Download my data' }).isHidden(), true);
    assert.match((await page.locator('#export-stale').textContent()) ?? '', /login from the last 5 minutes.+\/bulkhead login/s);
  });

  test('stored XSS: note text holding <img onerror>, <script> and <svg onload> is shown as those characters, makes no element and runs nothing', async () => {
    const page = await openAs('mallory');
    const requested: string[] = [];
    page.on('request', (request) => requested.push(new URL(request.url()).pathname));
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const payloads = ['<img src=x onerror=window.__xss=1>', '<script>window.__xss=2</script>', '"><svg onload=window.__xss=3>'];
    for (const text of payloads) {
      const added = await run(page, 'notes.add', { text });
      assert.equal(await added.locator('dd:not(:has(dl))').filter({ hasText: text }).textContent(), text, 'the saved note is shown as text');
    }
    const listed = await run(page, 'notes.list');
    assert.deepEqual((await tableOf(listed)).map((row) => row['text']), payloads);
    assert.equal(await listed.locator('td').filter({ hasText: payloads[0] }).textContent(), payloads[0]);
    // The CSP alone would stop the handlers; these catch markup being parsed at all.
    assert.equal(await page.locator('main img, main script, main svg').count(), 0, 'no element was made from a note');
    assert.equal(requested.includes('/x'), false, 'no image was fetched');
    assert.equal(await page.evaluate(() => window['__xss']), undefined);
    assert.deepEqual(dialogs, []);
  });

  test('logout ends the session for every copy of the cookie: one copied before logout is refused in a fresh browser, which shows "not logged in"', async () => {
    const context = await freshContext();
    const page = await logIn(context, 'bob');
    const copied = await context.cookies();
    assert.equal(copied.length, 1);
    assert.equal(await alive(copied[0] as { name: string; value: string }), true, 'the copy is a working credential before logout');
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.waitForURL(`${dash.origin}/login`);
    assert.deepEqual(await context.cookies(), [], 'the browser dropped its own cookie');

    const thief = await freshContext();
    await thief.addCookies(copied);
    const replay = await thief.newPage();
    const sent: string[] = [];
    replay.on('request', (request) => {
      if (request.url().endsWith('/api/v1/session')) void request.headerValue('cookie').then((cookie) => sent.push(cookie ?? ''));
    });
    await replay.goto(`${dash.origin}/`);
    await replay.locator('#signed-out').waitFor();
    assert.equal(await replay.getByRole('link', { name: 'How to log in' }).getAttribute('href'), '/login');
    assert.equal(await replay.locator('#user').isHidden(), true);
    assert.equal(await replay.locator('#plugins').isHidden(), true);
    assert.deepEqual(sent, [`${copied[0]?.name}=${copied[0]?.value}`], 'the copied cookie was sent, and refused');
    assert.equal(await replay.evaluate(async () => (await fetch('/api/v1/session')).status), 401);
    assert.equal(await replay.evaluate(async () => (await fetch('/api/v1/plugins')).status), 401);
  });

  test('a lost device: "End" ends that session only, and "Log out everywhere" ends the rest', async () => {
    const lost = await sessionElsewhere('carol');
    const other = await sessionElsewhere('carol');
    const page = await openAs('carol');
    const sessions = page.locator('#session-list li');
    assert.equal(await sessions.count(), 3);
    assert.equal(await page.locator('#session-list li.current').count(), 1);
    await page.locator(`#session-list button[data-session="${lost.id}"]`).click();
    await sessions.nth(2).waitFor({ state: 'detached' });
    assert.equal(await sessions.count(), 2);
    assert.deepEqual([await alive(lost), await alive(other)], [false, true]);

    await page.getByRole('button', { name: 'Log out everywhere' }).click();
    await page.waitForURL(`${dash.origin}/login`);
    assert.equal(await alive(other), false);
  });

  test('CSP: a <script> element and a style attribute slipped into the page are blocked and reported', async () => {
    // The same policy is on every answer; the page without a session will do.
    const page = await (await freshContext()).newPage();
    const response = await page.goto(`${dash.origin}/`);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self';/);
    await page.locator('#signed-out').waitFor();
    // page.evaluate itself is exempt from the CSP; the elements it adds are not.
    const outcome = await page.evaluate(async () => {
      const violations: string[] = [];
      document.addEventListener('securitypolicyviolation', (event) => violations.push(event.violatedDirective));
      const script = document.createElement('script');
      script.textContent = 'window.__inline = 1';
      document.body.append(script);
      const styled = document.createElement('p');
      styled.setAttribute('style', 'color: rgb(255, 0, 0)');
      styled.textContent = 'styled';
      document.body.append(styled);
      for (let i = 0; i < 200 && violations.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      return { inline: window['__inline'], violations, color: getComputedStyle(styled).color };
    });
    assert.equal(outcome.inline, undefined, 'the inline script did not run');
    assert.notEqual(outcome.color, 'rgb(255, 0, 0)', 'the inline style did not apply');
    assert.deepEqual(outcome.violations.sort(), ['script-src-elem', 'style-src-attr']);
  });

  test('the session cookie Chromium keeps over http://127.0.0.1 is __Host-bulkhead: HttpOnly (no script reads it), Secure, SameSite=Strict, host-only, path /', async () => {
    const context = await freshContext();
    const page = await logIn(context, 'frank');
    const cookies = await context.cookies();
    assert.equal(cookies.length, 1);
    const [cookie] = cookies;
    assert.equal(cookie?.name, '__Host-bulkhead');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.secure, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(cookie?.path, '/');
    assert.equal(cookie?.domain, '127.0.0.1', 'host-only: no Domain attribute');
    assert.equal(await page.evaluate(() => document.cookie), '', "the page's scripts cannot read it");
  });
});
