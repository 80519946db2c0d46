import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { BulkheadError } from '../core/errors.js';
import { pagesPerMiB } from '../sandbox/limits.js';
import { stateLayout, type CallMessage, type FromWorker, type ToWorker, type WorkerPlugin, type WorkerSetup } from './protocol.js';

export interface ExecutorOptions {
  /** Worker threads; each owns the users that hash to it. Default: one per core. */
  readonly workers?: number;
  /** Most plugin instances alive per worker (LRU). Default 256. */
  readonly maxInstancesPerWorker?: number;
  /** Most calls waiting for one worker before new ones are refused. Default 1024. */
  readonly maxQueuePerWorker?: number;
  /** The largest memory limit of any plugin, MiB: becomes the process-wide engine ceiling. */
  readonly memoryCeilingMiB: number;
  /** Everything a worker starts with except its state buffer. */
  readonly setup: Omit<WorkerSetup, 'state' | 'maxInstances'>;
}

/** One capability call, as the dispatcher hands it over: identity only as a verified token. */
export interface ExecutorCall {
  readonly userId: string;
  readonly plugin: string;
  readonly capability: string;
  readonly exportName: string;
  readonly token: string;
  readonly input: string;
  readonly timeoutMs: number;
}

export interface CallOutcome {
  /** Texts the plugin sent with `reply`, in order, for the conversation the call came from. */
  readonly replies: readonly string[];
  /** The capability's result JSON, or null when it set no output. */
  readonly result: unknown;
}

interface Pending {
  readonly message: CallMessage;
  readonly timeoutMs: number;
  readonly resolve: (outcome: CallOutcome) => void;
  readonly reject: (error: BulkheadError) => void;
}

interface Shard {
  worker: Worker;
  running: Int32Array;
  startedAt: Float64Array;
  /** Calls sent to this shard's worker and not yet answered, in the order they were sent. */
  readonly pending: Map<number, Pending>;
  /** Calls accepted in this event-loop turn, posted together at its end. */
  outbox: CallMessage[];
}

export const executorDefaults = Object.freeze({ maxInstancesPerWorker: 256, maxQueuePerWorker: 1024 });

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
  #seq = 0;
  #closed = false;

  constructor(options: ExecutorOptions) {
    this.#options = options;
    this.#maxQueue = options.maxQueuePerWorker ?? executorDefaults.maxQueuePerWorker;
    // Process-wide ceiling under the per-plugin limits (which are in each module's memory section):
    // no WebAssembly memory in this process can grow past it, whatever a module declares.
    setFlagsFromString(`--wasm-max-mem-pages=${options.memoryCeilingMiB * pagesPerMiB}`);
    const count = Math.max(1, options.workers ?? availableParallelism());
    this.#shards = Array.from({ length: count }, () => {
      const shard = { pending: new Map(), outbox: [] } as unknown as Shard;
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
      userId: call.userId,
      plugin: call.plugin,
      capability: call.capability,
      exportName: call.exportName,
      token: call.token,
      input: call.input,
    };
    return new Promise<CallOutcome>((resolve, reject) => {
      shard.pending.set(message.seq, { message, timeoutMs: call.timeoutMs, resolve, reject });
      this.#enqueue(shard, message);
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
    await Promise.all(
      this.#shards.map(async (shard) => {
        const worker = shard.worker;
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        this.#flush(shard);
        worker.postMessage({ type: 'close' });
        const timer = setTimeout(() => void worker.terminate(), graceMs);
        await exited;
        clearTimeout(timer);
        for (const pending of shard.pending.values()) pending.reject(new BulkheadError('BH_EXECUTOR_CLOSED'));
        shard.pending.clear();
      }),
    );
  }

  #start(shard: Shard): void {
    const state = new SharedArrayBuffer(stateLayout.bytes);
    const setup: WorkerSetup = {
      ...this.#options.setup,
      maxInstances: this.#options.maxInstancesPerWorker ?? executorDefaults.maxInstancesPerWorker,
      state,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup, stdout: false, stderr: false });
    shard.worker = worker;
    shard.running = new Int32Array(state, 0, stateLayout.int32Slots);
    shard.startedAt = new Float64Array(state, stateLayout.startedAtByteOffset, 1);
    const lastStarted = shard.running;
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'closed') return;
      for (const result of message.results) {
        const pending = shard.pending.get(result.seq);
        if (!pending) continue;
        shard.pending.delete(result.seq);
        if (result.type === 'done') {
          const parsed = parseOutput(result.output, pending.message);
          if (parsed instanceof BulkheadError) pending.reject(parsed);
          else pending.resolve({ replies: result.replies, result: parsed.value });
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
      this.#recover(shard, Atomics.load(lastStarted, 1), null);
    });
  }

  /** Stops any worker whose running call is past its time limit. */
  #sweep(): void {
    const now = Date.now();
    for (const shard of this.#shards) {
      if (shard.pending.size === 0) continue;
      const seq = Atomics.load(shard.running, 0);
      if (seq === 0) continue;
      const pending = shard.pending.get(seq);
      // startedAt is written before running; if it belongs to a later call, it is only later.
      if (pending && now - (shard.startedAt[0] as number) > pending.timeoutMs) this.#kill(shard, seq, pending);
    }
  }

  #kill(shard: Shard, seq: number, pending: Pending): void {
    const old = shard.worker;
    const lastStarted = Atomics.load(shard.running, 1);
    shard.pending.delete(seq);
    const { plugin, capability } = pending.message;
    pending.reject(new BulkheadError('BH_PLUGIN_TIMEOUT', { plugin, capability, limitMs: pending.timeoutMs }));
    this.#recover(shard, lastStarted, old);
  }

  /**
   * Replaces a shard's worker. Calls the old worker never started are sent to the new one, in
   * order; calls it had finished are answered by its messages, which Node delivers before 'exit';
   * a call it was running when it died is lost and reported so (never run twice).
   */
  #recover(shard: Shard, lastStarted: number, old: Worker | null): void {
    // Calls still in the outbox were never posted: they go to the new worker with the rest.
    shard.outbox = [];
    const notStarted = [...shard.pending.values()].filter((p) => p.message.seq > lastStarted);
    const startedOnOld = [...shard.pending.values()].filter((p) => p.message.seq <= lastStarted);
    this.#start(shard);
    for (const pending of notStarted) this.#enqueue(shard, pending.message);
    const settle = (): void => {
      for (const pending of startedOnOld) {
        if (shard.pending.get(pending.message.seq) !== pending) continue;
        shard.pending.delete(pending.message.seq);
        pending.reject(new BulkheadError('BH_EXECUTOR_WORKER_LOST'));
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
  try {
    return { value: JSON.parse(output) as unknown };
  } catch {
    return new BulkheadError('BH_PLUGIN_OUTPUT_MALFORMED', { plugin: call.plugin, capability: call.capability });
  }
}
