/**
 * The vault keys of the users a worker owns, and how a key is made from a master password.
 *
 * A vault key exists only here, in the memory of the worker that owns the user: derived in this
 * thread (Argon2id on the libuv pool, so the worker keeps running calls meanwhile), used by the
 * store to seal and open the user's sealed fields, and wiped (zeroed, then dropped) when the user
 * locks, after the idle time, or when the worker ends. A host restart therefore locks everyone.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { openBytes, sealBytes } from './sealed.js';

/** Argon2id as the vault uses it: 64 MiB, 3 passes, one lane, a 32-byte raw key. */
export const vaultKdf = Object.freeze({ algorithm: 'argon2id', memoryKiB: 65536, iterations: 3, parallelism: 1, keyBytes: 32 });

interface Argon2 {
  hash(password: string | Buffer, options: Record<string, unknown>): Promise<Buffer>;
  readonly argon2id: number;
}
let argon2: Argon2 | undefined;

/** Argon2id of the password with the user's salt and the server's pepper (its `secret` input). */
export async function deriveVaultKey(password: string, salt: Uint8Array, pepper: Uint8Array): Promise<Buffer> {
  // Loaded on first use: most workers never derive a key.
  argon2 ??= createRequire(import.meta.url)('argon2') as Argon2;
  return argon2.hash(password, {
    type: argon2.argon2id,
    raw: true,
    memoryCost: vaultKdf.memoryKiB,
    timeCost: vaultKdf.iterations,
    parallelism: vaultKdf.parallelism,
    hashLength: vaultKdf.keyBytes,
    salt: Buffer.from(salt),
    secret: Buffer.from(pepper),
  });
}

/** What the host keeps to recognise the right password: an HMAC under the key, never the key. */
export function verifierOf(key: Uint8Array): Buffer {
  return createHmac('sha256', key).update('bulkhead vault verifier v1').digest();
}

export function verifierMatches(key: Uint8Array, verifier: Uint8Array): boolean {
  const expected = verifierOf(key);
  return expected.length === verifier.byteLength && timingSafeEqual(expected, verifier);
}

/**
 * During a change of master password, the old key sealed under the new one and kept in the vault
 * record until every sealed field has been re-sealed: whoever knows the new password can finish
 * an interrupted change, and the old password opens nothing from the moment the change begins.
 */
function pendingAad(user: string): Buffer {
  return Buffer.from(JSON.stringify(['bulkhead-vault-pending-v1', user]));
}

export function sealPendingKey(newKey: Uint8Array, oldKey: Uint8Array, user: string): string {
  return sealBytes(newKey, oldKey, pendingAad(user));
}

export function openPendingKey(newKey: Uint8Array, pending: string, user: string): Buffer | undefined {
  return openBytes(newKey, pending, pendingAad(user));
}

/** A user's keys while the vault is open: the current one, and the old one while a change is being finished. */
export interface OpenVault {
  readonly current: Buffer;
  readonly old: Buffer | undefined;
}

interface Held {
  current: Buffer;
  old: Buffer | undefined;
  /** A change of password derived but not yet recorded by the main thread (commit or abort next). */
  staged: { current: Buffer; old: Buffer } | undefined;
  lastUsed: number;
}

export class VaultKeys {
  readonly #held = new Map<string, Held>();
  readonly #idleMs: number;
  readonly #now: () => number;

  constructor(idleMs: number, now: () => number = Date.now) {
    this.#idleMs = idleMs;
    this.#now = now;
  }

  /** The user's keys, or undefined while their vault is locked. Using them counts as activity. */
  keys(user: string): OpenVault | undefined {
    const held = this.#held.get(user);
    if (!held) return undefined;
    held.lastUsed = this.#now();
    return held;
  }

  isOpen(user: string): boolean {
    return this.#held.has(user);
  }

  /** Whether an old key is held (a change of password being finished); not activity. */
  hasOld(user: string): boolean {
    return this.#held.get(user)?.old !== undefined;
  }

  /** The user did something: their vault stays open for another idle period. */
  touch(user: string): void {
    const held = this.#held.get(user);
    if (held) held.lastUsed = this.#now();
  }

  /** Keeps the keys (the vault takes ownership of the buffers and wipes them when it locks). */
  install(user: string, current: Buffer, old?: Buffer): void {
    this.lock(user);
    this.#held.set(user, { current, old, staged: undefined, lastUsed: this.#now() });
  }

  /**
   * Keeps a new key (and its own copy of the old one) until the main thread has recorded the
   * change; meanwhile the vault goes on sealing with the old key. Opens the vault if it was locked.
   */
  stage(user: string, current: Buffer, old: Buffer): void {
    if (!this.#held.has(user)) this.install(user, Buffer.from(old));
    const held = this.#held.get(user) as Held;
    wipeStaged(held);
    held.staged = { current, old };
  }

  /** The recorded change takes effect: the new key seals from now on, the old one still opens. */
  commitStaged(user: string): boolean {
    const held = this.#held.get(user);
    if (!held?.staged) return false;
    const { current, old } = held.staged;
    held.staged = undefined;
    held.current.fill(0);
    held.old?.fill(0);
    held.current = current;
    held.old = old;
    held.lastUsed = this.#now();
    return true;
  }

  abortStaged(user: string): void {
    const held = this.#held.get(user);
    if (held) wipeStaged(held);
  }

  /** Every sealed field has been re-sealed: the old key is no longer needed. */
  dropOld(user: string): void {
    const held = this.#held.get(user);
    if (held?.old) {
      held.old.fill(0);
      held.old = undefined;
    }
  }

  /** Wipes the user's keys at once. */
  lock(user: string): void {
    const held = this.#held.get(user);
    if (!held) return;
    this.#held.delete(user);
    wipeStaged(held);
    held.current.fill(0);
    held.old?.fill(0);
  }

  /** Wipes the keys of every user idle for the idle period; returns how many. */
  sweep(): number {
    const before = this.#now() - this.#idleMs;
    let locked = 0;
    for (const [user, held] of this.#held) {
      if (held.lastUsed <= before) {
        this.lock(user);
        locked += 1;
      }
    }
    return locked;
  }

  lockAll(): void {
    for (const user of [...this.#held.keys()]) this.lock(user);
  }

  get size(): number {
    return this.#held.size;
  }
}

function wipeStaged(held: Held): void {
  if (!held.staged) return;
  held.staged.current.fill(0);
  held.staged.old.fill(0);
  held.staged = undefined;
}
