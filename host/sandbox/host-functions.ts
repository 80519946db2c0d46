/**
 * The implementations of Bulkhead's host functions (`extism:host/user`), one per entry of the
 * table in host/sandbox/abi.ts, and the guard every call of one passes through:
 *
 * - the user comes only from the call's verified caller token, never from the request;
 * - once the call's outcome is decided (a contract breach, the memory limit, its deadline), every
 *   later host call repeats that outcome, so a guest that catches the exception gains nothing;
 * - native work (the store) is announced to the watchdog, which never terminates a worker inside
 *   it, and is bounded by the call's deadline and the answer's memory budget instead;
 * - past the deadline no host function starts, and one that ends past it ends the call.
 */
import { BulkheadError } from '../core/errors.js';
import type { PluginManifest } from '../manifest/manifest.js';
import type { Store } from '../store/store.js';
import type { AuditEntry } from '../audit/audit-log.js';
import { randomBytes } from 'node:crypto';
import type { TimerRequest } from '../scheduler/timers.js';
import { validRepeat } from '../scheduler/cron.js';
import { maxSymbolsPerRequest, symbolPattern } from '../market/market.js';
import { hostFunctionAbi, type AbiFunction } from './abi.js';
import { ContractBreach, MemoryLimitReached, type ImportFunction, type Kernel } from './kernel.js';
import { hostFunctionLimits, type PluginLimits } from './limits.js';

/** The call's time limit passed: the call ends with BH_PLUGIN_TIMEOUT. */
export class CallTimedOut extends Error {}

/** The watchdog claimed this worker for termination: no more native work may start. */
export class WorkerDoomed extends Error {}

/** What the host functions know about the call in progress; the guest never sees it. */
export interface CallState {
  readonly plugin: string;
  readonly capability: string;
  readonly token: string;
  readonly limits: PluginLimits;
  readonly kernel: Kernel;
  /** Date.now() past which nothing more is done for this call. */
  readonly deadline: number;
  readonly replies: string[];
  queries: number;
  /** The first breach, refusal or timeout that decided the call's outcome. */
  fatal: Error | undefined;
  /** The call's audit lines so far (one per store operation), written when the call ends. */
  readonly lines: AuditEntry[];
  /**
   * Set when the store answered BH_STORE_BUSY during the call. If the plugin then fails, the
   * caller hears BH_STORE_BUSY (what happened, and what to do) rather than the plugin's rewording.
   */
  storeBusy?: BulkheadError;
  /** What the call asked of the scheduler; applied by the host only if the call succeeds. */
  readonly timers: TimerRequest[];
  /** How many timers the call may add (the user's room with this plugin when it was sent). */
  readonly timerRoom: number;
  /** The plugin's capabilities a timer may name (manifest `"scheduled": true`). */
  readonly scheduled: ReadonlySet<string>;
  /** A reply said `"sensitive": true`: fronts show the call's replies to the user alone. */
  sensitive?: boolean;
}

/** What the worker provides to the host functions. */
export interface HostRuntime {
  readonly store: Store;
  /** The call in progress, or undefined (a start function calling a host function). */
  current(): CallState | undefined;
  /** Records the outcome of the call (first one wins) and tells the watchdog; returns it. */
  fail(call: CallState, error: Error): Error;
  /** Announces native work; false when the worker has been doomed. */
  enterNative(): boolean;
  leaveNative(): void;
  /**
   * Asks the main thread for prices and waits at most `waitMs`: the response JSON, or undefined
   * when no answer came in time (host/executor/bridge.ts).
   */
  askMarket(symbols: readonly string[], waitMs: number): string | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Implementation = (runtime: HostRuntime, call: CallState, ...args: any[]) => unknown;

const implementations: Readonly<Record<string, Implementation>> = {
  block_read: blockRead as Implementation,
  block_write: blockWrite as Implementation,
  query: hostQuery as Implementation,
  reply: hostReply as Implementation,
  schedule: hostSchedule as Implementation,
  market: hostMarket as Implementation,
  unschedule: hostUnschedule as Implementation,
  random: hostRandom as Implementation,
};

for (const name of hostFunctionAbi.keys()) {
  if (!Object.hasOwn(implementations, name)) throw new Error(`host function ${name} has no implementation`);
}

/** The host functions a plugin may link: the ungated ones and those its manifest grants. */
export function linkHostFunctions(manifest: PluginManifest, runtime: HostRuntime): Record<string, ImportFunction> {
  const granted = new Set<string>(manifest.permissions ?? []);
  const linked: Record<string, ImportFunction> = {};
  for (const [name, abi] of hostFunctionAbi) {
    if (abi.permission !== null && !granted.has(abi.permission)) continue;
    linked[name] = guarded(name, abi, implementations[name] as Implementation, runtime);
  }
  return linked;
}

function guarded(name: string, abi: AbiFunction, implementation: Implementation, runtime: HostRuntime): ImportFunction {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (_context: unknown, ...args: any[]): unknown => {
    const call = runtime.current();
    if (!call) throw new ContractBreach(`called ${name} outside a capability call`);
    if (call.fatal) throw call.fatal;
    if (Date.now() > call.deadline) throw runtime.fail(call, new CallTimedOut());
    if (abi.native && !runtime.enterNative()) throw new WorkerDoomed();
    let result: unknown;
    try {
      result = implementation(runtime, call, ...args);
    } catch (error) {
      if (error instanceof ContractBreach || error instanceof MemoryLimitReached) throw runtime.fail(call, error);
      throw error;
    } finally {
      if (abi.native) runtime.leaveNative();
    }
    if (Date.now() > call.deadline) throw runtime.fail(call, new CallTimedOut());
    return result;
  };
}

/**
 * `block_read(i64 handle, i32 dest) -> i32`: copies a whole kernel block into linear memory at
 * `dest` in one call (the kernel's load_u64 costs a host call per 8 bytes). 0 on success.
 */
function blockRead(_runtime: HostRuntime, call: CallState, handle: bigint, dest: number): number {
  const bytes = call.kernel.read(handle, 'block_read');
  const memory = linearMemory(call, dest, bytes.byteLength, 'block_read');
  memory.set(bytes, dest >>> 0);
  return 0;
}

/**
 * `block_write(i32 src, i32 length) -> i64 handle`: a new kernel block holding linear memory
 * [src, src + length); 0 when the plugin's memory limit refuses it.
 */
function blockWrite(_runtime: HostRuntime, call: CallState, src: number, length: number): bigint {
  const size = length >>> 0;
  const memory = linearMemory(call, src, size, 'block_write');
  if (size > call.kernel.freeBytes) return 0n;
  const start = src >>> 0;
  return call.kernel.store(memory.slice(start, start + size));
}

function linearMemory(call: CallState, offset: number, length: number, name: string): Uint8Array {
  const memory = call.kernel.memory;
  if (!memory) throw new ContractBreach(`called ${name} without exporting its memory`);
  const bytes = new Uint8Array(memory.buffer);
  if ((offset >>> 0) + length > bytes.byteLength) throw new ContractBreach(`pointed ${name} outside its linear memory`);
  return bytes;
}

/**
 * Room kept free for the answer's envelope and an error response: an answer may use what is left
 * of the memory limit minus this.
 */
const answerReserveBytes = 4096;

/** `query(i64 request) -> i64 response`: one store request as the caller named by the token. */
function hostQuery(runtime: HostRuntime, call: CallState, handle: bigint): bigint {
  return respond(call, () => {
    if (call.queries >= call.limits.maxQueriesPerCall) {
      throw new BulkheadError('BH_HOST_CALL_LIMIT', { limit: call.limits.maxQueriesPerCall, function: 'query', setting: 'maxQueriesPerCall' });
    }
    call.queries++;
    const request = readRequest(call, handle, 'query');
    return runtime.store.executeJson(call.token, call.plugin, request, {
      deadline: call.deadline,
      maxAnswerBytes: Math.max(0, call.kernel.freeBytes - answerReserveBytes),
    });
  });
}

/** `reply(i64 message) -> i64 response`: a message to the conversation the call came from. */
function hostReply(_runtime: HostRuntime, call: CallState, handle: bigint): bigint {
  return respond(call, () => {
    if (call.replies.length >= call.limits.maxRepliesPerCall) {
      throw new BulkheadError('BH_HOST_CALL_LIMIT', { limit: call.limits.maxRepliesPerCall, function: 'reply', setting: 'maxRepliesPerCall' });
    }
    const message = readRequest(call, handle, 'reply');
    const keys = isPlainObject(message) ? Object.keys(message) : [];
    const sensitive = isPlainObject(message) ? message['sensitive'] : undefined;
    const text = keys.every((k) => k === 'text' || k === 'sensitive') && (sensitive === undefined || typeof sensitive === 'boolean') ? (message as Record<string, unknown>)['text'] : undefined;
    if (typeof text !== 'string' || text.length === 0 || text.length > hostFunctionLimits.maxReplyChars) {
      throw new BulkheadError('BH_REPLY_INVALID', { maxChars: hostFunctionLimits.maxReplyChars });
    }
    if (sensitive === true) call.sensitive = true;
    call.replies.push(text);
    return okResponse;
  });
}

const okResponse = '{"ok":true}';

/** The limits of a timer request (see pdk/README.md, section 5). */
export const timerLimits = {
  maxPayloadBytes: 1024,
  /** How far ahead a timer may be set. */
  maxAheadMs: 5 * 366 * 86_400_000,
  /** A time this far in the past is refused (a little slack for a time computed just before). */
  maxBehindMs: 86_400_000,
  maxRequestsPerCall: 16,
} as const;

/** RFC 3339: a date, a time and an explicit zone (Z or an offset). */
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const timerIdPattern = /^t_[A-Za-z0-9_-]{16}$/;

/**
 * `schedule(i64 request) -> i64 response`: `{at, capability, payload?, repeat?}` sets a timer that
 * calls `capability` (one of this plugin's `"scheduled"` capabilities) for this user at `at`, and
 * answers its id. The timer exists only once the call has succeeded (like the call's store writes).
 */
function hostSchedule(_runtime: HostRuntime, call: CallState, handle: bigint): bigint {
  return respond(call, () => {
    const request = readRequest(call, handle, 'schedule');
    const invalid = (problem: string): BulkheadError => new BulkheadError('BH_SCHEDULE_INVALID', { problem });
    if (!isPlainObject(request)) throw invalid('the request must be an object {at, capability, payload?, repeat?}');
    const extra = Object.keys(request).find((key) => !['at', 'capability', 'payload', 'repeat'].includes(key));
    if (extra !== undefined) throw invalid('the request may hold only at, capability, payload and repeat');
    const { at, capability, payload, repeat } = request;
    // Without `at`, a repeating timer starts at the repeat's next occurrence (the host knows the time; the plugin does not).
    let dueAt: number | null = null;
    if (at !== undefined || typeof repeat !== 'string') {
      if (typeof at !== 'string' || !rfc3339.test(at) || Number.isNaN(Date.parse(at))) throw invalid('at must be an ISO 8601 date-time with Z or an offset (it may be left out only with a repeat)');
      dueAt = Date.parse(at);
      const now = Date.now();
      if (dueAt < now - timerLimits.maxBehindMs) throw invalid('at is more than a day in the past');
      if (dueAt > now + timerLimits.maxAheadMs) throw invalid('at is more than five years ahead');
    }
    if (typeof capability !== 'string' || !call.scheduled.has(capability)) {
      throw invalid('capability must name one of this plugin\'s capabilities marked "scheduled": true in plugin.json');
    }
    if (repeat !== undefined && repeat !== null && (typeof repeat !== 'string' || !validRepeat(repeat))) {
      throw invalid('repeat must be a 5-field cron expression (minute hour day-of-month month day-of-week)');
    }
    const payloadText = JSON.stringify(payload ?? null);
    if (Buffer.byteLength(payloadText) > timerLimits.maxPayloadBytes) throw invalid(`the payload is larger than ${timerLimits.maxPayloadBytes} bytes as JSON; keep the data in the store and put its id in the payload`);
    if (call.timers.length >= timerLimits.maxRequestsPerCall) {
      throw new BulkheadError('BH_HOST_CALL_LIMIT', { limit: timerLimits.maxRequestsPerCall, function: 'schedule', setting: 'the host (fixed)' });
    }
    const adding = call.timers.filter((t) => t.op === 'add').length;
    if (adding >= call.timerRoom) throw new BulkheadError('BH_SCHEDULE_LIMIT');
    const id = `t_${randomBytes(12).toString('base64url')}`;
    call.timers.push({ op: 'add', id, capability, dueAt, payload: payloadText, repeat: typeof repeat === 'string' ? repeat : null });
    return JSON.stringify({ ok: true, id });
  });
}

/**
 * `market(i64 request) -> i64 response`: `{symbols}` answers `{"ok":true,"prices":{...},"missing":[...]}`
 * with prices the host fetched (plugins get no network), or a coded error (no source, time-out,
 * a bad answer). The wait counts against the call's time.
 */
function hostMarket(runtime: HostRuntime, call: CallState, handle: bigint): bigint {
  return respond(call, () => {
    const request = readRequest(call, handle, 'market');
    const symbols = isPlainObject(request) && Object.keys(request).length === 1 ? request['symbols'] : undefined;
    if (!Array.isArray(symbols) || symbols.length === 0 || symbols.length > maxSymbolsPerRequest || !symbols.every((s) => typeof s === 'string' && symbolPattern.test(s))) {
      throw new BulkheadError('BH_MARKET_INVALID', { max: maxSymbolsPerRequest });
    }
    if (call.queries >= call.limits.maxQueriesPerCall) {
      throw new BulkheadError('BH_HOST_CALL_LIMIT', { limit: call.limits.maxQueriesPerCall, function: 'market', setting: 'maxQueriesPerCall' });
    }
    call.queries++;
    // What is left of the call's time, less a margin for the plugin to use the answer.
    const waitMs = Math.max(0, call.deadline - Date.now() - 20);
    const answer = runtime.askMarket(symbols as string[], waitMs);
    if (answer === undefined) throw new BulkheadError('BH_MARKET_TIMEOUT', { limit: waitMs });
    return answer;
  });
}

/** Most random bytes one request may ask for. */
export const maxRandomBytes = 1024;

/**
 * `random(i64 request) -> i64 response`: `{"bytes": n}` answers `{"ok":true,"bytes":"<base64>"}`,
 * n bytes from the operating system's CSPRNG (plugins have no source of randomness of their own:
 * no WASI, no clock). Counts as a host call like a query.
 */
function hostRandom(_runtime: HostRuntime, call: CallState, handle: bigint): bigint {
  return respond(call, () => {
    const request = readRequest(call, handle, 'random');
    const bytes = isPlainObject(request) && Object.keys(request).length === 1 ? request['bytes'] : undefined;
    if (!Number.isInteger(bytes) || (bytes as number) < 1 || (bytes as number) > maxRandomBytes) throw new BulkheadError('BH_RANDOM_INVALID', { max: maxRandomBytes });
    if (call.queries >= call.limits.maxQueriesPerCall) {
      throw new BulkheadError('BH_HOST_CALL_LIMIT', { limit: call.limits.maxQueriesPerCall, function: 'random', setting: 'maxQueriesPerCall' });
    }
    call.queries++;
    return `{"ok":true,"bytes":"${randomBytes(bytes as number).toString('base64')}"}`;
  });
}

/** `unschedule(i64 request) -> i64 response`: `{id}` removes one of this user's timers of this plugin (if it exists) once the call succeeds. */
function hostUnschedule(_runtime: HostRuntime, call: CallState, handle: bigint): bigint {
  return respond(call, () => {
    const request = readRequest(call, handle, 'unschedule');
    const id = isPlainObject(request) && Object.keys(request).length === 1 ? request['id'] : undefined;
    if (typeof id !== 'string' || !timerIdPattern.test(id)) throw new BulkheadError('BH_SCHEDULE_INVALID', { problem: 'the request must be {"id": "<a timer id from schedule>"}' });
    if (call.timers.length >= timerLimits.maxRequestsPerCall) {
      throw new BulkheadError('BH_HOST_CALL_LIMIT', { limit: timerLimits.maxRequestsPerCall, function: 'unschedule', setting: 'the host (fixed)' });
    }
    const added = call.timers.findIndex((t) => t.op === 'add' && t.id === id);
    if (added >= 0) call.timers.splice(added, 1);
    else call.timers.push({ op: 'remove', id });
    return okResponse;
  });
}

/**
 * Runs a host function body, which answers its response as JSON text; coded errors become an
 * error response the plugin can handle. A response that does not fit in what is left of the
 * memory limit ends the call: the plugin kept too many earlier answers.
 */
function respond(call: CallState, body: () => string): bigint {
  let response: string;
  try {
    response = body();
  } catch (error) {
    if (error instanceof ContractBreach || error instanceof MemoryLimitReached || error instanceof CallTimedOut) throw error;
    if (!(error instanceof BulkheadError)) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'a host function failed' });
    if (error.code === 'BH_STORE_BUSY') call.storeBusy ??= error;
    response = JSON.stringify({ ok: false, error: error.toJSON() });
  }
  const handle = call.kernel.storeText(response);
  if (handle === 0n) throw new MemoryLimitReached('it kept answers past its memory limit');
  return handle;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function readRequest(call: CallState, handle: bigint, name: string): unknown {
  const bytes = call.kernel.read(handle, name);
  if (bytes.byteLength > hostFunctionLimits.maxRequestBytes) {
    throw new BulkheadError('BH_HOST_REQUEST_TOO_LARGE', { function: name, limit: hostFunctionLimits.maxRequestBytes });
  }
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new BulkheadError('BH_HOST_REQUEST_MALFORMED', { function: name, problem: 'invalid UTF-8' });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BulkheadError('BH_HOST_REQUEST_MALFORMED', { function: name, problem: 'invalid JSON' });
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
