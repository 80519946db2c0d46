/**
 * Text + the catalog of capabilities allowed on the caller's front -> one route. Order:
 *
 * 1. `help` and explicit commands (`notes add ...`, `notes.add {...}`): deterministic, never sent
 *    to a model;
 * 2. with an LLM configured: the model's tool call, checked against the catalog and schemas;
 * 3. without one, when it proposes nothing, or when it is unreachable: phrases matching the
 *    manifests' examples (a built-in's first; when several other plugins match, a question);
 * 4. otherwise a reply that says what the user can do.
 *
 * The route holds a capability and params only. It is computed once per message, so a failing
 * model can delay a call but never cause a second one.
 */
import { limitDefault } from '../config/limits.js';
import { DeterministicRouter, helpText, normalize } from './deterministic.js';
import type { LlmRouter } from './llm.js';
import type { Catalog, Route } from './route.js';

/** Longest message routed; Slack allows 40,000 characters, no capability needs that many. */
export const maxMessageChars = limitDefault('router.maxMessageChars');

export interface RouterOptions {
  /** Absent: deterministic only. */
  readonly llm?: LlmRouter;
}

export class Router {
  readonly #llm: LlmRouter | undefined;
  readonly #deterministic = new WeakMap<Catalog, DeterministicRouter>();

  constructor(options: RouterOptions = {}) {
    this.#llm = options.llm;
  }

  get usesLlm(): boolean {
    return this.#llm !== undefined;
  }

  async route(text: string, catalog: Catalog): Promise<Route> {
    if (text.length > maxMessageChars) {
      return { kind: 'reply', reason: 'invalid', text: `That message is too long for me (over ${maxMessageChars.toLocaleString('en')} characters). Please shorten it.` };
    }
    const deterministic = this.#deterministicFor(catalog);
    const line = normalize(text);
    if (line === '') return { kind: 'reply', reason: 'help', text: helpText(catalog) };
    const direct = deterministic.match(line);
    // Examples only stand in for the model, and so does their "which did you mean?".
    const fromExamples = direct?.kind === 'call' ? direct.by === 'examples' : direct?.reason === 'ambiguous';
    if (direct && !fromExamples) return direct;
    if (this.#llm) {
      const outcome = await this.#llm.route(line, catalog);
      if (outcome.kind === 'route') return outcome.route;
      if (direct) return direct;
      if (outcome.kind === 'unavailable') {
        return {
          kind: 'reply',
          reason: 'unavailable',
          text: 'The assistant that understands free text is not reachable right now. Commands still work: `help` lists them, e.g. `notes add buy milk`.',
        };
      }
    }
    if (direct) return direct;
    return { kind: 'reply', reason: 'no-match', text: `I did not understand that. ${helpText(catalog)}` };
  }

  #deterministicFor(catalog: Catalog): DeterministicRouter {
    let router = this.#deterministic.get(catalog);
    if (!router) {
      router = new DeterministicRouter(catalog);
      this.#deterministic.set(catalog, router);
    }
    return router;
  }
}
