// Load-time checks on plugin modules and the dispatcher's gate, on modules built from WAT here.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { CallerTokens } from '../../host/identity/caller-token.js';
import { BulkheadError } from '../../host/core/errors.js';
import { Dispatcher, type CallerContext } from '../../host/dispatch/dispatcher.js';
import { shardOf, type Executor } from '../../host/executor/executor.js';
import { parseManifest, type Permission } from '../../host/manifest/manifest.js';
import { preparePlugin } from '../../host/plugins/catalog.js';
import { sha256 } from '../../host/plugins/plugin-folder.js';
import { defaultCaps } from '../../host/sandbox/limits.js';
import { checkImports, limitMemory, limitModule } from '../../host/sandbox/wasm-module.js';
import { KeyService } from '../../host/keys/key-service.js';
import { workerSetup } from '../../host/host.js';
import { consoleUser } from '../helpers/fixtures.js';
import { codeOf, wat } from '../helpers/wasm.js';
import { storeDefaults } from '../../host/store/store.js';



describe('memory limit, written into the module', () => {
  test('a memory without a maximum gets the limit: growing past it fails', () => {
    const bytes = limitMemory('t', wat('(module (memory (export "memory") 1))'), 4);
    const memory = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports['memory'] as WebAssembly.Memory;
    assert.equal(memory.grow(3), 1);
    assert.throws(() => memory.grow(1), RangeError);
  });

  test('a smaller declared maximum is kept; a larger one is lowered to the limit', () => {
    const small = limitMemory('t', wat('(module (memory (export "memory") 1 2))'), 16);
    const a = new WebAssembly.Instance(new WebAssembly.Module(small)).exports['memory'] as WebAssembly.Memory;
    assert.equal(a.grow(1), 1);
    assert.throws(() => a.grow(1), RangeError);
    const large = limitMemory('t', wat('(module (memory (export "memory") 1 65536))'), 3);
    const b = new WebAssembly.Instance(new WebAssembly.Module(large)).exports['memory'] as WebAssembly.Memory;
    assert.equal(b.grow(2), 1);
    assert.throws(() => b.grow(1), RangeError);
  });

  test('a module that starts above its limit is refused; broken bytes are refused', () => {
    assert.equal(codeOf(() => limitMemory('t', wat('(module (memory 20))'), 16)), 'BH_PLUGIN_MEMORY_TOO_LARGE');
    assert.equal(codeOf(() => limitMemory('t', new Uint8Array([1, 2, 3]), 16)), 'BH_PLUGIN_INVALID_MODULE');
    const truncated = wat('(module (memory 1) (func (export "f")))').subarray(0, 12);
    assert.equal(codeOf(() => limitMemory('t', truncated, 16)), 'BH_PLUGIN_INVALID_MODULE');
  });

  test('everything but the memory section is left as it was', () => {
    const source = wat('(module (memory (export "memory") 1) (data (i32.const 0) "hello") (func (export "f") (result i32) (i32.load8_u (i32.const 1))))');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(limitMemory('t', source, 8)));
    assert.equal((instance.exports['f'] as () => number)(), 'e'.charCodeAt(0));
  });
});

describe('imports: default deny', () => {
  const cases: { imports: string; grants: Permission[]; refused: boolean; mentions?: RegExp }[] = [
    { imports: '(import "extism:host/env" "alloc" (func (param i64) (result i64)))', grants: [], refused: false },
    { imports: '(import "extism:host/user" "block_read" (func (param i64 i32) (result i32)))', grants: [], refused: false },
    { imports: '(import "extism:host/user" "query" (func (param i64) (result i64)))', grants: ['query'], refused: false },
    { imports: '(import "extism:host/user" "query" (func (param i64) (result i64)))', grants: ['reply'], refused: true, mentions: /add "query" to permissions/ },
    { imports: '(import "extism:host/env" "http_request" (func (param i64 i64) (result i64)))', grants: ['query', 'reply'], refused: true, mentions: /no network/ },
    { imports: '(import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))', grants: [], refused: true, mentions: /WASI/ },
    { imports: '(import "env" "abort" (func (param i32 i32 i32 i32)))', grants: [], refused: true, mentions: /"env" "abort"/ },
    { imports: '(import "extism:host/env" "memory" (memory 1))', grants: [], refused: true, mentions: /functions only/ },
    { imports: '(import "extism:host/user" "master_key" (func (result i64)))', grants: ['query'], refused: true, mentions: /not a Bulkhead host function/ },
  ];
  for (const c of cases) {
    test(`${c.imports.slice(8, 60)} with grants [${c.grants.join(', ')}]: ${c.refused ? 'refused' : 'allowed'}`, () => {
      const module = new WebAssembly.Module(wat(`(module ${c.imports})`));
      if (!c.refused) {
        checkImports('t', module, c.grants);
        return;
      }
      assert.throws(
        () => checkImports('t', module, c.grants),
        (error: unknown) => error instanceof BulkheadError && error.code === 'BH_PLUGIN_IMPORT_REFUSED' && (c.mentions?.test(error.message) ?? true),
      );
    });
  }

  test('an import name is shown printable and bounded, whatever bytes the module holds', () => {
    const module = new WebAssembly.Module(wat(`(module (import "\\07evil\\0a" "${'x'.repeat(500)}" (func)))`));
    assert.throws(
      () => checkImports('t', module, []),
      (error: unknown) => error instanceof BulkheadError && [...error.message].every((c) => c >= " ") && error.message.length < 600,
    );
  });
});

describe('what an instance may make the host hold beyond its memory, checked in the bytes at load', () => {
  const caps = { memoryPages: 16, maxTableEntries: 1000, maxGlobals: 5, maxElementEntries: 10 };
  const refused = (source: string | Uint8Array): BulkheadError => {
    const bytes = typeof source === 'string' ? wat(source) : source;
    try {
      limitModule('t', bytes, caps);
    } catch (error) {
      if (error instanceof BulkheadError) return error;
      throw error;
    }
    throw new Error('expected the module to be refused');
  };

  test('a huge table (10,000,000 funcref entries, ~530 MiB per instance) is refused, whatever its maximum', () => {
    for (const table of ['(table 10000000 funcref)', '(table 1001 funcref)', '(table 1001 2000 externref)']) {
      const error = refused(`(module ${table})`);
      assert.equal(error.code, 'BH_PLUGIN_INVALID_MODULE');
      assert.match(error.message, /table of \d+ entries; the host allows 1000/);
    }
  });

  test('table.grow stops at the cap: the maximum is written into the module, with or without one declared', () => {
    for (const table of ['(table 1 funcref)', '(table 1 100000000 funcref)']) {
      const bytes = limitModule('t', wat(`(module ${table} (func (export "grow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))`), caps);
      const grow = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports['grow'] as (n: number) => number;
      assert.equal(grow(10_000_000), -1);
      assert.equal(grow(999), 1);
      assert.equal(grow(1), -1);
    }
  });

  test('two tables (reference types) are refused: plugins may define one', () => {
    assert.equal(refused('(module (table 10 funcref) (table 10 externref))').code, 'BH_PLUGIN_INVALID_MODULE');
  });

  test('too many globals, or element segments with too many entries (passive ones live in every instance), are refused', () => {
    assert.match(refused(`(module ${'(global i32 (i32.const 0)) '.repeat(6)})`).message, /6 globals/);
    const funcs = '(func $f)';
    assert.match(refused(`(module ${funcs} (elem func ${'$f '.repeat(11)}))`).message, /11 entries/);
    assert.match(refused(`(module ${funcs} (table 20 funcref) (elem (i32.const 0) ${'$f '.repeat(6)}) (elem (i32.const 6) ${'$f '.repeat(6)}))`).message, /12 entries/);
  });

  test('WebAssembly GC types (arrays and structs on the host heap) are refused before compiling', () => {
    // (type (array (mut i8))): type section with one array type, written by hand (wabt has no GC).
    const gc = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x5e, 0x78, 1]);
    const error = refused(gc);
    assert.equal(error.code, 'BH_PLUGIN_INVALID_MODULE');
    assert.match(error.message, /GC/);
  });

  test('an import with another signature than the host function it names is refused at load', () => {
    for (const imports of [
      '(import "extism:host/user" "query" (func (param i32) (result i32)))',
      '(import "extism:host/env" "alloc" (func (param i64) (result i32)))',
      '(import "extism:host/env" "store_u8" (func (param i64 i64)))',
    ]) {
      const error = refused(`(module ${imports})`);
      assert.equal(error.code, 'BH_PLUGIN_IMPORT_REFUSED');
      assert.match(error.message, /wrong signature: the host provides \(/);
    }
    limitModule('t', wat('(module (import "extism:host/user" "query" (func (param i64) (result i64))))'), caps);
  });

  test('malformed bytes are refused with a coded error, never a crash', () => {
    const good = wat('(module (memory 1) (table 1 funcref) (global i32 (i32.const 1)))');
    for (let cut = 9; cut < good.length; cut++) {
      const code = codeOf(() => limitModule('t', good.subarray(0, cut), caps));
      assert.ok(code === undefined || code === 'BH_PLUGIN_INVALID_MODULE', `cut at ${cut}: ${code}`);
    }
  });
});

describe('dispatcher gate', () => {
  const manifest = parseManifest(
    {
      manifestVersion: 1,
      name: 'gate',
      version: '1.0.0',
      description: 'gate test',
      capabilities: [
        { name: 'peek', description: 'dashboard allowed', dashboard: true, params: { type: 'object', properties: { n: { type: 'integer', maximum: 3 } }, additionalProperties: false } },
        { name: 'chat-only', export: 'chat_only', description: 'not on the dashboard' },
        { name: 'admin:purge', description: 'admin only', dashboard: true },
      ],
    },
    'test',
  );
  const wasm = wat('(module (memory (export "memory") 1) (func (export "peek") (result i32) i32.const 0) (func (export "chat_only") (result i32) i32.const 0) (func (export "admin_purge") (result i32) i32.const 0))');
  const plugin = preparePlugin({ folder: '/x', manifest, wasm, manifestSha256: '', wasmSha256: sha256(wasm) }, true, defaultCaps);
  const dispatcher = new Dispatcher({
    plugins: new Map([['gate', plugin]]),
    executor: {} as Executor,
    tokens: new CallerTokens({ current: { kid: 'k', key: Buffer.alloc(32, 1) } }),
  });
  const dashboardUser: CallerContext = { ...consoleUser('d'), front: 'dashboard' };
  const resolveCode = (caller: CallerContext, capability: string, params: unknown = {}) =>
    codeOf(() => dispatcher.resolve(caller, 'gate', capability, params));

  test('admin: capabilities need the admin flag', () => {
    assert.equal(resolveCode(consoleUser('a'), 'admin:purge'), 'BH_CAPABILITY_FORBIDDEN');
    assert.equal(resolveCode({ ...consoleUser('a'), admin: true }, 'admin:purge'), undefined);
  });

  test('the dashboard reaches only capabilities marked "dashboard": true', () => {
    assert.equal(resolveCode(dashboardUser, 'chat-only'), 'BH_CAPABILITY_FORBIDDEN');
    assert.equal(resolveCode(dashboardUser, 'peek'), undefined);
    assert.equal(resolveCode(consoleUser('a'), 'chat-only'), undefined);
    assert.deepEqual(dispatcher.catalog(dashboardUser).map((c) => c.spec.name), ['peek']);
  });

  test('params: not an object, extra keys, out of range, and none for a capability without params', () => {
    for (const params of [[], 'x', 5, null, { n: 4 }, { n: 1, m: 2 }]) assert.equal(resolveCode(consoleUser('a'), 'peek', params), 'BH_PARAMS_INVALID');
    assert.equal(resolveCode(consoleUser('a'), 'chat-only', { any: 1 }), 'BH_PARAMS_INVALID');
    assert.equal(resolveCode(consoleUser('a'), 'peek', undefined), undefined);
  });

  test('an error about a made-up key does not echo the key', () => {
    try {
      dispatcher.resolve(consoleUser('a'), 'gate', 'peek', { n: 'secret-key-name' });
      assert.fail('expected a refusal');
    } catch (error) {
      assert.ok(error instanceof BulkheadError);
      assert.match(error.message, /params\/n must be integer/);
      assert.doesNotMatch(error.message, /secret/);
    }
  });
});

test('a user always maps to the same worker, and users spread over the workers', () => {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) {
    const shard = shardOf(`slack:T1:U${i}`, 4);
    assert.equal(shard, shardOf(`slack:T1:U${i}`, 4));
    counts[shard] = (counts[shard] as number) + 1;
  }
  for (const count of counts) assert.ok(count > 800 && count < 1200, `uneven spread: ${counts.join(', ')}`);
});

test('workers are started with derived keys only: no byte run of the master or signing key reaches them', () => {
  const master = randomBytes(32);
  const signing = randomBytes(32);
  const keys = new KeyService({ master, signing });
  const wasm = wat('(module (memory (export "memory") 1))');
  const manifest = parseManifest({ manifestVersion: 1, name: 'keyed', version: '1.0.0', description: 'k' }, 'test');
  const plugin = preparePlugin({ folder: '/x', manifest, wasm, manifestSha256: '', wasmSha256: '' }, true, defaultCaps);
  const setup = workerSetup(keys, { dataDir: '/d', store: { ...storeDefaults, maxOpenFiles: 1, pageCacheKiB: 64 }, account: { auditRetentionDays: 365, deletionGraceDays: 30, auditTap: undefined }, vault: { idleMinutes: 15, unlocksAtOnce: 2 } }, [plugin]);
  // Everything a worker receives, as bytes: each key, each buffer behind a key (a view shares its
  // whole buffer when posted), and the rest as JSON.
  const views = [setup.keyringKey, setup.tokenKey.key, setup.audit.key.fileRoot, setup.audit.key.names, ...setup.plugins.flatMap((p) => [p.key.fileRoot, p.key.names])];
  const blobs = [...views.map((v) => Buffer.from(v.buffer)), Buffer.from(JSON.stringify({ ...setup, plugins: setup.plugins.map((p) => p.manifest) }))];
  for (const blob of blobs) {
    for (const root of [master, signing]) {
      for (const encoding of ['hex', 'base64', 'base64url'] as const) assert.equal(blob.includes(root.toString(encoding)), false);
      // Any 8-byte run of a root key would be a leak.
      for (let i = 0; i + 8 <= root.length; i++) assert.equal(blob.includes(root.subarray(i, i + 8)), false);
    }
  }
  for (const view of views) assert.equal(view.byteLength, view.buffer.byteLength, 'each key has a buffer of its own');
});
