// Params schemas are plugin-supplied code that runs on the main thread: every pattern in them must
// run in linear time, and the other superlinear keyword (uniqueItems) must be bounded. All through
// the real load path: parseManifest -> preparePlugin (capabilityFrom) -> Dispatcher.resolve.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CallerTokens } from '../../host/identity/caller-token.js';
import { BulkheadError } from '../../host/core/errors.js';
import { Dispatcher } from '../../host/dispatch/dispatcher.js';
import type { Executor } from '../../host/executor/executor.js';
import { maxUniqueItems } from '../../host/manifest/unique-items.js';
import { parseManifest } from '../../host/manifest/manifest.js';
import { preparePlugin, type LoadedPlugin } from '../../host/plugins/catalog.js';
import { sha256 } from '../../host/plugins/plugin-folder.js';
import { defaultCaps } from '../../host/sandbox/limits.js';
import { consoleUser } from '../helpers/fixtures.js';
import { wat } from '../helpers/wasm.js';

const wasm = wat('(module (memory (export "memory") 1) (func (export "go") (result i32) i32.const 0))');

/** A plugin `hostile` with one capability `go` taking these params, loaded as the host loads one. */
function load(params: Record<string, unknown>, builtIn = false): LoadedPlugin {
  const manifest = parseManifest({ manifestVersion: 1, name: 'hostile', version: '1.0.0', description: 'h', capabilities: [{ name: 'go', description: 'g', params }] }, 'test');
  return preparePlugin({ folder: '/x', manifest, wasm, manifestSha256: '', wasmSha256: sha256(wasm) }, builtIn, defaultCaps);
}

/** Does the dispatcher let these params through to `hostile.go`? */
function accepts(plugin: LoadedPlugin, params: unknown): boolean {
  const dispatcher = new Dispatcher({
    plugins: new Map([['hostile', plugin]]),
    executor: {} as Executor,
    tokens: new CallerTokens({ current: { kid: 'k', key: Buffer.alloc(32, 1) } }),
  });
  try {
    dispatcher.resolve(consoleUser('a'), 'hostile', 'go', params);
    return true;
  } catch (error) {
    if (error instanceof BulkheadError && error.code === 'BH_PARAMS_INVALID') return false;
    throw error;
  }
}

function refusal(params: Record<string, unknown>): BulkheadError {
  try {
    load(params);
  } catch (error) {
    if (error instanceof BulkheadError) return error;
    throw error;
  }
  assert.fail('the plugin loaded');
}

const stringWith = (pattern: string): Record<string, unknown> => ({ type: 'object', properties: { s: { type: 'string', pattern } } });
// A hang guard, not a speed assertion: on a backtracking engine these cases run for minutes.
const hangGuard = { timeout: 20_000 };

describe('ReDoS through a params pattern: manifest patterns run in linear time', () => {
  const cases: [string, Record<string, unknown>, unknown, unknown][] = [
    ['^(a|a)*$ (93 s on RegExp)', stringWith('^(a|a)*$'), { s: `${'a'.repeat(31)}!` }, { s: 'a'.repeat(31) }],
    ['^(a+)+$', stringWith('^(a+)+$'), { s: `${'a'.repeat(31)}!` }, { s: 'aaaa' }],
    ['(x+x+)+y', stringWith('(x+x+)+y'), { s: 'x'.repeat(40) }, { s: 'xxxy' }],
    ['^(\\w+\\s?)*$', stringWith('^(\\w+\\s?)*$'), { s: `${'word '.repeat(12)}!` }, { s: 'two words' }],
    [
      'a patternProperties key ^(a|a)*$',
      { type: 'object', patternProperties: { '^(a|a)*$': { type: 'integer' } }, additionalProperties: false },
      { [`${'a'.repeat(31)}!`]: 1 },
      { aaa: 1 },
    ],
    ['a propertyNames pattern ^(a+)+$', { type: 'object', propertyNames: { pattern: '^(a+)+$' } }, { [`${'a'.repeat(31)}!`]: 1 }, { aaaa: 1 }],
  ];
  for (const [name, schema, hostile, fine] of cases) {
    test(`${name}: the hostile value is refused and a fitting one accepted, without freezing the host`, hangGuard, () => {
      const plugin = load(schema);
      assert.equal(accepts(plugin, hostile), false);
      assert.equal(accepts(plugin, fine), true);
    });
  }

  test('each pattern of a schema is checked on its own (no two patterns share a compiled engine)', () => {
    const plugin = load({ type: 'object', properties: { a: { type: 'string', pattern: '^a+$' }, b: { type: 'string', pattern: '^b+$' } } });
    assert.equal(accepts(plugin, { a: 'aaa', b: 'bbb' }), true);
    assert.equal(accepts(plugin, { a: 'aaa', b: 'aaa' }), false);
    assert.equal(accepts(plugin, { a: 'bbb', b: 'bbb' }), false);
  });

  test('the built-in notes patterns keep their meaning (tags are lower-case words, text has a non-space)', () => {
    const plugin = load({ type: 'object', properties: { tag: { type: 'string', pattern: '^[a-z0-9-]{1,32}$' }, text: { type: 'string', pattern: '\\S' } } });
    assert.equal(accepts(plugin, { tag: 'home-2', text: ' x ' }), true);
    assert.equal(accepts(plugin, { tag: 'Two Words' }), false);
    assert.equal(accepts(plugin, { text: '   ' }), false);
  });
});

describe('patterns that cannot run in linear time are refused at load', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['a backreference', stringWith('^(a+)\\1$')],
    ['a lookahead', stringWith('^(?=a)a+$')],
    ['a negative lookbehind', stringWith('(?<!x)a')],
    ['a backreference in a patternProperties key', { type: 'object', patternProperties: { '^(a)\\1$': { type: 'string' } } }],
  ];
  for (const [name, schema] of cases) {
    test(`${name}: BH_MANIFEST_INVALID naming the capability and RE2 syntax`, () => {
      const error = refusal(schema);
      assert.equal(error.code, 'BH_MANIFEST_INVALID');
      assert.match(error.message, /params schema of go has a pattern .*RE2 syntax.*linear time/);
    });
  }
});

describe('quadratic uniqueItems: bounded by maxItems beside it', () => {
  const list = (extra: Record<string, unknown>): Record<string, unknown> => ({ type: 'object', properties: { l: { type: 'array', uniqueItems: true, ...extra } } });
  const cases: [string, Record<string, unknown>][] = [
    ['without maxItems', list({})],
    [`with maxItems ${maxUniqueItems + 1}`, list({ maxItems: maxUniqueItems + 1 })],
    ['with maxItems only on an outer array', { type: 'object', properties: { l: { type: 'array', maxItems: 2, items: { type: 'array', uniqueItems: true } } } }],
    ['hidden in $defs', { type: 'object', properties: { l: { $ref: '#/$defs/l' } }, $defs: { l: { type: 'array', uniqueItems: true } } }],
  ];
  for (const [name, schema] of cases) {
    test(`uniqueItems ${name} is refused at load with BH_MANIFEST_INVALID`, () => {
      const error = refusal(schema);
      assert.equal(error.code, 'BH_MANIFEST_INVALID');
      assert.match(error.message, new RegExp(`params schema of go uses "uniqueItems": true without "maxItems" of at most ${maxUniqueItems}`));
    });
  }

  test(`uniqueItems with maxItems <= ${maxUniqueItems} loads and still rejects duplicates`, () => {
    const plugin = load(list({ maxItems: maxUniqueItems }));
    assert.equal(accepts(plugin, { l: [{ a: 1 }, { a: 2 }] }), true);
    assert.equal(accepts(plugin, { l: [{ a: 1 }, { a: 1 }] }), false);
  });
});

test('a capability knows whether its plugin is built in (the router ranks by it)', () => {
  const params = { type: 'object', properties: {} };
  assert.equal(load(params, true).capabilities.get('go')?.builtIn, true);
  assert.equal(load(params, false).capabilities.get('go')?.builtIn, false);
});
