// A plugin author's path from zero, as they type it: `plugin new`, `plugin build`, `plugin test`,
// `plugin approve`, then `invoke`, each a real CLI process started in an empty folder outside the
// repository. Also the mistakes on the way, each with its coded error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fromRoot } from '../../host/core/paths.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

let dir: string;
let cleanup: () => void;
let env: NodeJS.ProcessEnv;
/** The temporary folder the CLI gets (TMPDIR): whatever `plugin build` and `plugin test` leave there shows. */
let scratch: string;

before(() => {
  ({ dir, cleanup } = tempDir('bulkhead-plugin-author-'));
  scratch = path.join(dir, 'tmp');
  mkdirSync(scratch);
  env = {
    PATH: process.env['PATH'],
    TMPDIR: scratch,
    BULKHEAD_DATA_DIR: path.join(dir, 'data'),
    BULKHEAD_MASTER_KEY: randomBytes(32).toString('hex'),
    BULKHEAD_SIGNING_KEY: randomBytes(32).toString('hex'),
  };
});
after(() => cleanup());

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function bulkhead(args: string[], extra: NodeJS.ProcessEnv = {}): Ran {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: dir, env: { ...env, ...extra }, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(run: Ran, what: string): void {
  assert.equal(run.status, 0, `${what}: exit ${run.status}\n${run.stdout}\n${run.stderr}`);
}

test('the folder the tests run in is outside the repository', () => {
  assert.ok(path.relative(fromRoot(), dir).startsWith(`..${path.sep}`), dir);
});

test('`plugin --help` shows the author commands first', () => {
  const run = bulkhead(['plugin', '--help']);
  ok(run, 'help');
  assert.match(run.stdout, /bulkhead plugin new <name> \[--lang assemblyscript\|c\][\s\S]*bulkhead plugin build <folder>[\s\S]*bulkhead plugin test <folder>[\s\S]*bulkhead plugin approve <folder>/);
});

/**
 * `plugin new <name> [--lang]`, `plugin build`, `plugin test`, `plugin approve <name>/build`, then
 * `invoke`: the whole path, checking what each step prints.
 */
function fromZero(name: string, lang: 'assemblyscript' | 'c'): void {
  const created = bulkhead(['plugin', 'new', name, ...(lang === 'c' ? ['--lang', 'c'] : [])]);
  ok(created, 'plugin new');
  const source = lang === 'c' ? 'src/plugin.c' : 'assembly/index.ts';
  assert.match(created.stdout, new RegExp(`Created ${name}/ \\(${lang === 'c' ? 'C' : 'AssemblyScript'}\\): plugin\\.json, ${source.replace('.', '\\.')}, README\\.md`));
  assert.match(readFileSync(path.join(dir, name, source), 'utf8'), lang === 'c' ? /#include "bulkhead\.h"/ : /from "bulkhead-pdk"/);
  assert.equal((JSON.parse(readFileSync(path.join(dir, name, 'plugin.json'), 'utf8')) as { name: string }).name, name);

  const built = bulkhead(['plugin', 'build', name]);
  ok(built, 'plugin build');
  assert.match(built.stdout, new RegExp(`Built ${name}/build \\(plugin\\.json, plugin\\.wasm [\\d.]+ KiB\\) from ${lang === 'c' ? 'src/\\*\\.c' : 'assembly/index\\.ts'}\\.`));
  assert.ok(existsSync(path.join(dir, name, 'build', 'plugin.wasm')));

  const tested = bulkhead(['plugin', 'test', name]);
  ok(tested, 'plugin test');
  assert.doesNotMatch(tested.stdout, /Built /, 'the build is up to date: not built again');
  assert.match(tested.stdout, new RegExp(`^ok {4}${name}\\.greet \\{"name":"Ada"\\}\\n {8}reply {2}"Hello, Ada!"\\n {8}result \\{"greeted":"Ada"\\}$`, 'm'));
  assert.match(tested.stdout, new RegExp(`^ok {4}${name}\\.greet \\{"name":"Grace"\\}$`, 'm'));
  // The examples share one store, in manifest order: greetings sees both greets.
  assert.match(tested.stdout, new RegExp(`^ok {4}${name}\\.greetings \\{\\}\\n {8}reply {2}"There have been 2 greetings\\."\\n {8}result \\{"greetings":2\\}$`, 'm'));
  assert.match(tested.stdout, /^3 of 3 example calls passed\.$/m);
  // The test host's data and approval went to a temporary folder, now removed: the operator's
  // data folder has no approval of it, and nothing is left behind.
  const approvals = path.join(dir, 'data', 'approvals.json');
  assert.ok(!existsSync(approvals) || !readFileSync(approvals, 'utf8').includes(`"${name}"`));
  assert.deepEqual(readdirSync(scratch), []);

  const unbuilt = bulkhead(['plugin', 'approve', name]);
  assert.equal(unbuilt.status, 1, 'the source folder is not a plugin folder');
  assert.match(unbuilt.stderr, new RegExp(`note: ${name}/build holds what \`plugin build\` made from this folder: approve that folder`));

  const approved = bulkhead(['plugin', 'approve', `${name}/build`]);
  ok(approved, 'plugin approve');
  assert.match(approved.stdout, new RegExp(`Approved ${name} 0\\.1\\.0 from `));

  const pluginPath = { BULKHEAD_PLUGIN_PATH: `${name}/build` };
  const answer = bulkhead(['invoke', '--user', 'alice', `${name}.greet`, '{"name":"Ada"}', '--json'], pluginPath);
  ok(answer, 'invoke');
  assert.deepEqual(JSON.parse(answer.stdout), { replies: ['Hello, Ada!'], result: { greeted: 'Ada' } });
  const count = bulkhead(['invoke', '--user', 'alice', `${name}.greetings`], pluginPath);
  ok(count, 'invoke greetings');
  assert.match(count.stdout, /^There has been 1 greeting\.$/m, 'alice has her own store: the test calls are not in it');
}

describe('C, from an empty folder to an answer', () => {
  test('new --lang c, build, test, approve, invoke', () => fromZero('hello-c', 'c'));

  test('without clang on the PATH, the build says what to install', () => {
    const run = bulkhead(['plugin', 'build', 'hello-c', '--out', 'no-clang'], { PATH: path.join(dir, 'no-such-folder') });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /error BH_PLUGIN_TOOL_MISSING: clang is needed to build C plugins and was not found on the PATH: install clang and lld/);
    assert.equal(existsSync(path.join(dir, 'no-clang')), false);
  });

  test('a compile error shows clang\'s message, where it is, and exits 1', () => {
    const folder = path.join(dir, 'typo-c');
    cpSync(path.join(dir, 'hello-c'), folder, { recursive: true });
    const source = path.join(folder, 'src', 'plugin.c');
    writeFileSync(source, readFileSync(source, 'utf8').replace("bh_buf_byte(&text, '!');", "bh_buf_bytes(&text, '!');"));
    const run = bulkhead(['plugin', 'build', 'typo-c']);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /typo-c\/src\/plugin\.c:\d+:\d+: error: .*bh_buf_bytes/);
    assert.match(run.stderr, /error BH_PLUGIN_BUILD_FAILED: The plugin in .*typo-c did not build/);
  });
});

describe('AssemblyScript, from an empty folder to an answer', () => {
  test('new, build, test, approve, invoke', () => fromZero('hello', 'assemblyscript'));

  test('a source changed after the build is built again by `plugin test`', () => {
    const folder = path.join(dir, 'hello');
    const source = path.join(folder, 'assembly', 'index.ts');
    writeFileSync(source, readFileSync(source, 'utf8').replace('"Hello, " + name + "!"', '"Hi, " + name + "!"'));
    const tested = bulkhead(['plugin', 'test', 'hello']);
    ok(tested, 'plugin test');
    assert.match(tested.stdout, /^Built hello\/build /m);
    assert.match(tested.stdout, /reply {2}"Hi, Ada!"/);
  });
});

describe('mistakes on the way', () => {
  test('an unknown --lang is bad usage with a suggestion; a bad name is bad usage', () => {
    const typo = bulkhead(['plugin', 'new', 'x', '--lang', 'assemblyscrpt']);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /unknown language "assemblyscrpt" \(did you mean "assemblyscript"\?\)/);
    const rust = bulkhead(['plugin', 'new', 'x', '--lang', 'rust']);
    assert.equal(rust.status, 2);
    assert.match(rust.stderr, /unknown language "rust" \(known: assemblyscript, c\)/);
    const badName = bulkhead(['plugin', 'new', 'Hello_World']);
    assert.equal(badName.status, 2);
    assert.match(badName.stderr, /a plugin name is a lower-case letter, then up to 62 lower-case letters, digits or hyphens/);
    assert.equal(existsSync(path.join(dir, 'x')), false);
  });

  test('`plugin new` refuses a folder that exists, and leaves it as it was', () => {
    mkdirSync(path.join(dir, 'taken'));
    writeFileSync(path.join(dir, 'taken', 'notes.txt'), 'mine');
    const run = bulkhead(['plugin', 'new', 'taken']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /error BH_PLUGIN_FOLDER_EXISTS: .*taken already exists, and `plugin new` never writes into an existing folder/);
    assert.deepEqual(readdirSync(path.join(dir, 'taken')), ['notes.txt']);
  });

  test('build and test of a folder without plugin.json, or of none, say so', () => {
    mkdirSync(path.join(dir, 'empty'));
    for (const action of ['build', 'test']) {
      const run = bulkhead(['plugin', action, 'empty']);
      assert.equal(run.status, 1, action);
      assert.match(run.stderr, /error BH_PLUGIN_SOURCE_INVALID: .*empty is not a plugin source folder: it has no plugin\.json\./);
      const none = bulkhead(['plugin', action, 'nowhere']);
      assert.equal(none.status, 1, action);
      assert.match(none.stderr, /nowhere is not a plugin source folder: it does not exist or is not a folder/);
    }
    const missing = bulkhead(['plugin', 'build']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /plugin build needs the <folder> of the plugin/);
  });

  test('a plugin inside the repository that imports the PDK by relative path builds too', () => {
    const run = bulkhead(['plugin', 'build', fromRoot('plugins-src', 'notes'), '--out', 'notes-built']);
    ok(run, 'plugin build');
    assert.match(run.stdout, /^Built notes-built \(plugin\.json, plugin\.wasm [\d.]+ KiB\) from assembly\/index\.ts\.$/m);
  });

  test('a compile error shows the compiler message, where it is, and exits 1', () => {
    const folder = path.join(dir, 'typo');
    cpSync(path.join(dir, 'hello'), folder, { recursive: true });
    const source = path.join(folder, 'assembly', 'index.ts');
    writeFileSync(source, readFileSync(source, 'utf8').replace('return fail("Expected a params object.");', 'return fial("Expected a params object.");'));
    const run = bulkhead(['plugin', 'build', 'typo', '--out', 'typo-out']);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /Cannot find name 'fial'/);
    assert.match(run.stderr, /typo\/assembly\/index\.ts\(\d+,\d+\)/);
    assert.match(run.stderr, /error BH_PLUGIN_BUILD_FAILED: The plugin in .*typo did not build; the messages above say why\./);
    assert.equal(existsSync(path.join(dir, 'typo-out')), false, 'nothing is written');
  });

  test('an example whose params the schema refuses fails the test (exit 1), and the others still run', () => {
    // A built folder is tested as it is.
    const folder = path.join(dir, 'bad-example');
    cpSync(path.join(dir, 'hello', 'build'), folder, { recursive: true });
    const manifest = JSON.parse(readFileSync(path.join(folder, 'plugin.json'), 'utf8')) as { capabilities: { examples: { params: unknown }[] }[] };
    manifest.capabilities[0]!.examples.push({ params: { nom: 'Ada' } });
    writeFileSync(path.join(folder, 'plugin.json'), JSON.stringify(manifest, null, 2));
    const run = bulkhead(['plugin', 'test', 'bad-example']);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /^FAIL {2}hello\.greet \{"nom":"Ada"\}\n {8}error BH_PARAMS_INVALID: /m);
    assert.match(run.stdout, /^ok {4}hello\.greetings \{\}$/m);
    assert.match(run.stdout, /^3 of 4 example calls passed\.$/m);
    assert.match(run.stderr, /error BH_PLUGIN_TEST_FAILED: 1 of 4 example calls of plugin 'hello' failed/);
  });
});
