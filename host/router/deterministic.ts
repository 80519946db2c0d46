/**
 * The deterministic router: works with no language model, so a newcomer without an API key can
 * use every plugin, and chat keeps working when the model is down. It understands
 *
 * - explicit calls: `notes.add {"text":"buy milk"}` (also what follows `/bulkhead`), `notes.list`;
 * - commands: `notes add buy milk` (the rest of the line fills the capability's only text param),
 *   `notes list`, `notes add {"text":"buy milk"}`;
 * - `help` and `help notes`;
 * - phrases shaped like the examples in the manifests: the example "note: buy oat milk" with
 *   params {"text": "buy oat milk"} teaches the pattern `note: <text>`, so "add a note: buy milk"
 *   becomes notes.add {"text": "buy milk"}. A built-in's example beats any other plugin's; when
 *   examples of several other plugins match, the answer is a question, not a guess.
 *
 * Whatever it builds is validated against the capability's params schema before it is returned.
 */
import { limitDefault } from '../config/limits.js';
import type { Capability } from '../plugins/catalog.js';
import { call, validParams, type Catalog, type Route } from './route.js';
import { compileExamples, maxReadsPerMessage, type ExamplePattern } from './examples.js';

/** Longest message matched against example patterns; longer ones need a command (or the LLM). */
export const maxExampleMatchChars = limitDefault('router.maxExampleMatchChars');

const explicitCall = /^([a-z][a-z0-9-]{0,62})\.((?:admin:)?[a-z][a-zA-Z0-9_-]{0,62})(?:\s+([\s\S]*))?$/;
const command = /^([a-z][a-z0-9-]{0,62})\s+((?:admin:)?[a-z][a-zA-Z0-9_-]{0,62})(?:\s+([\s\S]*))?$/;

export class DeterministicRouter {
  readonly #catalog: Catalog;
  readonly #byName = new Map<string, Capability>();
  readonly #patterns: readonly ExamplePattern[];

  constructor(catalog: Catalog) {
    this.#catalog = catalog;
    for (const capability of catalog) this.#byName.set(`${capability.plugin}.${capability.spec.name}`, capability);
    this.#patterns = compileExamples(catalog);
  }

  /** A route for `text`, or undefined when nothing here matches (the caller decides what next). */
  match(text: string): Route | undefined {
    const line = normalize(text);
    if (line === '') return undefined;
    if (/^(help|\?|commands)$/i.test(line)) return { kind: 'reply', reason: 'help', text: helpText(this.#catalog) };
    const helpFor = /^help\s+([a-z][a-z0-9-]{0,62})$/i.exec(line);
    if (helpFor) return { kind: 'reply', reason: 'help', text: helpText(this.#catalog, (helpFor[1] as string).toLowerCase()) };

    const explicit = explicitCall.exec(line) ?? command.exec(line);
    if (explicit) {
      const capability = this.#byName.get(`${explicit[1]}.${explicit[2]}`);
      if (capability) return this.#commandRoute(capability, explicit[3]?.trim() ?? '');
    }
    return this.#examplesRoute(line);
  }

  #commandRoute(capability: Capability, rest: string): Route {
    const name = `${capability.plugin}.${capability.spec.name}`;
    let params: unknown;
    if (rest === '') {
      params = {};
    } else if (rest.startsWith('{')) {
      try {
        params = JSON.parse(rest);
      } catch {
        return { kind: 'reply', reason: 'invalid', text: `The params after ${name} are not valid JSON. ${usage(capability)}` };
      }
    } else {
      const field = soleTextParam(capability);
      if (!field) return { kind: 'reply', reason: 'invalid', text: `${name} takes its params as JSON. ${usage(capability)}` };
      params = { [field]: rest };
    }
    const valid = validParams(capability, params);
    if (!valid) return { kind: 'reply', reason: 'invalid', text: `Those params do not fit ${name}. ${usage(capability)}` };
    return call(capability, valid, 'command');
  }

  /**
   * A built-in's example wins (the first to match: patterns come best first); otherwise one
   * plugin's best match, and when examples of several plugins match, a question instead of a
   * guess: a plugin must not capture a phrase another plugin's user meant ("add a note: ...").
   */
  #examplesRoute(line: string): Route | undefined {
    if (line.length > maxExampleMatchChars) return undefined;
    const lower = line.toLowerCase();
    const byPlugin = new Map<string, Capability>();
    let first: Route | undefined;
    let reads = 0;
    for (const pattern of this.#patterns) {
      const { capability } = pattern;
      if (byPlugin.has(capability.plugin) || !pattern.test(line, lower)) continue;
      if (++reads > maxReadsPerMessage) break;
      const params = pattern.read(line);
      const valid = params && validParams(capability, params);
      if (!valid) continue;
      if (capability.builtIn) return call(capability, valid, 'examples');
      byPlugin.set(capability.plugin, capability);
      first ??= call(capability, valid, 'examples');
    }
    return byPlugin.size > 1 ? ambiguous([...byPlugin.values()]) : first;
  }
}

/** The longest list of candidates an ambiguous reply shows. */
const maxCandidatesShown = 5;

/** Asks which capability was meant, as commands; the user's text is not repeated back. */
function ambiguous(candidates: readonly Capability[]): Route {
  const shown = candidates.slice(0, maxCandidatesShown).map(commandHint);
  const more = candidates.length > shown.length ? ` (and ${candidates.length - shown.length} more; \`help\` lists them)` : '';
  return {
    kind: 'reply',
    reason: 'ambiguous',
    text: `More than one plugin could do that, so I did not pick one. Say which you mean as a command: ${shown.join(' or ')}${more}.`,
  };
}

/** `notes add <text>`, `notes list`, or `notes.add {"text": …, "tags": …}`: names from the manifest only. */
function commandHint(capability: Capability): string {
  const field = soleTextParam(capability);
  const names = Object.keys((capability.spec.params as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});
  if (names.length === 0) return `\`${capability.plugin} ${capability.spec.name}\``;
  if (field) return `\`${capability.plugin} ${capability.spec.name} <${field}>\``;
  return `\`${capability.plugin}.${capability.spec.name} {${names.map((name) => `${JSON.stringify(name)}: …`).join(', ')}}\``;
}

/** Trims, drops a leading `/bulkhead`, and folds runs of whitespace (not inside JSON strings). */
export function normalize(text: string): string {
  let line = text.trim();
  if (/^\/bulkhead\b/i.test(line)) line = line.slice('/bulkhead'.length).trim();
  const brace = line.indexOf('{');
  const head = brace === -1 ? line : line.slice(0, brace);
  return head.replace(/\s+/g, ' ') + (brace === -1 ? '' : line.slice(brace));
}

/** The name of the only string property when a capability has exactly one (required or not). */
function soleTextParam(capability: Capability): string | undefined {
  const schema = capability.spec.params as { properties?: Record<string, { type?: unknown }> } | undefined;
  const strings = Object.entries(schema?.properties ?? {}).filter(([, property]) => property?.type === 'string');
  const required = (capability.spec.params as { required?: unknown } | undefined)?.required;
  const requiredStrings = Array.isArray(required) ? strings.filter(([name]) => required.includes(name)) : [];
  if (requiredStrings.length === 1) return requiredStrings[0]?.[0];
  return strings.length === 1 ? strings[0]?.[0] : undefined;
}

function usage(capability: Capability): string {
  const name = `${capability.plugin}.${capability.spec.name}`;
  const example = capability.spec.examples?.find((e) => Object.keys(e.params).length > 0) ?? capability.spec.examples?.[0];
  return example ? `Try: ${name} ${JSON.stringify(example.params)}` : `Try: ${name}`;
}

/** Every capability on this front, or one plugin's, with a line of description and an example. */
export function helpText(catalog: Catalog, plugin?: string): string {
  const shown = plugin ? catalog.filter((c) => c.plugin === plugin) : catalog;
  if (shown.length === 0) {
    const plugins = [...new Set(catalog.map((c) => c.plugin))].join(', ') || 'none';
    return plugin ? `There is no plugin called ${plugin} here. Plugins: ${plugins}.` : 'No plugins are available here.';
  }
  const lines = ['Here is what I can do. Write it in your own words, or as a command:'];
  for (const capability of shown) {
    const example = capability.spec.examples?.find((e) => e.text);
    lines.push(`• ${capability.plugin} ${capability.spec.name}: ${capability.spec.description}${example?.text ? ` (e.g. "${example.text}")` : ''}`);
  }
  lines.push('Commands look like `notes add buy milk` or `notes.add {"text":"buy milk"}`; `help <plugin>` shows one plugin.');
  return lines.join('\n');
}
