/**
 * An executor worker: runs plugin calls one at a time with Extism in main-thread mode, with the
 * host functions calling the store synchronously. The main thread's watchdog may terminate this
 * thread at any moment (an infinite loop cannot be interrupted otherwise); nothing here assumes
 * it will get to clean up.
 */
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { CallContext, Plugin } from '@extism/extism';
import { CallerTokens } from '../core/caller-token.js';
import { BulkheadError, type ErrorCode, type ErrorParams } from '../core/errors.js';
import type { PluginKey } from '../keys/key-service.js';
import { Keyring } from '../keys/keyring.js';
import type { PluginManifest } from '../manifest/manifest.js';
import { hostFunctionLimits, pagesPerMiB, type PluginLimits } from '../sandbox/limits.js';
import { hostNamespace, kernelNamespace } from '../sandbox/wasm-module.js';
import { Store } from '../store/store.js';
import { stateLayout, type CallMessage, type CallResult, type FromWorker, type ToWorker, type WorkerPlugin, type WorkerSetup } from './protocol.js';

// Loaded after the warning filter: node:wasi, which the SDK imports, warns as it loads.
await import('./quiet-wasi-warning.js');
const { createPlugin } = await import('@extism/extism');

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error('host/executor/worker.js runs only as a worker thread');

const running = new Int32Array(setup.state, 0, stateLayout.int32Slots);
const startedAt = new Float64Array(setup.state, stateLayout.startedAtByteOffset, 1);

const plugins = new Map<string, WorkerPlugin>(setup.plugins.map((p) => [p.manifest.name, p]));
const pluginKeys = new Map<string, PluginKey>(
  setup.plugins.map((p) => [p.manifest.name, { plugin: p.manifest.name, fileRoot: toBuffer(p.key.fileRoot), names: toBuffer(p.key.names) }]),
);
const tokens = new CallerTokens({ current: { kid: setup.tokenKey.kid, key: toBuffer(setup.tokenKey.key) } });
const keyring = new Keyring(path.join(setup.dataDir, 'keyring.db'), toBuffer(setup.keyringKey), setup.store.cipher);
const store = new Store({
  dataDir: setup.dataDir,
  keyring,
  tokens,
  pluginKey: (plugin) => pluginKeys.get(plugin) as PluginKey,
  manifest: (plugin) => plugins.get(plugin)?.manifest,
  ...setup.store,
});

/** What the host functions know about the call in progress; the guest never sees it. */
interface CallState {
  readonly plugin: string;
  readonly capability: string;
  readonly token: string;
  readonly limits: PluginLimits;
  readonly replies: string[];
  queries: number;
  /** The instance's linear memory, for block_read and block_write. */
  readonly memory: WebAssembly.Memory | undefined;
  /** Bytes in blocks the guest allocated and has not freed during this call. */
  liveBytes: bigint;
  readonly blocks: Map<bigint, bigint>;
  /** The text the plugin last passed to error_set during this call. */
  errorText?: string;
}

/** A plugin broke the contract of a host function; the call is stopped. */
class ContractBreach extends Error {}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A live instance and its linear memory (for the bulk-copy host functions). */
interface Instance {
  readonly plugin: Plugin;
  readonly memory: WebAssembly.Memory | undefined;
}

/** Instances by (plugin, user), least recently used first. An instance never serves two users. */
const instances = new Map<string, Instance>();

const queue: CallMessage[] = [];
let pumping = false;
let closing = false;

port.on('message', (message: ToWorker) => {
  if (message.type === 'close') {
    closing = true;
    if (!pumping) shutDown();
    return;
  }
  for (const call of message.calls) queue.push(call);
  if (!pumping) void pump();
});

/** Results waiting to be posted: sent together when the queue runs dry or the batch is full. */
const maxBatch = 64;
let outbox: CallResult[] = [];

async function pump(): Promise<void> {
  pumping = true;
  for (let call = queue.shift(); call; call = queue.shift()) {
    startedAt[0] = Date.now();
    Atomics.store(running, 1, call.seq);
    Atomics.store(running, 0, call.seq);
    try {
      const { replies, output } = await run(call);
      outbox.push({ type: 'done', seq: call.seq, replies, output });
    } catch (error) {
      outbox.push({ type: 'failed', seq: call.seq, error: toBulkheadError(error, call).toJSON() });
    }
    Atomics.store(running, 0, 0);
    if (queue.length === 0 || outbox.length >= maxBatch) flush();
  }
  pumping = false;
  if (closing) shutDown();
}

function flush(): void {
  if (outbox.length === 0) return;
  port?.postMessage({ type: 'results', results: outbox } satisfies FromWorker);
  outbox = [];
}

function shutDown(): void {
  store.close();
  keyring.close();
  port?.postMessage({ type: 'closed' } satisfies FromWorker);
  port?.close();
}

async function run(call: CallMessage): Promise<{ replies: string[]; output: string | null }> {
  const plugin = plugins.get(call.plugin);
  if (!plugin) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'the worker does not know the plugin' });
  const key = `${call.plugin}\u0000${call.userId}`;
  let instance = instances.get(key);
  if (instance) {
    instances.delete(key);
  } else {
    instance = await instantiate(plugin);
    while (instances.size >= setup.maxInstances) {
      const oldest = instances.keys().next().value as string;
      instances.delete(oldest);
    }
  }
  const state: CallState = {
    memory: instance.memory,
    plugin: call.plugin,
    capability: call.capability,
    token: call.token,
    limits: plugin.limits,
    replies: [],
    queries: 0,
    liveBytes: 0n,
    blocks: new Map(),
  };
  let output;
  try {
    output = await instance.plugin.call(call.exportName, call.input, state);
  } catch (error) {
    // After a trap or a breach the instance's memory may be half-updated: never reuse it.
    throw classifyFailure(error, instance, state);
  }
  instances.set(key, instance);
  const text = output ? outputText(output.bytes(), state) : null;
  // The SDK keeps this call's blocks (input, output, host-function messages) until the instance's
  // next call, which for an idle user may be minutes away: long enough to survive the young
  // generation and fill the old one, so that major GC pauses grow. Released now instead.
  await instance.plugin.reset();
  return { replies: state.replies, output: text };
}

async function instantiate(plugin: WorkerPlugin): Promise<Instance> {
  const name = plugin.manifest.name;
  const limitPages = plugin.limits.memoryMiB * pagesPerMiB;
  try {
    const instance = await createPlugin(
      { wasm: [{ module: plugin.module }] },
      {
        useWasi: false,
        runInWorker: false,
        allowedHosts: [],
        allowedPaths: {},
        config: {},
        // Plugin log lines may carry user data and are never written anywhere.
        logLevel: 'silent',
        logger: silentLogger,
        // Caps Extism's own blocks (input, output, host-function messages) to the plugin's memory
        // limit; the module's linear memory is capped by its rewritten memory maximum.
        memory: { maxPages: limitPages, maxVarBytes: 1024 * 1024, maxHttpResponseBytes: 0 },
        functions: { [kernelNamespace]: kernelGuards(plugin.limits), [hostNamespace]: hostFunctionsFor(plugin.manifest) },
      },
    );
    const memory = (await instance.getInstance()).exports['memory'];
    return { plugin: instance, memory: memory instanceof WebAssembly.Memory ? memory : undefined };
  } catch (error) {
    const problem =
      error instanceof WebAssembly.RuntimeError
        ? `its start function trapped: ${trapName(error as Error)}`
        : error instanceof WebAssembly.LinkError
          ? 'a host function has the wrong signature'
          : error instanceof ContractBreach
            ? `its start function ${error.message}`
            : 'instantiation failed';
    throw new BulkheadError('BH_PLUGIN_START_FAILED', { plugin: name, problem });
  }
}

/** Only the granted host functions are linked; the import check has refused the rest already. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type HostFunction = (context: CallContext, ...args: any[]) => bigint | number;

function hostFunctionsFor(manifest: PluginManifest): Record<string, HostFunction> {
  const granted = new Set(manifest.permissions ?? []);
  const functions: Record<string, HostFunction> = { block_read: blockRead, block_write: blockWrite };
  if (granted.has('query')) functions['query'] = hostQuery;
  if (granted.has('reply')) functions['reply'] = hostReply;
  return functions;
}

/**
 * The kernel's `alloc` creates the buffer before it checks its page limit (and keeps a refused one
 * until the call ends), so sizes are checked here first: live guest blocks stay within the
 * plugin's memory limit. Extism links these over its own kernel functions.
 */
function kernelGuards(limits: PluginLimits): Record<string, HostFunction> {
  const limitBytes = BigInt(limits.memoryMiB * 1048576);
  return {
    // Kept for the caller: a trap right after error_set (AssemblyScript's abort does exactly
    // that) would otherwise lose the plugin's own explanation.
    error_set(context: CallContext, handle: bigint): number {
      const text = plainText(ownBlock(context, handle, 'error_set').bytes());
      const state = context.hostContext<CallState | null>();
      if (state) state.errorText = text;
      context.setError(text);
      return 0;
    },
    alloc(context: CallContext, size: bigint): bigint {
      if (typeof size !== 'bigint' || size < 0n || size > limitBytes) return 0n;
      const state = context.hostContext<CallState | null>();
      if (state) {
        if (state.liveBytes + size > limitBytes) forgetFreedBlocks(context, state);
        if (state.liveBytes + size > limitBytes) return 0n;
      }
      const handle = context.alloc(size);
      if (state && handle !== 0n) {
        state.liveBytes += size;
        state.blocks.set(handle, size);
      }
      return handle;
    },
  };
}

/** The kernel reports length 0 for a freed block: count only the blocks still alive. */
function forgetFreedBlocks(context: CallContext, state: CallState): void {
  for (const [handle, size] of state.blocks) {
    if (context.length(handle) === 0n && size !== 0n) {
      state.blocks.delete(handle);
      state.liveBytes -= size;
    }
  }
}

/**
 * `block_read(i64 handle, i32 dest) -> i32`: copies a whole kernel block into linear memory at
 * `dest` in one call (the kernel's load_u64 costs a host call per 8 bytes). 0 on success.
 */
function blockRead(context: CallContext, handle: bigint, dest: number): number {
  const state = currentCall(context, 'block_read');
  const bytes = ownBlock(context, handle, 'block_read').bytes();
  const memory = linearMemory(state, dest, bytes.byteLength, 'block_read');
  memory.set(bytes, dest >>> 0);
  return 0;
}

/**
 * `block_write(i32 src, i32 length) -> i64 handle`: a new kernel block holding linear memory
 * [src, src + length); 0 when the plugin's memory limit refuses the allocation.
 */
function blockWrite(context: CallContext, src: number, length: number): bigint {
  const state = currentCall(context, 'block_write');
  const memory = linearMemory(state, src, length >>> 0, 'block_write');
  const size = BigInt(length >>> 0);
  const limitBytes = BigInt(state.limits.memoryMiB * 1048576);
  if (state.liveBytes + size > limitBytes) forgetFreedBlocks(context, state);
  if (state.liveBytes + size > limitBytes) return 0n;
  const start = src >>> 0;
  const handle = context.store(memory.slice(start, start + (length >>> 0)));
  state.liveBytes += size;
  state.blocks.set(handle, size);
  return handle;
}

function linearMemory(state: CallState, offset: number, length: number, name: string): Uint8Array {
  if (!state.memory) throw new ContractBreach(`called ${name} without exporting its memory`);
  const memory = new Uint8Array(state.memory.buffer);
  const start = offset >>> 0;
  if (start + length > memory.byteLength) throw new ContractBreach(`pointed ${name} outside its linear memory`);
  return memory;
}

/** `query(i64 request) -> i64 response`: one store request as the caller named by the token. */
function hostQuery(context: CallContext, handle: bigint): bigint {
  const state = currentCall(context, 'query');
  return respond(context, () => {
    if (state.queries >= state.limits.maxQueriesPerCall) {
      throw new BulkheadError('BH_HOST_CALL_LIMIT', { limit: state.limits.maxQueriesPerCall, function: 'query', setting: 'maxQueriesPerCall' });
    }
    state.queries++;
    const request = readRequest(context, handle, 'query');
    return store.executeJson(state.token, state.plugin, request);
  });
}

/** `reply(i64 message) -> i64 response`: a message to the conversation the call came from. */
function hostReply(context: CallContext, handle: bigint): bigint {
  const state = currentCall(context, 'reply');
  return respond(context, () => {
    if (state.replies.length >= state.limits.maxRepliesPerCall) {
      throw new BulkheadError('BH_HOST_CALL_LIMIT', { limit: state.limits.maxRepliesPerCall, function: 'reply', setting: 'maxRepliesPerCall' });
    }
    const message = readRequest(context, handle, 'reply');
    const text = isPlainObject(message) && Object.keys(message).length === 1 ? message['text'] : undefined;
    if (typeof text !== 'string' || text.length === 0 || text.length > hostFunctionLimits.maxReplyChars) {
      throw new BulkheadError('BH_REPLY_INVALID', { maxChars: hostFunctionLimits.maxReplyChars });
    }
    state.replies.push(text);
    return okResponse;
  });
}

function currentCall(context: CallContext, name: string): CallState {
  const state = context.hostContext<CallState | null>();
  if (!state) throw new ContractBreach(`called ${name} outside a capability call`);
  return state;
}

const okResponse = '{"ok":true}';

/**
 * Runs a host function body, which answers its response as JSON text; coded errors become an
 * error response the plugin can handle.
 */
function respond(context: CallContext, body: () => string): bigint {
  let response: string;
  try {
    response = body();
  } catch (error) {
    if (error instanceof ContractBreach) throw error;
    if (!(error instanceof BulkheadError)) {
      throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'a host function failed' });
    }
    response = JSON.stringify({ ok: false, error: error.toJSON() });
  }
  return context.store(response);
}

/**
 * Extism handles are a block index shifted left by 48 bits; block 0 is the kernel's reserved null
 * block. Anything else (a forged number, an offset into a block) would be silently read as block
 * 0 by the kernel, so it is refused here.
 */
function ownBlock(context: CallContext, handle: bigint, name: string): NonNullable<ReturnType<CallContext['read']>> {
  const block = typeof handle === 'bigint' && handle > 0n && (handle & handleOffsetMask) === 0n ? context.read(handle) : null;
  if (block === null) throw new ContractBreach(`passed ${name} a handle it does not own`);
  return block;
}

const handleOffsetMask = (1n << 48n) - 1n;

function readRequest(context: CallContext, handle: bigint, name: string): unknown {
  const bytes = ownBlock(context, handle, name).bytes();
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

/** Plugin text for an error: invalid UTF-8 is replaced, not refused (it is only ever shown). */
function plainText(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes.subarray(0, 4 * maxDetailChars));
}

/** The output as text for the main thread, which parses it (see `parseOutput`). */
function outputText(bytes: Uint8Array, state: CallState): string | null {
  if (bytes.byteLength === 0) return null;
  if (bytes.byteLength > state.limits.maxOutputBytes) {
    throw new BulkheadError('BH_PLUGIN_OUTPUT_TOO_LARGE', { plugin: state.plugin, capability: state.capability, limit: state.limits.maxOutputBytes });
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new BulkheadError('BH_PLUGIN_OUTPUT_MALFORMED', { plugin: state.plugin, capability: state.capability });
  }
}

const pluginErrorPrefix = 'Plugin-originated error: ';
const maxDetailChars = 1000;

function classifyFailure(error: unknown, instance: Instance, state: CallState): BulkheadError {
  const where = { plugin: state.plugin, capability: state.capability };
  if (error instanceof BulkheadError) return error;
  if (error instanceof ContractBreach) return new BulkheadError('BH_PLUGIN_CONTRACT', { ...where, problem: error.message });
  if (error instanceof WebAssembly.RuntimeError || (error instanceof RangeError && /call stack/i.test(error.message))) {
    const said = state.errorText === undefined ? undefined : cleanDetail(state.errorText);
    if (nearMemoryLimit(instance, state.limits) || /out of memory/i.test(said ?? '')) {
      return new BulkheadError('BH_PLUGIN_MEMORY_LIMIT', { ...where, limitMiB: state.limits.memoryMiB }, said);
    }
    return new BulkheadError('BH_PLUGIN_TRAPPED', { ...where, trap: trapName(error as Error) }, said);
  }
  if (error instanceof Error && error.message.startsWith(pluginErrorPrefix)) {
    return new BulkheadError('BH_PLUGIN_ERROR', where, cleanDetail(error.message.slice(pluginErrorPrefix.length)));
  }
  // Everything else was thrown by the Extism kernel refusing what the guest asked of it: a block
  // it does not own, an allocation past its memory limit, output from a freed block.
  if (error instanceof Error && /memory limit|allocate|out of memory/i.test(error.message)) {
    return new BulkheadError('BH_PLUGIN_MEMORY_LIMIT', { ...where, limitMiB: state.limits.memoryMiB });
  }
  return new BulkheadError('BH_PLUGIN_CONTRACT', { ...where, problem: 'the Extism kernel refused an operation on its memory blocks' });
}

/**
 * Whether a trapped instance had (nearly) reached its memory limit. `memory.grow` past the limit
 * fails without a trap; what traps afterwards is the plugin's reaction to that, so a trap with
 * memory within a sixteenth of the limit is reported as running out of memory.
 */
function nearMemoryLimit(instance: Instance, limits: PluginLimits): boolean {
  if (!instance.memory) return false;
  const limitBytes = limits.memoryMiB * 1048576;
  return instance.memory.buffer.byteLength >= limitBytes - Math.max(limitBytes / 16, 1048576);
}

function trapName(error: Error): string {
  return error.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 80) || 'unknown';
}

function cleanDetail(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  return clean.length > maxDetailChars ? `${clean.slice(0, maxDetailChars - 1)}…` : clean;
}

function toBulkheadError(error: unknown, call: CallMessage): BulkheadError {
  if (error instanceof BulkheadError) return error;
  const params: ErrorParams = { problem: `unexpected failure in ${call.plugin}.${call.capability}` };
  const code: ErrorCode = 'BH_INTERNAL_ERROR';
  console.error('bulkhead worker: unexpected error', error instanceof Error ? error.name : typeof error);
  return new BulkheadError(code, params);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const silentLogger = Object.freeze({
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
}) as unknown as Console;

