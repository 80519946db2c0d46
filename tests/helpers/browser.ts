/**
 * Debian's Chromium (/usr/bin/chromium, `apt-get install chromium`) through playwright-core, for
 * the dashboard's browser tests and its screenshot. Headless, no GPU, and quiet: no sync, no
 * component updates, no background requests of its own.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches Chromium; throws (it never skips) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new Error(`Chromium is missing at ${chromiumPath}: apt-get install chromium`);
  return chromium.launch({ executablePath: chromiumPath, args });
}

/** Opens login link `${origin}/login#${token}` in a new page of `context`, presses "Log in" and waits for the dashboard. */
export async function logInWithLink(context: BrowserContext, origin: string, token: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/login#${token}`);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${origin}/`);
  await page.locator('#identity:not(:empty)').waitFor();
  return page;
}
