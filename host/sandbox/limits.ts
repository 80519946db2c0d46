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

/** What a plugin gets when its manifest says nothing. */
export const defaultLimits: PluginLimits = Object.freeze({
  timeoutMs: 2000,
  memoryMiB: 64,
  maxInputBytes: 64 * 1024,
  maxOutputBytes: 1024 * 1024,
  maxQueriesPerCall: 1000,
  maxRepliesPerCall: 20,
  storeMiB: 64,
});

/**
 * The operator's ceilings: one per manifest limit (`BULKHEAD_LIMIT_TIMEOUT_MS`,
 * `BULKHEAD_LIMIT_MEMORY_MIB`, `BULKHEAD_LIMIT_INPUT_BYTES`, `BULKHEAD_LIMIT_OUTPUT_BYTES`,
 * `BULKHEAD_LIMIT_QUERIES_PER_CALL`, `BULKHEAD_LIMIT_REPLIES_PER_CALL`, `BULKHEAD_LIMIT_STORE_MIB`),
 * whatever a manifest asks for.
 */
export type LimitCaps = PluginLimits;

export const defaultCaps: LimitCaps = Object.freeze({
  timeoutMs: 10_000,
  memoryMiB: 256,
  maxInputBytes: 1024 * 1024,
  maxOutputBytes: 4 * 1024 * 1024,
  maxQueriesPerCall: 1000,
  maxRepliesPerCall: 20,
  storeMiB: 256,
});

/** Largest request a plugin may hand to a host function, and the longest reply text. */
export const hostFunctionLimits = Object.freeze({ maxRequestBytes: 1024 * 1024, maxReplyChars: 4000 });

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
 * at load (host/sandbox/wasm-module.ts). A funcref table entry costs V8 about 50 bytes per
 * instance, so the default table cap is about 5 MiB.
 */
export const moduleLimits = Object.freeze({ maxTableEntries: 100_000, maxGlobals: 10_000, maxElementEntries: 100_000 });

/**
 * The kernel's own caps, per instance: Extism variables (kept between calls, counted against the
 * memory limit too) and the bookkeeping charged per live block, so that a million empty blocks
 * cost what their slots cost.
 */
export const kernelLimits = Object.freeze({ maxVarBytes: 1024 * 1024, blockOverheadBytes: 64, maxDetailBytes: 4000 });
