/**
 * `npm run screenshot`: the dashboard's notes forms and a listed table, as dashboard/notes-form.png.
 * A real host on 127.0.0.1 and Debian's Chromium (as in the browser tests): a console user logs in
 * through a link, adds a few notes with tags through the forms and lists them.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fromRoot } from '../../host/core/paths.js';
import { launchChromium, logInWithLink } from '../helpers/browser.js';
import { startDashboardHost } from '../helpers/dashboard-host.js';

const output = fromRoot('dashboard', 'notes-form.png');
const notes = [
  { text: 'Renew passport before the Lisbon trip in March', tags: 'admin, travel' },
  { text: 'Call the dentist on Monday to move the check-up', tags: 'health' },
  { text: 'Oat milk, coffee beans, lemons', tags: 'shopping' },
];

const dash = await startDashboardHost();
const browser = await launchChromium();
try {
  // A fixed locale and time zone, so times in the table read the same on every machine.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await logInWithLink(context, dash.origin, dash.linkToken('sam'));
  const add = page.locator('form[data-capability="notes.add"]');
  for (const note of notes) {
    await add.locator('[name=text]').fill(note.text);
    await add.locator('[name=tags]').fill(note.tags);
    await Promise.all([page.waitForResponse(`${dash.origin}/api/v1/invoke/notes/add`), add.getByRole('button').click()]);
    await page.locator('[data-result-for="notes.add"][aria-busy="false"]').waitFor();
  }
  const list = page.locator('form[data-capability="notes.list"]');
  await Promise.all([page.waitForResponse(`${dash.origin}/api/v1/invoke/notes/list`), list.getByRole('button').click()]);
  await page.locator('[data-result-for="notes.list"] table').waitFor();
  // From the top of the page to the end of the list's table.
  const box = await page.locator('section.capability:has([data-result-for="notes.list"])').boundingBox();
  if (!box) throw new Error('the list capability is not on the page');
  mkdirSync(path.dirname(output), { recursive: true });
  await page.screenshot({ path: output, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(box.y + box.height + 16) } });
  console.log(`wrote ${path.relative(process.cwd(), output)}`);
} finally {
  await browser.close();
  await dash.close();
}
