// A plugin author's first hour: the mistakes everyone makes in plugin.json, each run through
// `bulkhead plugin approve` (and pdk/build.mjs) as a separate process started outside the
// repository, as an author runs them. Each error must say where the mistake is and what would be
// right, and must never echo a hostile name from the manifest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fromRoot } from '../../host/core/paths.js';
import { cli } from '../helpers/cli.js';
import { fixturePluginsDir, tempDir } from '../helpers/fixtures.js';

let dir: string;
let cleanup: () => void;
let count = 0;

before(() => ({ dir, cleanup } = tempDir('bulkhead-first-hour-')));
after(() => cleanup());

/** A fresh copy of the echo fixture, with plugin.json as `text` (or the echo manifest, edited). */
function pluginFolder(manifest: string | ((m: Record<string, unknown>) => void)): string {
  const folder = path.join(dir, `plugin-${++count}`);
  cpSync(path.join(fixturePluginsDir, 'echo'), folder, { recursive: true });
  const file = path.join(folder, 'plugin.json');
  if (typeof manifest === 'string') {
    writeFileSync(file, manifest);
  } else {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    manifest(value);
    writeFileSync(file, JSON.stringify(value, null, 2));
  }
  return folder;
}

/** `bulkhead plugin approve <folder>`, from the temporary directory, with only the keys set. */
function approve(folder: string): { status: number | null; output: string } {
  const env = {
    PATH: process.env['PATH'],
    BULKHEAD_DATA_DIR: path.join(dir, 'data'),
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
  };
  const result = spawnSync(process.execPath, [cli, 'plugin', 'approve', folder], { cwd: dir, env, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

function assertNotEchoed(output: string, needles: readonly string[]): void {
  for (const needle of needles) assert.ok(!output.includes(needle), `the output holds ${JSON.stringify(needle)}`);
}

function capabilities(manifest: Record<string, unknown>): Record<string, unknown>[] {
  return manifest['capabilities'] as Record<string, unknown>[];
}

/** Seven lines, the trailing comma on line 7 after `"author": "me"` (column 17). */
const trailingComma = ['{', '  "manifestVersion": 1,', '  "name": "first-hour",', '  "version": "1.0.0",', '  "description": "d",', '  "permissions": ["reply"],', '  "author": "me",', '}', ''].join('\n');

test('the directory the tests run from is outside the repository', () => {
  assert.ok(path.relative(fromRoot(), dir).startsWith(`..${path.sep}`), dir);
});

test('broken JSON (a trailing comma on line 7) is refused naming its line and column', () => {
  const result = approve(pluginFolder(trailingComma));
  assert.equal(result.status, 1, result.output);
  assert.match(result.output, /BH_PLUGIN_FOLDER_INVALID/);
  assert.match(result.output, /plugin\.json is not valid JSON at line 7, column 17 \(a trailing comma: nothing follows it before "\}"\)/);
});

test('broken JSON (a missing comma between properties) names the line where the next one starts', () => {
  const result = approve(pluginFolder('{\r\n  "manifestVersion": 1\r\n  "name": "x"\r\n}'));
  assert.equal(result.status, 1, result.output);
  assert.match(result.output, /at line 3, column 3 \(expected "," or "\}" after a property value\)/);
});

test('broken JSON is never quoted back (the text may hold anything)', () => {
  const result = approve(pluginFolder(`{"name": "\\u001b[31mscarlet", "x": 'singlequoted'}`));
  assert.equal(result.status, 1, result.output);
  assert.match(result.output, /at line 1, column 36 \(strings must be in double quotes\)/);
  assertNotEchoed(result.output, ['\u001b', 'u001b', 'scarlet', 'singlequoted']);
});

test('a permission typo ("replly") lists the permissions there are', () => {
  const result = approve(pluginFolder((m) => (m['permissions'] = ['replly'])));
  assert.equal(result.status, 1, result.output);
  assert.match(result.output, /BH_MANIFEST_INVALID/);
  assert.match(result.output, /\/permissions\/0 must be one of "query", "reply", "schedule", "market", "vault"/);
});

test('an unknown top-level manifest property is named, with the properties allowed there', () => {
  const result = approve(pluginFolder((m) => (m['homepage'] = 'https://example.com')));
  assert.equal(result.status, 1, result.output);
  assert.match(result.output, /the top level has a property "homepage" that the schema does not allow \(allowed: \$schema, manifestVersion, name, version, description, author, permissions, limits, capabilities, storage\)/);
});

test('an extra property in a capability object (a misspelt "description") is named, with the allowed ones', () => {
  const result = approve(pluginFolder((m) => (capabilities(m)[0]!['descripton'] = 'typo')));
  assert.equal(result.status, 1, result.output);
  assert.match(result.output, /\/capabilities\/0 has a property "descripton" that the schema does not allow \(allowed: name, export, description, params, examples, dashboard, scheduled, secret\)/);
});

test('a hostile property name (an ANSI escape, 5000 characters) is not echoed, only its length', () => {
  const hostile = `\u001b[31m${'A'.repeat(4995)}`;
  const result = approve(pluginFolder((m) => (capabilities(m)[0]![hostile] = 1)));
  assert.equal(result.status, 1, result.output);
  assert.match(result.output, /\/capabilities\/0 has a property whose name is not shown \(5000 characters, not all letters, digits or _\.:-\)/);
  assertNotEchoed(result.output, ['\u001b', 'AAAA']);
  assert.ok(result.output.length < 1000, `${result.output.length} characters of output`);
});

test('a hostile collection name is not echoed either (the pattern is, as it comes from the schema)', () => {
  const result = approve(pluginFolder((m) => (m['storage'] = { collections: { [`\u001b]0;${'x'.repeat(5000)}\u0007`]: { fields: {} } } })));
  assert.equal(result.status, 1, result.output);
  assert.match(result.output, /\/storage\/collections has a property name \(not shown, 5005 characters\) that must match pattern/);
  assertNotEchoed(result.output, ['\u001b', '\u0007', 'xxxx']);
});

test('pdk/build.mjs refuses a plugin whose plugin.json is broken JSON, with file:line:column, exit 1', () => {
  const sources = path.join(dir, 'sources');
  mkdirSync(sources);
  cpSync(path.join(fromRoot('tests', 'fixtures', 'plugins'), 'unknown'), path.join(sources, 'broken'), { recursive: true });
  writeFileSync(path.join(sources, 'broken', 'plugin.json'), trailingComma);
  const result = spawnSync(process.execPath, [fromRoot('pdk', 'build.mjs'), 'sources', 'out'], { cwd: dir, encoding: 'utf8' });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /plugin broken: sources\/broken\/plugin\.json:7:17: not valid JSON: a trailing comma: nothing follows it before "\}"/);
  assert.equal(existsSync(path.join(dir, 'out', 'broken')), false, 'nothing is built');
});

test('at call time an extra params property comes from the caller, not the author: it stays unnamed', () => {
  const env = {
    PATH: process.env['PATH'],
    BULKHEAD_DATA_DIR: path.join(dir, 'call-data'),
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
  };
  const params = JSON.stringify({ text: 'buy milk', callersecret: 1 });
  const result = spawnSync(process.execPath, [cli, 'invoke', '--user', 'alice', 'notes.add', params], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /BH_PARAMS_INVALID: notes\.add was given invalid params: params must NOT have additional properties/);
  assertNotEchoed(result.stdout + result.stderr, ['callersecret', 'buy milk']);
});
