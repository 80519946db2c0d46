/**
 * The vault tier, as the fronts see it: set-up, unlock, lock and change of a user's master
 * password. This service (main thread) keeps each user's vault record and decides who may try a
 * password when; the key a password makes is derived and kept only by the worker that owns the
 * user (host/vault/vault-keys.ts), which also seals and opens the sealed fields.
 *
 * - Argon2id runs off every event loop (libuv pool), at most `unlocksAtOnce` at a time; up to
 *   `maxWaiting` more wait in line, then BH_VAULT_BUSY.
 * - One vault operation per user at a time, so a run of wrong passwords is counted in order.
 * - Wrong passwords: three are free, then each makes the next try wait longer (5 s, doubling,
 *   at most an hour), recorded in vault.db so a restart does not reset it.
 * - An open vault is locked after `idleMs` without activity (this service's clock, injectable;
 *   the worker also wipes keys idle that long by its own clock), at once by `lock`, and by a
 *   restart (keys live only in worker memory).
 * - A change of password re-seals every sealed field; it is recorded before it starts, so a
 *   crash part-way leaves a vault that the new password opens and finishes (see finishChange).
 */
import { randomBytes } from 'node:crypto';
import { BulkheadError } from '../core/errors.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { Executor } from '../executor/executor.js';
import type { VaultAnswer, VaultRequest } from '../executor/protocol.js';
import type { CallerContext } from '../identity/caller-context.js';
import type { AccountAction } from '../account/types.js';
import type { LoadedPlugin } from '../plugins/catalog.js';
import type { VaultRecords, VaultRecord } from './vault-records.js';
import { vaultKdf } from './vault-keys.js';

export interface VaultServiceOptions {
  readonly records: VaultRecords;
  readonly executor: Pick<Executor, 'vault'>;
  readonly dispatcher: Pick<Dispatcher, 'system'>;
  readonly plugins: ReadonlyMap<string, LoadedPlugin>;
  /** The server-side pepper of a user's vault (KeyService.vaultPepper). */
  readonly pepper: (userId: string) => Buffer;
  /** Minutes without activity before an open vault is locked. */
  readonly idleMinutes: number;
  /** Most key derivations at once. */
  readonly unlocksAtOnce: number;
  readonly now?: () => number;
  /**
   * Hears each page of a re-seal once it is committed (a change of password, or the unlock that
   * finishes one). For tests: the crash test kills the host between pages, e.g.
   * `onResealPage: (page) => { if (++pages === 2) process.kill(process.pid, 'SIGKILL'); }`.
   */
  readonly onResealPage?: (page: ResealPage) => void;
}

/** One committed page of a re-seal: names and counts only, never a value or a user. */
export interface ResealPage {
  readonly plugin: string;
  readonly collection: string;
  /** Sealed values this page sealed under the current key (values already under it are skipped). */
  readonly resealed: number;
  /** Sealed values no key opens, left as they are. */
  readonly unreadable: number;
  /** This was the collection's last page. */
  readonly last: boolean;
}

/** The rules of a master password (checked before anything is derived). */
export const masterPasswordRules = Object.freeze({ minChars: 10, maxChars: 1024 });
/** Derivations waiting for a turn before new ones are refused with BH_VAULT_BUSY. */
export const maxWaiting = 64;
/** Wrong passwords without a wait, then the first wait and the longest one. */
export const wrongPasswordPolicy = Object.freeze({ free: 3, firstWaitMs: 5_000, longestWaitMs: 3_600_000 });
/** Records re-sealed per transaction (one system operation) during a change of password. */
const resealBatch = 200;

export interface VaultStatus {
  /** The user has set up a vault (a master password). */
  readonly setUp: boolean;
  /** Their vault key is in memory now: sealed fields can be read and written. */
  readonly unlocked: boolean;
  /** A change of password is not finished yet (it finishes at the next unlock). */
  readonly changing: boolean;
  /** Seconds before a wrong password may be tried again; 0 when a try is allowed now. */
  readonly retryAfterSeconds: number;
}

type Caller = Pick<CallerContext, 'globalUserId' | 'front'>;

export class VaultService {
  readonly #options: VaultServiceOptions;
  readonly #now: () => number;
  readonly #idleMs: number;
  /** Users whose vault this host opened, and when they were last active. */
  readonly #lastActive = new Map<string, number>();
  /** The tail of each user's chain of vault operations. */
  readonly #chains = new Map<string, Promise<unknown>>();
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: VaultServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#idleMs = options.idleMinutes * 60_000;
  }

  /** Starts locking idle vaults (every quarter of the idle time, at most every 30 s). */
  start(): void {
    this.#sweeper ??= setInterval(() => void this.sweep(), Math.max(1000, Math.min(this.#idleMs / 4, 30_000)));
    this.#sweeper.unref();
  }

  stop(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  /** Which plugins keep sealed fields (their names), for help texts. */
  get sealedPlugins(): string[] {
    return [...this.#options.plugins.values()].filter((p) => sealedCollections(p).length > 0).map((p) => p.manifest.name);
  }

  async status(userId: string): Promise<VaultStatus> {
    const record = this.#options.records.get(userId);
    if (!record) return { setUp: false, unlocked: false, changing: false, retryAfterSeconds: 0 };
    const answer = await this.#options.executor.vault(userId, { op: 'status', user: userId });
    const open = answer.kind === 'status' && answer.open;
    return { setUp: true, unlocked: open, changing: record.pending !== null, retryAfterSeconds: Math.max(0, Math.ceil((record.retryAt - this.#now()) / 1000)) };
  }

  /**
   * Sets up the user's vault with a master password (typed twice); the vault is open afterwards.
   * A forgotten master password cannot be recovered: every front says so before this is called.
   */
  setup(caller: Caller, password: string, confirmation: string): Promise<void> {
    const userId = caller.globalUserId;
    return this.#serial(userId, async () => {
      checkNewPassword(password, confirmation);
      if (this.#options.records.get(userId)) throw new BulkheadError('BH_VAULT_ALREADY_SET_UP');
      const salt = randomBytes(16);
      const answer = await this.#derive(userId, { op: 'setup', user: userId, password, salt, pepper: this.#options.pepper(userId) });
      if (answer.kind !== 'made') throw unexpected();
      if (!this.#options.records.create(userId, salt, answer.verifier, this.#now())) {
        await this.#options.executor.vault(userId, { op: 'lock', user: userId });
        throw new BulkheadError('BH_VAULT_ALREADY_SET_UP');
      }
      this.#lastActive.set(userId, this.#now());
      await this.#record(caller, 'vault-setup');
    });
  }

  /** Opens the user's vault with their master password (and finishes a change of password left unfinished). */
  unlock(caller: Caller, password: string): Promise<void> {
    const userId = caller.globalUserId;
    return this.#serial(userId, async () => {
      const record = this.#allowedTry(userId);
      const answer = await this.#derive(userId, {
        op: 'unlock',
        user: userId,
        password,
        salt: record.salt,
        pepper: this.#options.pepper(userId),
        verifier: record.verifier,
        pending: record.pending,
      });
      if (answer.kind === 'wrong-password') throw await this.#wrong(caller, record, 'vault-unlock');
      if (answer.kind !== 'unlocked') throw unexpected();
      if (record.pending !== null && !answer.pending) {
        // The right password, but the old key of an unfinished change does not open: finishing
        // now would drop every value still under it. Nothing is changed; the operator must look.
        await this.#options.executor.vault(userId, { op: 'lock', user: userId });
        throw new BulkheadError('BH_INTERNAL_ERROR', { problem: 'the record of an unfinished change of master password is damaged' });
      }
      this.#options.records.clearFailures(userId);
      this.#lastActive.set(userId, this.#now());
      await this.#record(caller, 'vault-unlock');
      if (record.pending !== null) await this.#finishChange(caller);
    });
  }

  /** Wipes the user's vault key at once (not queued behind their other vault operations). */
  async lock(caller: Caller): Promise<void> {
    const userId = caller.globalUserId;
    this.#lastActive.delete(userId);
    await this.#options.executor.vault(userId, { op: 'lock', user: userId });
    await this.#record(caller, 'vault-lock');
  }

  /**
   * Changes the master password: the current one must be right. Every sealed field is re-sealed
   * under the new key; the change is recorded first, so from then on only the new password
   * works, and an interrupted change is finished by the next unlock.
   */
  change(caller: Caller, currentPassword: string, newPassword: string, confirmation: string): Promise<void> {
    const userId = caller.globalUserId;
    return this.#serial(userId, async () => {
      checkNewPassword(newPassword, confirmation);
      const record = this.#allowedTry(userId);
      // A change left unfinished is finished by an unlock (with the newer password) before another starts.
      if (record.pending !== null) throw new BulkheadError('BH_VAULT_LOCKED');
      const newSalt = randomBytes(16);
      const answer = await this.#derive(
        userId,
        {
          op: 'stage-change',
          user: userId,
          password: currentPassword,
          newPassword,
          salt: record.salt,
          newSalt,
          pepper: this.#options.pepper(userId),
          verifier: record.verifier,
        },
      );
      if (answer.kind === 'wrong-password') throw await this.#wrong(caller, record, 'vault-change');
      if (answer.kind !== 'made' || answer.pending === undefined) throw unexpected();
      let begun = false;
      try {
        begun = this.#options.records.beginChange(userId, record.verifier, newSalt, answer.verifier, answer.pending, this.#now());
      } finally {
        if (!begun) await this.#options.executor.vault(userId, { op: 'abort-change', user: userId });
      }
      if (!begun) throw unexpected();
      await this.#options.executor.vault(userId, { op: 'commit-change', user: userId });
      this.#lastActive.set(userId, this.#now());
      await this.#finishChange(caller);
      await this.#record(caller, 'vault-change');
    });
  }

  /** The user did something: an open vault stays open for another idle period. */
  touch(userId: string): void {
    if (this.#lastActive.has(userId)) this.#lastActive.set(userId, this.#now());
  }

  /** Locks every vault idle for the idle period (by this service's clock); returns how many. */
  async sweep(): Promise<number> {
    const before = this.#now() - this.#idleMs;
    const idle = [...this.#lastActive].filter(([, at]) => at <= before).map(([userId]) => userId);
    for (const userId of idle) {
      this.#lastActive.delete(userId);
      try {
        await this.#options.executor.vault(userId, { op: 'lock', user: userId });
      } catch {
        // The worker is gone (and its keys with it) or the host is closing: locked either way.
      }
    }
    return idle.length;
  }

  /** The vault record for an export: what opens the sealed values offline, with the master password. */
  exportRecord(userId: string): ExportedVault | undefined {
    const record = this.#options.records.get(userId);
    if (!record) return undefined;
    return {
      kdf: { ...vaultKdf, salt: record.salt.toString('base64'), pepper: this.#options.pepper(userId).toString('base64') },
      verifier: record.verifier.toString('base64'),
      ...(record.pending !== null ? { pending: record.pending } : {}),
    };
  }

  /** Forgets the user's vault (account deletion): their sealed values can never be opened again. */
  async forget(userId: string): Promise<void> {
    this.#lastActive.delete(userId);
    this.#options.records.remove(userId);
    try {
      await this.#options.executor.vault(userId, { op: 'lock', user: userId });
    } catch {
      // No worker, no key.
    }
  }

  /**
   * Re-seals every sealed field of the user with the current key, then forgets the old one.
   * Every step can run again: an interruption leaves a vault the next unlock finishes.
   */
  async #finishChange(caller: Caller): Promise<void> {
    const userId = caller.globalUserId;
    for (const plugin of this.#options.plugins.values()) {
      for (const collection of sealedCollections(plugin)) {
        let after = '';
        for (;;) {
          const page = (await this.#options.dispatcher.system(caller, 'reseal', { collection, after, limit: resealBatch }, plugin.manifest.name, 'reseal')) as { next: string | null; resealed: number; unreadable: number };
          this.#options.onResealPage?.({ plugin: plugin.manifest.name, collection, resealed: page.resealed, unreadable: page.unreadable, last: page.next === null });
          if (page.next === null) break;
          after = page.next;
        }
      }
    }
    this.#options.records.endChange(userId);
    await this.#options.executor.vault(userId, { op: 'drop-old', user: userId });
  }

  /** The user's record when a password may be tried now. */
  #allowedTry(userId: string): VaultRecord {
    const record = this.#options.records.get(userId);
    if (!record) throw new BulkheadError('BH_VAULT_NOT_SET_UP');
    const waitMs = record.retryAt - this.#now();
    if (waitMs > 0) throw new BulkheadError('BH_VAULT_RATE_LIMITED', { seconds: Math.ceil(waitMs / 1000) });
    return record;
  }

  /** A line in the user's own audit log (never the password, only what was done). */
  async #record(caller: Caller, op: AccountAction, refused?: string): Promise<void> {
    await this.#options.dispatcher.system(caller, 'account-line', refused ? { op, outcome: 'refused', code: refused } : { op });
  }

  /** Counts a wrong password, sets the wait before the next try, and records the refusal. */
  async #wrong(caller: Caller, record: VaultRecord, op: AccountAction): Promise<BulkheadError> {
    const failures = record.failures + 1;
    const over = failures - wrongPasswordPolicy.free - 1;
    const waitMs = over < 0 ? 0 : Math.min(wrongPasswordPolicy.firstWaitMs * 2 ** over, wrongPasswordPolicy.longestWaitMs);
    this.#options.records.recordFailure(record.userId, failures, waitMs === 0 ? 0 : this.#now() + waitMs);
    const error = new BulkheadError('BH_VAULT_WRONG_PASSWORD');
    await this.#record(caller, op, error.code);
    return error;
  }

  /** A derivation when a turn is free: at most unlocksAtOnce run at once (a change's two derivations share one turn). */
  async #derive(userId: string, request: VaultRequest): Promise<VaultAnswer> {
    await this.#turn();
    try {
      return await this.#options.executor.vault(userId, request);
    } finally {
      this.#running -= 1;
      this.#waiting.shift()?.();
    }
  }

  #turn(): Promise<void> {
    if (this.#running < this.#options.unlocksAtOnce) {
      this.#running += 1;
      return Promise.resolve();
    }
    if (this.#waiting.length >= maxWaiting) return Promise.reject(new BulkheadError('BH_VAULT_BUSY', { limit: maxWaiting }));
    return new Promise<void>((resolve) =>
      this.#waiting.push(() => {
        this.#running += 1;
        resolve();
      }),
    );
  }

  /** Runs the user's vault operations one after another. */
  #serial<T>(userId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(userId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.#chains.set(userId, tail);
    void tail.then(() => {
      if (this.#chains.get(userId) === tail) this.#chains.delete(userId);
    });
    return next;
  }
}

/** The vault part of an export (schemas/export.v1.json, `vault`). */
export interface ExportedVault {
  readonly kdf: typeof vaultKdf & { readonly salt: string; readonly pepper: string };
  readonly verifier: string;
  readonly pending?: string;
}

/** The plugin's collections that have sealed fields. */
export function sealedCollections(plugin: LoadedPlugin): string[] {
  const collections = plugin.manifest.storage?.collections ?? {};
  return Object.keys(collections).filter((name) => Object.values(collections[name]?.fields ?? {}).some((f) => f.sealed === true));
}

function checkNewPassword(password: string, confirmation: string): void {
  const { minChars, maxChars } = masterPasswordRules;
  const length = [...password].length;
  if (length < minChars || length > maxChars) {
    throw new BulkheadError('BH_VAULT_PASSWORD_INVALID', { min: minChars, max: maxChars, problem: length < minChars ? `it has ${length}` : 'it is longer' });
  }
  if (password !== confirmation) throw new BulkheadError('BH_VAULT_PASSWORD_MISMATCH');
}

function unexpected(): BulkheadError {
  return new BulkheadError('BH_INTERNAL_ERROR', { problem: 'the vault gave an unexpected answer' });
}
