import { limitDefault } from '../config/limits.js';
import type { LimitsSpec } from '../manifest/manifest.js';

/** The limits one plugin runs under: its manifest's wishes, defaulted, then capped by the operator. */
export interface PluginLimits {
  /** Wall-clock time of one call, ms. The watchdog stops the worker past it. */
  readonly timeoutMs: number;
  /** Linear memory of one instance, MiB. Enforced by rewriting the module's memory maximum. */
  readonly memoryMiB: number;
  /** Bytes of params JSON a call may carry. */
  readonly maxInputBytes: number;
  /** Bytes of result JSON a call may return. */
  readonly maxOutputBytes: number;
  /** `query` host-function calls per capability call. */
  readonly maxQueriesPerCall: number;
  /** `reply` host-function calls per capability call. */
  readonly maxRepliesPerCall: number;
  /** Size quota of each (user, plugin) file, MiB (`PRAGMA max_page_count`). */
  readonly storeMiB: number;
}

/** What a plugin gets when its manifest says nothing (the registry's `plugin.*`, host/config/limits.ts). */
export const defaultLimits: PluginLimits = Object.freeze({
  timeoutMs: limitDefault('plugin.timeoutMs'),
  memoryMiB: limitDefault('plugin.memoryMiB'),
  maxInputBytes: limitDefault('plugin.maxInputBytes'),
  maxOutputBytes: limitDefault('plugin.maxOutputBytes'),
  maxQueriesPerCall: limitDefault('plugin.maxQueriesPerCall'),
  maxRepliesPerCall: limitDefault('plugin.maxRepliesPerCall'),
  storeMiB: limitDefault('plugin.storeMiB'),
});

/**
 * The operator's ceilings: one per manifest limit (`BULKHEAD_LIMIT_TIMEOUT_MS`,
 * `BULKHEAD_LIMIT_MEMORY_MIB`, `BULKHEAD_LIMIT_INPUT_BYTES`, `BULKHEAD_LIMIT_OUTPUT_BYTES`,
 * `BULKHEAD_LIMIT_QUERIES_PER_CALL`, `BULKHEAD_LIMIT_REPLIES_PER_CALL`, `BULKHEAD_LIMIT_STORE_MIB`),
 * whatever a manifest asks for.
 */
export type LimitCaps = PluginLimits;

/** The registry's `ceiling.*`. */
export const defaultCaps: LimitCaps = Object.freeze({
  timeoutMs: limitDefault('ceiling.timeoutMs'),
  memoryMiB: limitDefault('ceiling.memoryMiB'),
  maxInputBytes: limitDefault('ceiling.maxInputBytes'),
  maxOutputBytes: limitDefault('ceiling.maxOutputBytes'),
  maxQueriesPerCall: limitDefault('ceiling.maxQueriesPerCall'),
  maxRepliesPerCall: limitDefault('ceiling.maxRepliesPerCall'),
  storeMiB: limitDefault('ceiling.storeMiB'),
});

/** Largest request a plugin may hand to a host function, and the longest reply text. */
export const hostFunctionLimits = Object.freeze({ maxRequestBytes: limitDefault('hostFunction.maxRequestBytes'), maxReplyChars: limitDefault('hostFunction.maxReplyChars') });

/** A manifest's limits, defaulted, then each capped by the operator's ceiling. */
export function resolveLimits(spec: LimitsSpec | undefined, caps: LimitCaps): PluginLimits {
  const want: PluginLimits = { ...defaultLimits, ...spec };
  const out = {} as Record<keyof PluginLimits, number>;
  for (const key of Object.keys(defaultLimits) as (keyof PluginLimits)[]) out[key] = Math.min(want[key], caps[key]);
  return Object.freeze(out);
}

export const pagesPerMiB = 16;

/**
 * What an instance may make the host hold beyond its linear memory, checked in the module's bytes
 * at load (host/sandbox/wasm-module.ts).
 */
export const moduleLimits = Object.freeze({
  maxTableEntries: limitDefault('module.maxTableEntries'),
  maxGlobals: limitDefault('module.maxGlobals'),
  maxElementEntries: limitDefault('module.maxElementEntries'),
});

/** The kernel's own caps, per instance (host/sandbox/kernel.ts). */
export const kernelLimits = Object.freeze({
  maxVarBytes: limitDefault('kernel.maxVarBytes'),
  blockOverheadBytes: limitDefault('kernel.blockOverheadBytes'),
  maxDetailBytes: limitDefault('kernel.maxDetailBytes'),
});
