import { limitDefault } from '../config/limits.js';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { BulkheadError } from '../core/errors.js';
import { jsonLimitExceeded, resultJsonLimits } from '../core/json-limits.js';
import { pagesPerMiB } from '../sandbox/limits.js';
import type { CallMessage, CallVault, FromWorker, Question, SystemOp, ToWorker, VaultAnswer, VaultRequest, WorkerPlugin, WorkerSetup } from './protocol.js';
import { Abandoned, stateLayout, WorkerState } from './worker-state.js';
import type { TimerRequest } from '../scheduler/timers.js';
import type { Prices } from '../market/market.js';
import { answerBridge, createBridge } from './bridge.js';

export interface ExecutorOptions {
  /** Worker threads; each owns the users that hash to it. Default: one per core. */
  readonly workers?: number;
  /** Most plugin instances alive per worker (LRU). Default 256. */
  readonly maxInstancesPerWorker?: number;
  /** Most bytes the warm instances of one worker keep (linear memory, variables). Default 256 MiB. */
  readonly instanceCacheBytesPerWorker?: number;
  /**
   * How long a call may stay in native code (a store request) past its deadline before its worker
   * is replaced (and terminated once it leaves native code). Store work is bounded by the call's
   * deadline, so this only happens if the disk stalls. Default 5000 ms.
   */
  readonly nativeGraceMs?: number;
  /** Most calls waiting for one worker before new ones are refused. Default 1024. */
  readonly maxQueuePerWorker?: number;
  /** The largest memory limit of any plugin, MiB: becomes the process-wide engine ceiling. */
  readonly memoryCeilingMiB: number;
  /** Everything a worker starts with except its state buffer. */
  readonly setup: Omit<WorkerSetup, 'state' | 'bridge' | 'maxInstances' | 'instanceCacheBytes'>;
  /** Answers the `market` host function (host/market); without it, BH_MARKET_UNAVAILABLE. */
  readonly market?: (symbols: readonly string[]) => Promise<Prices>;
}

/** One capability call, as the dispatcher hands it over: identity only as a verified token. */
export interface ExecutorCall {
  /** Picks the worker (the user's calls all go to one); the worker itself trusts only the token. */
  readonly userId: string;
  readonly plugin: string;
  readonly capability: string;
  readonly exportName: string;
  readonly token: string;
  readonly input: string;
  readonly timeoutMs: number;
  /** The host's own work on the user's data instead of a plugin call (protocol.ts, SystemOp). */
  readonly system?: SystemOp;
  /** See CallMessage.timerRoom. */
  readonly timerRoom?: number;
}

export interface CallOutcome {
  /** Texts the plugin sent with `reply`, in order, for the conversation the call came from. */
  readonly replies: readonly string[];
  /** The capability's result JSON, or null when it set no output. */
  readonly result: unknown;
  /** Timers the call set or removed; the dispatcher hands them to the scheduler. */
  readonly timers?: readonly TimerRequest[];
  /** Absent when the call touched no sealed field (protocol.ts, CallVault). */
  readonly vault?: CallVault;
}

interface Pending {
  readonly message: CallMessage;
  readonly timeoutMs: number;
  readonly resolve: (outcome: CallOutcome) => void;
  readonly reject: (error: BulkheadError) => void;
}

interface Shard {
  worker: Worker;
  state: WorkerState;
  /** A call already answered (past its deadline) that its worker still runs in native code. */
  overdue: { readonly seq: number; readonly since: number } | undefined;
  /** Calls sent to this shard's worker and not yet answered, in the order they were sent. */
  readonly pending: Map<number, Pending>;
  /** Calls accepted in this event-loop turn, posted together at its end. */
  outbox: CallMessage[];
  /** Where this shard's worker waits for answers to its questions. */
  bridge: SharedArrayBuffer;
  /** The id of the worker's latest question: only that one is answered (an older one timed out). */
  asked: number;
  /** Vault operations sent to this shard's worker and not yet answered. */
  readonly vaultPending: Map<number, { resolve: (answer: VaultAnswer) => void; reject: (error: BulkheadError) => void }>;
}

export const executorDefaults = Object.freeze({
  maxInstancesPerWorker: limitDefault('executor.maxInstancesPerWorker'),
  instanceCacheMiBPerWorker: limitDefault('executor.instanceCacheMiBPerWorker'),
  maxQueuePerWorker: limitDefault('executor.maxQueuePerWorker'),
  // Not in the registry yet: no test hits it at unit level (a worker stuck in native code).
  nativeGraceMs: 5000,
});

/**
 * Runs plugin calls on a pool of worker threads. A user's calls always go to the same worker (so
 * that user's files are open in one place), one at a time. A watchdog stops a worker whose call
 * runs past its time limit and starts a fresh one; calls queued behind it move to the new worker.
 *
 * @example
 * const executor = new Executor({ setup, memoryCeilingMiB: 256 });
 * const { replies, result } = await executor.call({ userId, plugin: 'notes', capability: 'add', exportName: 'add', token, input, timeoutMs: 2000 });
 */
export class Executor {
  readonly #options: ExecutorOptions;
  readonly #shards: Shard[];
  readonly #watchdog: NodeJS.Timeout;
  readonly #maxQueue: number;
  /** Workers replaced while stuck in native code, terminated as soon as they leave it. */
  readonly #retiring: { worker: Worker; state: WorkerState }[] = [];
  #seq = 0;
  #vaultSeq = 0;
  #closed = false;

  constructor(options: ExecutorOptions) {
    this.#options = options;
    this.#maxQueue = options.maxQueuePerWorker ?? executorDefaults.maxQueuePerWorker;
    // Process-wide ceiling under the per-plugin limits (which are in each module's memory section):
    // no WebAssembly memory in this process can grow past it, whatever a module declares.
    setFlagsFromString(`--wasm-max-mem-pages=${options.memoryCeilingMiB * pagesPerMiB}`);
    const count = Math.max(1, options.workers ?? availableParallelism());
    this.#shards = Array.from({ length: count }, () => {
      const shard = { pending: new Map(), vaultPending: new Map(), outbox: [], overdue: undefined } as unknown as Shard;
      this.#start(shard);
      return shard;
    });
    const shortest = Math.min(...options.setup.plugins.map((p) => p.limits.timeoutMs), 1000);
    this.#watchdog = setInterval(() => this.#sweep(), Math.max(5, Math.min(50, Math.floor(shortest / 4))));
    this.#watchdog.unref();
  }

  get workers(): number {
    return this.#shards.length;
  }

  /** Runs one call. Rejects with a BulkheadError (BH_PLUGIN_*, BH_EXECUTOR_*, BH_STORE_*, ...). */
  call(call: ExecutorCall): Promise<CallOutcome> {
    if (this.#closed) return Promise.reject(new BulkheadError('BH_EXECUTOR_CLOSED'));
    const shard = this.#shards[shardOf(call.userId, this.#shards.length)] as Shard;
    if (shard.pending.size >= this.#maxQueue) {
      return Promise.reject(new BulkheadError('BH_EXECUTOR_OVERLOADED', { limit: this.#maxQueue }));
    }
    const message: CallMessage = {
      seq: ++this.#seq,
      plugin: call.plugin,
      capability: call.capability,
      exportName: call.exportName,
      token: call.token,
      input: call.input,
      timeoutMs: call.timeoutMs,
      ...(call.system ? { system: call.system } : {}),
      ...(call.timerRoom !== undefined ? { timerRoom: call.timerRoom } : {}),
    };
    return new Promise<CallOutcome>((resolve, reject) => {
      shard.pending.set(message.seq, { message, timeoutMs: call.timeoutMs, resolve, reject });
      this.#enqueue(shard, message);
    });
  }

  /**
   * A vault operation for the worker that owns the user (host/vault): sent at once, served beside
   * that worker's calls. Rejects with BH_EXECUTOR_WORKER_LOST when the worker is replaced first
   * (its vault keys are gone with it).
   */
  vault(userId: string, request: VaultRequest): Promise<VaultAnswer> {
    if (this.#closed) return Promise.reject(new BulkheadError('BH_EXECUTOR_CLOSED'));
    const shard = this.#shards[shardOf(userId, this.#shards.length)] as Shard;
    const id = ++this.#vaultSeq;
    return new Promise<VaultAnswer>((resolve, reject) => {
      shard.vaultPending.set(id, { resolve, reject });
      shard.worker.postMessage({ type: 'vault', id, request } satisfies ToWorker);
    });
  }

  /** One postMessage per shard per event-loop turn: structured cloning has a per-message cost. */
  #enqueue(shard: Shard, message: CallMessage): void {
    shard.outbox.push(message);
    if (shard.outbox.length === 1) setImmediate(() => this.#flush(shard));
  }

  #flush(shard: Shard): void {
    if (shard.outbox.length === 0) return;
    shard.worker.postMessage({ type: 'calls', calls: shard.outbox } satisfies ToWorker);
    shard.outbox = [];
  }

  /** Lets running calls finish (up to `graceMs`), then stops every worker. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    for (const { worker, state } of this.#retiring.splice(0)) this.#terminateWhenSafe(worker, state);
    await Promise.all(
      this.#shards.map(async (shard) => {
        const worker = shard.worker;
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        this.#flush(shard);
        worker.postMessage({ type: 'close' });
        const timer = setTimeout(() => this.#terminateWhenSafe(worker, shard.state), graceMs);
        await exited;
        clearTimeout(timer);
        for (const pending of shard.pending.values()) pending.reject(new BulkheadError('BH_EXECUTOR_CLOSED'));
        shard.pending.clear();
        for (const pending of shard.vaultPending.values()) pending.reject(new BulkheadError('BH_EXECUTOR_CLOSED'));
        shard.vaultPending.clear();
      }),
    );
  }

  /** The response JSON of a worker's question (never rejects: failures are coded error responses). */
  async #answer(question: Question): Promise<string> {
    try {
      if (!this.#options.market) throw new BulkheadError('BH_MARKET_UNAVAILABLE');
      const { prices, missing } = await this.#options.market(question.symbols);
      return JSON.stringify({ ok: true, prices, missing });
    } catch (error) {
      const coded = error instanceof BulkheadError ? error : new BulkheadError('BH_INTERNAL_ERROR', { problem: 'the market question failed' });
      return JSON.stringify({ ok: false, error: coded.toJSON() });
    }
  }

  #start(shard: Shard): void {
    const state = WorkerState.create();
    const bridge = createBridge();
    shard.bridge = bridge;
    shard.asked = 0;
    const setup: WorkerSetup = {
      ...this.#options.setup,
      bridge,
      maxInstances: this.#options.maxInstancesPerWorker ?? executorDefaults.maxInstancesPerWorker,
      instanceCacheBytes: this.#options.instanceCacheBytesPerWorker ?? executorDefaults.instanceCacheMiBPerWorker * 1048576,
      state,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup, stdout: false, stderr: false });
    shard.worker = worker;
    shard.state = new WorkerState(state);
    shard.overdue = undefined;
    const lastStarted = shard.state.slots;
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'closed') return;
      if (message.type === 'vault') {
        const pending = shard.vaultPending.get(message.id);
        if (!pending || shard.worker !== worker) return;
        shard.vaultPending.delete(message.id);
        if (message.answer) pending.resolve(message.answer);
        else pending.reject(BulkheadError.revive(message.error) ?? new BulkheadError('BH_INTERNAL_ERROR', { problem: 'an unreadable vault error from a worker' }));
        return;
      }
      if (message.type === 'ask') {
        shard.asked = message.id;
        void this.#answer(message.question).then((answer) => {
          // A replaced worker, or a question the worker stopped waiting for, gets no answer.
          if (shard.worker === worker && shard.asked === message.id) answerBridge(bridge, message.id, answer);
        });
        return;
      }
      for (const result of message.results) {
        const pending = shard.pending.get(result.seq);
        if (!pending) continue;
        shard.pending.delete(result.seq);
        if (result.type === 'done') {
          // A system operation's answer is the host's own JSON; a plugin's is checked first.
          const parsed = pending.message.system ? { value: result.output === null ? null : (JSON.parse(result.output) as unknown) } : parseOutput(result.output, pending.message);
          if (parsed instanceof BulkheadError) pending.reject(parsed);
          else pending.resolve({ replies: result.replies, result: parsed.value, ...(result.timers && result.timers.length > 0 ? { timers: result.timers } : {}), ...(result.vault ? { vault: result.vault } : {}) });
        } else {
          pending.reject(BulkheadError.revive(result.error) ?? new BulkheadError('BH_INTERNAL_ERROR', { problem: 'an unreadable error from a worker' }));
        }
      }
    });
    worker.on('error', () => {
      // Reported through 'exit' below; an 'error' listener keeps the host process alive.
    });
    worker.once('exit', () => {
      if (this.#closed || shard.worker !== worker) return;
      // The worker died on its own (a crash, not the watchdog): replace it and recover.
      this.#recover(shard, Atomics.load(lastStarted, stateLayout.lastStarted), null);
    });
  }

  /**
   * Stops any call past its time limit, or whose outcome its worker has already decided (a breach
   * the guest caught): a worker running guest code is terminated at once; one in native code is
   * never terminated (that would abort the process), so its caller is answered now and the worker
   * is stopped when it is back in guest code, or replaced if it stays in native code too long.
   */
  #sweep(): void {
    const now = Date.now();
    for (let i = this.#retiring.length - 1; i >= 0; i--) {
      const retired = this.#retiring[i] as { worker: Worker; state: WorkerState };
      if (retired.state.doom()) {
        this.#retiring.splice(i, 1);
        void retired.worker.terminate();
      }
    }
    for (const shard of this.#shards) {
      const slots = shard.state.slots;
      const seq = Atomics.load(slots, stateLayout.running);
      if (seq === 0) continue;
      const pending = shard.pending.get(seq);
      const abandoned = Atomics.load(slots, stateLayout.abandoned);
      if (shard.overdue && shard.overdue.seq !== seq) shard.overdue = undefined;
      // startedAt is written before running; if it belongs to a later call, it is only later.
      const due = pending ? abandoned !== Abandoned.no || now - (shard.state.startedAt[0] as number) > pending.timeoutMs : shard.overdue !== undefined;
      if (!due) continue;
      if (shard.state.doom()) {
        const code = pending ? this.#answerOverdue(shard, seq, pending, abandoned) : undefined;
        shard.overdue = undefined;
        this.#recover(shard, Atomics.load(slots, stateLayout.lastStarted), shard.worker);
        // The terminated worker could not record the call's end: the new one does.
        if (pending && code) this.#recordEnded(shard, pending.message, code);
      } else if (pending) {
        this.#answerOverdue(shard, seq, pending, abandoned);
        shard.overdue = { seq, since: now };
      } else if (shard.overdue && now - shard.overdue.since > (this.#options.nativeGraceMs ?? executorDefaults.nativeGraceMs)) {
        this.#retire(shard);
      }
    }
  }

  /** Answers a call its worker did not finish in time; returns the code it was answered with. */
  #answerOverdue(shard: Shard, seq: number, pending: Pending, abandoned: number): string {
    shard.pending.delete(seq);
    const { plugin, capability } = pending.message;
    const where = { plugin, capability };
    const { memoryMiB } = this.#options.setup.plugins.find((p) => p.manifest.name === plugin)?.limits ?? { memoryMiB: 0 };
    const error =
      abandoned === Abandoned.contract
        ? new BulkheadError('BH_PLUGIN_CONTRACT', { ...where, problem: 'it went on running after breaking the host-function contract' })
        : abandoned === Abandoned.memory
          ? new BulkheadError('BH_PLUGIN_MEMORY_LIMIT', { ...where, limitMiB: memoryMiB })
          : new BulkheadError('BH_PLUGIN_TIMEOUT', { ...where, limitMs: pending.timeoutMs });
    pending.reject(error);
    return error.code;
  }

  /**
   * Has the shard's (new) worker write the audit line of a plugin call whose worker was terminated
   * or lost before it could: the user's log has no silent gap. Its answer goes nowhere.
   */
  #recordEnded(shard: Shard, message: CallMessage, code: string): void {
    if (message.system || this.#closed) return;
    this.#enqueue(shard, { ...message, seq: ++this.#seq, exportName: '', input: JSON.stringify({ code }), system: 'ended' });
  }

  /**
   * A worker stuck in native code past the grace period: a fresh worker takes over the shard now
   * (calls the old one had not started move to it), and the old one is terminated as soon as it
   * leaves native code.
   */
  #retire(shard: Shard): void {
    const old = { worker: shard.worker, state: shard.state };
    const lastStarted = Atomics.load(old.state.slots, stateLayout.lastStarted);
    this.#retiring.push(old);
    this.#recover(shard, lastStarted, null);
  }

  /** Terminates a worker as soon as it is not in native code (closing, or after its grace). */
  #terminateWhenSafe(worker: Worker, state: WorkerState): void {
    if (state.doom()) {
      void worker.terminate();
      return;
    }
    setTimeout(() => this.#terminateWhenSafe(worker, state), 10).unref();
  }

  /**
   * Replaces a shard's worker. Calls the old worker never started are sent to the new one, in
   * order; calls it had finished are answered by its messages, which Node delivers before 'exit';
   * a call it was running when it died is lost and reported so (never run twice). `old`, when
   * given, has been doomed (it runs no native code) and is terminated here.
   */
  #recover(shard: Shard, lastStarted: number, old: Worker | null): void {
    // Calls still in the outbox were never posted: they go to the new worker with the rest.
    shard.outbox = [];
    // The old worker's vault keys die with it: its users' vaults are locked now.
    for (const pending of shard.vaultPending.values()) pending.reject(new BulkheadError('BH_EXECUTOR_WORKER_LOST'));
    shard.vaultPending.clear();
    const notStarted = [...shard.pending.values()].filter((p) => p.message.seq > lastStarted);
    const startedOnOld = [...shard.pending.values()].filter((p) => p.message.seq <= lastStarted);
    this.#start(shard);
    for (const pending of notStarted) this.#enqueue(shard, pending.message);
    const settle = (): void => {
      for (const pending of startedOnOld) {
        if (shard.pending.get(pending.message.seq) !== pending) continue;
        shard.pending.delete(pending.message.seq);
        pending.reject(new BulkheadError('BH_EXECUTOR_WORKER_LOST'));
        this.#recordEnded(shard, pending.message, 'BH_EXECUTOR_WORKER_LOST');
      }
    };
    if (old) {
      old.once('exit', settle);
      void old.terminate();
    } else {
      settle();
    }
  }
}

/** FNV-1a over the user id: cheap, stable, and spreads ids evenly over the shards. */
export function shardOf(userId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

export type { WorkerPlugin };

/**
 * A plugin's output (already strict UTF-8 and within its limit) as JSON. Returned, not thrown, so
 * that one bad output in a batch of results cannot stop the others from being delivered. A plugin
 * that writes malformed JSON has broken no memory rule, so its instance stays in service.
 */
function parseOutput(output: string | null, call: CallMessage): { value: unknown } | BulkheadError {
  if (output === null) return { value: null };
  let value: unknown;
  try {
    value = JSON.parse(output) as unknown;
  } catch {
    return new BulkheadError('BH_PLUGIN_OUTPUT_MALFORMED', { plugin: call.plugin, capability: call.capability });
  }
  // A result 500,000 levels deep fits in 1 MiB and parses, but every front that prints it
  // (JSON.stringify, structured logging) would overflow the stack: refused here, once.
  if (jsonLimitExceeded(value, resultJsonLimits)) return new BulkheadError('BH_PLUGIN_OUTPUT_MALFORMED', { plugin: call.plugin, capability: call.capability });
  return { value };
}
