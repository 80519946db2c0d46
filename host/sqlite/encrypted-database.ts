import { chmodSync, rmSync } from 'node:fs';
import Database, { type SqliteDatabase } from './sqlite-driver.js';
import { BulkheadError } from '../core/errors.js';

export type { SqliteDatabase };

/**
 * Ciphers of SQLite3MultipleCiphers that Bulkhead allows. Both are authenticated (a changed page
 * fails to decrypt). `aegis` uses hardware AES and measured nearly free; `chacha20` is the library
 * default. The benchmark (`npm run bench:store`) compares them; SECURITY.md records the choice.
 */
export const ciphers = ['aegis', 'chacha20'] as const;
export type Cipher = (typeof ciphers)[number];

/** How long a connection waits for another one's lock before failing with BH_STORE_BUSY. */
const busyTimeoutMs = 2000;

export interface OpenEncryptedOptions {
  readonly cipher: Cipher;
  /** Page cache of this handle in KiB: bounds memory per open file. */
  readonly cacheKiB: number;
  /** Create the file when missing (and make it private to the host user). */
  readonly create: boolean;
  /**
   * Hold the file's lock from the first read until close. The WAL index then lives in memory
   * instead of a -shm file, and another process cannot open the file meanwhile.
   */
  readonly exclusive?: boolean;
  /** How long to wait for a lock another connection holds before BH_STORE_BUSY. Default 2000 ms. */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens an encrypted SQLite file with a raw 32-byte key and proves the key before anything is
 * written: the cipher is named first, then the key is set, then page 1 is read. A wrong key or a
 * damaged first page throws a coded error and leaves the file untouched.
 */
export function openEncryptedDatabase(file: string, key: Buffer, options: OpenEncryptedOptions): SqliteDatabase {
  // A raw key of any other length silently becomes a (slow, weak) passphrase in SQLite3MC.
  if (!Buffer.isBuffer(key) || key.length !== 32) throw new BulkheadError('BH_STORE_KEY_LENGTH');
  let db: SqliteDatabase;
  try {
    db = new Database(file, { fileMustExist: !options.create, timeout: options.busyTimeoutMs ?? busyTimeoutMs });
  } catch (error) {
    throw translateSqliteError(error);
  }
  try {
    // SQLite creates files 0644; its -wal and -shm files copy the mode of the database file.
    if (options.create) chmodSync(file, 0o600);
    db.pragma(`cipher = '${options.cipher}'`);
    db.pragma(`key = "x'${key.toString('hex')}'"`);
    if (options.exclusive) db.pragma('locking_mode = EXCLUSIVE');
    // PRAGMA key always "succeeds"; the first read of page 1 is what fails on a wrong key.
    db.pragma('application_id', { simple: true });
    // SQLite3MC encrypts temp files only from 2.6.0 on, and a spilled sort holds row values:
    // keep temp storage in memory whatever the driver version.
    db.pragma('temp_store = MEMORY');
    db.pragma(`cache_size = -${Math.max(64, Math.floor(options.cacheKiB))}`);
    db.pragma('mmap_size = 0');
    db.pragma('trusted_schema = OFF');
    return db;
  } catch (error) {
    db.close();
    throw translateSqliteError(error);
  }
}

/**
 * Whose file is this? `'empty'`: a new (or zero-length) database, free to initialise; `'ours'`: it
 * carries `applicationId`. Anything else decrypts but was not written by Bulkhead for this purpose
 * and is refused with BH_STORE_FOREIGN_FILE, untouched.
 */
export function fileOwnership(db: SqliteDatabase, applicationId: number): 'empty' | 'ours' {
  // One statement, so one read of the file: between two, another connection may commit its
  // first tables and the id together, and the id read before with the tables read after looks foreign.
  const { found, objects } = db.prepare('SELECT (SELECT application_id FROM pragma_application_id) AS found, (SELECT count(*) FROM sqlite_schema) AS objects').get() as { found: number; objects: number };
  if (found === applicationId) return 'ours';
  if (found === 0 && objects === 0) return 'empty';
  throw new BulkheadError('BH_STORE_FOREIGN_FILE');
}

/** Removes a database file and its companions, if present. */
export function removeDatabaseFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

/** Tries at switching a file to WAL that another connection was switching at the same moment. */
const walSwitchTries = 20;

/** Turns journal mode to WAL once the file is known to be ours (it writes the header). */
export function enableWal(db: SqliteDatabase): void {
  for (let attempt = 1; ; attempt++) {
    try {
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      break;
    } catch (error) {
      // Two connections switching a new file at once each hold the read lock the other must see
      // gone, and SQLite fails one at once (SQLITE_BUSY, no busy wait); soon the other has switched it.
      if (sqliteCode(error) !== 'SQLITE_BUSY' || attempt === walSwitchTries) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5 * attempt);
    }
  }
  // In WAL mode NORMAL is safe against application crashes; a power loss may drop the last commits.
  db.pragma('synchronous = NORMAL');
}

/**
 * Opens one of the host's own small databases (the keyring, the identity directory): created if
 * missing, checked to be ours, WAL with `synchronous=FULL` (a lost row there loses a user's way to
 * their data), then `schemaSql` and the application id. Coded errors only; the handle is closed on
 * failure.
 */
export function openHostDatabase(
  file: string,
  key: Buffer,
  cipher: Cipher,
  options: { readonly applicationId: number; readonly schemaSql: string; readonly secureDelete?: boolean },
): SqliteDatabase {
  const db = openEncryptedDatabase(file, key, { cipher, cacheKiB: 1024, create: true });
  try {
    if (fileOwnership(db, options.applicationId) === 'empty') {
      // Another thread or process may be creating the file this moment (every executor worker
      // opens the keyring as a host starts): its tables and its application id are committed
      // together, after a second look under the write lock, so that no one sees tables without
      // the id, which reads as someone else's file.
      db.transaction(() => {
        if (fileOwnership(db, options.applicationId) === 'ours') return;
        db.exec(options.schemaSql);
        db.pragma(`application_id = ${options.applicationId}`);
      }).immediate();
    }
    enableWal(db);
    db.pragma('synchronous = FULL');
    if (options.secureDelete) db.pragma('secure_delete = ON');
    db.exec(options.schemaSql);
    db.pragma(`application_id = ${options.applicationId}`);
    return db;
  } catch (error) {
    db.close();
    throw translateSqliteError(error);
  }
}

/** SQLite's result code of an error thrown by better-sqlite3, if it is one. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Maps SQLite errors to coded errors without their messages (which may quote SQL or data).
 * BulkheadErrors pass through unchanged.
 */
export function translateSqliteError(error: unknown): BulkheadError {
  if (error instanceof BulkheadError) return error;
  const code = sqliteCode(error);
  if (code === 'SQLITE_NOTADB') return new BulkheadError('BH_STORE_KEY_MISMATCH');
  if (code?.startsWith('SQLITE_CORRUPT')) return new BulkheadError('BH_STORE_CORRUPT');
  if (code?.startsWith('SQLITE_BUSY') || code?.startsWith('SQLITE_LOCKED')) return new BulkheadError('BH_STORE_BUSY');
  return new BulkheadError('BH_STORE_FAILED', { sqliteCode: code ?? 'unknown' });
}
