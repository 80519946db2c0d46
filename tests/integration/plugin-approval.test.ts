// Plugins from outside the build load only as the operator approved them: same folder, same
// name, same bytes. Attacks: swapped wasm after approval, edited manifest (e.g. new permissions),
// an unapproved folder dropped on the plugin path, and impostors claiming a taken name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fromRoot } from '../../host/core/paths.js';
import { Approvals } from '../../host/plugins/approvals.js';
import { loadCatalog } from '../../host/plugins/catalog.js';
import { defaultCaps } from '../../host/sandbox/limits.js';
import { builtInPluginsDir, fixturePluginsDir, tempDir } from '../helpers/fixtures.js';

const cli = fromRoot('dist', 'host', 'cli', 'main.js');
let dir: string;
let cleanup: () => void;
let dataDir: string;
let pluginsDir: string;

before(() => {
  ({ dir, cleanup } = tempDir());
  dataDir = path.join(dir, 'data');
  pluginsDir = path.join(dir, 'plugins');
});
after(() => cleanup());

function copyFixture(fixture: string, as: string, rename?: string): string {
  const folder = path.join(pluginsDir, as);
  cpSync(path.join(fixturePluginsDir, fixture), folder, { recursive: true });
  if (rename) {
    const manifestFile = path.join(folder, 'plugin.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, name: rename }, null, 2));
  }
  return folder;
}

function approve(folder: string): { status: number | null; stdout: string; stderr: string } {
  const env = {
    PATH: process.env['PATH'],
    BULKHEAD_DATA_DIR: dataDir,
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
  };
  const result = spawnSync(process.execPath, [cli, 'plugin', 'approve', folder], { cwd: dir, env, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function catalog() {
  return loadCatalog({ builtInDirs: [builtInPluginsDir], pluginPath: [pluginsDir], approvals: new Approvals(dataDir), caps: defaultCaps });
}

function refusalOf(folder: string) {
  return catalog().refused.find((r) => r.folder === folder)?.error;
}

test('an approved plugin loads; the approval pins its folder and both sha256 hashes', () => {
  const folder = copyFixture('echo', 'echo');
  const result = approve(folder);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /Approved echo 1\.0\.0/);
  const loaded = catalog().plugins.get('echo');
  assert.ok(loaded);
  assert.equal(loaded.builtIn, false);
  assert.equal(new Approvals(dataDir).get('echo')?.wasmSha256, loaded.wasmSha256);
});

test('an unapproved folder on the plugin path is refused with BH_PLUGIN_NOT_APPROVED', () => {
  const folder = copyFixture('stash', 'stash');
  const error = refusalOf(folder);
  assert.equal(error?.code, 'BH_PLUGIN_NOT_APPROVED');
  assert.match(error?.message ?? '', /npx bulkhead plugin approve/);
  assert.equal(catalog().plugins.has('stash'), false);
});

test('changed wasm bytes after approval are refused with BH_PLUGIN_CHANGED', () => {
  const folder = copyFixture('outfmt', 'outfmt');
  assert.equal(approve(folder).status, 0);
  assert.ok(catalog().plugins.has('outfmt'));
  const wasmFile = path.join(folder, 'plugin.wasm');
  const bytes = readFileSync(wasmFile);
  // Append a custom section: still a valid module, different bytes.
  writeFileSync(wasmFile, Buffer.concat([bytes, Buffer.from([0, 4, 3, 0x62, 0x68, 0x78])]));
  const error = refusalOf(folder);
  assert.equal(error?.code, 'BH_PLUGIN_CHANGED');
  assert.match(error?.message ?? '', /plugin\.wasm/);
  assert.equal(catalog().plugins.has('outfmt'), false);
  // Re-approving the same folder is how an operator accepts the new version.
  assert.equal(approve(folder).status, 0);
  assert.ok(catalog().plugins.has('outfmt'));
});

test('an edited manifest (a new permission) after approval is refused with BH_PLUGIN_CHANGED', () => {
  const folder = copyFixture('spin', 'spin');
  assert.equal(approve(folder).status, 0);
  const manifestFile = path.join(folder, 'plugin.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(manifestFile, JSON.stringify({ ...manifest, permissions: ['reply'] }, null, 2));
  const error = refusalOf(folder);
  assert.equal(error?.code, 'BH_PLUGIN_CHANGED');
  assert.match(error?.message ?? '', /plugin\.json/);
});

test('a second plugin named notes is refused: at approval and at load', () => {
  const folder = copyFixture('echo', 'impostor', 'notes');
  const result = approve(folder);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /BH_PLUGIN_NAME_TAKEN/);
  assert.match(result.stderr, /built-in/);
  const error = refusalOf(folder);
  assert.equal(error?.code, 'BH_PLUGIN_NAME_TAKEN');
  // The real notes plugin is the one that loaded.
  assert.equal(catalog().plugins.get('notes')?.builtIn, true);
});

test('a second folder claiming an approved name is refused with BH_PLUGIN_NAME_TAKEN', () => {
  const folder = copyFixture('echo', 'echo-copy');
  const result = approve(folder);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /BH_PLUGIN_NAME_TAKEN/);
  const error = refusalOf(folder);
  assert.equal(error?.code, 'BH_PLUGIN_NAME_TAKEN');
  assert.ok(catalog().plugins.has('echo'));
});

test('a plugin that would not load cannot be approved', () => {
  const folder = copyFixture('wasi', 'wasi');
  const result = approve(folder);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /BH_PLUGIN_IMPORT_REFUSED/);
  assert.equal(new Approvals(dataDir).get('wasi'), undefined);
});
