/**
 * The host's timers and the users' inbox, in one encrypted database (`timers.db`), written with
 * synchronous=FULL; removed rows do not linger in free pages (secure_delete). A timer's payload and
 * an inbox message are user data: they live only here, encrypted, and go nowhere else but to the
 * plugin that set the timer and to the user.
 */
import { openHostDatabase, translateSqliteError, type Cipher, type SqliteDatabase } from '../sqlite/encrypted-database.js';
import type { SqliteStatement } from '../sqlite/sqlite-driver.js';

/** `application_id` of the timers database ("BHt1"). */
const timersApplicationId = 0x42487431;

export interface Timer {
  readonly id: string;
  readonly userId: string;
  readonly plugin: string;
  readonly capability: string;
  /** When it is due, ms since the epoch. */
  readonly dueAt: number;
  /** The plugin's payload as JSON text (at most 1 KiB). */
  readonly payload: string;
  /** A 5-field cron expression for a repeating timer, else null. */
  readonly repeat: string | null;
  /** The IANA time zone the repeat is evaluated in. */
  readonly timeZone: string;
  /** Failed attempts since it last fired. */
  readonly attempts: number;
}

/** A message for a user who has no chat to receive it in (console users). */
export interface InboxMessage {
  readonly seq: number;
  readonly at: number;
  readonly plugin: string;
  readonly text: string;
  readonly late: boolean;
}

interface TimerRow {
  id: string;
  user_id: string;
  plugin: string;
  capability: string;
  due_at: number;
  payload: string;
  repeat: string | null;
  time_zone: string;
  attempts: number;
}

interface Open {
  readonly db: SqliteDatabase;
  readonly insert: SqliteStatement<[string, string, string, string, number, string, string | null, string, number]>;
  readonly remove: SqliteStatement<[string, string, string]>;
  readonly drop: SqliteStatement<[string]>;
  readonly count: SqliteStatement<[string, string], { n: number }>;
  readonly due: SqliteStatement<[number, number], TimerRow>;
  readonly reschedule: SqliteStatement<[number, number, string]>;
  readonly ofUser: SqliteStatement<[string], TimerRow>;
  readonly removeUser: SqliteStatement<[string]>;
  readonly next: SqliteStatement<[], { due_at: number }>;
  readonly deliver: SqliteStatement<[string, number, string, string, number]>;
  readonly inbox: SqliteStatement<[string, number], { seq: number; at: number; plugin: string; text: string; late: number }>;
  readonly inboxTrim: SqliteStatement<[string, string, number]>;
  readonly removeInbox: SqliteStatement<[string]>;
}

/** What a successful call asked for (host functions `schedule` and `unschedule`), applied in order. */
export type TimerRequest =
  /** dueAt null: at the repeat's next occurrence (resolved by the scheduler in the user's zone). */
  | { readonly op: 'add'; readonly id: string; readonly capability: string; readonly dueAt: number | null; readonly payload: string; readonly repeat: string | null }
  | { readonly op: 'remove'; readonly id: string };

/** What became of a fired timer, written with others in one transaction (TimerStore.settle). */
export interface Settlement {
  readonly id: string;
  /** Undefined: the timer is removed; else it is next due then, after this many failed attempts. */
  readonly next?: { readonly dueAt: number; readonly attempts: number };
  /** Replies for the user's inbox (the delivery did not take them). */
  readonly inbox?: { readonly userId: string; readonly plugin: string; readonly at: number; readonly texts: readonly string[]; readonly late: boolean };
}

/** How many messages each user's inbox keeps (the oldest go first). */
export const inboxKeeps = 200;

export class TimerStore {
  readonly #file: string;
  readonly #key: Buffer;
  readonly #cipher: Cipher;
  #open: Open | undefined;

  /** Opened (and created) on first use. */
  constructor(file: string, key: Buffer, cipher: Cipher) {
    this.#file = file;
    this.#key = Buffer.from(key);
    this.#cipher = cipher;
  }

  /** Timers the user has with the plugin. */
  count(userId: string, plugin: string): number {
    return this.#run((open) => open.count.get(userId, plugin)?.n ?? 0);
  }

  /**
   * Applies a call's timer requests in one transaction. A removal only removes the caller's own
   * timer of that plugin; an addition past `max` timers for the user and plugin is refused
   * (LimitPassed, nothing applied).
   */
  apply(userId: string, plugin: string, requests: readonly TimerRequest[], timeZone: string, max: number): void {
    this.#run((open) =>
      open.db.transaction(() => {
        for (const request of requests) {
          if (request.op === 'remove') open.remove.run(request.id, userId, plugin);
          else open.insert.run(request.id, userId, plugin, request.capability, request.dueAt as number, request.payload, request.repeat, timeZone, 0);
        }
        if ((open.count.get(userId, plugin)?.n ?? 0) > max) throw new LimitPassed();
      })(),
    );
  }

  /** Up to `limit` timers due at `now`, soonest first. */
  due(now: number, limit: number): Timer[] {
    return this.#run((open) => open.due.all(now, limit).map(toTimer));
  }

  /** When the soonest timer is due, or undefined without timers. */
  nextDue(): number | undefined {
    return this.#run((open) => open.next.get()?.due_at);
  }

  /** Sets when a timer is next due and its failed attempts. */
  reschedule(id: string, dueAt: number, attempts: number): void {
    this.#run((open) => open.reschedule.run(dueAt, attempts, id));
  }

  drop(id: string): void {
    this.#run((open) => open.drop.run(id));
  }

  /** Records what became of fired timers, all in one transaction (one synchronous commit). */
  settle(settlements: readonly Settlement[]): void {
    if (settlements.length === 0) return;
    this.#run((open) =>
      open.db.transaction(() => {
        for (const { id, next, inbox } of settlements) {
          if (inbox) {
            for (const text of inbox.texts) open.deliver.run(inbox.userId, inbox.at, inbox.plugin, text, inbox.late ? 1 : 0);
            open.inboxTrim.run(inbox.userId, inbox.userId, inboxKeeps);
          }
          if (next) open.reschedule.run(next.dueAt, next.attempts, id);
          else open.drop.run(id);
        }
      })(),
    );
  }

  /** The user's timers (for an export and for tests). */
  ofUser(userId: string): Timer[] {
    return this.#run((open) => open.ofUser.all(userId).map(toTimer));
  }

  /** Puts a message in the user's inbox, keeping the newest `inboxKeeps`. */
  deliver(userId: string, at: number, plugin: string, text: string, late: boolean): void {
    this.#run((open) =>
      open.db.transaction(() => {
        open.deliver.run(userId, at, plugin, text, late ? 1 : 0);
        open.inboxTrim.run(userId, userId, inboxKeeps);
      })(),
    );
  }

  /** The user's inbox, newest first. */
  inbox(userId: string, limit = 50): InboxMessage[] {
    return this.#run((open) => open.inbox.all(userId, limit).map((row) => ({ seq: row.seq, at: row.at, plugin: row.plugin, text: row.text, late: row.late === 1 })));
  }

  /** Removes every timer and inbox message of the user (an account purge). Idempotent. */
  removeUser(userId: string): void {
    this.#run((open) =>
      open.db.transaction(() => {
        open.removeUser.run(userId);
        open.removeInbox.run(userId);
      })(),
    );
  }

  close(): void {
    if (this.#open?.db.open) this.#open.db.close();
    this.#open = undefined;
  }

  #run<T>(work: (open: Open) => T): T {
    try {
      return work(this.#opened());
    } catch (error) {
      if (error instanceof LimitPassed) throw error;
      throw translateSqliteError(error);
    }
  }

  #opened(): Open {
    if (!this.#open) {
      const db = openHostDatabase(this.#file, this.#key, this.#cipher, {
        applicationId: timersApplicationId,
        secureDelete: true,
        schemaSql: `CREATE TABLE IF NOT EXISTS "timers" (
          "id" TEXT PRIMARY KEY, "user_id" TEXT NOT NULL, "plugin" TEXT NOT NULL, "capability" TEXT NOT NULL,
          "due_at" INTEGER NOT NULL, "payload" TEXT NOT NULL, "repeat" TEXT, "time_zone" TEXT NOT NULL,
          "attempts" INTEGER NOT NULL) STRICT, WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS "timers_due" ON "timers" ("due_at");
        CREATE INDEX IF NOT EXISTS "timers_owner" ON "timers" ("user_id", "plugin");
        CREATE TABLE IF NOT EXISTS "inbox" (
          "seq" INTEGER PRIMARY KEY, "user_id" TEXT NOT NULL, "at" INTEGER NOT NULL, "plugin" TEXT NOT NULL,
          "text" TEXT NOT NULL, "late" INTEGER NOT NULL) STRICT;
        CREATE INDEX IF NOT EXISTS "inbox_user" ON "inbox" ("user_id", "seq");`,
      });
      this.#open = {
        db,
        insert: db.prepare(
          'INSERT OR REPLACE INTO "timers" ("id", "user_id", "plugin", "capability", "due_at", "payload", "repeat", "time_zone", "attempts") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ),
        remove: db.prepare('DELETE FROM "timers" WHERE "id" = ? AND "user_id" = ? AND "plugin" = ?'),
        drop: db.prepare('DELETE FROM "timers" WHERE "id" = ?'),
        count: db.prepare('SELECT count(*) AS "n" FROM "timers" WHERE "user_id" = ? AND "plugin" = ?'),
        due: db.prepare('SELECT * FROM "timers" WHERE "due_at" <= ? ORDER BY "due_at" LIMIT ?'),
        reschedule: db.prepare('UPDATE "timers" SET "due_at" = ?, "attempts" = ? WHERE "id" = ?'),
        ofUser: db.prepare('SELECT * FROM "timers" WHERE "user_id" = ? ORDER BY "due_at"'),
        removeUser: db.prepare('DELETE FROM "timers" WHERE "user_id" = ?'),
        next: db.prepare('SELECT "due_at" FROM "timers" ORDER BY "due_at" LIMIT 1'),
        deliver: db.prepare('INSERT INTO "inbox" ("user_id", "at", "plugin", "text", "late") VALUES (?, ?, ?, ?, ?)'),
        inbox: db.prepare('SELECT "seq", "at", "plugin", "text", "late" FROM "inbox" WHERE "user_id" = ? ORDER BY "seq" DESC LIMIT ?'),
        inboxTrim: db.prepare(
          'DELETE FROM "inbox" WHERE "user_id" = ? AND "seq" NOT IN (SELECT "seq" FROM "inbox" WHERE "user_id" = ? ORDER BY "seq" DESC LIMIT ?)',
        ),
        removeInbox: db.prepare('DELETE FROM "inbox" WHERE "user_id" = ?'),
      };
      this.#key.fill(0);
    }
    return this.#open;
  }
}

/** Thrown inside `apply`'s transaction to roll it back. */
export class LimitPassed extends Error {}

function toTimer(row: TimerRow): Timer {
  return {
    id: row.id,
    userId: row.user_id,
    plugin: row.plugin,
    capability: row.capability,
    dueAt: row.due_at,
    payload: row.payload,
    repeat: row.repeat,
    timeZone: row.time_zone,
    attempts: row.attempts,
  };
}
