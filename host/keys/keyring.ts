import { randomBytes } from 'node:crypto';
import { openHostDatabase, translateSqliteError, type Cipher, type SqliteDatabase } from '../sqlite/encrypted-database.js';
import type { SqliteStatement } from '../sqlite/sqlite-driver.js';

/** `application_id` of the keyring file ("BHk1"). */
const keyringApplicationId = 0x42486b31;

/**
 * The host keyring: one random salt per (plugin, user file), in its own encrypted database.
 * A file's key is derived from its plugin key and this salt, so deleting the salt makes the file
 * unreadable for good, also in old backups of the data directory when the keyring is kept apart
 * (crypto-shredding). Rows are addressed by the derived file id: the keyring holds no user ids.
 */
export class Keyring {
  readonly #db: SqliteDatabase;
  readonly #get: SqliteStatement<[string, string], { salt: Buffer; created: number }>;
  readonly #insert: SqliteStatement<[string, string, Buffer, number]>;
  readonly #markCreated: SqliteStatement<[string, string]>;
  readonly #delete: SqliteStatement<[string, string]>;

  constructor(file: string, key: Buffer, cipher: Cipher) {
    // A salt must be on disk before any data is written under the key derived from it, and a
    // shredded salt must not linger in a free page.
    const db = openHostDatabase(file, key, cipher, {
      applicationId: keyringApplicationId,
      secureDelete: true,
      // "created" is 1 once the file's creation completed: from then on a missing or empty file is
      // lost data, never a new user (keyrings from before it existed hold only created files).
      schemaSql: `CREATE TABLE IF NOT EXISTS "file_salts" (
        "plugin" TEXT NOT NULL, "file_id" TEXT NOT NULL, "salt" BLOB NOT NULL, "created_at" INTEGER NOT NULL,
        "created" INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY ("plugin", "file_id")) STRICT, WITHOUT ROWID`,
    });
    try {
      const columns = db.prepare('SELECT "name" FROM pragma_table_info(\'file_salts\')').pluck().all() as string[];
      if (!columns.includes('created')) db.exec('ALTER TABLE "file_salts" ADD COLUMN "created" INTEGER NOT NULL DEFAULT 1');
    } catch (error) {
      db.close();
      throw translateSqliteError(error);
    }
    this.#db = db;
    this.#get = db.prepare('SELECT "salt", "created" FROM "file_salts" WHERE "plugin" = ? AND "file_id" = ?');
    this.#insert = db.prepare('INSERT OR IGNORE INTO "file_salts" ("plugin", "file_id", "salt", "created_at", "created") VALUES (?, ?, ?, ?, 0)');
    this.#markCreated = db.prepare('UPDATE "file_salts" SET "created" = 1 WHERE "plugin" = ? AND "file_id" = ?');
    this.#delete = db.prepare('DELETE FROM "file_salts" WHERE "plugin" = ? AND "file_id" = ?');
  }

  /**
   * How long the next statements wait for a lock another process holds. The store sets it to what
   * is left of the call before it touches the keyring: a worker is never stopped inside SQLite.
   */
  set busyTimeoutMs(ms: number) {
    this.#db.pragma(`busy_timeout = ${Math.max(0, Math.floor(ms))}`);
  }

  /** The salt of a file, or undefined when it was never created or has been shredded. */
  salt(plugin: string, fileId: string): Buffer | undefined {
    return coded(() => this.#get.get(plugin, fileId)?.salt);
  }

  /** The salt of a file and whether the file's creation completed; undefined when there is none. */
  entry(plugin: string, fileId: string): { salt: Buffer; created: boolean } | undefined {
    return coded(() => {
      const row = this.#get.get(plugin, fileId);
      return row ? { salt: row.salt, created: row.created === 1 } : undefined;
    });
  }

  /** The salt of a file, created (32 random bytes) on first use, marked as not yet created. */
  saltOrCreate(plugin: string, fileId: string): Buffer {
    return coded(() => {
      this.#insert.run(plugin, fileId, randomBytes(32), Date.now());
      return this.#get.get(plugin, fileId)?.salt as Buffer;
    });
  }

  /**
   * Records that the file now exists: a later missing or empty file is lost data. Written without
   * its own fsync (the next synced keyring write carries it): if a power cut loses the mark, the
   * file's state stays "creating", which is only ever acted on for an empty file, and an empty
   * file holds no data. So a new user's first open costs one fsync of the keyring, not two.
   */
  markCreated(plugin: string, fileId: string): void {
    coded(() => {
      this.#db.pragma('synchronous = NORMAL');
      try {
        this.#markCreated.run(plugin, fileId);
      } finally {
        this.#db.pragma('synchronous = FULL');
      }
    });
  }

  /** Every name (plugin, or `~audit`) the keyring holds salts under. */
  names(): string[] {
    return coded(() => this.#db.prepare('SELECT DISTINCT "plugin" FROM "file_salts" ORDER BY "plugin"').pluck().all() as string[]);
  }

  /** Crypto-shreds a file: without its salt its key can never be derived again. */
  shred(plugin: string, fileId: string): boolean {
    return coded(() => {
      const deleted = this.#delete.run(plugin, fileId).changes > 0;
      // Also drop the old page images from the write-ahead log.
      if (deleted) this.#db.pragma('wal_checkpoint(TRUNCATE)');
      return deleted;
    });
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/** Runs a keyring statement; SQLite errors (a busy lock, a full disk) become coded errors. */
function coded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw translateSqliteError(error);
  }
}
