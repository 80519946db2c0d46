/**
 * An executor worker: a pump that runs plugin calls one at a time with Extism in main-thread mode,
 * with Bulkhead's kernel and host functions (host/sandbox) linked in. It tells the watchdog, in
 * shared memory, which call runs and whether it is in guest or native code (worker-state.ts): the
 * watchdog may terminate this thread whenever it runs guest code, so nothing here assumes it will
 * get to clean up.
 */
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { CallerTokens } from '../identity/caller-token.js';
import { BulkheadError } from '../core/errors.js';
import { auditKeyringName, type PluginKey } from '../keys/key-service.js';
import { AuditLog, type AuditEntry } from '../audit/audit-log.js';
import type { CallerClaims } from '../identity/caller-token.js';
import type { ActivityFilter, AccountAction } from '../account/types.js';
import { removeDatabaseFiles } from '../sqlite/encrypted-database.js';
import { Keyring } from '../keys/keyring.js';
import { hostNamespace, kernelNamespace } from '../sandbox/abi.js';
import { classifyFailure, pluginError } from '../sandbox/failures.js';
import type { TimerRequest } from '../scheduler/timers.js';
import { awaitBridge } from './bridge.js';
import { CallTimedOut, linkHostFunctions, type CallState, type HostRuntime } from '../sandbox/host-functions.js';
import { ContractBreach, Kernel, MemoryLimitReached } from '../sandbox/kernel.js';
import { Store } from '../store/store.js';
import { InstanceCache, type Instance } from './instances.js';
import type { CallMessage, CallResult, FromWorker, ToWorker, WorkerPlugin, WorkerSetup } from './protocol.js';
import { Abandoned, Mode, stateLayout, WorkerState } from './worker-state.js';
import type { VaultAnswer, VaultRequest } from './protocol.js';
import { deriveVaultKey, openPendingKey, sealPendingKey, VaultKeys, verifierMatches, verifierOf } from '../vault/vault-keys.js';

// Loaded after the warning filter: node:wasi, which the SDK imports, warns as it loads.
await import('./quiet-wasi-warning.js');
const { createPlugin } = await import('@extism/extism');

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error('host/executor/worker.js runs only as a worker thread');

const state = new WorkerState(setup.state);
const plugins = new Map<string, WorkerPlugin>(setup.plugins.map((p) => [p.manifest.name, p]));
const pluginKeys = new Map<string, PluginKey>(
  setup.plugins.map((p) => [p.manifest.name, { plugin: p.manifest.name, fileRoot: toBuffer(p.key.fileRoot), names: toBuffer(p.key.names) }]),
);
const tokens = new CallerTokens({ current: { kid: setup.tokenKey.kid, key: toBuffer(setup.tokenKey.key) } });
const keyring = new Keyring(path.join(setup.dataDir, 'keyring.db'), toBuffer(setup.keyringKey), setup.store.cipher);
const auditLog = new AuditLog({
  dataDir: setup.dataDir,
  keyring,
  key: { plugin: auditKeyringName, fileRoot: toBuffer(setup.audit.key.fileRoot), names: toBuffer(setup.audit.key.names) },
  cipher: setup.store.cipher,
  retentionDays: setup.audit.retentionDays,
  maxOpenFiles: setup.store.maxOpenFiles,
  ...(setup.audit.tap ? { tap: setup.audit.tap } : {}),
});
// The vault keys of this worker's users: only here, wiped on lock, idleness, or when the worker ends.
const vaultKeys = new VaultKeys(setup.vaultIdleMs);
setInterval(() => vaultKeys.sweep(), Math.max(1000, Math.min(setup.vaultIdleMs / 4, 30_000))).unref();
const store = new Store({
  dataDir: setup.dataDir,
  vault: (user) => vaultKeys.keys(user),
  keyring,
  tokens,
  pluginKey: (plugin) => pluginKeys.get(plugin) as PluginKey,
  manifest: (plugin) => plugins.get(plugin)?.manifest,
  pluginQuotaMiB: (plugin) => plugins.get(plugin)?.limits.storeMiB ?? 1,
  // Every store operation of a call leaves its line in the user's log: kept with the call, and
  // written with the call's own line when it ends, before the call's writes commit.
  audit: !setup.audit.enabled
    ? undefined
    : ({ claims, op, collection, rows, code }) => {
        const entry: AuditEntry = {
          at: Date.now(),
          front: claims.front,
          kind: 'store',
          plugin: claims.plg,
          ...(current ? { capability: current.capability } : {}),
          ...(op ? { op } : {}),
          ...(collection ? { collection } : {}),
          ...(code === undefined ? { rows, outcome: 'ok' } : { outcome: 'error', code }),
        };
        if (current) current.lines.push(entry);
        else auditLog.append(claims.sub, [entry]);
      },
  ...setup.store,
});
// Between calls, files nobody used for a while are closed, so another process (`bulkhead invoke`
// for a console user who also uses the dashboard) can open them. The timer never keeps the worker alive.
const idleCloseMs = setup.store.idleCloseSeconds * 1000;
setInterval(() => {
  store.closeIdle(idleCloseMs);
  auditLog.closeIdle(idleCloseMs);
}, Math.min(idleCloseMs, 10_000)).unref();
const instances = new InstanceCache(setup.maxInstances, setup.instanceCacheBytes);

/** Questions asked of the main thread so far (host/executor/bridge.ts). */
let questions = 0;

/** The call in progress: what the host functions act for. */
let current: CallState | undefined;

const runtime: HostRuntime = {
  store,
  current: () => current,
  fail(call, error) {
    if (!call.fatal) {
      call.fatal = error;
      Atomics.store(state.slots, stateLayout.abandoned, reasonOf(error));
    }
    return call.fatal;
  },
  enterNative: () => state.move(Mode.guest, Mode.native),
  leaveNative: () => void state.move(Mode.native, Mode.guest),
  askMarket(symbols, waitMs) {
    const id = ++questions;
    port.postMessage({ type: 'ask', id, question: { kind: 'market', symbols } } satisfies FromWorker);
    return awaitBridge(setup.bridge, id, waitMs);
  },
};

function reasonOf(error: Error): number {
  if (error instanceof ContractBreach) return Abandoned.contract;
  if (error instanceof MemoryLimitReached) return Abandoned.memory;
  if (error instanceof CallTimedOut) return Abandoned.timeout;
  return Abandoned.no;
}

// Set-up (opening the keyring) was native code; from here on the watchdog may stop this worker.
state.move(Mode.native, Mode.idle);

const queue: CallMessage[] = [];
let pumping = false;
let closing = false;

port.on('message', (message: ToWorker) => {
  if (message.type === 'close') {
    closing = true;
    if (!pumping) shutDown();
    return;
  }
  if (message.type === 'vault') {
    void serveVault(message.id, message.request);
    return;
  }
  for (const call of message.calls) queue.push(call);
  if (!pumping) void pump();
});

/**
 * A vault operation, beside the calls: a key derivation (Argon2id on the libuv pool) leaves this
 * thread free to run calls meanwhile. A derived key that does not match is wiped at once.
 */
async function serveVault(id: number, request: VaultRequest): Promise<void> {
  let answer: VaultAnswer;
  try {
    answer = await vaultOperation(request);
  } catch (error) {
    port?.postMessage({ type: 'vault', id, error: (error instanceof BulkheadError ? error : new BulkheadError('BH_INTERNAL_ERROR', { problem: 'a vault operation failed' })).toJSON() } satisfies FromWorker);
    return;
  }
  port?.postMessage({ type: 'vault', id, answer } satisfies FromWorker);
}

async function vaultOperation(request: VaultRequest): Promise<VaultAnswer> {
  const user = request.user;
  switch (request.op) {
    case 'setup': {
      const key = await deriveVaultKey(request.password, request.salt, request.pepper);
      const verifier = verifierOf(key);
      vaultKeys.install(user, key);
      return { kind: 'made', verifier };
    }
    case 'unlock': {
      const key = await deriveVaultKey(request.password, request.salt, request.pepper);
      if (!verifierMatches(key, request.verifier)) {
        key.fill(0);
        return { kind: 'wrong-password' };
      }
      const old = request.pending === null ? undefined : openPendingKey(key, request.pending, user);
      vaultKeys.install(user, key, old);
      return { kind: 'unlocked', pending: old !== undefined };
    }
    case 'stage-change': {
      const old = await deriveVaultKey(request.password, request.salt, request.pepper);
      if (!verifierMatches(old, request.verifier)) {
        old.fill(0);
        return { kind: 'wrong-password' };
      }
      const key = await deriveVaultKey(request.newPassword, request.newSalt, request.pepper);
      const made: VaultAnswer = { kind: 'made', verifier: verifierOf(key), pending: sealPendingKey(key, old, user) };
      vaultKeys.stage(user, key, old);
      return made;
    }
    case 'commit-change':
      if (!vaultKeys.commitStaged(user)) throw new BulkheadError('BH_VAULT_LOCKED');
      return { kind: 'done' };
    case 'abort-change':
      vaultKeys.abortStaged(user);
      return { kind: 'done' };
    case 'drop-old':
      vaultKeys.dropOld(user);
      return { kind: 'done' };
    case 'lock':
      vaultKeys.lock(user);
      return { kind: 'done' };
    case 'status':
      // Looking is not using: a page that shows the status does not keep the vault open.
      return { kind: 'status', open: vaultKeys.isOpen(user), old: vaultKeys.hasOld(user) };
  }
}

/**
 * Results waiting to be posted. They are posted before the next call starts: that call may run
 * away and be terminated with this thread, and a result lost with it would make a call that ran
 * look lost (and a retry run it twice).
 */
let outbox: CallResult[] = [];

async function pump(): Promise<void> {
  pumping = true;
  for (let call = queue.shift(); call; call = queue.shift()) {
    flush();
    // A doomed worker starts nothing: the watchdog is terminating it.
    if (!state.move(Mode.idle, Mode.guest)) return;
    state.startedAt[0] = Date.now();
    Atomics.store(state.slots, stateLayout.lastStarted, call.seq);
    Atomics.store(state.slots, stateLayout.running, call.seq);
    try {
      // The user is the one the token names, verified here before anything runs or is recorded.
      const claims = tokens.verify(call.token, call.plugin);
      // Activity keeps the user's vault open; a timer firing is not the user's activity.
      if (claims.front !== 'scheduler' && !call.system) vaultKeys.touch(claims.sub);
      store.takeVaultUse();
      const { replies, output, timers, sensitive } = call.system ? native(() => runSystem(call, claims)) : await runAudited(call, claims);
      const use = store.takeVaultUse();
      const vault = use || sensitive ? { opened: use?.opened === true || sensitive === true, locked: use?.locked === true } : undefined;
      outbox.push({ type: 'done', seq: call.seq, replies, output, ...(timers && timers.length > 0 ? { timers } : {}), ...(vault ? { vault } : {}) });
    } catch (error) {
      const failure = toBulkheadError(error, call).toJSON();
      // A plugin's own text about a failure that read sealed values may quote them: it is not passed on.
      const withheld = store.takeVaultUse()?.opened === true && failure.detail !== undefined;
      outbox.push({ type: 'failed', seq: call.seq, error: withheld ? { ...failure, detail: withheldDetail } : failure });
    }
    current = undefined;
    Atomics.store(state.slots, stateLayout.running, 0);
    Atomics.store(state.slots, stateLayout.abandoned, Abandoned.no);
    if (!state.move(Mode.guest, Mode.idle)) return;
  }
  flush();
  pumping = false;
  if (closing) shutDown();
}

function flush(): void {
  if (outbox.length === 0) return;
  port?.postMessage({ type: 'results', results: outbox } satisfies FromWorker);
  outbox = [];
}

function shutDown(): void {
  vaultKeys.lockAll();
  if (state.move(Mode.idle, Mode.native)) {
    store.close();
    auditLog.close();
    keyring.close();
    state.move(Mode.native, Mode.idle);
  }
  port?.postMessage({ type: 'closed' } satisfies FromWorker);
  port?.close();
}

const utf8 = new TextEncoder();

/** What replaces a plugin's failure text when the failed call had opened sealed values. */
const withheldDetail = '(its explanation is withheld: the call had read sealed values, which it might quote)';

interface Answer {
  readonly replies: string[];
  readonly output: string | null;
  readonly timers?: readonly TimerRequest[];
  /** A reply asked to be shown to the user alone. */
  readonly sensitive?: boolean;
}

/**
 * Runs a plugin call and records it in the user's log: the call's store operations and its own
 * line with the outcome, in one write when it ends. Its store writes commit only after that (one
 * transaction per call, Store.beginCall/endCall): a call whose lines cannot be written fails with
 * BH_AUDIT_WRITE_FAILED and changes nothing, and a call whose worker is terminated leaves neither
 * writes nor lines (the executor has its end recorded by the next worker).
 */
async function runAudited(call: CallMessage, claims: CallerClaims): Promise<Answer> {
  const lines: AuditEntry[] = [];
  const audited = setup.audit.enabled;
  if (audited) store.beginCall();
  let answer: Answer | undefined;
  let failure: unknown;
  try {
    answer = await run(call, claims, lines);
  } catch (error) {
    failure = error;
  }
  native(() => {
    if (audited) {
      const code = failure === undefined ? undefined : failure instanceof BulkheadError ? failure.code : 'BH_INTERNAL_ERROR';
      lines.push(callLine(call, claims, code === undefined ? 'ok' : 'error', code));
      try {
        auditLog.append(claims.sub, lines, (state.startedAt[0] as number) + call.timeoutMs);
      } catch (error) {
        store.endCall(false);
        throw error;
      }
    }
    store.endCall(true);
  });
  if (failure !== undefined) throw failure;
  return answer as Answer;
}

function callLine(call: CallMessage, claims: CallerClaims, outcome: AuditEntry['outcome'], code?: string): AuditEntry {
  return { at: Date.now(), front: claims.front, kind: 'call', plugin: call.plugin, capability: call.capability, outcome, ...(code ? { code } : {}) };
}

function recordCall(call: CallMessage, claims: CallerClaims, outcome: AuditEntry['outcome'], code?: string): void {
  if (!setup.audit.enabled) return;
  auditLog.append(claims.sub, [callLine(call, claims, outcome, code)], (state.startedAt[0] as number) + call.timeoutMs);
}

/**
 * Runs host work that goes into SQLite with the watchdog told (a worker is never terminated in
 * native code). A worker the watchdog has already claimed does nothing more.
 */
function native<T>(work: () => T): T {
  if (!runtime.enterNative()) throw new BulkheadError('BH_EXECUTOR_WORKER_LOST');
  try {
    return work();
  } finally {
    runtime.leaveNative();
  }
}

const none: Answer = Object.freeze({ replies: [], output: null }) as Answer;

function answer(value: unknown): Answer {
  return { replies: [], output: JSON.stringify(value) };
}

const fileIdPattern = /^[0-9a-f]{64}$/;
const keyringNamePattern = /^(?:~audit|[a-z][a-z0-9-]{0,62})$/;

/** The host's own operations on the user's data (protocol.ts, SystemOp). */
function runSystem(call: CallMessage, claims: CallerClaims): Answer {
  const input = JSON.parse(call.input) as Record<string, unknown>;
  const user = claims.sub;
  switch (call.system) {
    case 'refused':
    case 'ended':
      recordCall(call, claims, call.system === 'refused' ? 'refused' : 'error', String(input['code']));
      return none;
    case 'activity':
      return answer(auditLog.page(user, input as ActivityFilter));
    case 'audit-since':
      return answer(auditLog.since(user, input['after'] as number, input['limit'] as number));
    case 'records':
      return answer(store.exportPage(call.token, call.plugin, input['collection'] as string, input['after'] as string, input['limit'] as number));
    case 'created-at':
      return answer({ createdAt: auditLog.createdAt(user) ?? null });
    case 'account-line':
      auditLog.append(user, [
        {
          at: Date.now(),
          front: claims.front,
          kind: 'account',
          op: input['op'] as AccountAction,
          ...(input['outcome'] === 'refused' ? { outcome: 'refused', code: String(input['code']) } : { outcome: 'ok' }),
        },
      ]);
      return none;
    case 'keyring-names':
      return answer(keyring.names());
    case 'reseal':
      return answer(store.reseal(call.token, call.plugin, input['collection'] as string, input['after'] as string, input['limit'] as number));
    case 'purge': {
      // Nothing of the user stays open or warm here: no handle writes to a file being removed,
      // and no instance keeps their data in its memory.
      store.closeUser(user);
      auditLog.closeUser(user);
      instances.dropUser(user);
      vaultKeys.lock(user);
      const files = input['files'] as { keyring: string; fileId: string }[];
      for (const { keyring: name, fileId } of files) {
        if (!keyringNamePattern.test(name) || !fileIdPattern.test(fileId)) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'a purge named a file badly' });
        // The salt first: from then on no copy of the file can be decrypted; then the file itself.
        keyring.busyTimeoutMs = 2000;
        keyring.shred(name, fileId);
        removeDatabaseFiles(name === auditKeyringName ? path.join(setup.dataDir, 'audit', `${fileId}.db`) : path.join(setup.dataDir, 'plugins', name, `${fileId}.db`));
      }
      return answer({ files: files.length });
    }
    default:
      throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'an unknown system operation' });
  }
}

async function run(call: CallMessage, claims: CallerClaims, lines: AuditEntry[]): Promise<Answer> {
  const plugin = plugins.get(call.plugin);
  if (!plugin) throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'the worker does not know the plugin' });
  // The instance belongs to the user the token names.
  const key = `${call.plugin}\u0000${claims.sub}`;
  const instance = instances.take(key) ?? (await instantiate(plugin));
  const deadline = (state.startedAt[0] as number) + call.timeoutMs;
  const callState: CallState = {
    plugin: call.plugin,
    capability: call.capability,
    token: call.token,
    limits: plugin.limits,
    kernel: instance.kernel,
    deadline,
    replies: [],
    queries: 0,
    fatal: undefined,
    lines,
    timers: [],
    timerRoom: call.timerRoom ?? 0,
    scheduled: scheduledOf(plugin),
  };
  current = callState;
  try {
    instance.kernel.begin(utf8.encode(call.input));
    await instance.plugin.call(call.exportName);
  } catch (error) {
    // After a trap or a breach the instance's memory may be half-updated: never reuse it.
    throw classifyFailure(error, callState);
  } finally {
    current = undefined;
  }
  // The guest returned normally, but the host had decided otherwise (it caught a breach).
  if (callState.fatal) throw classifyFailure(callState.fatal, callState);
  const kernel = instance.kernel;
  try {
    // A plugin that fails after the store was busy failed because of it: say so, in the host's words.
    if (kernel.failed) throw callState.storeBusy ?? pluginError(callState);
    return { replies: callState.replies, output: outputText(kernel.output(), callState), timers: callState.timers, ...(callState.sensitive ? { sensitive: true } : {}) };
  } finally {
    kernel.end();
    instances.keep(key, instance);
  }
}

const scheduledCapabilities = new Map<string, ReadonlySet<string>>();

/** The plugin's capabilities only the scheduler calls: the ones its timers may name. */
function scheduledOf(plugin: WorkerPlugin): ReadonlySet<string> {
  let names = scheduledCapabilities.get(plugin.manifest.name);
  if (!names) {
    names = new Set((plugin.manifest.capabilities ?? []).filter((c) => c.scheduled === true).map((c) => c.name));
    scheduledCapabilities.set(plugin.manifest.name, names);
  }
  return names;
}

async function instantiate(plugin: WorkerPlugin): Promise<Instance> {
  const name = plugin.manifest.name;
  const kernel = new Kernel({
    limitBytes: plugin.limits.memoryMiB * 1048576,
    onFatal: (error) => {
      if (current) runtime.fail(current, error);
    },
  });
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
        functions: { [kernelNamespace]: kernel.functions(), [hostNamespace]: linkHostFunctions(plugin.manifest, runtime) },
      },
    );
    const memory = (await instance.getInstance()).exports['memory'];
    kernel.memory = memory instanceof WebAssembly.Memory ? memory : undefined;
    return { plugin: instance, kernel };
  } catch (error) {
    const problem =
      error instanceof WebAssembly.RuntimeError
        ? `its start function trapped: ${(error.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 80) || 'unknown')}`
        : error instanceof WebAssembly.LinkError
          ? 'a host function has the wrong signature'
          : error instanceof ContractBreach
            ? `its start function ${error.message}`
            : 'instantiation failed';
    throw new BulkheadError('BH_PLUGIN_START_FAILED', { plugin: name, problem });
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The output as text for the main thread, which parses it (see `parseOutput`). */
function outputText(bytes: Uint8Array | null, call: CallState): string | null {
  if (!bytes || bytes.byteLength === 0) return null;
  if (bytes.byteLength > call.limits.maxOutputBytes) {
    throw new BulkheadError('BH_PLUGIN_OUTPUT_TOO_LARGE', { plugin: call.plugin, capability: call.capability, limit: call.limits.maxOutputBytes });
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new BulkheadError('BH_PLUGIN_OUTPUT_MALFORMED', { plugin: call.plugin, capability: call.capability });
  }
}

function toBulkheadError(error: unknown, call: CallMessage): BulkheadError {
  if (error instanceof BulkheadError) return error;
  console.error('bulkhead worker: unexpected error', error instanceof Error ? error.name : typeof error);
  return new BulkheadError('BH_INTERNAL_ERROR', { problem: `unexpected failure in ${call.plugin}.${call.capability}` });
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
