#!/usr/bin/env node
// Runs every compiled test file (dist/tests/**/*.test.js) with Node's built-in test runner.
// Files are listed explicitly because `node --test <dir>` differs between Node 20 and 22+.
import { readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testsDir = path.join(root, 'dist', 'tests');
// Arguments: substrings of the files to run (all when none), and `--exclude=<substring>` for
// files to leave out (CI's extra runs on other Node versions leave out what does not depend on it).
const args = process.argv.slice(2);
const include = args.filter((a) => !a.startsWith('--exclude='));
const exclude = args.filter((a) => a.startsWith('--exclude=')).map((a) => a.slice('--exclude='.length));
const files = readdirSync(testsDir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => include.length === 0 || include.some((needle) => f.includes(needle)))
  .filter((f) => !exclude.some((needle) => f.includes(needle)))
  .sort()
  .map((f) => path.join(testsDir, f));
if (files.length === 0) {
  console.error('No test files found under dist/tests. Run `npm run build` first.');
  process.exit(1);
}
// Every host the tests start also appends each audit line it writes to this file (BULKHEAD_AUDIT_TAP);
// tests/zz-audit-tap.test.ts, which runs last, checks every line against its schema.
const tap = path.join(os.tmpdir(), `bulkhead-audit-tap-${process.pid}.jsonl`);
const tapFiles = [tap, `${tap}.host`];
for (const file of tapFiles) rmSync(file, { force: true });
const result = spawnSync(process.execPath, ['--test', ...files], { stdio: 'inherit', cwd: root, env: { ...process.env, BULKHEAD_AUDIT_TAP: tap } });
for (const file of tapFiles) rmSync(file, { force: true });
process.exit(result.status ?? 1);
