/**
 * What a failed call is reported as. The host decides from what it recorded during the call (a
 * breach, a refusal, a timeout: `CallState.fatal`) before it looks at what the engine threw, so a
 * guest that catches an exception cannot change the outcome.
 */
import { BulkheadError } from '../core/errors.js';
import { CallTimedOut, type CallState } from './host-functions.js';
import { ContractBreach, MemoryLimitReached } from './kernel.js';

const maxDetailChars = 1000;

export function classifyFailure(error: unknown, call: CallState): BulkheadError {
  const where = { plugin: call.plugin, capability: call.capability };
  const detail = pluginText(call);
  const decided = call.fatal ?? error;
  if (decided instanceof ContractBreach) return new BulkheadError('BH_PLUGIN_CONTRACT', { ...where, problem: decided.message });
  if (decided instanceof MemoryLimitReached) return new BulkheadError('BH_PLUGIN_MEMORY_LIMIT', { ...where, limitMiB: call.limits.memoryMiB });
  if (decided instanceof CallTimedOut) return new BulkheadError('BH_PLUGIN_TIMEOUT', { ...where, limitMs: call.limits.timeoutMs });
  if (error instanceof BulkheadError) return error;
  if (error instanceof WebAssembly.Exception) {
    return new BulkheadError('BH_PLUGIN_TRAPPED', { ...where, trap: 'an uncaught WebAssembly exception' }, detail);
  }
  if (error instanceof WebAssembly.RuntimeError || (error instanceof RangeError && /call stack/i.test(error.message))) {
    const trap = trapName(error);
    if (ranOutOfMemory(trap, detail, call)) return new BulkheadError('BH_PLUGIN_MEMORY_LIMIT', { ...where, limitMiB: call.limits.memoryMiB }, detail);
    return new BulkheadError('BH_PLUGIN_TRAPPED', { ...where, trap }, detail);
  }
  // A JavaScript error raised while a host function ran for the guest: the host's own failure.
  return new BulkheadError('BH_INTERNAL_ERROR', { problem: `a host function failed in ${call.plugin}.${call.capability}` });
}

/** The plugin's own failure: it called error_set and returned normally. */
export function pluginError(call: CallState): BulkheadError {
  return new BulkheadError('BH_PLUGIN_ERROR', { plugin: call.plugin, capability: call.capability }, pluginText(call) ?? '');
}

/**
 * An allocator that finds no more memory (`memory.grow` fails at the rewritten maximum) traps with
 * `unreachable` (or touches memory it could not get: out of bounds). Only those traps, with memory
 * within a sixteenth of the limit (or a message saying so), are reported as the memory limit; every
 * other trap keeps its own name (an `atomic.wait`, a division by zero...) whatever the memory size.
 */
function ranOutOfMemory(trap: string, detail: string | undefined, call: CallState): boolean {
  if (/out of memory/i.test(detail ?? '')) return true;
  if (!/unreachable|out of bounds/i.test(trap)) return false;
  const memory = call.kernel.memory;
  if (!memory) return false;
  const limitBytes = call.limits.memoryMiB * 1048576;
  return memory.buffer.byteLength >= limitBytes - Math.max(limitBytes / 16, 65536);
}

function trapName(error: Error): string {
  return error.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 80) || 'unknown';
}

function pluginText(call: CallState): string | undefined {
  const bytes = call.kernel.errorText;
  if (!bytes) return undefined;
  // eslint-disable-next-line no-control-regex
  const clean = new TextDecoder('utf-8').decode(bytes).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  return clean.length > maxDetailChars ? `${clean.slice(0, maxDetailChars - 1)}…` : clean;
}
