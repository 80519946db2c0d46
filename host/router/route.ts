/**
 * What a router decides for one chat message. It names a capability and its params, and nothing
 * else: no user, no conversation. Identity travels beside the text, never through the router.
 */
import { jsonLimitExceeded, paramsJsonLimits } from '../core/json-limits.js';
import type { Capability } from '../plugins/catalog.js';
import { withTimePlaceholders } from './time-params.js';

/** Call this capability with these params (already valid against its schema). */
export interface RouteCall {
  readonly kind: 'call';
  readonly plugin: string;
  readonly capability: string;
  readonly params: Record<string, unknown>;
  /** Which router decided: for logs and tests. */
  readonly by: 'command' | 'examples' | 'llm';
}

/** Nothing to call: the reply explains what the user can do instead. */
export interface RouteReply {
  readonly kind: 'reply';
  readonly text: string;
  /** `ambiguous`: examples of several plugins matched; the text asks which one was meant. */
  readonly reason: 'help' | 'no-match' | 'unavailable' | 'invalid' | 'ambiguous';
}

export type Route = RouteCall | RouteReply;

/** The capabilities a router may choose from: those the dispatcher allows on the caller's front. */
export type Catalog = readonly Capability[];

/**
 * A capability's params validated against its schema, or undefined when they do not fit. Params
 * nested deeper than the dispatcher accepts do not fit either, and never reach Ajv (it recurses).
 *
 * A time param (`"format": "date-time"`) may still be words here ("tomorrow 9:00"): the router
 * knows neither the caller's time zone nor their clock, so it passes the words on and the
 * dispatcher turns them into a timestamp, or refuses them, before its own check.
 */
export function validParams(capability: Capability, params: unknown): Record<string, unknown> | undefined {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return undefined;
  if (jsonLimitExceeded(params, paramsJsonLimits)) return undefined;
  const checked = withTimePlaceholders(capability.spec.params, params as Record<string, unknown>);
  return capability.validateParams(checked) ? (params as Record<string, unknown>) : undefined;
}

export function call(capability: Capability, params: Record<string, unknown>, by: RouteCall['by']): RouteCall {
  return { kind: 'call', plugin: capability.plugin, capability: capability.spec.name, params, by };
}
