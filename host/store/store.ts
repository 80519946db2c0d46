import { limitDefault } from '../config/limits.js';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { CallerClaims, CallerTokens } from '../identity/caller-token.js';
import { BulkheadError } from '../core/errors.js';
import type { Keyring } from '../keys/keyring.js';
import { fileIdFor, type PluginKey } from '../keys/key-service.js';
import type { PluginManifest } from '../manifest/manifest.js';
import { removeDatabaseFiles, sqliteCode, translateSqliteError, type Cipher } from '../sqlite/encrypted-database.js';
import { createFile, prepareFile } from './migrate.js';
import { OpenFile, OpenFiles } from './open-files.js';
import { QueryMeter, QueryStopped, unlimitedBudget, type QueryBudget } from './query-budget.js';
import { compileQuery, type CompiledQuery, type QueryOp } from './query-compiler.js';
import { openUserFile } from './user-file.js';
import { buildStorageSchema, lockedSentinel, type CollectionDef, type StorageSchema } from './storage-schema.js';
import { isSealed, open as openSealed, seal, sealedWith, type SealedPlace } from '../vault/sealed.js';
import type { OpenVault } from '../vault/vault-keys.js';
import type { SqliteDatabase } from '../sqlite/sqlite-driver.js';

export interface StoreOptions {
  /** Root of the data directory; user files go to `<dataDir>/plugins/<plugin>/<file id>.db`. */
  readonly dataDir: string;
  readonly keyring: Keyring;
  /** Per-plugin key material. The store never sees the master key. */
  readonly pluginKey: (plugin: string) => PluginKey;
  /** The validated manifest of a plugin, or undefined when the host does not know it. */
  readonly manifest: (plugin: string) => PluginManifest | undefined;
  readonly tokens: CallerTokens;
  /** Default `aegis`. */
  readonly cipher?: Cipher;
  /** Most user files open at once (LRU). Default 256. */
  readonly maxOpenFiles?: number;
  /** Page cache per open file, KiB. Default 512. */
  readonly pageCacheKiB?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
  /** Most rows one query may examine. Default 100,000. */
  readonly maxRowsExamined?: number;
  /** Size quota of one (user, plugin) file, MiB. Default: 64 for every plugin. */
  readonly pluginQuotaMiB?: (plugin: string) => number;
  /** Longest wait for a file another process holds, ms (never past the call's deadline). Default 2000. */
  readonly busyTimeoutMs?: number;
  /**
   * Hears every query of a verified caller (the audit log): after the query ran, and for a query
   * that was refused or failed (with its code). The worker keeps what it hears with the call and
   * writes it when the call ends, before the call's writes commit (beginCall, endCall).
   */
  readonly audit?: (event: StoreAuditEvent) => void;
  /**
   * The user's vault keys while their vault is open (host/vault/vault-keys.ts), for sealed
   * fields. Without it, every sealed field reads as locked and refuses writes.
   */
  readonly vault?: (userId: string) => OpenVault | undefined;
}

/** How the queries since the last takeVaultUse met sealed fields (protocol.ts, CallVault). */
export interface VaultUse {
  opened: boolean;
  locked: boolean;
}

/** What the audit log learns of one query: never a value, only what it was and what it touched. */
export interface StoreAuditEvent {
  readonly claims: CallerClaims;
  /** The operation, when the request named a valid one. */
  readonly op?: QueryOp;
  /** The collection, when the request named one the manifest declares. */
  readonly collection?: string;
  /** Records inserted, found, counted, updated or deleted (successful queries). */
  readonly rows?: number;
  /** The coded error of a refused or failed query. */
  readonly code?: string;
}

/** What a successful query returns (schemas/query.v1.json, response). */
export type QueryResult =
  | { ok: true; record: Record<string, unknown> }
  | { ok: true; records: Record<string, unknown>[] }
  | { ok: true; count: number };

export type QueryResponse = QueryResult | { ok: false; error: { code: string; message: string } };

export const storeDefaults = Object.freeze({
  cipher: 'aegis' as Cipher,
  maxOpenFiles: limitDefault('store.maxOpenFiles'),
  pageCacheKiB: limitDefault('store.pageCacheKiB'),
  maxRowsExamined: limitDefault('store.maxRowsExamined'),
  // A plugin without a quota of its own gets what a manifest without limits gets.
  quotaMiB: limitDefault('plugin.storeMiB'),
  busyTimeoutMs: limitDefault('store.busyTimeoutMs'),
  idleCloseSeconds: limitDefault('store.idleCloseSeconds'),
});

/** How long before the call's deadline a wait for a busy file gives up, so BH_STORE_BUSY reaches the caller in time. */
const busyAnswerMarginMs = 250;
/** SQLite's page size for new files (its default): the quota is counted in pages. */
const pageBytes = 4096;

/**
 * Every user's data for every plugin, each in its own encrypted SQLite file.
 *
 * Each request carries a caller token; the user and the plugin are taken only from its verified
 * claims, so nothing a plugin puts in a request can reach another user's file.
 *
 * @example
 * const result = store.execute(token, 'notes', { op: 'find', collection: 'notes', limit: 10 });
 */
export class Store {
  readonly #options: StoreOptions;
  readonly #cipher: Cipher;
  readonly #pageCacheKiB: number;
  readonly #now: () => number;
  readonly #files: OpenFiles;
  readonly #schemas = new Map<string, StorageSchema>();
  readonly #meter: QueryMeter;
  #closed = false;
  /** The files a call in progress has written (beginCall .. endCall); undefined outside calls. */
  #inCall: Set<OpenFile> | undefined;
  #vaultUse: VaultUse = { opened: false, locked: false };

  constructor(options: StoreOptions) {
    this.#options = options;
    this.#cipher = options.cipher ?? storeDefaults.cipher;
    this.#pageCacheKiB = options.pageCacheKiB ?? storeDefaults.pageCacheKiB;
    this.#now = options.now ?? Date.now;
    this.#files = new OpenFiles(options.maxOpenFiles ?? storeDefaults.maxOpenFiles);
    this.#meter = new QueryMeter(options.maxRowsExamined ?? storeDefaults.maxRowsExamined);
  }

  /** Number of user files open right now. */
  get openFiles(): number {
    return this.#files.size;
  }

  /**
   * Runs one query for the caller named by `token` on the plugin being served. Throws a
   * BulkheadError (BH_TOKEN_*, BH_QUERY_*, BH_STORE_*); a failed write leaves the file as it was.
   */
  execute(token: string, plugin: string, request: unknown, budget: QueryBudget = unlimitedBudget): QueryResult {
    return this.#execute(token, plugin, request, budget, run);
  }

  /**
   * Like execute, but answers the `{"ok":true,...}` response as JSON text. A find's records are
   * written as JSON by SQLite itself: no JavaScript object per row, and about 4x faster for a
   * page of records than building the objects and stringifying them.
   */
  executeJson(token: string, plugin: string, request: unknown, budget: QueryBudget = unlimitedBudget): string {
    return this.#execute(token, plugin, request, budget, runJson);
  }

  #execute<T>(token: string, plugin: string, request: unknown, budget: QueryBudget, runner: (file: OpenFile, query: CompiledQuery) => T): T {
    if (this.#closed) throw new BulkheadError('BH_STORE_CLOSED');
    const claims = this.#options.tokens.verify(token, plugin);
    const audit = this.#options.audit;
    let query: CompiledQuery | undefined;
    try {
      // Compile first: a refused query never creates or opens a file.
      const schema = this.#schema(plugin);
      query = compileQuery(schema, request, { now: this.#now(), newId: randomUUID });
      const key = fileCacheKey(plugin, claims.sub);
      const file = this.#files.get(key) ?? (this.#open(schema, claims.sub, key, budget) as OpenFile);
      // With call transactions, a call's writes commit together when the call ends (endCall),
      // after the call's audit lines are written: the log never misses a change.
      if (this.#inCall && query.op !== 'find' && query.op !== 'count' && !file.db.inTransaction) {
        file.statement('BEGIN').run();
        this.#inCall.add(file);
      }
      if (query.seals) this.#sealValues(claims.sub, plugin, query);
      this.#meter.start(budget);
      let result: T;
      try {
        result = runner(file, query);
      } catch (error) {
        if (error instanceof QueryStopped) throw this.#stopped(error);
        const code = sqliteCode(error);
        if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new BulkheadError('BH_STORE_UNIQUE_VIOLATION', { collection: query.collection.name });
        }
        if (code === 'SQLITE_FULL') throw new BulkheadError('BH_STORE_QUOTA_EXCEEDED', { plugin, limitMiB: this.#quotaMiB(plugin) });
        // A damaged or failing file is closed so that the next request opens and checks it afresh.
        this.#inCall?.delete(file);
        this.#files.close(key);
        throw translateSqliteError(error);
      } finally {
        this.#meter.start(unlimitedBudget);
      }
      audit?.({ claims, op: query.op, collection: query.collection.name, rows: rowsTouched });
      return result;
    } catch (error) {
      // A refused or failed query is recorded too, by what it was (never by its content).
      if (audit) {
        const code = error instanceof BulkheadError ? error.code : 'BH_INTERNAL_ERROR';
        audit({ claims, ...describeRequest(query, request, this.#schemas.get(plugin)), code });
      }
      throw error;
    }
  }

  /** How the queries since the last call of this met sealed fields; starts afresh. */
  takeVaultUse(): VaultUse | undefined {
    const use = this.#vaultUse;
    if (!use.opened && !use.locked) return undefined;
    this.#vaultUse = { opened: false, locked: false };
    return use;
  }

  /**
   * A write of sealed values needs the user's open vault: an insert's values are sealed here,
   * with the record's new id; an update's are sealed by SQL (bh_seal), one record at a time.
   */
  #sealValues(userId: string, plugin: string, query: CompiledQuery): void {
    const keys = this.#options.vault?.(userId);
    if (!keys) {
      this.#vaultUse.locked = true;
      throw new BulkheadError('BH_VAULT_LOCKED');
    }
    this.#vaultUse.opened = true;
    if (query.seals === true || query.seals === undefined) return;
    const record = (query.record as Record<string, unknown>)['id'] as string;
    for (const { param, field } of query.seals) {
      query.params[param] = seal(keys.current, query.params[param] as string, { user: userId, plugin, collection: query.collection.name, field, record });
    }
  }

  /**
   * The vault's SQL functions on one user's file: `bh_open` (a sealed value for a find),
   * `bh_unlocked` (is the vault open now) and `bh_seal` (an update's new sealed value).
   */
  #registerVault(db: SqliteDatabase, userId: string, plugin: string): void {
    const options = { deterministic: false, directOnly: true, varargs: false } as const;
    const vault = this.#options.vault;
    const use = (): VaultUse => this.#vaultUse;
    const place = (collection: unknown, field: unknown, record: unknown): SealedPlace => ({ user: userId, plugin, collection: String(collection), field: String(field), record: String(record) });
    db.function('bh_open', options, (collection: unknown, field: unknown, record: unknown, stored: unknown) => {
      if (stored === null || stored === undefined) return null;
      const keys = vault?.(userId);
      if (!keys) {
        use().locked = true;
        return lockedSentinel;
      }
      use().opened = true;
      return openSealed(keys.old ? [keys.current, keys.old] : [keys.current], String(stored), place(collection, field, record));
    });
    db.function('bh_unlocked', options, () => {
      if (vault?.(userId)) return 1;
      use().locked = true;
      return 0;
    });
    db.function('bh_seal', options, (collection: unknown, field: unknown, record: unknown, plaintext: unknown) => {
      if (plaintext === null || plaintext === undefined) return null;
      const keys = vault?.(userId);
      if (!keys) throw new BulkheadError('BH_VAULT_LOCKED');
      return seal(keys.current, String(plaintext), place(collection, field, record));
    });
  }

  /**
   * Re-seals the sealed fields of one collection of the caller's file, for up to `limit` records
   * after `afterId` (one transaction): values under the old key of a change of password, and
   * legacy plaintext, are sealed with the current key; values already under it are left alone, so
   * running it again (after a crash) is harmless. A value no key opens is left as it is and counted.
   */
  reseal(token: string, plugin: string, collection: string, afterId: string, limit: number): { next: string | null; resealed: number; unreadable: number } {
    const { def, key, open } = this.#collection(token, plugin, collection);
    const claims = this.#options.tokens.verify(token, plugin);
    const done = { next: null, resealed: 0, unreadable: 0 };
    if (def.sealed.length === 0) return done;
    const keys = this.#options.vault?.(claims.sub);
    if (!keys) throw new BulkheadError('BH_VAULT_LOCKED');
    const file = open(false);
    if (!file) return done;
    const columns = def.sealed.map((f) => f.column).join(', ');
    try {
      const rows = file.statement(`SELECT "id", ${columns} FROM ${def.table} WHERE "id" > ? ORDER BY "id" LIMIT ?`).all(afterId, limit) as Record<string, string | null>[];
      const order = keys.old ? [keys.current, keys.old] : [keys.current];
      let resealed = 0;
      let unreadable = 0;
      file.statement('BEGIN').run();
      try {
        for (const row of rows) {
          const record = row['id'] as string;
          for (const field of def.sealed) {
            const stored = row[field.name];
            if (stored === null || stored === undefined) continue;
            const where: SealedPlace = { user: claims.sub, plugin, collection, field: field.name, record };
            let plaintext: string;
            if (!isSealed(stored)) {
              plaintext = stored;
            } else {
              const under = sealedWith(order, stored, where);
              if (under === 0) continue;
              if (under < 0) {
                unreadable += 1;
                continue;
              }
              plaintext = openSealed(order, stored, where);
            }
            file.statement(`UPDATE ${def.table} SET ${field.column} = ? WHERE "id" = ?`).run(seal(keys.current, plaintext, where), record);
            resealed += 1;
          }
        }
        file.statement('COMMIT').run();
      } catch (error) {
        if (file.db.inTransaction) file.statement('ROLLBACK').run();
        throw error;
      }
      return { next: rows.length < limit ? null : ((rows[rows.length - 1] as Record<string, string>)['id'] as string), resealed, unreadable };
    } catch (error) {
      if (error instanceof BulkheadError) throw error;
      this.#files.close(key);
      throw translateSqliteError(error);
    }
  }

  /**
   * Starts a call: from now until endCall, the writes of the call's queries are kept in one
   * transaction per file. The worker starts one around every plugin call when the audit log is
   * on, so that a call's changes and its audit lines are written together, or neither.
   */
  beginCall(): void {
    this.#inCall = new Set();
  }

  /**
   * Ends a call: commits its writes (or rolls them back when `commit` is false, for a call whose
   * audit lines could not be written). A commit that fails rolls back and throws a coded error.
   */
  endCall(commit: boolean): void {
    const files = this.#inCall;
    this.#inCall = undefined;
    if (!files) return;
    let failure: { error: unknown; plugin: string } | undefined;
    for (const file of files) {
      if (!file.db.open || !file.db.inTransaction) continue;
      try {
        file.statement(commit && failure === undefined ? 'COMMIT' : 'ROLLBACK').run();
      } catch (error) {
        failure ??= { error, plugin: file.plugin };
        if (file.db.inTransaction) file.statement('ROLLBACK').run();
      }
    }
    if (failure === undefined) return;
    if (sqliteCode(failure.error) === 'SQLITE_FULL') throw new BulkheadError('BH_STORE_QUOTA_EXCEEDED', { plugin: failure.plugin, limitMiB: this.#quotaMiB(failure.plugin) });
    throw translateSqliteError(failure.error);
  }

  /**
   * The records of one collection of the caller's file in id order, after `afterId`, for an
   * export: a page at a time, so that a user with many records is exported in bounded memory.
   * A file the user never created is not created: the answer is empty.
   */
  exportPage(token: string, plugin: string, collection: string, afterId: string, limit: number): Record<string, unknown>[] {
    const { def, key, open } = this.#collection(token, plugin, collection);
    const file = open(false);
    if (!file) return [];
    try {
      // As stored: sealed values stay sealed in an export.
      const rows = file.statement(`SELECT ${def.selectList} FROM ${def.table} WHERE "id" > ? ORDER BY "id" LIMIT ?`).all(afterId, limit) as Record<string, unknown>[];
      return rows.map((row) => def.decodeStored(row));
    } catch (error) {
      this.#files.close(key);
      throw translateSqliteError(error);
    }
  }

  /**
   * Writes records of an export (schemas/export.v1.json) into the caller's file as they were:
   * their ids and times kept, every value checked against the manifest as an insert would be.
   * All or nothing. For restoring an export (tests use it to prove an export round-trips).
   */
  importRecords(token: string, plugin: string, collection: string, records: readonly Record<string, unknown>[]): number {
    const { schema, open } = this.#collection(token, plugin, collection);
    const claims = this.#options.tokens.verify(token, plugin);
    // Every record is checked before the file is opened (or created).
    const queries = records.map((record) => {
      const { id, createdAt, updatedAt, ...values } = record;
      if (typeof id !== 'string' || !Number.isSafeInteger(createdAt) || !Number.isSafeInteger(updatedAt)) {
        throw new BulkheadError('BH_QUERY_INVALID', { problem: 'an imported record needs its id, createdAt and updatedAt' });
      }
      // A sealed value of an export is written as it is (it was sealed for this very place);
      // a placeholder that fits text and json stands in for it while the rest is checked.
      const stored = new Map<string, string>();
      for (const field of schema.collections.get(collection)?.sealed ?? []) {
        const value = values[field.name];
        if (typeof value === 'string' && isSealed(value)) {
          stored.set(field.name, value);
          values[field.name] = '';
        }
      }
      const compiled = compileQuery(schema, { op: 'insert', collection, values }, { now: createdAt as number, newId: () => id });
      compiled.params[2] = updatedAt as number;
      const columns = [...compiled.collection.fields.keys()];
      for (const [field, value] of stored) compiled.params[columns.indexOf(field)] = value;
      const seals = Array.isArray(compiled.seals) ? compiled.seals.filter((s) => !stored.has(s.field)) : [];
      const query: CompiledQuery = { ...compiled, ...(seals.length > 0 ? { seals } : { seals: undefined }) };
      if (query.seals) this.#sealValues(claims.sub, schema.plugin, query);
      return query;
    });
    const file = open(true) as OpenFile;
    try {
      file.statement('BEGIN').run();
      try {
        for (const query of queries) file.statement(query.sql).run(query.params);
        file.statement('COMMIT').run();
      } catch (error) {
        if (file.db.inTransaction) file.statement('ROLLBACK').run();
        throw error;
      }
    } catch (error) {
      throw translateSqliteError(error);
    }
    return queries.length;
  }

  /**
   * The caller's file of a plugin for work on one whole collection (export, import): the token
   * verified, the collection declared; `open(create)` opens the file (undefined when it was never
   * created and `create` is false).
   */
  #collection(token: string, plugin: string, collection: string): { schema: StorageSchema; def: CollectionDef; key: string; open: (create: boolean) => OpenFile | undefined } {
    if (this.#closed) throw new BulkheadError('BH_STORE_CLOSED');
    const claims = this.#options.tokens.verify(token, plugin);
    const schema = this.#schema(plugin);
    const def = schema.collections.get(collection);
    if (!def) throw new BulkheadError('BH_QUERY_UNKNOWN_COLLECTION', { declared: schema.collectionList });
    const key = fileCacheKey(plugin, claims.sub);
    return { schema, def, key, open: (create) => this.#files.get(key) ?? this.#open(schema, claims.sub, key, unlimitedBudget, create) };
  }

  /**
   * Closes the caller's open files (of every plugin) without touching them: before a purge, so
   * that no handle keeps writing to a file that is being removed.
   */
  closeUser(userId: string): void {
    this.#files.closeWhere((key) => key.endsWith(`\u0000${userId}`));
  }

  #stopped(error: QueryStopped): BulkheadError {
    switch (error.reason) {
      case 'rows':
        return new BulkheadError('BH_QUERY_BUDGET_EXCEEDED', {
          problem: `it examined more than ${this.#meter.maxRows} records; add an index that fits its where and orderBy, or narrow it`,
        });
      case 'time':
        return new BulkheadError('BH_QUERY_BUDGET_EXCEEDED', { problem: 'the call reached its time limit while the query ran' });
      case 'answer':
        return new BulkheadError('BH_HOST_ANSWER_TOO_LARGE');
    }
  }

  #quotaMiB(plugin: string): number {
    return this.#options.pluginQuotaMiB?.(plugin) ?? storeDefaults.quotaMiB;
  }

  /** Like execute, but returns the response envelope instead of throwing a BulkheadError. */
  respond(token: string, plugin: string, request: unknown): QueryResponse {
    try {
      return this.execute(token, plugin, request);
    } catch (error) {
      if (error instanceof BulkheadError) return { ok: false, error: error.toJSON() };
      throw error;
    }
  }

  /**
   * Crypto-shreds the caller's file of this plugin: the salt is deleted from the keyring (so no
   * copy of the file can be decrypted again) and the file is removed.
   */
  shred(token: string, plugin: string): void {
    if (this.#closed) throw new BulkheadError('BH_STORE_CLOSED');
    const claims = this.#options.tokens.verify(token, plugin);
    this.#files.close(fileCacheKey(plugin, claims.sub));
    const fileId = fileIdFor(this.#options.pluginKey(plugin), claims.sub);
    this.#options.keyring.busyTimeoutMs = this.#options.busyTimeoutMs ?? storeDefaults.busyTimeoutMs;
    this.#options.keyring.shred(plugin, fileId);
    removeDatabaseFiles(this.#filePath(plugin, fileId));
  }

  /**
   * Closes the user files no query used in the last `idleMs`: their locks go back to other
   * processes, and their memory to the worker. Returns how many were closed.
   */
  closeIdle(idleMs: number): number {
    return this.#files.closeUnusedSince(Date.now() - idleMs);
  }

  /** Closes every open file. Further requests fail with BH_STORE_CLOSED. */
  close(): void {
    this.#closed = true;
    this.#files.closeAll();
  }

  #schema(plugin: string): StorageSchema {
    let schema = this.#schemas.get(plugin);
    if (!schema) {
      const storage = this.#options.manifest(plugin)?.storage;
      if (!storage) throw new BulkheadError('BH_STORE_NO_STORAGE', { plugin });
      schema = buildStorageSchema(plugin, storage);
      this.#schemas.set(plugin, schema);
    }
    return schema;
  }

  #filePath(plugin: string, fileId: string): string {
    return path.join(this.#options.dataDir, 'plugins', plugin, `${fileId}.db`);
  }

  #open(schema: StorageSchema, userId: string, cacheKey: string, budget: QueryBudget, create = true): OpenFile | undefined {
    const { plugin } = schema;
    const pluginKey = this.#options.pluginKey(plugin);
    const fileId = fileIdFor(pluginKey, userId);
    // A file another process holds is waited for, but never past the call's deadline: the worker
    // cannot be stopped while SQLite waits, and the caller should hear BH_STORE_BUSY in time. The
    // margin leaves the plugin time to hand the answer back on a loaded machine (with 50 ms, a
    // call on two busy cores sometimes ended as BH_PLUGIN_TIMEOUT instead).
    const busyTimeoutMs = Math.floor(Math.max(0, Math.min(this.#options.busyTimeoutMs ?? storeDefaults.busyTimeoutMs, budget.deadline - Date.now() - busyAnswerMarginMs)));
    this.#options.keyring.busyTimeoutMs = busyTimeoutMs;
    const now = this.#now();
    // Each user's file has one owner (one process, and in it one worker): holding its lock keeps
    // the WAL index in memory (no -shm file to create per open) and stops a second host from
    // serving the same user from the same data directory.
    const db = openUserFile({
      file: this.#filePath(plugin, fileId),
      fileId,
      keyring: this.#options.keyring,
      key: pluginKey,
      kind: { create: (file, key, options) => createFile(file, key, options, schema, now), prepare: (opened) => prepareFile(opened, schema, now) },
      options: { cipher: this.#cipher, cacheKiB: this.#pageCacheKiB, exclusive: true, busyTimeoutMs },
      create,
    });
    if (!db) return undefined;
    db.pragma(`max_page_count = ${Math.floor((this.#quotaMiB(plugin) * 1048576) / pageBytes)}`);
    this.#meter.register(db);
    if ([...schema.collections.values()].some((c) => c.sealed.length > 0)) {
      this.#registerVault(db, userId, plugin);
      // A legacy plaintext value sealed in place leaves no copy in the file's free pages.
      db.pragma('secure_delete = ON');
    }
    const open = new OpenFile(db);
    open.plugin = plugin;
    this.#files.add(cacheKey, open);
    return open;
  }
}

const queryOps: ReadonlySet<string> = new Set<QueryOp>(['insert', 'find', 'update', 'delete', 'count']);

/**
 * What a query that failed was, in names the manifest declares (anything else the request holds
 * may be a value, and is left out).
 */
function describeRequest(query: CompiledQuery | undefined, request: unknown, schema: StorageSchema | undefined): { op?: QueryOp; collection?: string } {
  if (query) return { op: query.op, collection: query.collection.name };
  if (typeof request !== 'object' || request === null) return {};
  const { op, collection } = request as { op?: unknown; collection?: unknown };
  return {
    ...(typeof op === 'string' && queryOps.has(op) ? { op: op as QueryOp } : {}),
    ...(typeof collection === 'string' && schema?.collections.has(collection) ? { collection } : {}),
  };
}

/** Records the last query touched (set by run and runJson; the store runs one query at a time). */
let rowsTouched = 0;

function fileCacheKey(plugin: string, userId: string): string {
  return `${plugin}\u0000${userId}`;
}

function runJson(file: OpenFile, query: CompiledQuery): string {
  if (query.op === 'find' && query.jsonSql) {
    const [count, records] = file.statement(query.jsonSql, 'raw').get(query.params) as [number, string];
    rowsTouched = count;
    return `{"ok":true,"records":${records}}`;
  }
  return JSON.stringify(run(file, query));
}

function run(file: OpenFile, query: CompiledQuery): QueryResult {
  const statement = file.statement(query.sql);
  switch (query.op) {
    case 'insert':
      statement.run(query.params);
      rowsTouched = 1;
      return { ok: true, record: query.record as Record<string, unknown> };
    case 'find': {
      const rows = statement.all(query.params) as Record<string, unknown>[];
      const decode = query.collection.decode;
      for (let i = 0; i < rows.length; i++) rows[i] = decode(rows[i] as Record<string, unknown>);
      rowsTouched = rows.length;
      return { ok: true, records: rows };
    }
    case 'count': {
      const count = (statement.get(query.params) as { count: number }).count;
      rowsTouched = count;
      return { ok: true, count };
    }
    case 'update':
    case 'delete': {
      const count = statement.run(query.params).changes;
      rowsTouched = count;
      return { ok: true, count };
    }
  }
}
