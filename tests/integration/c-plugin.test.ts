// Plugins written in C against the raw ABI (pdk/c/bulkhead.h, pdk/README.md "Write a plugin in C"),
// through a real host: the built-in tally plugin, the header's JSON and UTF-8 handling (the cecho
// fixture), and the hostile checks that apply to C: no WASI (the build refuses it, and so does the
// host), no ungranted host function, and the memory limit holds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fromRoot } from '../../host/core/paths.js';
import type { Host } from '../../host/host.js';
import { consoleUser, rejection, startTestHost, tempDir } from '../helpers/fixtures.js';

let host: Host;
let cleanup: () => void;

before(() => {
  const temp = tempDir();
  cleanup = temp.cleanup;
  host = startTestHost({ dataDir: temp.dir });
});
after(async () => {
  await host.shutdown();
  cleanup();
});

const call = (user: string, plugin: string, capability: string, params: unknown = {}) =>
  host.dispatcher.invoke(consoleUser(user), plugin, capability, params);

/** A control call through another plugin: the host still serves. */
async function assertStillServes(): Promise<void> {
  const outcome = await call('control', 'notes', 'add', { text: 'still here' });
  assert.equal(outcome.replies.length, 1);
}

interface Counter {
  name: string;
  count: number;
}

describe('tally plugin (C)', () => {
  test('add counts up (by 1 or by "by"), get reads, list lists by name, reset deletes', async () => {
    const first = await call('ada', 'tally', 'add', { name: 'coffee' });
    assert.deepEqual(first.result, { name: 'coffee', count: 1 });
    assert.deepEqual(first.replies, ['coffee: 1']);
    assert.deepEqual((await call('ada', 'tally', 'add', { name: 'Coffee' })).result, { name: 'coffee', count: 2 }, 'names are case-insensitive');
    assert.deepEqual((await call('ada', 'tally', 'add', { name: 'pages', by: 20 })).result, { name: 'pages', count: 20 });
    assert.deepEqual((await call('ada', 'tally', 'add', { name: 'pages', by: -5 })).result, { name: 'pages', count: 15 });
    await call('ada', 'tally', 'add', { name: 'push-up' });

    const got = await call('ada', 'tally', 'get', { name: 'coffee' });
    assert.deepEqual(got.result, { name: 'coffee', count: 2 });
    assert.deepEqual(got.replies, ['coffee: 2']);
    const never = await call('ada', 'tally', 'get', { name: 'tea' });
    assert.deepEqual(never.result, { name: 'tea', count: 0 });
    assert.deepEqual(never.replies, ['tea: 0 (not counted yet)']);

    const list = await call('ada', 'tally', 'list');
    assert.deepEqual(list.result, {
      counters: [
        { name: 'coffee', count: 2 },
        { name: 'pages', count: 15 },
        { name: 'push-up', count: 1 },
      ],
      total: 3,
    });
    assert.deepEqual(list.replies, ['coffee: 2\npages: 15\npush-up: 1']);

    const reset = await call('ada', 'tally', 'reset', { name: 'pages' });
    assert.deepEqual(reset.result, { name: 'pages', was: 15 });
    assert.deepEqual(reset.replies, ['Reset pages (was 15).']);
    assert.deepEqual((await call('ada', 'tally', 'get', { name: 'pages' })).result, { name: 'pages', count: 0 });
    assert.deepEqual(((await call('ada', 'tally', 'list')).result as { counters: Counter[] }).counters.map((c) => c.name), ['coffee', 'push-up']);
  });

  test('an empty list says so', async () => {
    const list = await call('nobody', 'tally', 'list');
    assert.deepEqual(list.result, { counters: [], total: 0 });
    assert.deepEqual(list.replies, ['You have no counters yet. Say "count coffee" to start one.']);
  });

  test("two users' counters are isolated: same names, separate counts, reset touches only one", async () => {
    await call('bea', 'tally', 'add', { name: 'coffee', by: 3 });
    await call('cal', 'tally', 'add', { name: 'coffee', by: 10 });
    await call('bea', 'tally', 'add', { name: 'coffee' });
    assert.deepEqual((await call('bea', 'tally', 'get', { name: 'coffee' })).result, { name: 'coffee', count: 4 });
    assert.deepEqual((await call('cal', 'tally', 'get', { name: 'coffee' })).result, { name: 'coffee', count: 10 });
    await call('cal', 'tally', 'add', { name: 'secret-of-cal' });
    const beaList = (await call('bea', 'tally', 'list')).result as { counters: Counter[] };
    assert.deepEqual(beaList.counters, [{ name: 'coffee', count: 4 }]);
    await call('cal', 'tally', 'reset', { name: 'coffee' });
    assert.deepEqual((await call('bea', 'tally', 'get', { name: 'coffee' })).result, { name: 'coffee', count: 4 });
    const error = await rejection(call('bea', 'tally', 'reset', { name: 'secret-of-cal' }));
    assert.equal(error.code, 'BH_PLUGIN_ERROR', "bea cannot reset cal's counter");
  });

  test('bad params are refused with BH_PARAMS_INVALID before the plugin runs', async () => {
    const cases: [string, unknown][] = [
      ['add', {}],
      ['add', { name: '' }],
      ['add', { name: ' leading space' }],
      ['add', { name: 'x'.repeat(33) }],
      ['add', { name: 'quote"s' }],
      ['add', { name: 'coffee', by: 1.5 }],
      ['add', { name: 'coffee', by: 1_000_001 }],
      ['add', { name: 'coffee', extra: true }],
      ['get', { name: 42 }],
      ['list', { name: 'coffee' }],
      ['reset', {}],
    ];
    for (const [capability, params] of cases) {
      const error = await rejection(call('dee', 'tally', capability, params));
      assert.equal(error.code, 'BH_PARAMS_INVALID', `${capability} ${JSON.stringify(params)}`);
    }
  });

  test('reset of a counter that does not exist fails with BH_PLUGIN_ERROR and says what to do', async () => {
    const error = await rejection(call('dee', 'tally', 'reset', { name: 'unicorns' }));
    assert.equal(error.code, 'BH_PLUGIN_ERROR');
    assert.equal(error.detail, 'No counter named unicorns. Say "list my counters" to see them.');
  });

  test('more than 100 counters: the result lists 100 with the total, the reply fits and says how many more', async () => {
    for (let i = 0; i < 103; i++) await call('eve', 'tally', 'add', { name: `counter ${String(i).padStart(3, '0')} ${'x'.repeat(16)}` });
    const list = await call('eve', 'tally', 'list');
    const result = list.result as { counters: Counter[]; total: number };
    assert.equal(result.counters.length, 100);
    assert.equal(result.total, 103);
    const reply = list.replies[0] as string;
    assert.ok(reply.length <= 4000, `reply of ${reply.length} characters`);
    const shown = reply.split('\n').length - 1;
    assert.match(reply, new RegExp(`\n…and ${103 - shown} more\\.$`));
  });

  test('the manifest examples are valid params (the router and dashboard rely on them)', async () => {
    const manifest = JSON.parse(readFileSync(fromRoot('plugins-src', 'tally', 'plugin.json'), 'utf8')) as {
      capabilities: { name: string; examples: { params: object }[] }[];
    };
    for (const capability of manifest.capabilities) {
      for (const example of capability.examples) {
        if (capability.name === 'reset') continue; // the counter may not exist
        await call('examples', 'tally', capability.name, example.params);
      }
    }
  });
});

describe('bulkhead.h through the host (cecho fixture)', () => {
  const samples = ['héllo wörld', '🌍 emoji (astral plane)', '日本語のテキスト', 'quote " backslash \\ tab \t newline \n and \u0001', 'ASCII only'];
  for (const text of samples) {
    test(`UTF-8 round trip through params, reply and result: ${JSON.stringify(text).slice(0, 24)}`, async () => {
      const { replies, result } = await call('alice', 'cecho', 'echo', { text });
      assert.deepEqual(replies, [text]);
      assert.deepEqual(result, { text, bytes: Buffer.byteLength(text) });
    });
  }

  test('a lone surrogate (valid JSON, not UTF-8) comes back as U+FFFD, and the output stays valid UTF-8', async () => {
    const { replies, result } = await call('alice', 'cecho', 'echo', { text: 'a\ud800b' });
    assert.deepEqual(replies, ['a\ufffdb']);
    assert.deepEqual(result, { text: 'a\ufffdb', bytes: 5 });
  });

  test('bh_reply_sensitive marks the call, so fronts show its replies to the user alone; bh_reply does not', async () => {
    const secret = await call('alice', 'cecho', 'echo', { text: 'one-time code 123456', sensitive: true });
    assert.deepEqual(secret.replies, ['one-time code 123456']);
    assert.deepEqual(secret.vault, { opened: true, locked: false });
    assert.equal((await call('alice', 'cecho', 'echo', { text: 'for everyone', sensitive: false })).vault, undefined);
  });

  const probe = async (doc: string, key: string) => (await call('alice', 'cecho', 'probe', { doc, key })).result;
  test('bh_json_get finds only the object\'s own members, decodes escaped keys and strings, reads integers', async () => {
    const doc = JSON.stringify({ inner: { name: 'nested' }, list: [{ name: 'in array' }, 2, 'x'], 'k\u00e9y"': 'escaped key', name: 'top \u00e9\ud83c\udf0d', n: -42, big: 9007199254740991, t: true });
    assert.deepEqual(await probe(doc, 'name'), { found: true, raw: '"top é🌍"', string: 'top é🌍' });
    assert.deepEqual(await probe(doc, 'n'), { found: true, raw: '-42', integer: -42 });
    assert.deepEqual(await probe(doc, 'big'), { found: true, raw: '9007199254740991', integer: 9007199254740991 });
    assert.deepEqual(await probe(doc, 't'), { found: true, raw: 'true', bool: true });
    assert.deepEqual(await probe(doc, 'list'), { found: true, raw: '[{"name":"in array"},2,"x"]', items: 3 });
    assert.deepEqual(await probe(doc, 'kéy"'), { found: true, raw: '"escaped key"', string: 'escaped key' });
    assert.deepEqual(await probe(doc, 'missing'), { found: false });
    assert.deepEqual(await probe('{"a" : { "b" : 1 } , "b" : "\\u0041\\n"}', 'b'), { found: true, raw: '"\\u0041\\n"', string: 'A\n' });
    // Not integers the host would write: a fraction, an exponent, past 2^53, leading zeros.
    for (const raw of ['1.5', '1e3', '9007199254740992', '007']) {
      assert.deepEqual(await probe(`{"x":${raw}}`, 'x'), { found: true, raw }, raw);
    }
  });

  test('malformed or hostile JSON gives "not found" (or a value read before the damage), never a trap', async () => {
    const deep = `{"x":${'['.repeat(100)}${']'.repeat(100)},"y":1}`;
    const notFound = ['', '{', '{"x"', '{"x":', '{"x":"unterminated}', '{"x":[1,2}', '[1,2]', 'null', '"x"', deep];
    for (const doc of notFound) assert.deepEqual(await probe(doc, 'x'), { found: false }, doc.slice(0, 20));
    // bh_json_get reads members up to the one it wants and no further.
    assert.deepEqual(await probe('{"x":1,', 'x'), { found: true, raw: '1', integer: 1 });
    assert.deepEqual(await probe('{"x":1}}', 'x'), { found: true, raw: '1', integer: 1 });
    // A bad escape is found as a value but does not decode as a string.
    assert.deepEqual(await probe('{"x":"\\u12"}', 'x'), { found: true, raw: '"\\u12"' });
    // Brackets inside strings do not count.
    assert.deepEqual(await probe('{"x":[[1],{"a":[]},"]"]}', 'x'), { found: true, raw: '[[1],{"a":[]},"]"]', items: 3 });
  });
});

describe('C plugins under attack', () => {
  const buildScript = fromRoot('pdk', 'build.mjs');
  const build = (folder: string, outDir: string, env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, [buildScript, '--folder', folder, outDir], { cwd: fromRoot(), encoding: 'utf8', env });

  test('WASI import (filesystem, clock, randomness): the build refuses the C folder, naming the import', () => {
    const out = tempDir();
    try {
      const run = build(fromRoot('tests', 'fixtures', 'c-refused', 'wasi'), out.dir);
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /wasi_snapshot_preview1\.fd_write/);
      assert.match(run.stderr, /WASI: plugins get no filesystem, clock or randomness/);
      assert.equal(existsSync(path.join(out.dir, 'plugin.wasm')), false);
    } finally {
      out.cleanup();
    }
  });

  test('WASI import compiled without the build: the host refuses the module at load (defence in depth)', async () => {
    const root = tempDir();
    try {
      const plugins = path.join(root.dir, 'plugins');
      const folder = path.join(plugins, 'cwasi');
      mkdirSync(folder, { recursive: true });
      const source = fromRoot('tests', 'fixtures', 'c-refused', 'wasi');
      copyFileSync(path.join(source, 'plugin.json'), path.join(folder, 'plugin.json'));
      const clang = spawnSync('clang', ['--target=wasm32', '-nostdlib', '-O2', '-I', fromRoot('pdk', 'c'), '-Wl,--no-entry', '-Wl,--export=hello', '-o', path.join(folder, 'plugin.wasm'), path.join(source, 'src', 'hello.c')], { encoding: 'utf8' });
      assert.equal(clang.status, 0, clang.stderr);
      const other = startTestHost({ dataDir: path.join(root.dir, 'data'), builtInDirs: [plugins] });
      try {
        const refusal = other.catalog.refused.find((r) => r.plugin === 'cwasi');
        assert.ok(refusal, 'cwasi must be refused');
        assert.equal(refusal.error.code, 'BH_PLUGIN_IMPORT_REFUSED');
        assert.match(refusal.error.message, /wasi_snapshot_preview1/);
        assert.match(refusal.error.message, /fd_write/);
        assert.equal((await rejection(other.dispatcher.invoke(consoleUser('alice'), 'cwasi', 'hello', {}))).code, 'BH_PLUGIN_NOT_FOUND');
      } finally {
        await other.shutdown();
      }
    } finally {
      root.cleanup();
    }
  });

  test('import of a host function its manifest does not grant (reply without "reply"): refused at load, never runs', async () => {
    const refusal = host.catalog.refused.find((r) => r.plugin === 'cungranted');
    assert.ok(refusal, 'cungranted must be refused');
    assert.equal(refusal.error.code, 'BH_PLUGIN_IMPORT_REFUSED');
    assert.match(refusal.error.message, /"extism:host\/user" "reply"/);
    assert.match(refusal.error.message, /add "reply" to permissions/);
    assert.equal(host.catalog.plugins.has('cungranted'), false);
    assert.equal((await rejection(call('alice', 'cungranted', 'run'))).code, 'BH_PLUGIN_NOT_FOUND');
    await assertStillServes();
  });

  test('memory exhaustion through the allocator stops at the 4 MiB limit with BH_PLUGIN_MEMORY_LIMIT; the plugin and host keep serving', async () => {
    const before = process.memoryUsage().rss;
    const error = await rejection(call('alice', 'cmembomb', 'bomb'));
    assert.equal(error.code, 'BH_PLUGIN_MEMORY_LIMIT');
    assert.match(error.message, /4 MiB/);
    assert.ok(process.memoryUsage().rss - before < 256 * 1048576);
    assert.deepEqual((await call('alice', 'cmembomb', 'ok')).result, { ok: true });
    await assertStillServes();
  });

  test('memory exhaustion through raw memory.grow stops at the limit, not at 4 GiB: BH_PLUGIN_MEMORY_LIMIT', async () => {
    const before = process.memoryUsage().rss;
    const error = await rejection(call('alice', 'cmembomb', 'grow'));
    assert.equal(error.code, 'BH_PLUGIN_MEMORY_LIMIT');
    assert.ok(process.memoryUsage().rss - before < 256 * 1048576);
    assert.deepEqual((await call('alice', 'cmembomb', 'ok')).result, { ok: true });
    await assertStillServes();
  });
});

describe('pdk/build.mjs for C', () => {
  const buildScript = fromRoot('pdk', 'build.mjs');
  const build = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, [buildScript, ...args], { cwd: fromRoot(), encoding: 'utf8', env });

  test('--folder builds one folder into <outDir>/plugin.json and <outDir>/plugin.wasm', () => {
    const out = tempDir();
    try {
      const run = build(['--folder', fromRoot('plugins-src', 'tally'), out.dir]);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(readFileSync(path.join(out.dir, 'plugin.json')), readFileSync(fromRoot('plugins-src', 'tally', 'plugin.json')));
      const module = new WebAssembly.Module(readFileSync(path.join(out.dir, 'plugin.wasm')));
      assert.deepEqual(
        WebAssembly.Module.exports(module).map((e) => e.name).sort(),
        ['add', 'get', 'list', 'memory', 'reset'],
      );
      assert.ok(WebAssembly.Module.imports(module).every((i) => i.module === 'extism:host/env' || i.module === 'extism:host/user'));
    } finally {
      out.cleanup();
    }
  });

  test('a capability without a C function is a build error naming it', () => {
    const root = tempDir();
    try {
      const folder = path.join(root.dir, 'missing');
      mkdirSync(path.join(folder, 'src'), { recursive: true });
      writeFileSync(
        path.join(folder, 'plugin.json'),
        JSON.stringify({ manifestVersion: 1, name: 'missing', version: '1.0.0', description: 'x', capabilities: [{ name: 'present', description: 'x' }, { name: 'absent', description: 'x' }] }),
      );
      writeFileSync(path.join(folder, 'src', 'a.c'), '#include "bulkhead.h"\nint present(void) { bh_begin(); return 0; }\n');
      const run = build(['--folder', folder, path.join(root.dir, 'out')]);
      assert.equal(run.status, 1);
      assert.match(run.stderr, /no exported function for "absent"; define `int absent\(void\)`/);
    } finally {
      root.cleanup();
    }
  });

  test('a call to a function nobody defines (no libc) fails the link instead of importing from "env"', () => {
    const root = tempDir();
    try {
      const folder = path.join(root.dir, 'libc');
      mkdirSync(path.join(folder, 'src'), { recursive: true });
      writeFileSync(path.join(folder, 'plugin.json'), JSON.stringify({ manifestVersion: 1, name: 'libc', version: '1.0.0', description: 'x', capabilities: [{ name: 'run', description: 'x' }] }));
      writeFileSync(path.join(folder, 'src', 'a.c'), 'int puts(const char *);\nint run(void) { return puts("hi"); }\n');
      const run = build(['--folder', folder, path.join(root.dir, 'out')]);
      assert.equal(run.status, 1);
      assert.match(run.stderr, /undefined symbol: puts/);
      assert.match(run.stderr, /there is no libc/);
    } finally {
      root.cleanup();
    }
  });

  test('without clang, the build says to install clang and lld', () => {
    const out = tempDir();
    try {
      const run = build(['--folder', fromRoot('plugins-src', 'tally'), out.dir], { ...process.env, PATH: out.dir });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /clang was not found/);
      assert.match(run.stderr, /apt-get install clang lld/);
    } finally {
      out.cleanup();
    }
  });
});
