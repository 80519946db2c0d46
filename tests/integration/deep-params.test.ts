// Params nested thousands of levels deep. Attack: `bulkhead invoke --user a notes.add '<deep json>'`
// (or the same JSON typed into chat, or produced by the model) reached JSON.stringify and Ajv,
// which recurse, and the process died with an uncoded RangeError. The dispatcher, the one gate
// every front passes, refuses params nested deeper than maxParamsDepth with BH_PARAMS_INVALID, and
// the chat router refuses them politely before Ajv sees them.
//
// `loose` is the notes module under a manifest whose `list` takes any object: against notes'
// strict schemas Ajv fails before it descends, but against a schema like this one a deep value
// went all the way to JSON.stringify.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { maxParamsDepth } from '../../host/core/json-limits.js';
import { fromRoot } from '../../host/core/paths.js';
import type { Host } from '../../host/host.js';
import { builtInPluginsDir, consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';

const cli = fromRoot('dist', 'host', 'cli', 'main.js');
const stackTrace = /^\s+at /m;
/** `levels` levels in all: an object whose "a" holds levels - 1 arrays inside each other. */
const deepParams = (levels: number): string => `{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
/** notes.add params, `levels` levels in all: an object whose "tags" holds levels - 1 arrays. */
const deepTags = (levels: number): string => `{"text":"x","tags":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;

let dir: string;
let cleanup: () => void;
let env: NodeJS.ProcessEnv;

before(() => {
  ({ dir, cleanup } = tempDir('bulkhead-deep-params-'));
  const folder = path.join(dir, 'plugins', 'loose');
  mkdirSync(folder, { recursive: true });
  copyFileSync(path.join(builtInPluginsDir, 'notes', 'plugin.wasm'), path.join(folder, 'plugin.wasm'));
  const notes = JSON.parse(readFileSync(path.join(builtInPluginsDir, 'notes', 'plugin.json'), 'utf8')) as { capabilities: { name: string; params?: object }[] };
  const capabilities = notes.capabilities.map((c) => (c.name === 'list' ? { ...c, params: { type: 'object' } } : c));
  writeFileSync(path.join(folder, 'plugin.json'), JSON.stringify({ ...notes, name: 'loose', capabilities }));
  env = {
    PATH: process.env['PATH'],
    BULKHEAD_DATA_DIR: path.join(dir, 'data'),
    BULKHEAD_PLUGIN_PATH: path.join(dir, 'plugins'),
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
  };
  const approved = bulkhead(['plugin', 'approve', folder]);
  assert.equal(approved.status, 0, approved.stderr);
});
after(() => cleanup());

function bulkhead(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: dir, env, encoding: 'utf8', input, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bulkhead invoke with deeply nested params', () => {
  // 60,000 levels is about the most one argument may hold (Linux caps one at 128 KiB); deeper
  // values are tested at the dispatcher below.
  const cases = [
    { target: 'notes.add', levels: 10_000, params: deepTags },
    { target: 'notes.add', levels: 60_000, params: deepTags },
    { target: 'loose.list', levels: 10_000, params: deepParams },
    { target: 'loose.list', levels: 60_000, params: deepParams },
  ];
  for (const { target, levels, params } of cases) {
    test(`${target} with params ${levels.toLocaleString('en')} levels deep exits 2 with BH_PARAMS_INVALID and no stack trace`, () => {
      const run = bulkhead(['invoke', '--user', 'alice', target, params(levels)]);
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, new RegExp(`^error BH_PARAMS_INVALID: ${target} was given invalid params: params are nested deeper than ${maxParamsDepth} levels\\.`, 'm'));
      assert.doesNotMatch(run.stderr, stackTrace);
      assert.doesNotMatch(run.stderr, /RangeError/);
    });
  }

  test('with --json the refusal is the one {"error"} object on stdout', () => {
    const run = bulkhead(['invoke', '--user', 'alice', 'loose.list', deepParams(10_000), '--json']);
    assert.equal(run.status, 2);
    assert.equal((JSON.parse(run.stdout) as { error: { code: string } }).error.code, 'BH_PARAMS_INVALID');
  });

  test(`params exactly ${maxParamsDepth} levels deep still run`, () => {
    const run = bulkhead(['invoke', '--user', 'alice', 'loose.list', deepParams(maxParamsDepth), '--json']);
    assert.equal(run.status, 0, run.stdout);
    assert.deepEqual((JSON.parse(run.stdout) as { result: unknown }).result, { notes: [] });
  });
});

describe('the console and chat router with deeply nested params', () => {
  // 1,980 levels: as deep as fits in one chat message (the router takes 4,000 characters).
  test('a command with params 33 and 1,980 levels deep gets a polite answer, and the session goes on', () => {
    const lines = [`loose.list ${deepParams(maxParamsDepth + 1)}`, `loose.list ${deepParams(1980)}`, `notes.add ${deepTags(1980)}`, 'notes list', 'exit'];
    const run = bulkhead(['console', '--user', 'bob'], lines.join('\n'));
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stdout + run.stderr, stackTrace);
    const out = run.stdout.split('\n');
    assert.equal(out.filter((line) => line.startsWith('Those params do not fit loose.list. Try: loose.list')).length, 2);
    assert.equal(out.filter((line) => line.startsWith('Those params do not fit notes.add. Try: notes.add')).length, 1);
    assert.ok(out.includes('You have no notes.'), run.stdout);
  });
});

describe('the dispatcher with deeply nested params', () => {
  let host: Host;
  let hostDir: { dir: string; cleanup: () => void };
  before(() => {
    hostDir = tempDir();
    host = startTestHost({ dataDir: hostDir.dir, builtInDirs: [builtInPluginsDir] });
  });
  after(async () => {
    await host.shutdown();
    hostDir.cleanup();
  });

  for (const levels of [100_000, 1_000_000]) {
    test(`params ${levels.toLocaleString('en')} levels deep (more than one CLI argument holds) are refused with BH_PARAMS_INVALID`, async () => {
      const params: unknown = JSON.parse(deepTags(levels));
      const error = await rejection(host.dispatcher.invoke(consoleUser('carol'), 'notes', 'add', params));
      assert.equal(error.code, 'BH_PARAMS_INVALID');
      assert.match(error.message, /params are nested deeper than 32 levels/);
    });
  }
});
