/**
 * Router overhead without model time (`npm run bench`, `router`): a catalog of 50 capabilities
 * (10 plugins x 5, each with params schemas and 3 example phrases), and
 *
 * - the deterministic router on a mix of messages: explicit calls, commands, phrases that match an
 *   example, and text that matches nothing (the slowest case: every pattern is tried);
 * - the LLM router's own work around a completion: building the tools (cached per catalog) and
 *   checking a returned tool call (tool lookup, argument parsing, schema validation).
 *
 * Prints one JSON object with p50/p99 per kind; target p99 <= 1 ms.
 */
import { capabilityFrom } from '../../host/plugins/catalog.js';
import { parseManifest } from '../../host/manifest/manifest.js';
import { LlmRouter, interpretMessage } from '../../host/router/llm.js';
import { Router } from '../../host/router/router.js';
import type { Catalog } from '../../host/router/route.js';

const rounds = Number(process.env['BENCH_ROUTER_ROUNDS'] ?? 20_000);
const verbs = ['add', 'list', 'search', 'remove', 'show'];
const nouns = ['note', 'task', 'reminder', 'bookmark', 'recipe', 'contact', 'expense', 'habit', 'quote', 'trip'];

function catalog(): Catalog {
  const out = [];
  for (const noun of nouns) {
    const manifest = parseManifest(
      {
        manifestVersion: 1,
        name: `${noun}s`,
        version: '1.0.0',
        description: `Keeps ${noun}s.`,
        capabilities: verbs.map((verb) => ({
          name: verb,
          description: `${verb} ${noun}s by text and tags`,
          params: {
            type: 'object',
            additionalProperties: false,
            required: ['text'],
            properties: { text: { type: 'string', minLength: 1, maxLength: 500 }, tags: { type: 'array', maxItems: 5, items: { type: 'string', pattern: '^[a-z0-9-]{1,32}$' } } },
          },
          examples: [
            { text: `${verb} ${noun}: pay the rent`, params: { text: 'pay the rent' } },
            { text: `please ${verb} the ${noun} called winter plans, tag it home`, params: { text: 'winter plans', tags: ['home'] } },
            { text: `${verb} my ${noun} about the garden`, params: { text: 'the garden' } },
          ],
        })),
      },
      'bench',
    );
    for (const spec of manifest.capabilities ?? []) out.push(capabilityFrom(manifest.name, spec));
  }
  return Object.freeze(out);
}

function percentiles(times: number[]): { p50Ms: number; p99Ms: number; maxMs: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p: number): number => Number((sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number).toFixed(4));
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: Number((sorted[sorted.length - 1] as number).toFixed(4)) };
}

const cat = catalog();
const router = new Router();
const messages = {
  explicitCall: (i: number) => `${nouns[i % 10]}s.${verbs[i % 5]} {"text":"item ${i}"}`,
  command: (i: number) => `${nouns[i % 10]}s ${verbs[i % 5]} item number ${i}`,
  examplePhrase: (i: number) => `please ${verbs[i % 5]} the ${nouns[i % 10]} called project ${i}, tag it work`,
  noMatch: (i: number) => `what is the weather like in city number ${i} tomorrow, and should I take an umbrella?`,
};
const report: Record<string, unknown> = { benchmark: 'router overhead (no model time)', capabilities: cat.length, rounds };
for (const [kind, make] of Object.entries(messages)) {
  for (let i = 0; i < 2000; i++) await router.route(make(i), cat); // warm-up
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const text = make(i);
    const t0 = performance.now();
    await router.route(text, cat);
    times.push(performance.now() - t0);
  }
  report[kind] = percentiles(times);
}

const llm = new LlmRouter({ apiKey: 'unused', baseURL: 'http://127.0.0.1:9/v1', model: 'bench', timeoutMs: 1000, maxRetries: 0 });
const toolTimes: number[] = [];
for (let i = 0; i < rounds + 2000; i++) {
  const noun = nouns[i % 10] as string;
  const verb = verbs[i % 5] as string;
  const t0 = performance.now();
  const { byName } = llm.toolsFor(cat);
  const outcome = interpretMessage(
    {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: `${noun}s__${verb}`, arguments: JSON.stringify({ text: `item ${i}`, tags: ['work'] }) } }],
    },
    byName,
  );
  if (i >= 2000) toolTimes.push(performance.now() - t0);
  if (outcome.kind !== 'route' || outcome.route.kind !== 'call') throw new Error('the bench tool call did not route');
}
report['llmToolCallCheck'] = percentiles(toolTimes);
const worst = Math.max(...Object.values(report).flatMap((v) => (typeof v === 'object' && v && 'p99Ms' in v ? [(v as { p99Ms: number }).p99Ms] : [])));
report['targets'] = { p99Ms: 1, met: worst <= 1 };
console.log(JSON.stringify(report, null, 2));
