import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isBulkheadError } from '../../host/core/errors.js';
import { deriveKey, fileIdFor, KeyService } from '../../host/keys/key-service.js';
import { loadRootKeys } from '../../host/keys/load-keys.js';
import { parseKey } from '../../host/keys/parse-key.js';
import { tempDir } from '../helpers/fixtures.js';
import { runStart as runStartProcess, type Run } from '../helpers/cli.js';


/** Runs `bulkhead start` in `cwd` with no BULKHEAD_ variable but `env`; stops it once it says it is running. */
function runStart(cwd: string, env: Record<string, string>): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BULKHEAD_') && k !== 'NODE_ENV' && k !== 'PATH')) as Record<string, string>;
  return runStartProcess(cwd, { ...clean, ...env });
}

test('production without keys refuses to start with the documented message', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const run = await runStart(dir, { NODE_ENV: 'production' });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /BULKHEAD_MASTER_KEY is required in production\./);
    assert.doesNotMatch(run.stdout, /is running/);
    const signingOnly = await runStart(dir, { NODE_ENV: 'production', BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex') });
    assert.equal(signingOnly.code, 1);
    assert.match(signingOnly.stderr, /BULKHEAD_SIGNING_KEY is required in production\./);
  } finally {
    cleanup();
  }
});

test('production does not take keys from .env.local, only from the environment or key files', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, '.env.local'), `BULKHEAD_MASTER_KEY=${randomBytes(32).toString('hex')}\nBULKHEAD_SIGNING_KEY=${randomBytes(32).toString('hex')}\n`);
    const refused = await runStart(dir, { NODE_ENV: 'production' });
    assert.equal(refused.code, 1);
    const masterFile = path.join(dir, 'master.key');
    writeFileSync(masterFile, `${randomBytes(32).toString('base64')}\n`);
    const started = await runStart(dir, { NODE_ENV: 'production', BULKHEAD_MASTER_KEY_FILE: masterFile, BULKHEAD_SIGNING_KEY: randomBytes(32).toString('base64url') });
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /production mode/);
  } finally {
    cleanup();
  }
});

test('development generates keys once into .env.local (mode 0600) with a warning, then reuses them', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const first = await runStart(dir, {});
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /warning: Generated development BULKHEAD_MASTER_KEY and BULKHEAD_SIGNING_KEY/);
    const envFile = path.join(dir, '.env.local');
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    const saved = readFileSync(envFile, 'utf8');
    const master = /^BULKHEAD_MASTER_KEY=([0-9a-f]{64})$/m.exec(saved)?.[1];
    assert.ok(master, 'the master key is saved');
    assert.ok(!first.stdout.includes(master) && !first.stderr.includes(master), 'the key is never printed');

    const second = await runStart(dir, {});
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /Generated/);
    assert.equal(readFileSync(envFile, 'utf8'), saved, 'the keys are reused, not regenerated');
    assert.match(second.stdout, new RegExp(`data directory: ${path.join(dir, 'data').replace(/[/\\]/g, '.')}`));
  } finally {
    cleanup();
  }
});

test('a malformed key is refused naming the variable and the expected form, never the value', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const secretish = 'not-a-key-but-maybe-a-password-7f3a';
    const run = await runStart(dir, { BULKHEAD_MASTER_KEY: secretish });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /BH_KEY_MALFORMED: BULKHEAD_MASTER_KEY must be exactly 32 bytes written as 64 hex characters or as base64/);
    assert.ok(!run.stderr.includes(secretish) && !run.stdout.includes(secretish));
  } finally {
    cleanup();
  }
});

test('parseKey accepts 32 bytes as hex, base64 and base64url, and nothing else', () => {
  const key = randomBytes(32);
  assert.deepEqual(parseKey('K', key.toString('hex')), key);
  assert.deepEqual(parseKey('K', key.toString('hex').toUpperCase()), key);
  assert.deepEqual(parseKey('K', key.toString('base64')), key);
  assert.deepEqual(parseKey('K', `  ${key.toString('base64url')}\n`), key);
  for (const bad of ['', 'x', key.toString('hex').slice(1), randomBytes(31).toString('hex'), randomBytes(33).toString('base64'), `${key.toString('hex')}00`, 'g'.repeat(64)]) {
    assert.throws(() => parseKey('BULKHEAD_MASTER_KEY', bad), (e: unknown) => isBulkheadError(e, 'BH_KEY_MALFORMED') && e.message.startsWith('BULKHEAD_MASTER_KEY'));
  }
});

test('loadRootKeys: a key and its _FILE variant together are ambiguous; an unreadable file is named; equal keys are refused', () => {
  const base = { production: true, envFile: '/nonexistent/.env.local', warn: () => assert.fail('no warning in production') };
  const hex = randomBytes(32).toString('hex');
  assert.throws(() => loadRootKeys({ ...base, env: { BULKHEAD_MASTER_KEY: hex, BULKHEAD_MASTER_KEY_FILE: '/x' } }), (e: unknown) => isBulkheadError(e, 'BH_KEY_AMBIGUOUS'));
  assert.throws(() => loadRootKeys({ ...base, env: { BULKHEAD_MASTER_KEY_FILE: '/nonexistent/key' } }), (e: unknown) => isBulkheadError(e, 'BH_KEY_FILE_UNREADABLE') && e.message.includes('ENOENT'));
  assert.throws(() => loadRootKeys({ ...base, env: { BULKHEAD_MASTER_KEY: hex, BULKHEAD_SIGNING_KEY: hex } }), (e: unknown) => isBulkheadError(e, 'BH_KEY_REUSED'));
  // One of the two from .env.local: the error says which, and what to remove or unset.
  const fromFile = new Set(['BULKHEAD_SIGNING_KEY_FILE']);
  assert.throws(
    () => loadRootKeys({ ...base, fromFile, env: { BULKHEAD_MASTER_KEY: hex, BULKHEAD_SIGNING_KEY: hex, BULKHEAD_SIGNING_KEY_FILE: '/x' } }),
    (e: unknown) =>
      isBulkheadError(e, 'BH_KEY_AMBIGUOUS_ENV_FILE') &&
      e.message.startsWith('BULKHEAD_SIGNING_KEY is set in the environment and BULKHEAD_SIGNING_KEY_FILE in .env.local') &&
      e.message.endsWith('Remove the BULKHEAD_SIGNING_KEY_FILE line from .env.local, or unset BULKHEAD_SIGNING_KEY.') &&
      !e.message.includes(hex),
  );
});

test('derivation labels are unambiguous: ("a:user", "1") and ("a", "user:1") give different keys', () => {
  const master = randomBytes(32);
  assert.notDeepEqual(deriveKey(master, ['plugin', 'a:user', '1']), deriveKey(master, ['plugin', 'a', 'user:1']));
  assert.notDeepEqual(deriveKey(master, ['plugin', 'a,b']), deriveKey(master, ['plugin', 'a', 'b']));
  const keys = new KeyService({ master, signing: randomBytes(32) });
  assert.notDeepEqual(keys.pluginKey('notes').fileRoot, keys.pluginKey('tasks').fileRoot);
  assert.notEqual(fileIdFor(keys.pluginKey('notes'), 'u'), fileIdFor(keys.pluginKey('tasks'), 'u'));
});

test('what the key service hands out never contains the master or signing key', () => {
  const master = randomBytes(32);
  const signing = randomBytes(32);
  const keys = new KeyService({ master, signing });
  const handedOut = [keys.pluginKey('notes').fileRoot, keys.pluginKey('notes').names, keys.keyringKey(), keys.tokenKey().key];
  for (const key of handedOut) {
    assert.equal(key.length, 32);
    assert.ok(!key.equals(master) && !key.equals(signing));
  }
  assert.deepEqual(Object.keys(keys.pluginKey('notes')).sort(), ['fileRoot', 'names', 'plugin']);
  assert.equal(JSON.stringify(keys), '{}', 'no enumerable key material on the service itself');
});

test('`bulkhead keys generate` prints two fresh, valid, different keys; bad usage exits 2', async () => {
  const { main } = await import('../../host/cli/main.js');
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  assert.equal(await main(['keys', 'generate'], io), 0);
  const [master, signing] = out.map((line) => line.split('=')[1] as string);
  assert.equal(out.length, 2);
  assert.ok(out[0]?.startsWith('BULKHEAD_MASTER_KEY=') && out[1]?.startsWith('BULKHEAD_SIGNING_KEY='));
  assert.notDeepEqual(parseKey('BULKHEAD_MASTER_KEY', master as string), parseKey('BULKHEAD_SIGNING_KEY', signing as string));
  for (const argv of [[], ['nope'], ['keys'], ['keys', 'generate', 'extra']]) {
    err.length = 0;
    assert.equal(await main(argv, io), 2, argv.join(' '));
    assert.match(err.join('\n'), /Usage:\s+bulkhead|Known: start, invoke/, 'the usage, or the known commands for an unknown one');
  }
});
