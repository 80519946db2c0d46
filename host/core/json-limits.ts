/**
 * Limits on the shape of JSON that comes from outside the host (a plugin folder's plugin.json, the
 * params of a call), checked before anything recursive touches the value. JSON.parse builds a value
 * hundreds of thousands of levels deep without trouble, but structuredClone, recursive freezing,
 * JSON.stringify and Ajv recurse on the native stack and throw RangeError a few thousand levels
 * down: an uncoded crash that one bad folder or one bad message could trigger.
 */

import { limitDefault } from '../config/limits.js';

/**
 * How deep and how large an untrusted JSON value may be.
 *
 * @example
 * jsonLimitExceeded(JSON.parse(text), { maxDepth: 32 }); // 'depth' for [[[...33 levels...]]]
 */
export interface JsonLimits {
  /** Objects and arrays nested inside each other: `{}` is 1 level, `{"a":[]}` is 2, `7` is 0. */
  readonly maxDepth: number;
  /** Values in the whole tree, the root and every container included. Default: no limit. */
  readonly maxValues?: number;
}

/** plugin.json: its schema nests about 8 levels; params schemas and examples get the rest. */
export const maxManifestDepth = limitDefault('json.maxManifestDepth');
/** plugin.json is at most 1 MiB (~500,000 values); real manifests hold a few thousand. */
export const maxManifestValues = limitDefault('json.maxManifestValues');
/**
 * Params of one call: deeper than any capability's schema describes, far shallower than any
 * recursion limit. Their size is bounded in bytes (limits.maxInputBytes) once they are valid.
 */
export const maxParamsDepth = limitDefault('json.maxParamsDepth');

/** A capability's result: as deep as the PDK's own JSON writer goes (64). */
export const maxResultDepth = limitDefault('json.maxResultDepth');

export const manifestJsonLimits: JsonLimits = Object.freeze({ maxDepth: maxManifestDepth, maxValues: maxManifestValues });
export const paramsJsonLimits: JsonLimits = Object.freeze({ maxDepth: maxParamsDepth });
export const resultJsonLimits: JsonLimits = Object.freeze({ maxDepth: maxResultDepth });

export type JsonLimit = 'depth' | 'values';

/**
 * The limit `value` exceeds, or undefined when it fits. Walks with its own stack, so it is safe
 * on a value of any depth (and ends on a cyclic object, which is infinitely deep).
 */
export function jsonLimitExceeded(value: unknown, limits: JsonLimits): JsonLimit | undefined {
  const maxValues = limits.maxValues ?? Infinity;
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  let values = 0;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (++values > maxValues) return 'values';
    if (typeof next.value !== 'object' || next.value === null) continue;
    const depth = next.depth + 1;
    if (depth > limits.maxDepth) return 'depth';
    for (const inner of Object.values(next.value)) pending.push({ value: inner, depth });
  }
  return undefined;
}

/** The exceeded limit in words, to follow "it is" or "params are". */
export function describeJsonLimit(limit: JsonLimit, limits: JsonLimits): string {
  return limit === 'depth' ? `nested deeper than ${limits.maxDepth} levels` : `made of more than ${limits.maxValues ?? Infinity} values`;
}
