/**
 * The identity directory: which Bulkhead user a verified platform identity is. A Slack user is
 * (team_id, user_id) as Slack signed it; on first contact they get a random globalUserId, and
 * from then on always the same one. The directory is the host's own encrypted database; nothing
 * below the fronts ever sees a platform id, and user files are named after the globalUserId (by
 * HMAC), so a directory listing links no file to a Slack account.
 *
 * Losing a row would lose the user's way back to their files: writes are synchronous=FULL. The
 * file is opened on first use, so `bulkhead invoke` and `console` never create it.
 *
 * @example
 * const directory = new IdentityDirectory(path.join(dataDir, 'identities.db'), keys.identityKey(), 'aegis');
 * const globalUserId = directory.resolve('slack', 'T0123', 'U0456'); // "u_3q2...": stable
 */
import { randomBytes } from 'node:crypto';
import { BulkheadError } from '../core/errors.js';
import { openHostDatabase, translateSqliteError, type Cipher, type SqliteDatabase } from '../sqlite/encrypted-database.js';
import type { SqliteStatement } from '../sqlite/sqlite-driver.js';

/** `application_id` of the directory file ("BHi1"). */
const directoryApplicationId = 0x42486931;

export type Platform = 'slack';

/** Platform ids as Slack issues them (team T..., enterprise E..., user U.../W...). */
const platformIdPattern = /^[A-Z0-9]{1,32}$/;

interface Open {
  readonly db: SqliteDatabase;
  readonly get: SqliteStatement<[string, string, string], { global_user_id: string }>;
  readonly insert: SqliteStatement<[string, string, string, string, number]>;
  readonly ofUser: SqliteStatement<[string], { platform: string; team_id: string; user_id: string; created_at: number }>;
  readonly forget: SqliteStatement<[string]>;
}

/** A platform identity linked to a Bulkhead user. */
export interface LinkedIdentity {
  readonly platform: Platform;
  readonly teamId: string;
  readonly userId: string;
  /** When the identity first reached Bulkhead, ms since the epoch. */
  readonly linkedAt: number;
}

export class IdentityDirectory {
  readonly #file: string;
  readonly #key: Buffer;
  readonly #cipher: Cipher;
  #open: Open | undefined;

  /** The file is opened (and created) on the first lookup: processes that serve no chat never touch it. */
  constructor(file: string, key: Buffer, cipher: Cipher) {
    this.#file = file;
    this.#key = Buffer.from(key);
    this.#cipher = cipher;
  }

  /** The globalUserId of a verified platform identity, created on first contact. */
  resolve(platform: Platform, teamId: string, userId: string): string {
    if (!platformIdPattern.test(teamId) || !platformIdPattern.test(userId)) {
      throw new BulkheadError('BH_IDENTITY_INVALID', { platform });
    }
    const { get, insert } = this.#opened();
    try {
      const known = get.get(platform, teamId, userId);
      if (known) return known.global_user_id;
      insert.run(platform, teamId, userId, `u_${randomBytes(16).toString('base64url')}`, Date.now());
      return (get.get(platform, teamId, userId) as { global_user_id: string }).global_user_id;
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  /** The platform identities linked to a user (for their export). */
  identitiesOf(globalUserId: string): LinkedIdentity[] {
    try {
      return this.#opened()
        .ofUser.all(globalUserId)
        .map((row) => ({ platform: row.platform as Platform, teamId: row.team_id, userId: row.user_id, linkedAt: row.created_at }));
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  /**
   * Unlinks every platform identity of a user (an account purge): their next message gets a new
   * globalUserId, so a new, empty account. Returns how many were unlinked.
   */
  forget(globalUserId: string): number {
    try {
      return this.#opened().forget.run(globalUserId).changes;
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  close(): void {
    if (this.#open?.db.open) this.#open.db.close();
    this.#open = undefined;
  }

  #opened(): Open {
    if (!this.#open) {
      const db = openHostDatabase(this.#file, this.#key, this.#cipher, {
        applicationId: directoryApplicationId,
        secureDelete: true,
        schemaSql: `CREATE TABLE IF NOT EXISTS "identities" (
          "platform" TEXT NOT NULL, "team_id" TEXT NOT NULL, "user_id" TEXT NOT NULL,
          "global_user_id" TEXT NOT NULL UNIQUE, "created_at" INTEGER NOT NULL,
          PRIMARY KEY ("platform", "team_id", "user_id")) STRICT, WITHOUT ROWID`,
      });
      this.#open = {
        db,
        get: db.prepare('SELECT "global_user_id" FROM "identities" WHERE "platform" = ? AND "team_id" = ? AND "user_id" = ?'),
        insert: db.prepare('INSERT OR IGNORE INTO "identities" ("platform", "team_id", "user_id", "global_user_id", "created_at") VALUES (?, ?, ?, ?, ?)'),
        ofUser: db.prepare('SELECT "platform", "team_id", "user_id", "created_at" FROM "identities" WHERE "global_user_id" = ? ORDER BY "created_at"'),
        forget: db.prepare('DELETE FROM "identities" WHERE "global_user_id" = ?'),
      };
      this.#key.fill(0); // SQLite holds the key from here on
    }
    return this.#open;
  }
}
