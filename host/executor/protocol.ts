/**
 * Every message that crosses the boundary between the host's main thread and an executor worker.
 * Plain data only (structured clone); nothing else is posted either way.
 */
import type { SerializedError } from '../core/errors.js';
import type { PluginManifest } from '../manifest/manifest.js';
import type { PluginLimits } from '../sandbox/limits.js';
import type { Cipher } from '../store/encrypted-database.js';

/** What a worker is started with (`workerData`). */
export interface WorkerSetup {
  readonly dataDir: string;
  readonly store: { readonly cipher: Cipher; readonly maxOpenFiles: number; readonly pageCacheKiB: number };
  /** Key of the host keyring database. Workers never see the master or signing root keys. */
  readonly keyringKey: Uint8Array;
  /** Verifies caller tokens; the worker has no use for minting them. */
  readonly tokenKey: { readonly kid: string; readonly key: Uint8Array };
  readonly plugins: readonly WorkerPlugin[];
  /** Most plugin instances (one per user and plugin) alive in this worker. */
  readonly maxInstances: number;
  /**
   * Written by the worker, read by the watchdog: [0] the sequence number of the call running now
   * (0 when idle), [1] the last call started. The start time of [0] is in `startedAt`.
   */
  readonly state: SharedArrayBuffer;
}

/** Layout of `WorkerSetup.state`: two Int32 slots, then one Float64 (8-byte aligned). */
export const stateLayout = Object.freeze({ running: 0, lastStarted: 1, int32Slots: 2, startedAtByteOffset: 8, bytes: 16 });

export interface WorkerPlugin {
  readonly manifest: PluginManifest;
  /** Compiled once in the main thread, import-checked and memory-limited. */
  readonly module: WebAssembly.Module;
  readonly limits: PluginLimits;
  /** Per-plugin key material (see host/keys/key-service.ts). */
  readonly key: { readonly fileRoot: Uint8Array; readonly names: Uint8Array };
}

/** Main thread to worker. Calls travel in batches: one message per event-loop turn, not per call. */
export type ToWorker = { readonly type: 'calls'; readonly calls: readonly CallMessage[] } | { readonly type: 'close' };

export interface CallMessage {
  /** Unique per executor, increasing in the order calls are sent to a worker. */
  readonly seq: number;
  /** The globalUserId the instance belongs to (from the verified caller context). */
  readonly userId: string;
  readonly plugin: string;
  readonly capability: string;
  readonly exportName: string;
  /** The caller token every host function verifies; the plugin never sees it. */
  readonly token: string;
  /** Params JSON, already validated against the capability's schema. */
  readonly input: string;
}

/** The outcome of one call. */
export type CallResult =
  | {
      readonly type: 'done';
      readonly seq: number;
      readonly replies: readonly string[];
      /**
       * The plugin's output as text (strict UTF-8, within its output limit), parsed as JSON on the
       * main thread: copying one string between threads costs far less than cloning the object.
       */
      readonly output: string | null;
    }
  | { readonly type: 'failed'; readonly seq: number; readonly error: SerializedError };

/** Worker to main thread. Results are batched until the worker's queue is empty (or 64 are ready). */
export type FromWorker = { readonly type: 'results'; readonly results: readonly CallResult[] } | { readonly type: 'closed' };
