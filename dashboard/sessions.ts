/**
 * Server-side dashboard sessions. The cookie (@fastify/secure-session) is stateless: alone, a
 * copy would outlive a logout. So the cookie only carries a random secret, and this store keeps
 * the session record under the secret's SHA-256: logging out deletes the record, and every copy
 * of the cookie stops working at once. The store also records the nonces of login links already
 * used, so a link works once, across restarts too.
 *
 * Records live in the host's own encrypted SQLite file (`dashboard.db`, synchronous=FULL) and in
 * memory. The last-seen time is written back at most once a minute per session, so a busy session
 * does not write on every request; the idle timeout is checked against the time in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { openHostDatabase, translateSqliteError, type Cipher, type SqliteDatabase } from '../host/sqlite/encrypted-database.js';
import { BulkheadError } from '../host/core/errors.js';
import type { SqliteStatement } from '../host/sqlite/sqlite-driver.js';

/** `application_id` of the session file ("BHd1"). */
const sessionsApplicationId = 0x42486431;

export interface SessionRecord {
  /** Public id of the session (shown in the session list, used to end one); not a credential. */
  readonly id: string;
  readonly globalUserId: string;
  readonly platformIdentity: string;
  /** When the user logged in (the link was consumed), ms since the epoch. */
  readonly authTime: number;
  /** authTime + the absolute lifetime. */
  readonly expiresAt: number;
  lastSeen: number;
  /** lastSeen as last written to the file. */
  writtenSeen: number;
}

/** How fresh a login must be for export, vault set-up and other sensitive actions. */
export const freshLoginMs = 5 * 60 * 1000;

/**
 * Refuses a sensitive action (export, vault set-up) unless the session's login happened within
 * the last 5 minutes: a stolen or forgotten session alone is not enough for them.
 */
export function requireFreshLogin(session: Pick<SessionRecord, 'authTime'>, now: number): void {
  if (now - session.authTime > freshLoginMs) throw new BulkheadError('BH_FRESH_LOGIN_REQUIRED', { minutes: freshLoginMs / 60_000 });
}

/** Whole seconds left in which the session's login still counts as fresh; 0 once it does not. */
export function freshLoginSecondsLeft(session: Pick<SessionRecord, 'authTime'>, now: number): number {
  return Math.max(0, Math.floor((session.authTime + freshLoginMs - now) / 1000));
}

export interface SessionTimes {
  /** Absolute lifetime of a session, ms. */
  readonly lifetimeMs: number;
  /** A session unused this long ends, ms. */
  readonly idleMs: number;
}

interface Row {
  id: string;
  secret_hash: Buffer;
  global_user_id: string;
  platform_identity: string;
  auth_time: number;
  expires_at: number;
  last_seen: number;
}

/** Write last-seen back to the file at most this often per session. */
const lastSeenWriteMs = 60_000;

export class SessionStore {
  readonly #db: SqliteDatabase;
  readonly #times: SessionTimes;
  readonly #now: () => number;
  /** Session records by the hex SHA-256 of their secret. */
  readonly #bySecret = new Map<string, SessionRecord>();
  readonly #statements: {
    insert: SqliteStatement<[string, Buffer, string, string, number, number, number]>;
    touch: SqliteStatement<[number, string]>;
    deleteOne: SqliteStatement<[string]>;
    deleteUser: SqliteStatement<[string]>;
    useLink: SqliteStatement<[string, number]>;
    prune: SqliteStatement<[number, number]>;
    pruneLinks: SqliteStatement<[number]>;
  };

  constructor(file: string, key: Buffer, cipher: Cipher, times: SessionTimes, now: () => number = Date.now) {
    this.#times = times;
    this.#now = now;
    this.#db = openHostDatabase(file, key, cipher, {
      applicationId: sessionsApplicationId,
      secureDelete: true,
      schemaSql: `
        CREATE TABLE IF NOT EXISTS "sessions" (
          "id" TEXT PRIMARY KEY, "secret_hash" BLOB NOT NULL UNIQUE, "global_user_id" TEXT NOT NULL,
          "platform_identity" TEXT NOT NULL, "auth_time" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL,
          "last_seen" INTEGER NOT NULL) STRICT;
        CREATE INDEX IF NOT EXISTS "sessions_by_user" ON "sessions" ("global_user_id");
        CREATE TABLE IF NOT EXISTS "used_links" ("nonce" TEXT PRIMARY KEY, "expires_at" INTEGER NOT NULL) STRICT, WITHOUT ROWID;`,
    });
    key.fill(0);
    try {
      const db = this.#db;
      this.#statements = {
        insert: db.prepare('INSERT INTO "sessions" ("id", "secret_hash", "global_user_id", "platform_identity", "auth_time", "expires_at", "last_seen") VALUES (?, ?, ?, ?, ?, ?, ?)'),
        touch: db.prepare('UPDATE "sessions" SET "last_seen" = ? WHERE "id" = ?'),
        deleteOne: db.prepare('DELETE FROM "sessions" WHERE "id" = ?'),
        deleteUser: db.prepare('DELETE FROM "sessions" WHERE "global_user_id" = ?'),
        useLink: db.prepare('INSERT OR IGNORE INTO "used_links" ("nonce", "expires_at") VALUES (?, ?)'),
        prune: db.prepare('DELETE FROM "sessions" WHERE "expires_at" <= ? OR "last_seen" <= ?'),
        pruneLinks: db.prepare('DELETE FROM "used_links" WHERE "expires_at" <= ?'),
      };
      this.prune();
      const rows = db.prepare('SELECT * FROM "sessions"').all() as Row[];
      for (const row of rows) {
        this.#bySecret.set(row.secret_hash.toString('hex'), {
          id: row.id,
          globalUserId: row.global_user_id,
          platformIdentity: row.platform_identity,
          authTime: row.auth_time,
          expiresAt: row.expires_at,
          lastSeen: row.last_seen,
          writtenSeen: row.last_seen,
        });
      }
    } catch (error) {
      this.#db.close();
      throw translateSqliteError(error);
    }
  }

  /**
   * Records a link's nonce as used. True the first time: the link may log its user in. Expired
   * nonces are forgotten, since the link is refused by its expiry from then on.
   */
  consumeLink(nonce: string, expiresAt: number): boolean {
    try {
      return this.#statements.useLink.run(nonce, expiresAt).changes === 1;
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  /** A new session; returns the secret for the cookie (never stored, only its hash). */
  create(identity: { globalUserId: string; platformIdentity: string }): { secret: string; record: SessionRecord } {
    const now = this.#now();
    const secret = randomBytes(32).toString('base64url');
    const hash = hashOf(secret);
    const record: SessionRecord = {
      id: randomBytes(12).toString('base64url'),
      globalUserId: identity.globalUserId,
      platformIdentity: identity.platformIdentity,
      authTime: now,
      expiresAt: now + this.#times.lifetimeMs,
      lastSeen: now,
      writtenSeen: now,
    };
    try {
      this.#statements.insert.run(record.id, Buffer.from(hash, 'hex'), record.globalUserId, record.platformIdentity, record.authTime, record.expiresAt, record.lastSeen);
    } catch (error) {
      throw translateSqliteError(error);
    }
    this.#bySecret.set(hash, record);
    return { secret, record };
  }

  /**
   * The live session of a cookie's secret, its last-seen time moved to now; undefined when it
   * never existed, was ended, is past its lifetime or was idle too long (then it is deleted).
   */
  use(secret: unknown): SessionRecord | undefined {
    if (typeof secret !== 'string' || secret.length !== 43) return undefined;
    const hash = hashOf(secret);
    const record = this.#bySecret.get(hash);
    if (!record) return undefined;
    const now = this.#now();
    if (now >= record.expiresAt || now - record.lastSeen >= this.#times.idleMs) {
      this.#end(hash, record);
      return undefined;
    }
    record.lastSeen = now;
    if (now - record.writtenSeen >= lastSeenWriteMs) {
      record.writtenSeen = now;
      try {
        // No row to touch: another process ended the session (an account purge run from the CLI).
        if (this.#statements.touch.run(now, record.id).changes === 0) {
          this.#bySecret.delete(hash);
          return undefined;
        }
      } catch {
        // Last-seen is advisory on disk; the idle check uses the value in memory.
      }
    }
    return record;
  }

  /** The user's live sessions, newest first. */
  list(globalUserId: string): SessionRecord[] {
    const now = this.#now();
    return [...this.#bySecret.values()]
      .filter((r) => r.globalUserId === globalUserId && now < r.expiresAt && now - r.lastSeen < this.#times.idleMs)
      .sort((a, b) => b.authTime - a.authTime);
  }

  /** Ends one of the user's sessions by its public id. False when the user has none with that id. */
  end(globalUserId: string, id: string): boolean {
    for (const [hash, record] of this.#bySecret) {
      if (record.id === id && record.globalUserId === globalUserId) {
        this.#end(hash, record);
        return true;
      }
    }
    return false;
  }

  /** Ends every session of the user ("log out everywhere"). Returns how many ended. */
  endAll(globalUserId: string): number {
    let ended = 0;
    for (const [hash, record] of this.#bySecret) {
      if (record.globalUserId === globalUserId) {
        this.#bySecret.delete(hash);
        ended++;
      }
    }
    try {
      this.#statements.deleteUser.run(globalUserId);
    } catch (error) {
      throw translateSqliteError(error);
    }
    return ended;
  }

  /** Forgets expired sessions and used links that have expired anyway. */
  prune(): void {
    const now = this.#now();
    for (const [hash, record] of this.#bySecret) {
      if (now >= record.expiresAt || now - record.lastSeen >= this.#times.idleMs) this.#bySecret.delete(hash);
    }
    try {
      this.#statements.prune.run(now, now - this.#times.idleMs);
      this.#statements.pruneLinks.run(now);
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #end(hash: string, record: SessionRecord): void {
    this.#bySecret.delete(hash);
    try {
      this.#statements.deleteOne.run(record.id);
    } catch (error) {
      throw translateSqliteError(error);
    }
  }
}

function hashOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
