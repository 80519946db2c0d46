// Configuration mistakes an operator makes in the first hour, each caught by a real `bulkhead`
// process started from a folder outside the repository with a clean environment: the mistake
// gets a coded error or a warning that says what to do, never a stack trace or silence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/fixtures.js';
import { cli, type Run } from '../helpers/cli.js';

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
