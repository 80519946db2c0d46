// The dashboard's Vault view and the vault hints beside a result, in Debian's Chromium
// (/usr/bin/chromium) through playwright-core, against a real host on 127.0.0.1: set-up with the
// cannot-recover warning, lock, a call that meets the locked vault offers the unlock form right
// there, and a result that holds sealed values is marked and can be cleared. The `sealrelay`
// fixture is loaded with a form-friendly schema for its query capability. Without Chromium this
// file fails, it does not skip (like dashboard-browser.test.ts).
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, logInWithLink } from '../helpers/browser.js';
import { startDashboardHost, type DashboardHost } from '../helpers/dashboard-host.js';
import { builtInPluginsDir, consoleUser, fixturePluginsDir, tempDir } from '../helpers/fixtures.js';

describe('the vault in Chromium', () => {
  let dash: DashboardHost;
  let browser: Browser;
  const extra = tempDir('bulkhead-vault-ui-');

  before(async () => {
    // sealrelay, callable from the dashboard, with a query capability whose form has two selects (and the values of an insert).
    const folder = path.join(extra.dir, 'sealrelay');
    cpSync(path.join(fixturePluginsDir, 'sealrelay'), folder, { recursive: true });
    const manifest = JSON.parse(readFileSync(path.join(folder, 'plugin.json'), 'utf8')) as { capabilities: { name: string }[] };
    const findParams = { type: 'object', required: ['op', 'collection'], additionalProperties: false, properties: { op: { enum: ['find', 'insert'] }, collection: { enum: ['secrets'] }, values: { type: 'object' } } };
    manifest.capabilities = manifest.capabilities.map((c) => ({ ...c, dashboard: true, ...(c.name === 'query_raw' ? { params: findParams } : {}) }));
    writeFileSync(path.join(folder, 'plugin.json'), JSON.stringify(manifest));
    const [host, launched] = await Promise.allSettled([startDashboardHost({ builtInDirs: [builtInPluginsDir, extra.dir], env: { BULKHEAD_LOGIN_PER_MINUTE: '100' } }), launchChromium()]);
    if (host.status === 'fulfilled') dash = host.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    for (const outcome of [host, launched]) if (outcome.status === 'rejected') throw outcome.reason;
  });
  after(async () => {
    await browser?.close();
    await dash?.close();
    extra.cleanup();
  });

  /** Everything the page shows and every field's value: a password must be in neither. */
  const pageText = (page: Page): Promise<string> =>
    page.locator('body').evaluate((body) => `${String(body.textContent)} ${Array.from(body.querySelectorAll('input') as ArrayLike<{ value: string }>).map((input) => input.value).join(' ')}`);

  /** Runs sealrelay's find (op and collection are the only choices) and waits for its result. */
  async function find(page: Page) {
    const form = page.locator('form[data-capability="sealrelay.query_raw"]');
    await form.locator('[name=op]').selectOption({ label: 'find' });
    await form.locator('[name=collection]').selectOption({ label: 'secrets' });
    await Promise.all([page.waitForResponse(`${dash.origin}/api/v1/invoke/sealrelay/query_raw`), form.getByRole('button').click()]);
    await page.locator('[data-result-for="sealrelay.query_raw"][aria-busy="false"]').waitFor();
    return page.locator('[data-result-for="sealrelay.query_raw"]');
  }

  test('set up (after the cannot-recover warning), lock, the locked call offers unlock beside it, and the sealed result is marked and can be hidden', async () => {
    const master = 'a browser master password';
    const page = await logInWithLink(await browser.newContext(), dash.origin, dash.linkToken('vault-ui'));
    const setups: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/v1/vault/setup')) setups.push(request.method());
    });
    await page.goto(`${dash.origin}/#vault`);
    await page.locator('#vault-state[data-state="none"]').waitFor();
    assert.match((await page.locator('#vault-setup .notice').first().textContent()) ?? '', /cannot be recovered/);
    assert.deepEqual(await page.locator('#vault-setup-form input[type=password]').evaluateAll((inputs) => inputs.map((i) => i.getAttribute('autocomplete'))), ['new-password', 'new-password']);
    assert.equal(await page.locator('#vault-setup-password').getAttribute('minlength'), '10');

    await page.fill('#vault-setup-password', master);
    await page.fill('#vault-setup-confirmation', master);
    await page.getByRole('button', { name: 'Set up my vault' }).click();
    assert.equal(await page.locator('#vault-setup-understood').evaluate((box) => (box as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing), true);
    assert.deepEqual(setups, [], 'the cannot-recover box must be ticked: nothing was sent');
    await page.check('#vault-setup-understood');
    await page.getByRole('button', { name: 'Set up my vault' }).click();
    await page.locator('#vault-state[data-state="unlocked"]').waitFor();
    assert.deepEqual(setups, ['POST']);
    assert.ok(!(await pageText(page)).includes(master), 'the password left the form once sent');

    await dash.host.dispatcher.invoke(consoleUser('vault-ui'), 'sealrelay', 'query_raw', { op: 'insert', collection: 'secrets', values: { service: 'bank', password: 'the-bank-secret' } });
    await page.getByRole('button', { name: 'Lock now' }).click();
    await page.locator('#vault-state[data-state="locked"]').waitFor();
    assert.equal(await page.locator('#vault-unlock-password').getAttribute('autocomplete'), 'current-password');

    await page.goto(`${dash.origin}/#plugins`);
    const locked = await find(page);
    const inline = locked.locator('form.vault-inline');
    await inline.waitFor();
    assert.equal(await inline.locator('input').getAttribute('type'), 'password');
    assert.ok(!(await locked.textContent())?.includes('the-bank-secret'));
    await inline.locator('input').fill(master);
    await inline.getByRole('button', { name: 'Unlock' }).click();
    await inline.getByRole('status').filter({ hasText: 'unlocked' }).waitFor();

    const opened = await find(page);
    assert.match((await opened.getAttribute('class')) ?? '', /\bsensitive\b/);
    assert.match((await opened.locator('.sensitive-note').textContent()) ?? '', /secrets from your vault/);
    assert.ok((await opened.textContent())?.includes('the-bank-secret'));
    assert.ok(!(await pageText(page)).includes(master));
    await opened.getByRole('button', { name: 'Hide' }).click();
    assert.ok(!(await opened.textContent())?.includes('the-bank-secret'), 'Hide takes the secret off the page');

    // passwords.add (a secret capability): its writeOnly password is typed unseen and emptied once sent.
    const add = page.locator('form[data-capability="passwords.add"]');
    const field = add.locator('input[name="password"]');
    assert.equal(await field.getAttribute('type'), 'password');
    assert.equal(await field.getAttribute('autocomplete'), 'new-password');
    assert.equal(await add.locator('input[name="service"]').getAttribute('type'), 'text');
    await add.locator('input[name="service"]').fill('Bank');
    await field.fill('typed-in-the-form-42');
    await add.getByRole('button').click();
    await page.locator('[data-result-for="passwords.add"][aria-busy="false"]').waitFor();
    assert.match((await page.locator('[data-result-for="passwords.add"]').textContent()) ?? '', /Saved/);
    assert.equal(await field.inputValue(), '', 'the password does not stay in the form');
  });
});
