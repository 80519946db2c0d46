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
}

/** What a plugin gets when its manifest says nothing. */
export const defaultLimits: PluginLimits = Object.freeze({
  timeoutMs: 2000,
  memoryMiB: 64,
  maxInputBytes: 64 * 1024,
  maxOutputBytes: 1024 * 1024,
  maxQueriesPerCall: 1000,
  maxRepliesPerCall: 20,
});

/** The operator's ceilings (`BULKHEAD_LIMIT_TIMEOUT_MS`, `BULKHEAD_LIMIT_MEMORY_MIB`). */
export interface LimitCaps {
  readonly timeoutMs: number;
  readonly memoryMiB: number;
}

export const defaultCaps: LimitCaps = Object.freeze({ timeoutMs: 10_000, memoryMiB: 256 });

/** Largest request a plugin may hand to a host function, and the longest reply text. */
export const hostFunctionLimits = Object.freeze({ maxRequestBytes: 1024 * 1024, maxReplyChars: 4000 });

export function resolveLimits(spec: LimitsSpec | undefined, caps: LimitCaps): PluginLimits {
  const want = { ...defaultLimits, ...spec };
  return Object.freeze({
    ...want,
    timeoutMs: Math.min(want.timeoutMs, caps.timeoutMs),
    memoryMiB: Math.min(want.memoryMiB, caps.memoryMiB),
  });
}

export const pagesPerMiB = 16;
