/**
 * Every message that crosses the boundary between the host's main thread and an executor worker.
 * Plain data only (structured clone); nothing else is posted either way.
 */
import type { SerializedError } from '../core/errors.js';
import type { PluginManifest } from '../manifest/manifest.js';
import type { PluginLimits } from '../sandbox/limits.js';
import type { StoreSettings } from '../config/config.js';
import type { TimerRequest } from '../scheduler/timers.js';

/** What a worker is started with (`workerData`). */
export interface WorkerSetup {
  readonly dataDir: string;
  readonly store: StoreSettings;
  /** Key of the host keyring database. Workers never see the master or signing root keys. */
  readonly keyringKey: Uint8Array;
  /** Verifies caller tokens; the worker has no use for minting them. */
  readonly tokenKey: { readonly kid: string; readonly key: Uint8Array };
  readonly plugins: readonly WorkerPlugin[];
  /** How long a user's vault key stays in this worker without activity, ms (BULKHEAD_VAULT_IDLE_MINUTES). */
  readonly vaultIdleMs: number;
  /** The users' audit logs (host/audit/audit-log.ts): key material and settings. */
  readonly audit: {
    /** False only in the benchmark that measures what the audit log costs (HostOptions.auditLog). */
    readonly enabled: boolean;
    readonly key: { readonly fileRoot: Uint8Array; readonly names: Uint8Array };
    readonly retentionDays: number;
    readonly tap: string | undefined;
  };
  /** Most plugin instances (one per user and plugin) alive in this worker. */
  readonly maxInstances: number;
  /** Most bytes (linear memory and variables) the warm instances of this worker keep together. */
  readonly instanceCacheBytes: number;
  /** Shared with the watchdog: which call runs since when, and in what mode (host/executor/worker-state.ts). */
  readonly state: SharedArrayBuffer;
  /** Where the main thread answers the worker's questions (host/executor/bridge.ts). */
  readonly bridge: SharedArrayBuffer;
}

export interface WorkerPlugin {
  readonly manifest: PluginManifest;
  /** Compiled once in the main thread, import-checked and memory-limited. */
  readonly module: WebAssembly.Module;
  readonly limits: PluginLimits;
  /** Per-plugin key material (see host/keys/key-service.ts). */
  readonly key: { readonly fileRoot: Uint8Array; readonly names: Uint8Array };
}

/** Main thread to worker. Calls travel in batches: one message per event-loop turn, not per call. */
export type ToWorker =
  | { readonly type: 'calls'; readonly calls: readonly CallMessage[] }
  | { readonly type: 'close' }
  /** A vault operation (host/vault): served at once, beside the calls, never queued behind them. */
  | { readonly type: 'vault'; readonly id: number; readonly request: VaultRequest };

/**
 * What the main thread's vault service asks of the worker that owns a user. Passwords travel
 * here and nowhere else; the keys they make never leave the worker. Salts, verifiers and the
 * pepper come from the vault record, which the main thread keeps.
 */
export type VaultRequest =
  | { readonly op: 'setup'; readonly user: string; readonly password: string; readonly salt: Uint8Array; readonly pepper: Uint8Array }
  | {
      readonly op: 'unlock';
      readonly user: string;
      readonly password: string;
      readonly salt: Uint8Array;
      readonly pepper: Uint8Array;
      readonly verifier: Uint8Array;
      /** The old key sealed under this one, while a change of password is being finished. */
      readonly pending: string | null;
    }
  | {
      readonly op: 'stage-change';
      readonly user: string;
      readonly password: string;
      readonly newPassword: string;
      readonly salt: Uint8Array;
      readonly newSalt: Uint8Array;
      readonly pepper: Uint8Array;
      readonly verifier: Uint8Array;
    }
  | { readonly op: 'commit-change' | 'abort-change' | 'drop-old' | 'lock' | 'status'; readonly user: string };

/** The worker's answer to a VaultRequest. */
export type VaultAnswer =
  /** setup and stage-change: what the main thread records (a verifier is not a key). */
  | { readonly kind: 'made'; readonly verifier: Uint8Array; readonly pending?: string }
  | { readonly kind: 'wrong-password' }
  | { readonly kind: 'unlocked'; readonly pending: boolean }
  | { readonly kind: 'status'; readonly open: boolean; readonly old: boolean }
  | { readonly kind: 'done' };

export interface CallMessage {
  /** Unique per executor, increasing in the order calls are sent to a worker. */
  readonly seq: number;
  readonly plugin: string;
  readonly capability: string;
  readonly exportName: string;
  /**
   * The caller token: the worker verifies it before anything runs and takes the user (whose
   * instance runs the call) from its claims, as every host function does. The plugin never sees it.
   */
  readonly token: string;
  /** The call's time limit, ms, counted from when the worker starts it. */
  readonly timeoutMs: number;
  /** Params JSON, already validated against the capability's schema (for a system operation, its own request). */
  readonly input: string;
  /**
   * Set for the host's own work on the user's data, done by the worker that owns the user with the
   * same verified token (no plugin runs): see SystemOp.
   */
  readonly system?: SystemOp;
  /**
   * For a plugin granted `schedule`: how many more timers the user may set with it (the
   * scheduler's count when the call was sent). Absent: the plugin may set none.
   */
  readonly timerRoom?: number;
}

/**
 * The host's own operations on a user's data, run by the worker that owns the user:
 * - `refused`: record a call the dispatcher refused (input `{code}`), then answer;
 * - `ended`: record a call the watchdog ended or lost (input `{code}`);
 * - `activity`: a page of the audit log (input: ActivityFilter);
 * - `audit-since`: audit lines after a seq, oldest first (input `{after, limit}`), for an export;
 * - `records`: records of one collection after an id (input `{collection, after, limit}`), for an export;
 * - `created-at`: when the user's log began;
 * - `account-line`: record an account action (input `{op, outcome}`);
 * - `keyring-names`: the plugin names the keyring holds salts under (for a purge to find every file);
 * - `purge`: close everything of the user and shred and remove the files named in the input.
 * - `reseal`: seal every sealed field of the user's file of the plugin with the current vault key
 *   (values under the old key during a change of password, and legacy plaintext), one page of
 *   records after an id in one transaction (input `{collection, after, limit}`); answers
 *   `{next, resealed, unreadable}`, `next` null after the last page.
 */
export type SystemOp = 'refused' | 'ended' | 'activity' | 'audit-since' | 'records' | 'created-at' | 'account-line' | 'keyring-names' | 'purge' | 'reseal';

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
      /** What the call asked of the scheduler (host functions schedule and unschedule), in order. */
      readonly timers?: readonly TimerRequest[];
      /** See CallOutcome.vault. */
      readonly vault?: CallVault;
    }
  | { readonly type: 'failed'; readonly seq: number; readonly error: SerializedError };

/**
 * How a call met the user's vault: `opened` when it read or wrote a sealed value (its replies and
 * result may hold secrets: fronts show them only to the user, never in a shared channel);
 * `locked` when it needed a sealed value while the vault was locked (fronts offer to unlock).
 */
export interface CallVault {
  readonly opened: boolean;
  readonly locked: boolean;
}

/** Worker to main thread. Each result is posted before the worker starts its next call. */
export type FromWorker =
  | { readonly type: 'results'; readonly results: readonly CallResult[] }
  | { readonly type: 'closed' }
  | { readonly type: 'vault'; readonly id: number; readonly answer?: VaultAnswer; readonly error?: SerializedError }
  /** A host function's question only the main thread can answer; the answer goes to the bridge. */
  | { readonly type: 'ask'; readonly id: number; readonly question: Question };

/** `market`: prices of these symbols (already checked), answered as the host function's response JSON. */
export type Question = { readonly kind: 'market'; readonly symbols: readonly string[] };
