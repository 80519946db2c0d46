/**
 * The memory a worker shares with the watchdog in the main thread, and the one rule that keeps
 * the process alive: a worker is never terminated while it runs native code.
 *
 * `worker.terminate()` stops WebAssembly and JavaScript at once, but not a better-sqlite3 call
 * in progress: SQLite runs on (keeping its file lock), and when it returns an error into the
 * terminating isolate V8 aborts the whole process. So the worker announces native code with a
 * compare-and-swap from `guest` to `native`, and the watchdog claims a worker for termination with
 * a compare-and-swap from `guest` (or `idle`) to `doomed`. Exactly one of the two wins: a doomed
 * worker never enters native code again, and a worker in native code is never terminated (its
 * work there is bounded by the call's deadline instead; see host/store/query-budget.ts).
 */

/** Layout of the shared buffer: four Int32 slots, then one Float64 (8-byte aligned). */
export const stateLayout = Object.freeze({ running: 0, lastStarted: 1, mode: 2, abandoned: 3, int32Slots: 4, startedAtByteOffset: 16, bytes: 24 });

/** What the worker is doing, in slot `mode`. */
export const Mode = Object.freeze({ idle: 0, guest: 1, native: 2, doomed: 3 });

/**
 * Why a running call was given up before it returned (slot `abandoned`): the worker decided its
 * outcome (a contract breach, the memory limit, its deadline) while the guest may still run, for
 * example inside a `catch_all`. The watchdog then stops the guest at once.
 */
export const Abandoned = Object.freeze({ no: 0, contract: 1, memory: 2, timeout: 3 });

export class WorkerState {
  readonly slots: Int32Array;
  readonly startedAt: Float64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.slots = new Int32Array(buffer, 0, stateLayout.int32Slots);
    this.startedAt = new Float64Array(buffer, stateLayout.startedAtByteOffset, 1);
  }

  static create(): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(stateLayout.bytes);
    // A starting worker opens its databases: native until it says otherwise.
    new Int32Array(buffer, 0, stateLayout.int32Slots)[stateLayout.mode] = Mode.native;
    return buffer;
  }

  get mode(): number {
    return Atomics.load(this.slots, stateLayout.mode);
  }

  /** Worker: from `from` to `to`; false when the watchdog doomed the worker first. */
  move(from: number, to: number): boolean {
    return Atomics.compareExchange(this.slots, stateLayout.mode, from, to) === from;
  }

  /** Watchdog: claims the worker for termination; false while it runs native code. */
  doom(): boolean {
    const mode = this.mode;
    if (mode === Mode.doomed) return true;
    if (mode === Mode.native) return false;
    // Idle or guest: one compare-and-swap. If the worker moved meanwhile, the next sweep retries.
    return this.move(mode, Mode.doomed);
  }
}
