// Configuration mistakes an operator makes in the first hour, each caught by a real `bulkhead`
// process started from a folder outside the repository with a clean environment: the mistake
// gets a coded error or a warning that says what to do, never a stack trace or silence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/fixtures.js';
import { cli, runStart as runStartProcess, type Run } from '../helpers/cli.js';

/** The environment of the test run without any BULKHEAD_ variable or NODE_ENV, plus `env`. */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BULKHEAD_') && k !== 'NODE_ENV')) as Record<string, string>;
  return { ...clean, ...env };
}

/** `bulkhead <args>` in `cwd`, to completion. */
function bulkhead(cwd: string, args: string[], env: Record<string, string> = {}): Run {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8', input: '', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `bulkhead start` in `cwd`, stopped once it says it is running. */
function runStart(cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return runStartProcess(cwd, cleanEnv(env));
}

const stackTrace = /\n\s+at |EEXIST|ENOTDIR|node:internal/;

test('mistake: BULKHEAD_DATA_DIR names a regular file — start, invoke, console and plugin approve answer BH_CONFIG_INVALID, not an EEXIST stack trace', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, 'data.txt'), 'not a folder\n');
    const env = { BULKHEAD_DATA_DIR: 'data.txt' };
    for (const args of [['start'], ['invoke', '--user', 'alice', 'notes.list'], ['console', '--user', 'alice'], ['plugin', 'approve', dir], ['plugin', 'list']]) {
      const run = bulkhead(dir, args, env);
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^error BH_CONFIG_INVALID: BULKHEAD_DATA_DIR names a file, not a folder/m, args.join(' '));
      assert.doesNotMatch(run.stderr, stackTrace, args.join(' '));
    }
    assert.equal(readFileSync(path.join(dir, 'data.txt'), 'utf8'), 'not a folder\n', 'the file is left alone');
    assert.ok(!existsSync(path.join(dir, '.env.local')), 'the check comes before anything is written, development keys included');
  } finally {
    cleanup();
  }
});

test('mistake: BULKHEAD_DATA_DIR cannot be created because a part of its path is a file — a coded error, not an ENOTDIR stack trace', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, 'parent'), '');
    const env = { BULKHEAD_DATA_DIR: path.join(dir, 'parent', 'data') };
    for (const args of [['start'], ['invoke', '--user', 'alice', 'notes.list'], ['plugin', 'approve', dir]]) {
      const run = bulkhead(dir, args, env);
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^error BH_CONFIG_INVALID: BULKHEAD_DATA_DIR names a folder that cannot be created: a part of its path is a file, not a folder\./m);
      assert.doesNotMatch(run.stderr, stackTrace);
      assert.ok(!run.stderr.includes(dir), 'the path is not echoed');
    }
  } finally {
    cleanup();
  }
});

test('mistake: a file called ./data with BULKHEAD_DATA_DIR unset — the error says the default is in the way', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, 'data'), '');
    const run = bulkhead(dir, ['invoke', '--user', 'alice', 'notes.list']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error BH_CONFIG_INVALID: BULKHEAD_DATA_DIR is not set, and its default \.\/data is a file, not a folder/m);
  } finally {
    cleanup();
  }
});

test('mistake: a misspelled BULKHEAD_ variable, in the environment or in .env.local, is warned about with the closest name, never its value', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, '.env.local'), 'BULKHEAD_PLUGINS_PATH=plugins-value-3c1d\n');
    const value = 'value-not-to-print-9f2e';
    const run = await runStart(dir, { BULKHEAD_WORKER: '2', BULKHEAD_LOG_LEVL: value, BULKHEAD_COMPLETELY_DIFFERENT: value });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /is running/, 'a warning, not a refusal');
    assert.match(run.stderr, /^warning: BULKHEAD_WORKER is not a Bulkhead setting; did you mean BULKHEAD_WORKERS\?$/m);
    assert.match(run.stderr, /^warning: BULKHEAD_LOG_LEVL is not a Bulkhead setting; did you mean BULKHEAD_LOG_LEVEL\?$/m);
    assert.match(run.stderr, /^warning: BULKHEAD_PLUGINS_PATH \(set in \.env\.local\) is not a Bulkhead setting; did you mean BULKHEAD_PLUGIN_PATH\?$/m);
    assert.match(run.stderr, /^warning: BULKHEAD_COMPLETELY_DIFFERENT is not a Bulkhead setting; it is ignored$/m, 'no suggestion when nothing is close');
    assert.ok(!run.stderr.includes(value) && !run.stdout.includes(value) && !run.stderr.includes('plugins-value-3c1d'), 'values are never printed');

    // The other commands that read the configuration warn too, even when they then refuse it.
    const list = bulkhead(dir, ['plugin', 'list'], { BULKHEAD_WORKER: '2' });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stderr, /^warning: BULKHEAD_WORKER is not a Bulkhead setting; did you mean BULKHEAD_WORKERS\?$/m);
    const refused = bulkhead(dir, ['invoke', '--user', 'alice', 'notes.list'], { BULKHEAD_WORKER: '2', BULKHEAD_STORE_CIPHER: 'rot13' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^warning: BULKHEAD_WORKER is not a Bulkhead setting; did you mean BULKHEAD_WORKERS\?$/m);
    assert.match(refused.stderr, /^error BH_CONFIG_INVALID: BULKHEAD_STORE_CIPHER/m);
  } finally {
    cleanup();
  }
});

test('mistake: NODE_ENV=prod (not production) silently runs development mode — now a warning says so', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const run = await runStart(dir, { NODE_ENV: 'prod' });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\(development mode\)/);
    assert.match(run.stderr, /^warning: NODE_ENV is set to something other than production, development or test: only NODE_ENV=production turns production mode on, so this runs in development mode/m);
    for (const quiet of ['test', 'development']) {
      const list = bulkhead(dir, ['plugin', 'list'], { NODE_ENV: quiet });
      assert.doesNotMatch(list.stderr, /NODE_ENV/, `NODE_ENV=${quiet} is not warned about`);
    }
    writeFileSync(path.join(dir, '.env.local'), '\nNODE_ENV=production\n', { flag: 'a' });
    const inFile = bulkhead(dir, ['plugin', 'list']);
    assert.match(inFile.stderr, /^warning: NODE_ENV in \.env\.local has no effect: only NODE_ENV=production in the real environment turns production mode on/m);
  } finally {
    cleanup();
  }
});

test('mistake: BULKHEAD_MASTER_KEY_FILE set after a development first start — the error says the other key is in .env.local and what to do', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const first = await runStart(dir);
    assert.equal(first.code, 0, first.stderr);
    const saved = readFileSync(path.join(dir, '.env.local'), 'utf8');
    const keyFile = path.join(dir, 'master.key');
    writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    for (const args of [['start'], ['invoke', '--user', 'alice', 'notes.list'], ['dashboard', 'link', '--user', 'alice']]) {
      const run = bulkhead(dir, args, { BULKHEAD_MASTER_KEY_FILE: keyFile });
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(
        run.stderr,
        /^error BH_KEY_AMBIGUOUS_ENV_FILE: BULKHEAD_MASTER_KEY_FILE is set in the environment and BULKHEAD_MASTER_KEY in \.env\.local .*Remove the BULKHEAD_MASTER_KEY line from \.env\.local, or unset BULKHEAD_MASTER_KEY_FILE\.$/m,
      );
      const master = /^BULKHEAD_MASTER_KEY=(\w+)$/m.exec(saved)?.[1] as string;
      assert.ok(!run.stderr.includes(master) && !run.stdout.includes(master), 'the key is never printed');
    }
    // Both in the real environment: the plain message, which does not blame .env.local.
    const both = bulkhead(dir, ['dashboard', 'link', '--user', 'alice'], { BULKHEAD_MASTER_KEY_FILE: keyFile, BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex') });
    assert.match(both.stderr, /^error BH_KEY_AMBIGUOUS: Both BULKHEAD_MASTER_KEY and BULKHEAD_MASTER_KEY_FILE are set\./m);
  } finally {
    cleanup();
  }
});
