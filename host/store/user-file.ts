import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { BulkheadError } from '../core/errors.js';
import type { Keyring } from '../keys/keyring.js';
import { fileKeyFor, type PluginKey } from '../keys/key-service.js';
import { openEncryptedDatabase, removeDatabaseFiles, translateSqliteError, type OpenEncryptedOptions, type SqliteDatabase } from '../sqlite/encrypted-database.js';

/** How a kind of per-user file (a plugin's store file, a user's audit log) is made and checked. */
export interface UserFileKind {
  /** Makes a new file at `file` with `key` and returns it open; removes what it wrote on failure. */
  create(file: string, key: Buffer, options: Omit<OpenEncryptedOptions, 'create'>): SqliteDatabase;
  /** Checks (and migrates) an existing file opened with its key; throws a coded error. */
  prepare(db: SqliteDatabase): void;
}

export interface UserFileRequest {
  readonly file: string;
  readonly fileId: string;
  readonly keyring: Keyring;
  /** Key material of the plugin (or of the audit log); `key.plugin` names its keyring entries. */
  readonly key: PluginKey;
  readonly kind: UserFileKind;
  readonly options: Omit<OpenEncryptedOptions, 'create'>;
  /** When false, a file that was never created is not created: the answer is undefined. */
  readonly create: boolean;
}

/**
 * Opens one user's file under the keyring's rules, the same for every kind of per-user file:
 *
 * - a file the keyring marks as created must exist and be non-empty (else it is lost data, never a
 *   new user: BH_STORE_FILE_MISSING / BH_STORE_FILE_TRUNCATED);
 * - a file without a keyring entry was shredded (BH_STORE_SHREDDED): a copy restored from before a
 *   purge can never be decrypted again;
 * - a new file gets its salt on disk before any data is written under the key derived from it,
 *   and is marked created once it exists.
 */
export function openUserFile(request: UserFileRequest): SqliteDatabase | undefined {
  const { file, fileId, keyring, key: pluginKey, kind, options } = request;
  const plugin = pluginKey.plugin;
  const entry = keyring.entry(plugin, fileId);
  const size = fileSize(file);
  if (entry?.created) {
    if (size === undefined) throw new BulkheadError('BH_STORE_FILE_MISSING', { plugin });
    if (size === 0) throw new BulkheadError('BH_STORE_FILE_TRUNCATED', { plugin });
  } else if (!entry && size !== undefined) {
    throw new BulkheadError('BH_STORE_SHREDDED');
  }
  // No file yet, or an empty one whose creation was interrupted (the keyring entry is not marked
  // created, so no user data was ever written to it): it is made from scratch. A non-empty file
  // whose entry is not marked is opened and checked like any other, then marked.
  const isNew = size === undefined || size === 0;
  if (isNew && !request.create) return undefined;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (isNew && size !== undefined) removeDatabaseFiles(file);
  const salt = entry?.salt ?? keyring.saltOrCreate(plugin, fileId);
  const key = fileKeyFor(pluginKey, fileId, salt);
  try {
    if (isNew) {
      const db = kind.create(file, key, options);
      try {
        keyring.markCreated(plugin, fileId);
      } catch (error) {
        db.close();
        throw error;
      }
      return db;
    }
    const db = openEncryptedDatabase(file, key, { ...options, create: false });
    try {
      kind.prepare(db);
      if (!entry?.created) keyring.markCreated(plugin, fileId);
    } catch (error) {
      db.close();
      throw translateSqliteError(error);
    }
    return db;
  } finally {
    key.fill(0);
  }
}

/** The size of a file, or undefined when there is none. */
function fileSize(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}
