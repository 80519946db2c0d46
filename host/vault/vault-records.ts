/**
 * Each user's vault record, in one encrypted host database (`vault.db`, synchronous=FULL,
 * secure_delete): the Argon2id salt, the verifier that recognises the right master password,
 * the old key sealed under the new one while a change of password is being finished, and the
 * count of wrong passwords that sets how long the next try must wait. Never a password or a key.
 */
import { openHostDatabase, translateSqliteError, type Cipher, type SqliteDatabase } from '../sqlite/encrypted-database.js';

/** `application_id` of the vault database ("BHv1"). */
const vaultApplicationId = 0x42487631;

export interface VaultRecord {
  readonly userId: string;
  readonly salt: Buffer;
  readonly verifier: Buffer;
  /** While a change of password is being finished: the old key sealed under the new one. */
  readonly pending: string | null;
  /** Wrong passwords in a row (reset by a right one). */
  readonly failures: number;
  /** No try is taken before this time (ms since the epoch); 0 for none. */
  readonly retryAt: number;
  readonly createdAt: number;
  readonly changedAt: number;
}

interface Row {
  user_id: string;
  salt: Buffer;
  verifier: Buffer;
  pending: string | null;
  failures: number;
  retry_at: number;
  created_at: number;
  changed_at: number;
}

const schemaSql = `CREATE TABLE IF NOT EXISTS vaults (
  user_id TEXT PRIMARY KEY NOT NULL,
  salt BLOB NOT NULL,
  verifier BLOB NOT NULL,
  pending TEXT,
  failures INTEGER NOT NULL DEFAULT 0,
  retry_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  changed_at INTEGER NOT NULL
) STRICT`;

export class VaultRecords {
  readonly #file: string;
  readonly #key: Buffer;
  readonly #cipher: Cipher;
  #db: SqliteDatabase | undefined;

  /** Opened (and created) on first use. */
  constructor(file: string, key: Buffer, cipher: Cipher) {
    this.#file = file;
    this.#key = Buffer.from(key);
    this.#cipher = cipher;
  }

  get(userId: string): VaultRecord | undefined {
    const row = this.#run((db) => db.prepare('SELECT * FROM vaults WHERE user_id = ?').get(userId) as Row | undefined);
    return row && toRecord(row);
  }

  /** Records a new vault; false when the user already has one (nothing changed). */
  create(userId: string, salt: Uint8Array, verifier: Uint8Array, now: number): boolean {
    return this.#run(
      (db) => db.prepare('INSERT INTO vaults (user_id, salt, verifier, created_at, changed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(userId, Buffer.from(salt), Buffer.from(verifier), now, now).changes === 1,
    );
  }

  /**
   * Starts a change of password, in one commit: from here on only the new password opens the
   * vault, and its record carries the old key (sealed under the new one) until endChange.
   * `expectedVerifier` guards against a second change that raced this one.
   */
  beginChange(userId: string, expectedVerifier: Uint8Array, salt: Uint8Array, verifier: Uint8Array, pending: string, now: number): boolean {
    return this.#run(
      (db) =>
        db
          .prepare('UPDATE vaults SET salt = ?, verifier = ?, pending = ?, failures = 0, retry_at = 0, changed_at = ? WHERE user_id = ? AND verifier = ?')
          .run(Buffer.from(salt), Buffer.from(verifier), pending, now, userId, Buffer.from(expectedVerifier)).changes === 1,
    );
  }

  /** Every sealed field is under the new key: the old key is forgotten. */
  endChange(userId: string): void {
    this.#run((db) => db.prepare('UPDATE vaults SET pending = NULL WHERE user_id = ?').run(userId));
  }

  recordFailure(userId: string, failures: number, retryAt: number): void {
    this.#run((db) => db.prepare('UPDATE vaults SET failures = ?, retry_at = ? WHERE user_id = ?').run(failures, retryAt, userId));
  }

  clearFailures(userId: string): void {
    this.#run((db) => db.prepare('UPDATE vaults SET failures = 0, retry_at = 0 WHERE user_id = ? AND (failures <> 0 OR retry_at <> 0)').run(userId));
  }

  /** Removes the user's vault record (account deletion): their sealed values can never be opened again. */
  remove(userId: string): void {
    this.#run((db) => db.prepare('DELETE FROM vaults WHERE user_id = ?').run(userId));
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
  }

  #run<T>(work: (db: SqliteDatabase) => T): T {
    try {
      this.#db ??= openHostDatabase(this.#file, this.#key, this.#cipher, { applicationId: vaultApplicationId, schemaSql, secureDelete: true });
      return work(this.#db);
    } catch (error) {
      throw translateSqliteError(error);
    }
  }
}

function toRecord(row: Row): VaultRecord {
  return {
    userId: row.user_id,
    salt: row.salt,
    verifier: row.verifier,
    pending: row.pending,
    failures: row.failures,
    retryAt: row.retry_at,
    createdAt: row.created_at,
    changedAt: row.changed_at,
  };
}
