/**
 * Users' own audit logs: one encrypted SQLite file per user (`<dataDir>/audit/<file id>.db`),
 * kept by the executor worker that owns the user. A line says what happened (time, front, plugin,
 * capability, store operation, collection, rows touched, outcome, error code), never a value:
 * no text, params, query content or record. The file is keyed like a plugin file, with its salt in
 * the keyring under `~audit`, so an account purge shreds it with the rest.
 *
 * Lines are written synchronously, as part of the call they describe: a store write commits only
 * after its line is written (host/store/store.ts), and a call whose line cannot be written fails
 * with BH_AUDIT_WRITE_FAILED. Old lines are pruned lazily (BULKHEAD_AUDIT_RETENTION_DAYS).
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { BulkheadError } from '../core/errors.js';
import type { Front } from '../identity/caller-context.js';
import type { Keyring } from '../keys/keyring.js';
import { fileIdFor, type PluginKey } from '../keys/key-service.js';
import {
  enableWal,
  fileOwnership,
  openEncryptedDatabase,
  removeDatabaseFiles,
  sqliteCode,
  translateSqliteError,
  type Cipher,
  type OpenEncryptedOptions,
  type SqliteDatabase,
} from '../sqlite/encrypted-database.js';
import { OpenFile, OpenFiles } from '../store/open-files.js';
import { openUserFile } from '../store/user-file.js';
import type { ActivityFilter, ActivityPage, AuditKind, AuditLine, AuditOutcome } from '../account/types.js';

/** `application_id` of a user's audit file ("BHa1"). */
const auditApplicationId = 0x42486131;

/** One line as the writer hands it over: an AuditLine before the log numbers it; `at` is ms since the epoch. */
export type AuditEntry = Omit<AuditLine, 'v' | 'seq' | 'at'> & { readonly at: number };

export interface AuditLogOptions {
  readonly dataDir: string;
  readonly keyring: Keyring;
  /** KeyService.auditKey(): the log's key material (keyring name `~audit`). */
  readonly key: PluginKey;
  readonly cipher: Cipher;
  /** Lines older than this many days are pruned, lazily, when a log is opened or written. */
  readonly retentionDays: number;
  /** Most audit files open at once (LRU). Default 256. */
  readonly maxOpenFiles?: number;
  /** BULKHEAD_AUDIT_TAP: a file every line is also appended to, as JSON (tests and debugging). */
  readonly tap?: string;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

export const activityLimits = Object.freeze({ defaultLimit: 50, maxLimit: 200 });

/**
 * A line's seq is its time in ms x 1024 plus a counter (kept increasing if the clock steps back):
 * time ranges, retention and pages are all ranges of the table's own key, so the log needs no
 * index, and a line costs one page write. Measured on the full path, an index on the time and
 * AUTOINCREMENT more than doubled what a line costs.
 */
const seqPerMs = 1024;

const schemaSql = `
  CREATE TABLE IF NOT EXISTS "lines" (
    "seq" INTEGER PRIMARY KEY, "at" INTEGER NOT NULL, "front" TEXT NOT NULL, "kind" TEXT NOT NULL,
    "plugin" TEXT, "capability" TEXT, "op" TEXT, "collection" TEXT, "rows" INTEGER,
    "outcome" TEXT NOT NULL, "code" TEXT) STRICT;
  CREATE TABLE IF NOT EXISTS "meta" ("key" TEXT PRIMARY KEY, "value" INTEGER NOT NULL) STRICT, WITHOUT ROWID;`;

const columnCount = 11;
const maxRowsPerStatement = 256;
const insertSqls: string[] = [];

/** `INSERT` of `rows` lines in one statement. */
function insertSql(rows: number): string {
  let sql = insertSqls[rows];
  if (sql === undefined) {
    const row = `(${Array.from({ length: columnCount }, () => '?').join(', ')})`;
    sql = `INSERT INTO "lines" ("seq", "at", "front", "kind", "plugin", "capability", "op", "collection", "rows", "outcome", "code") VALUES ${Array.from({ length: rows }, () => row).join(', ')}`;
    insertSqls[rows] = sql;
  }
  return sql;
}

type SqlValue = string | number | null;
const columns = '"seq", "at", "front", "kind", "plugin", "capability", "op", "collection", "rows", "outcome", "code"';

/** Longest wait for a log another process holds, ms, and the margin kept before a call's deadline. */
const defaultBusyMs = 2000;
const busyAnswerMarginMs = 250;

/** Retention is enforced at most this often per open log. */
const pruneEveryMs = 3_600_000;

interface Row {
  seq: number;
  at: number;
  front: string;
  kind: string;
  plugin: string | null;
  capability: string | null;
  op: string | null;
  collection: string | null;
  rows: number | null;
  outcome: string;
  code: string | null;
}

class OpenLog extends OpenFile {
  prunedAt = 0;
  /** The last seq written (read when the log is opened). */
  lastSeq = 0;
}

export class AuditLog {
  readonly #options: AuditLogOptions;
  readonly #files: OpenFiles;
  readonly #now: () => number;

  constructor(options: AuditLogOptions) {
    this.#options = options;
    this.#files = new OpenFiles(options.maxOpenFiles ?? 256);
    this.#now = options.now ?? Date.now;
  }

  /** The file of a user's log and its id (the keyring entry's name under `~audit`). */
  fileOf(userId: string): { file: string; fileId: string } {
    const fileId = fileIdFor(this.#options.key, userId);
    return { file: path.join(this.#options.dataDir, 'audit', `${fileId}.db`), fileId };
  }

  /**
   * Appends lines to the user's log, all in one transaction. Throws BH_AUDIT_WRITE_FAILED (nothing
   * written) when they cannot be written.
   */
  append(userId: string, entries: readonly AuditEntry[], deadline?: number): void {
    if (entries.length === 0) return;
    const seqs: number[] = [];
    try {
      const log = this.#open(userId, true, deadline) as OpenLog;
      this.#prune(log);
      const first = log.lastSeq;
      try {
        // One statement for all of them (a call's lines): atomic without BEGIN and COMMIT.
        // More lines than one statement takes (SQLite's parameter limit) go in chunks, in one transaction.
        const chunked = entries.length > maxRowsPerStatement;
        if (chunked) log.statement('BEGIN').run();
        for (let start = 0; start < entries.length; start += maxRowsPerStatement) {
          const chunk = entries.slice(start, start + maxRowsPerStatement);
          const values = new Array<SqlValue>(chunk.length * columnCount);
          for (let i = 0; i < chunk.length; i++) seqs.push(entryValues(log, chunk[i] as AuditEntry, values, i * columnCount));
          log.statement(insertSql(chunk.length)).run(values);
        }
        if (chunked) log.statement('COMMIT').run();
      } catch (error) {
        if (log.db.open && log.db.inTransaction) log.statement('ROLLBACK').run();
        log.lastSeq = first;
        throw error;
      }
    } catch (error) {
      throw this.#writeFailed(userId, error);
    }
    if (this.#options.tap) tapLines(this.#options.tap, entries, seqs);
  }

  /** A page of the user's log, newest first (see ActivityFilter). A user without a log has none. */
  page(userId: string, filter: ActivityFilter = {}): ActivityPage {
    const limit = filter.limit ?? activityLimits.defaultLimit;
    const conditions: string[] = [];
    const params: (string | number)[] = [];
    const add = (sql: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      conditions.push(sql);
      params.push(value);
    };
    add('"plugin" = ?', filter.plugin);
    add('"front" = ?', filter.front);
    add('"outcome" = ?', filter.outcome);
    add('"seq" >= ?', filter.from === undefined ? undefined : filter.from * seqPerMs);
    add('"seq" < ?', filter.to === undefined ? undefined : filter.to * seqPerMs);
    add('"seq" < ?', filter.before);
    const where = conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
    const log = this.#read(userId);
    if (!log) return { lines: [] };
    const rows = log.statement(`SELECT ${columns} FROM "lines"${where} ORDER BY "seq" DESC LIMIT ?`).all(...params, limit + 1) as Row[];
    const lines = rows.slice(0, limit).map(toLine);
    return rows.length > limit ? { lines, next: (lines[lines.length - 1] as AuditLine).seq } : { lines };
  }

  /** Lines after `afterSeq`, oldest first: an export reads the whole log this way, a page at a time. */
  since(userId: string, afterSeq: number, limit: number): AuditLine[] {
    const log = this.#read(userId);
    if (!log) return [];
    return (log.statement(`SELECT ${columns} FROM "lines" WHERE "seq" > ? ORDER BY "seq" LIMIT ?`).all(afterSeq, limit) as Row[]).map(toLine);
  }

  /** When the user's log was created (their first recorded call), or undefined without one. */
  createdAt(userId: string): number | undefined {
    const log = this.#read(userId);
    if (!log) return undefined;
    return log.statement('SELECT "value" FROM "meta" WHERE "key" = \'created_at\'', 'pluck').get() as number | undefined;
  }

  /** Closes the user's log, if open (before a purge). */
  closeUser(userId: string): void {
    this.#files.close(userId);
  }

  closeIdle(idleMs: number): number {
    return this.#files.closeUnusedSince(Date.now() - idleMs);
  }

  close(): void {
    this.#files.closeAll();
  }

  #read(userId: string): OpenLog | undefined {
    try {
      const log = this.#open(userId, false);
      if (log) this.#prune(log);
      return log;
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  #open(userId: string, create: boolean, deadline?: number): OpenLog | undefined {
    const known = this.#files.get(userId) as OpenLog | undefined;
    if (known) return known;
    const { file, fileId } = this.fileOf(userId);
    const now = this.#now();
    // Another process (a CLI next to the host) may hold the log: wait, but never past the call's
    // deadline, less the time the answer needs to get back.
    const busyTimeoutMs = deadline === undefined ? defaultBusyMs : Math.floor(Math.max(0, Math.min(defaultBusyMs, deadline - Date.now() - busyAnswerMarginMs)));
    this.#options.keyring.busyTimeoutMs = busyTimeoutMs;
    const db = openUserFile({
      file,
      fileId,
      keyring: this.#options.keyring,
      key: this.#options.key,
      kind: { create: (at, key, options) => createLog(at, key, options, now), prepare: prepareLog },
      options: { cipher: this.#options.cipher, cacheKiB: 128, exclusive: true, busyTimeoutMs },
      create,
    });
    if (!db) return undefined;
    const log = new OpenLog(db);
    try {
      log.lastSeq = (log.statement('SELECT max("seq") FROM "lines"', 'pluck').get() as number | null) ?? 0;
    } catch (error) {
      log.close();
      throw error;
    }
    this.#files.add(userId, log);
    return log;
  }

  #prune(log: OpenLog): void {
    const now = this.#now();
    if (now - log.prunedAt < pruneEveryMs) return;
    log.prunedAt = now;
    log.statement('DELETE FROM "lines" WHERE "seq" < ?').run((now - this.#options.retentionDays * 86_400_000) * seqPerMs);
  }

  #writeFailed(userId: string, error: unknown): BulkheadError {
    // A failing file is closed, so that the next write opens and checks it afresh.
    this.#files.close(userId);
    // Held by another process (wait, or stop the other one), or shredded by an account purge and
    // then restored from a backup (remove it): the caller hears what to do about it.
    if (error instanceof BulkheadError && (error.code === 'BH_STORE_BUSY' || error.code === 'BH_STORE_SHREDDED')) return error;
    if (sqliteCode(error)?.startsWith('SQLITE_BUSY')) return new BulkheadError('BH_STORE_BUSY');
    const code = error instanceof BulkheadError ? error.code : sqliteCode(error) ?? 'unknown';
    return new BulkheadError('BH_AUDIT_WRITE_FAILED', { problem: code === 'SQLITE_FULL' || code === 'BH_STORE_FAILED' ? 'the disk may be full' : code });
  }
}

function createLog(file: string, key: Buffer, options: Omit<OpenEncryptedOptions, 'create'>, now: number): SqliteDatabase {
  const db = openEncryptedDatabase(file, key, { ...options, create: true });
  try {
    // Small pages: a line is about 60 bytes, and each commit writes whole (encrypted) pages.
    db.pragma('page_size = 1024');
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    db.pragma('journal_mode = WAL');
    db.exec(schemaSql);
    db.prepare('INSERT OR IGNORE INTO "meta" ("key", "value") VALUES (\'created_at\', ?)').run(now);
    db.pragma(`application_id = ${auditApplicationId}`);
    enableWal(db);
    return db;
  } catch (error) {
    db.close();
    removeDatabaseFiles(file);
    throw translateSqliteError(error);
  }
}

function prepareLog(db: SqliteDatabase): void {
  const ownership = fileOwnership(db, auditApplicationId);
  enableWal(db);
  if (ownership === 'empty') {
    db.exec(schemaSql);
    db.prepare('INSERT OR IGNORE INTO "meta" ("key", "value") VALUES (\'created_at\', ?)').run(Date.now());
    db.pragma(`application_id = ${auditApplicationId}`);
  }
}

/** Puts the entry's values at `offset` of `values` and answers the seq it gets. */
function entryValues(log: OpenLog, entry: AuditEntry, values: SqlValue[], offset: number): number {
  const seq = Math.max(log.lastSeq + 1, entry.at * seqPerMs);
  values[offset] = seq;
  values[offset + 1] = entry.at;
  values[offset + 2] = entry.front;
  values[offset + 3] = entry.kind;
  values[offset + 4] = entry.plugin ?? null;
  values[offset + 5] = entry.capability ?? null;
  values[offset + 6] = entry.op ?? null;
  values[offset + 7] = entry.collection ?? null;
  values[offset + 8] = entry.rows ?? null;
  values[offset + 9] = entry.outcome;
  values[offset + 10] = entry.code ?? null;
  log.lastSeq = seq;
  return seq;
}

function toLine(row: Row): AuditLine {
  return {
    v: 1,
    seq: row.seq,
    at: new Date(row.at).toISOString(),
    front: row.front as Front,
    kind: row.kind as AuditKind,
    ...(row.plugin !== null ? { plugin: row.plugin } : {}),
    ...(row.capability !== null ? { capability: row.capability } : {}),
    ...(row.op !== null ? { op: row.op } : {}),
    ...(row.collection !== null ? { collection: row.collection } : {}),
    ...(row.rows !== null ? { rows: row.rows } : {}),
    outcome: row.outcome as AuditOutcome,
    ...(row.code !== null ? { code: row.code } : {}),
  };
}

/** The lines as readers get them, one JSON text per line. */
function tapLines(file: string, entries: readonly AuditEntry[], seqs: readonly number[]): void {
  const empty = { plugin: null, capability: null, op: null, collection: null, rows: null, code: null };
  const text = entries.map((entry, i) => `${JSON.stringify(toLine({ ...empty, ...entry, seq: seqs[i] as number }))}\n`).join('');
  appendFileSync(file, text, { mode: 0o600 });
}
