import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseManifest, type PluginManifest } from '../../host/manifest/manifest.js';
import { capabilityFrom } from '../../host/plugins/catalog.js';
import { DeterministicRouter } from '../../host/router/deterministic.js';
import { Router } from '../../host/router/router.js';
import type { Catalog, Route } from '../../host/router/route.js';
import { fromRoot } from '../../host/core/paths.js';
import { maxParamsDepth } from '../../host/core/json-limits.js';
import { interpretMessage, toolName } from '../../host/router/llm.js';

const notes = parseManifest(JSON.parse(readFileSync(fromRoot('plugins-src', 'notes', 'plugin.json'), 'utf8')), 'notes');
const catalogOf = (...manifests: PluginManifest[]): Catalog =>
  manifests.flatMap((m) => (m.capabilities ?? []).map((spec) => capabilityFrom(m.name, spec)));
const catalog = catalogOf(notes);

const route = (text: string): Route | undefined => new DeterministicRouter(catalog).match(text);
const called = (r: Route | undefined): unknown => (r?.kind === 'call' ? { call: `${r.plugin}.${r.capability}`, params: r.params, by: r.by } : r);

describe('deterministic router: commands', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['notes.add {"text":"buy milk"}', 'notes.add', { text: 'buy milk' }],
    ['/bulkhead notes.add {"text":"buy milk", "tags":["shop"]}', 'notes.add', { text: 'buy milk', tags: ['shop'] }],
    ['notes add buy milk', 'notes.add', { text: 'buy milk' }],
    ['  notes   add   buy   milk  ', 'notes.add', { text: 'buy milk' }],
    ['notes add {"text":"a  b"}', 'notes.add', { text: 'a  b' }],
    ['notes list', 'notes.list', {}],
    ['notes.list', 'notes.list', {}],
    ['notes search milk', 'notes.search', { text: 'milk' }],
    ['notes delete 0f8e2c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b', 'notes.delete', { id: '0f8e2c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b' }],
  ];
  for (const [text, target, params] of cases) {
    test(`"${text}" -> ${target} ${JSON.stringify(params)}`, () => {
      assert.deepEqual(called(route(text)), { call: target, params, by: 'command' });
    });
  }

  test('params that do not fit the schema are refused with a usage hint, not run', () => {
    for (const text of ['notes.add {"text": 5}', 'notes.add {"text":"x","owner":"someone-else"}', 'notes add {not json', 'notes.list {"tag":"UPPER case"}']) {
      const r = route(text);
      assert.equal(r?.kind, 'reply', text);
      assert.equal(r?.kind === 'reply' && r.reason, 'invalid');
      assert.match(r?.kind === 'reply' ? r.text : '', /Try: notes\.\w+/);
    }
  });

  test('help lists every capability with an example; help <plugin> one plugin; an unknown plugin says which exist', () => {
    const help = route('help');
    assert.ok(help?.kind === 'reply' && help.reason === 'help');
    for (const name of ['add', 'list', 'search', 'delete']) assert.match(help.text, new RegExp(`notes ${name}:`));
    const one = route('help notes');
    assert.ok(one?.kind === 'reply' && one.text.includes('notes add'));
    const unknown = route('help weather');
    assert.ok(unknown?.kind === 'reply' && /no plugin called weather.*notes/s.test(unknown.text));
  });
});

describe('deterministic router: phrases learned from manifest examples', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['add a note: buy milk', 'notes.add', { text: 'buy milk' }],
    ['Note: call mum', 'notes.add', { text: 'call mum' }],
    ['remember to water the plants, tag it home', 'notes.add', { text: 'water the plants', tags: ['home'] }],
    ["save a note 'pay rent' tagged money and home", 'notes.add', { text: 'pay rent', tags: ['money', 'home'] }],
    ['show my notes', 'notes.list', {}],
    ['please show my notes!', 'notes.list', {}],
    ['list my notes tagged work', 'notes.list', { tag: 'work' }],
    ['search my notes for bread', 'notes.search', { text: 'bread' }],
    ['remove the note with id 9d1c2b3a-4e5f-4a6b-8c7d-6e5f4a3b2c1d', 'notes.delete', { id: '9d1c2b3a-4e5f-4a6b-8c7d-6e5f4a3b2c1d' }],
  ];
  for (const [text, target, params] of cases) {
    test(`"${text}" -> ${target} ${JSON.stringify(params)}`, () => {
      assert.deepEqual(called(route(text)), { call: target, params, by: 'examples' });
    });
  }

  test('a phrase whose slot would break the schema does not match (tags are lower-case words)', () => {
    assert.equal(route('list my notes tagged Two Words'), undefined);
  });

  test('unrelated text matches nothing', () => {
    for (const text of ['what is the weather', 'hello', 'notesadd buy milk', 'weather.forecast {}']) assert.equal(route(text), undefined, text);
  });

  test('text past the example limit is not pattern-matched (bounded backtracking), commands still work', () => {
    assert.equal(route(`note: ${'x'.repeat(600)}`), undefined);
    assert.equal(route(`notes add ${'x'.repeat(600)}`)?.kind, 'call');
  });
});

describe('router without an LLM', () => {
  test('free text it cannot place gets help, not an error', async () => {
    const r = await new Router().route('what is the weather', catalog);
    assert.ok(r.kind === 'reply' && r.reason === 'no-match' && r.text.includes('notes add'));
  });

  test('a message past 4,000 characters is refused before any router (or model) sees it', async () => {
    const r = await new Router().route(`notes add ${'x'.repeat(4000)}`, catalog);
    assert.ok(r.kind === 'reply' && r.reason === 'invalid' && /too long/.test(r.text));
  });

  test('its output names a capability and params only: no field can carry a user', async () => {
    const r = await new Router().route('notes add buy milk', catalog);
    assert.deepEqual(Object.keys(r).sort(), ['by', 'capability', 'kind', 'params', 'plugin']);
  });
});

// Attack: params nested thousands of levels deep typed into chat (or returned by the model) made
// Ajv and JSON.stringify recurse until the stack overflowed. `loose.take` accepts any object, so
// its schema alone would let such params through: the depth limit has to refuse them.
describe('params nested too deeply never reach Ajv', () => {
  const loose = catalogOf(parseManifest({ manifestVersion: 1, name: 'loose', version: '1.0.0', description: 'Loose', capabilities: [{ name: 'take', description: 'Takes any object', params: { type: 'object' } }] }, 'loose'));
  const deepParams = (levels: number): string => `{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;

  for (const levels of [maxParamsDepth + 1, 1980]) {
    test(`a command with params ${levels} levels deep is answered with a usage hint`, async () => {
      const r = await new Router().route(`loose.take ${deepParams(levels)}`, loose);
      assert.ok(r.kind === 'reply' && r.reason === 'invalid' && r.text.startsWith('Those params do not fit loose.take.'), JSON.stringify(r).slice(0, 200));
    });
  }

  test(`params exactly ${maxParamsDepth} levels deep are routed`, async () => {
    const r = await new Router().route(`loose.take ${deepParams(maxParamsDepth)}`, loose);
    assert.equal(r.kind, 'call');
  });

  for (const levels of [maxParamsDepth + 1, 8000]) {
    test(`model tool arguments ${levels} levels deep are answered with a plain-words request`, () => {
      const byName = new Map(loose.map((c) => [toolName(c), c]));
      const message = { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'loose__take', arguments: deepParams(levels) } }] } as const;
      const outcome = interpretMessage(message as unknown as Parameters<typeof interpretMessage>[0], byName);
      assert.ok(outcome.kind === 'route' && outcome.route.kind === 'reply' && outcome.route.reason === 'invalid');
    });
  }
});
