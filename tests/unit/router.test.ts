import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseManifest, type PluginManifest } from '../../host/manifest/manifest.js';
import { capabilityFrom } from '../../host/plugins/catalog.js';
import { DeterministicRouter } from '../../host/router/deterministic.js';
import { maxExamplePatterns, maxExamplePatternsPerPlugin, maxReadsPerMessage, maxSlotsPerExample } from '../../host/router/examples.js';
import { LlmRouter } from '../../host/router/llm.js';
import { Router } from '../../host/router/router.js';
import type { Catalog, Route } from '../../host/router/route.js';
import { fromRoot } from '../../host/core/paths.js';
import { startFakeOpenAI } from '../fakes/openai-server.js';
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

/** A third-party plugin with one capability that takes the params `props` and learns these examples. */
function plugin(name: string, capability: string, examples: { text: string; params: Record<string, unknown> }[], props: Record<string, unknown> = { text: { type: 'string', minLength: 1 } }): PluginManifest {
  return parseManifest(
    {
      manifestVersion: 1,
      name,
      version: '1.0.0',
      description: name,
      capabilities: [{ name: capability, description: capability, params: { type: 'object', additionalProperties: false, properties: props }, examples }],
    },
    name,
  );
}
const builtIn = (m: PluginManifest): Catalog => (m.capabilities ?? []).map((spec) => capabilityFrom(m.name, spec, true));
const words = (n: number, prefix = 'w'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const stringParams = (names: string[]): Record<string, unknown> => Object.fromEntries(names.map((n) => [n, { type: 'string', minLength: 1 }]));
// A hang guard, not a speed assertion: on a backtracking engine these messages take minutes or more.
const hangGuard = { timeout: 20_000 };

describe('ReDoS through manifest examples: matching is linear in the message', () => {
  test('an example with 12 comma-separated placeholders against a 40-word message that almost fits', hangGuard, () => {
    const slots = words(12, 's');
    const items = plugin('packer', 'pack', [{ text: `pack ${slots.join(', ')} today`, params: Object.fromEntries(slots.map((s) => [s, s])) }], stringParams(slots));
    const router = new DeterministicRouter(catalogOf(items));
    // Every literal occurs, in order, so only the pattern itself can say no.
    const almost = `pack ${words(37).join(', ')}, today w37`;
    assert.equal(almost.split(' ').length, 40);
    assert.equal(router.match(almost), undefined);
    const fits = `pack ${words(12).join(', ')} today`;
    assert.deepEqual(called(router.match(fits)), { call: 'packer.pack', params: Object.fromEntries(slots.map((s, i) => [s, `w${i}`])), by: 'examples' });
  });

  test(`an example with ${maxSlotsPerExample} adjacent placeholders against a 40-word message that almost fits`, hangGuard, () => {
    const slots = words(maxSlotsPerExample, 's');
    const planner = plugin('planner', 'plan', [{ text: `plan ${slots.join(' ')} today`, params: Object.fromEntries(slots.map((s) => [s, s])) }], stringParams(slots));
    const router = new DeterministicRouter(catalogOf(planner));
    const almost = `plan ${words(37).join(' ')} today w37`;
    assert.equal(almost.split(' ').length, 40);
    assert.equal(router.match(almost), undefined);
    // Lazy slots: each takes one word, the last takes the rest, as on RegExp.
    const fits = `plan ${words(20).join(' ')} today`;
    const expected = Object.fromEntries(slots.map((s, i) => [s, i < slots.length - 1 ? `w${i}` : words(20).slice(i).join(' ')]));
    assert.deepEqual(called(router.match(fits)), { call: 'planner.plan', params: expected, by: 'examples' });
  });

  test(`an example with more than ${maxSlotsPerExample} placeholders is not learned (its plugin still takes commands)`, () => {
    const slots = words(maxSlotsPerExample + 1, 's');
    const planner = plugin('planner', 'plan', [{ text: `plan ${slots.join(' ')} today`, params: Object.fromEntries(slots.map((s) => [s, s])) }], stringParams(slots));
    const router = new DeterministicRouter(catalogOf(planner));
    assert.equal(router.match(`plan ${words(maxSlotsPerExample + 1).join(' ')} today`), undefined);
    assert.equal(router.match('planner.plan {"s0":"x"}')?.kind, 'call');
  });

  test(`a plugin teaches at most ${maxExamplePatternsPerPlugin} example patterns`, () => {
    const many = parseManifest(
      {
        manifestVersion: 1,
        name: 'chatty',
        version: '1.0.0',
        description: 'c',
        capabilities: [0, 1].map((c) => ({
          name: `c${c}`,
          description: 'c',
          params: { type: 'object', properties: { text: { type: 'string' } } },
          examples: words(20).map((w) => ({ text: `phrase ${c}-${w}: hello`, params: { text: 'hello' } })),
        })),
      },
      'chatty',
    );
    const router = new DeterministicRouter(catalogOf(many));
    const learned = [0, 1].flatMap((c) => words(20).map((w) => router.match(`phrase ${c}-${w}: hi`)?.kind === 'call'));
    assert.equal(learned.filter(Boolean).length, maxExamplePatternsPerPlugin);
    assert.equal(learned.indexOf(false), maxExamplePatternsPerPlugin);
  });

  test(`a catalog holds at most ${maxExamplePatterns} example patterns, built-ins counted first`, () => {
    const full = maxExamplePatterns / maxExamplePatternsPerPlugin;
    const crowd = Array.from({ length: full + 1 }, (_, p) =>
      parseManifest(
        {
          manifestVersion: 1,
          name: `crowd${p}`,
          version: '1.0.0',
          description: 'c',
          capabilities: [0, 1].map((c) => ({
            name: `c${c}`,
            description: 'c',
            params: { type: 'object', properties: { text: { type: 'string' } } },
            examples: words(maxExamplePatternsPerPlugin / 2).map((w) => ({ text: `crowd${p} ${c}-${w}: hello`, params: { text: 'hello' } })),
          })),
        },
        `crowd${p}`,
      ),
    );
    // Notes comes last in the catalog, yet its examples are learned before the crowd's.
    const router = new DeterministicRouter([...catalogOf(...crowd), ...builtIn(notes)]);
    assert.deepEqual(called(router.match('show my notes')), { call: 'notes.list', params: {}, by: 'examples' });
    assert.equal(router.match('crowd0 0-w0: hi')?.kind, 'call');
    assert.equal(router.match(`crowd${full - 1} 1-w0: hi`)?.kind, 'call');
    assert.equal(router.match(`crowd${full} 0-w0: hi`), undefined);
  });

  test(`one message reads the slots of at most ${maxReadsPerMessage} patterns`, () => {
    // Thirty-two examples that match but whose params never fit, ranked above one that would.
    const fussy = parseManifest(
      {
        manifestVersion: 1,
        name: 'fussy',
        version: '1.0.0',
        description: 'f',
        capabilities: [0, 1].map((c) => ({
          name: `c${c}`,
          description: 'c',
          params: { type: 'object', properties: { text: { type: 'string', maxLength: 1 } } },
          examples: words(maxReadsPerMessage / 2).map(() => ({ text: 'please frob the widget: now', params: { text: 'now' } })),
        })),
      },
      'fussy',
    );
    const plain = plugin('plain', 'frob', [{ text: 'widget: now', params: { text: 'now' } }]);
    assert.equal(new DeterministicRouter(catalogOf(plain)).match('please frob the widget: right away')?.kind, 'call');
    assert.equal(new DeterministicRouter(catalogOf(fussy, plain)).match('please frob the widget: right away'), undefined);
  });
});

describe('precedence: built-ins and commands first; between other plugins, ask', () => {
  const secret = 'please add a note: my bank PIN is 1234';
  const memo = plugin('memo', 'save', [{ text: 'please add a note: call the bank', params: { text: 'call the bank' } }]);
  const jot = plugin('jot', 'add', [{ text: 'add a note: call the bank', params: { text: 'call the bank' } }]);

  test("a plugin's longer example cannot capture a phrase a built-in understands (note hijacking)", () => {
    const router = new DeterministicRouter([...builtIn(notes), ...catalogOf(memo)]);
    assert.deepEqual(called(router.match(secret)), { call: 'notes.add', params: { text: 'my bank PIN is 1234' }, by: 'examples' });
  });

  test('the same phrase without the built-in goes to the one plugin that matches', () => {
    assert.deepEqual(called(new DeterministicRouter(catalogOf(memo)).match(secret)), { call: 'memo.save', params: { text: 'my bank PIN is 1234' }, by: 'examples' });
  });

  test('when examples of two plugins match, the reply asks which, as commands, without repeating the message', () => {
    const r = new DeterministicRouter(catalogOf(memo, jot)).match(secret);
    assert.ok(r?.kind === 'reply' && r.reason === 'ambiguous');
    assert.match(r.text, /`memo save <text>`/);
    assert.match(r.text, /`jot add <text>`/);
    assert.doesNotMatch(r.text, /bank|PIN|1234/);
  });

  test('an explicit command reaches a plugin even where a built-in example would match', () => {
    const router = new DeterministicRouter([...builtIn(notes), ...catalogOf(memo)]);
    assert.deepEqual(called(router.match('memo save note: call mum')), { call: 'memo.save', params: { text: 'note: call mum' }, by: 'command' });
  });

  test('with a model, the model decides between the plugins; the question comes only when it proposes nothing', async () => {
    const openai = await startFakeOpenAI();
    try {
      const router = new Router({ llm: new LlmRouter({ apiKey: 'sk-test', baseURL: openai.baseURL, model: 'm', timeoutMs: 2000, maxRetries: 0 }) });
      const cat = catalogOf(memo, jot);
      openai.script([{ toolCall: { name: 'jot__add', arguments: '{"text":"my bank PIN is 1234"}' } }, { text: 'no tool fits' }]);
      assert.deepEqual(called(await router.route(secret, cat)), { call: 'jot.add', params: { text: 'my bank PIN is 1234' }, by: 'llm' });
      const asked = await router.route(secret, cat);
      assert.ok(asked.kind === 'reply' && asked.reason === 'ambiguous');
    } finally {
      await openai.close();
    }
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
