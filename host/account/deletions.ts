/**
 * The host's queue of account deletions: who asked, when, and when the purge is due. A row lives
 * from the request until the purge has finished (or the user cancels), so a purge a crash cut
 * short is found and finished on the next start. Its own encrypted database, written with
 * synchronous=FULL; shredded rows do not linger in free pages (secure_delete).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { openHostDatabase, translateSqliteError, type Cipher, type SqliteDatabase } from '../sqlite/encrypted-database.js';
import type { SqliteStatement } from '../sqlite/sqlite-driver.js';

/** `application_id` of the deletion queue ("BHx1"). */
const deletionsApplicationId = 0x42487831;

export interface Deletion {
  readonly userId: string;
  readonly requestedAt: number;
  readonly dueAt: number;
  /** Set once the purge has started: from then on it cannot be cancelled, only finished. */
  readonly purgeId: string | null;
}

interface Row {
  user_id: string;
  requested_at: number;
  due_at: number;
  purge_id: string | null;
}

interface Open {
  readonly db: SqliteDatabase;
  readonly get: SqliteStatement<[string], Row>;
  readonly insert: SqliteStatement<[string, number, number]>;
  readonly cancel: SqliteStatement<[string]>;
  readonly due: SqliteStatement<[number], Row>;
  readonly start: SqliteStatement<[string, string]>;
  readonly finish: SqliteStatement<[string]>;
  readonly tombstone: SqliteStatement<[Buffer, number]>;
  readonly tombstoned: SqliteStatement<[Buffer, number], { until: number }>;
  readonly pruneTombstones: SqliteStatement<[number]>;
}

export class DeletionQueue {
  readonly #file: string;
  readonly #key: Buffer;
  readonly #cipher: Cipher;
  readonly #hashKey: Buffer;
  #open: Open | undefined;

  /** Opened (and created) on first use. */
  constructor(file: string, key: Buffer, cipher: Cipher) {
    this.#file = file;
    this.#key = Buffer.from(key);
    this.#hashKey = createHmac('sha256', key).update('tombstones').digest();
    this.#cipher = cipher;
  }

  get(userId: string): Deletion | undefined {
    return this.#run((open) => toDeletion(open.get.get(userId)));
  }

  /** Schedules a deletion; one already scheduled keeps its dates. */
  request(userId: string, now: number, graceMs: number): Deletion {
    return this.#run((open) => {
      open.insert.run(userId, now, now + graceMs);
      return toDeletion(open.get.get(userId)) as Deletion;
    });
  }

  /** Cancels a deletion whose purge has not started. False when there was none to cancel. */
  cancel(userId: string): boolean {
    return this.#run((open) => open.cancel.run(userId).changes > 0);
  }

  /** Deletions due at `now`, and every purge that started and did not finish. */
  due(now: number): Deletion[] {
    return this.#run((open) => open.due.all(now).map((row) => toDeletion(row) as Deletion));
  }

  /** Marks the purge as started (keeping the id of one that already started) and returns its purge id. */
  startPurge(userId: string): string {
    return this.#run((open) => {
      open.start.run(`p_${randomBytes(12).toString('base64url')}`, userId);
      return open.get.get(userId)?.purge_id as string;
    });
  }

  /** Forgets a finished purge: the queue keeps nothing of the user. */
  finish(userId: string): void {
    this.#run((open) => open.finish.run(userId));
  }

  /**
   * Remembers, until `until`, that a user id was purged: a login link minted for it before the
   * purge must not recreate an account under it. Kept as a keyed hash, never the id.
   */
  tombstone(userId: string, until: number): void {
    this.#run((open) => {
      open.pruneTombstones.run(Date.now());
      open.tombstone.run(this.#hash(userId), until);
    });
  }

  /** Whether the user id was purged and its tombstone is still standing at `now`. */
  purgedRecently(userId: string, now: number): boolean {
    return this.#run((open) => open.tombstoned.get(this.#hash(userId), now) !== undefined);
  }

  close(): void {
    if (this.#open?.db.open) this.#open.db.close();
    this.#open = undefined;
  }

  #run<T>(work: (open: Open) => T): T {
    try {
      return work(this.#opened());
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  #hash(userId: string): Buffer {
    return createHmac('sha256', this.#hashKey).update(userId, 'utf8').digest();
  }

  #opened(): Open {
    if (!this.#open) {
      const db = openHostDatabase(this.#file, this.#key, this.#cipher, {
        applicationId: deletionsApplicationId,
        secureDelete: true,
        schemaSql: `CREATE TABLE IF NOT EXISTS "deletions" (
          "user_id" TEXT PRIMARY KEY, "requested_at" INTEGER NOT NULL, "due_at" INTEGER NOT NULL, "purge_id" TEXT) STRICT, WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS "tombstones" ("user_hash" BLOB PRIMARY KEY, "until" INTEGER NOT NULL) STRICT, WITHOUT ROWID;`,
      });
      this.#open = {
        db,
        get: db.prepare('SELECT * FROM "deletions" WHERE "user_id" = ?'),
        insert: db.prepare('INSERT OR IGNORE INTO "deletions" ("user_id", "requested_at", "due_at") VALUES (?, ?, ?)'),
        cancel: db.prepare('DELETE FROM "deletions" WHERE "user_id" = ? AND "purge_id" IS NULL'),
        due: db.prepare('SELECT * FROM "deletions" WHERE "due_at" <= ? OR "purge_id" IS NOT NULL ORDER BY "due_at"'),
        start: db.prepare('UPDATE "deletions" SET "purge_id" = coalesce("purge_id", ?) WHERE "user_id" = ?'),
        finish: db.prepare('DELETE FROM "deletions" WHERE "user_id" = ?'),
        tombstone: db.prepare('INSERT OR REPLACE INTO "tombstones" ("user_hash", "until") VALUES (?, ?)'),
        tombstoned: db.prepare('SELECT "until" FROM "tombstones" WHERE "user_hash" = ? AND "until" > ?'),
        pruneTombstones: db.prepare('DELETE FROM "tombstones" WHERE "until" <= ?'),
      };
      this.#key.fill(0);
    }
    return this.#open;
  }
}

function toDeletion(row: Row | undefined): Deletion | undefined {
  return row ? { userId: row.user_id, requestedAt: row.requested_at, dueAt: row.due_at, purgeId: row.purge_id } : undefined;
}
