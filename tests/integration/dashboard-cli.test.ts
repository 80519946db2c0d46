/**
 * The dashboard as an operator meets it: `bulkhead start` serves it and prints its address and a
 * development login link; `bulkhead dashboard link --user <name>` mints a link in a second process
 * while the host runs, touching none of the host's files; a browser-like client logs in over real
 * HTTP and calls a capability.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Names, sizes and modification times of everything in the data directory. */
function snapshot(dir: string): string {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .sort()
    .map((name) => {
      const info = statSync(path.join(dir, name));
      return `${name} ${info.size} ${info.mtimeMs}`;
    })
    .join('\n');
}

/** The snapshot once the host has stopped changing the directory (its worker creates files as it starts). */
async function settled(dir: string): Promise<string> {
  let last = snapshot(dir);
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = snapshot(dir);
    if (now === last) return now;
    last = now;
  }
  throw new Error('the data directory kept changing');
}

describe('dashboard from the command line', () => {
  const { dir, cleanup } = tempDir('bulkhead-dash-cli-');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    BULKHEAD_DATA_DIR: path.join(dir, 'data'),
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_WORKERS: '1',
  };
  let host: ChildProcess;
  let output = '';
  let origin = '';

  before(async () => {
    env['BULKHEAD_HTTP_PORT'] = String(await freePort());
    origin = `http://127.0.0.1:${env['BULKHEAD_HTTP_PORT']}`;
    host = spawn(process.execPath, [cli, 'start'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the host did not start: ${output}`)), 20_000);
      host.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Press Ctrl+C')) {
          clearTimeout(timer);
          resolve();
        }
      });
      host.once('exit', () => reject(new Error(`the host exited: ${output}`)));
    });
  });
  after(async () => {
    host.kill('SIGTERM');
    await new Promise((resolve) => host.once('exit', resolve));
    cleanup();
  });

  async function login(link: string): Promise<{ status: number; cookie: string; body: { user?: { identity: string }; error?: { code: string } } }> {
    assert.ok(link.startsWith(`${origin}/login#`), link);
    const token = link.slice(link.indexOf('#') + 1);
    // The landing page is what the link opens: a page, not a login (a prefetch spends nothing).
    const landing = await fetch(`${origin}/login`);
    assert.equal(landing.status, 200);
    const response = await fetch(`${origin}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ token }),
    });
    const setCookie = response.headers.get('set-cookie') ?? '';
    return { status: response.status, cookie: setCookie.slice(0, setCookie.indexOf(';')), body: (await response.json()) as never };
  }

  test('`bulkhead start` serves the dashboard and prints its address and, in development, a login link for console:dev', async () => {
    assert.match(output, new RegExp(`dashboard: ${origin}/\\n`));
    const link = /dashboard login for console:dev[^:]*: (\S+)/.exec(output)?.[1];
    assert.ok(link, output);
    const first = await login(link);
    assert.equal(first.status, 200);
    assert.equal(first.body.user?.identity, 'console:dev');
    assert.equal((await login(link)).status, 401, 'the printed link works once');
  });

  test('`bulkhead dashboard link` in a second process, while the host runs, mints a link the host accepts, and touches none of its files', async () => {
    const before = await settled(env['BULKHEAD_DATA_DIR'] as string);
    const minted = spawnSync(process.execPath, [cli, 'dashboard', 'link', '--user', 'alice'], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(minted.status, 0, minted.stderr);
    assert.equal(snapshot(env['BULKHEAD_DATA_DIR'] as string), before);
    assert.match(minted.stderr, /works once, for 10 minutes/);
    const { status, cookie, body } = await login(minted.stdout.trim());
    assert.equal(status, 200);
    assert.equal(body.user?.identity, 'console:alice');
    const added = await fetch(`${origin}/api/v1/invoke/notes/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin', cookie },
      body: JSON.stringify({ params: { text: 'from the dashboard' } }),
    });
    assert.equal(added.status, 200);
    assert.match(((await added.json()) as { replies: string[] }).replies[0] ?? '', /^Saved note/);
  });

  test('a link minted with other keys is refused by the host', async () => {
    const other = spawnSync(process.execPath, [cli, 'dashboard', 'link', '--user', 'alice'], {
      cwd: dir,
      env: { ...env, BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex') },
      encoding: 'utf8',
    });
    assert.equal(other.status, 0, other.stderr);
    assert.equal((await login(other.stdout.trim())).status, 401);
  });

  test('bad usage of `dashboard link` exits 2 with a coded error', () => {
    for (const args of [['dashboard'], ['dashboard', 'link'], ['dashboard', 'link', '--user', 'no spaces allowed'], ['dashboard', 'link', '--user', 'a', 'extra'], ['dashboard', 'open']]) {
      const run = spawnSync(process.execPath, [cli, ...args], { cwd: dir, env, encoding: 'utf8' });
      assert.equal(run.status, 2, args.join(' '));
      assert.match(run.stderr, /BH_CLI_USAGE/);
      assert.equal(run.stdout, '');
    }
  });
});
