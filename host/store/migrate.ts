import { BulkheadError } from '../core/errors.js';
import {
  enableWal,
  fileOwnership,
  openEncryptedDatabase,
  removeDatabaseFiles,
  sqliteCode,
  translateSqliteError,
  type OpenEncryptedOptions,
  type SqliteDatabase,
} from '../sqlite/encrypted-database.js';
import { quoteIdentifier, sqlTypes, type CollectionDef, type RecordedStorage, type StorageSchema } from './storage-schema.js';
import { encodeValue } from './query-compiler.js';

/** `application_id` of every Bulkhead store file ("BHd1"). */
export const storeApplicationId = 0x42486431;

const metaTable = '"_bulkhead_meta"';

/**
 * Creates a new user file at `file` with the plugin's schema and returns it open.
 *
 * Creating and syncing files is what a cold open mostly pays for on a real disk, so the file is
 * built without a rollback journal on disk and without fsync: the switch of the empty file to WAL
 * writes only page 1, in one write, which a process crash cannot tear, and the schema is created in
 * one WAL transaction, which is atomic under crashes. Only then does the file get the normal
 * synchronous setting that all user data is written under. A power cut during creation leaves an
 * empty file (or an unsynced WAL that recovery ignores), which prepareFile initialises on the next
 * open; no user data exists in the file before creation completes.
 */
export function createFile(file: string, key: Buffer, options: Omit<OpenEncryptedOptions, 'create'>, schema: StorageSchema, now: number): SqliteDatabase {
  const db = openEncryptedDatabase(file, key, { ...options, create: true });
  try {
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    db.pragma('journal_mode = WAL');
    initialize(db, schema, now);
    enableWal(db);
    return db;
  } catch (error) {
    db.close();
    removeDatabaseFiles(file);
    throw translateSqliteError(error);
  }
}

/**
 * Brings an opened (and key-proven) file to the plugin's current storage schema: leaves a current
 * one alone (one read), or migrates an older one additively. Every change runs in one transaction
 * after the plan is known to be safe, so a refused or failed migration leaves the file as it was.
 */
export function prepareFile(db: SqliteDatabase, schema: StorageSchema, now: number): void {
  const ownership = fileOwnership(db, storeApplicationId);
  enableWal(db);
  if (ownership === 'empty') {
    initialize(db, schema, now);
    return;
  }
  const meta = readMeta(db);
  if (meta.schema === schema.canonical) return;
  migrate(db, schema, meta, now);
}

function initialize(db: SqliteDatabase, schema: StorageSchema, now: number): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE ${metaTable} ("key" TEXT PRIMARY KEY NOT NULL, "value" TEXT NOT NULL) STRICT`);
    for (const collection of schema.collections.values()) createCollection(db, collection);
    writeMeta(db, schema, 1, now);
    db.pragma(`application_id = ${storeApplicationId}`);
  }).immediate();
}

interface Meta {
  readonly schema: string;
  readonly version: number;
}

function readMeta(db: SqliteDatabase): Meta {
  let rows: { key: string; value: string }[];
  try {
    rows = db.prepare(`SELECT "key", "value" FROM ${metaTable}`).all() as { key: string; value: string }[];
  } catch (error) {
    if (sqliteCode(error) === 'SQLITE_ERROR') throw new BulkheadError('BH_STORE_FOREIGN_FILE');
    throw error;
  }
  const map = new Map(rows.map((r) => [r.key, r.value]));
  const schema = map.get('schema');
  const version = Number(map.get('schemaVersion'));
  if (schema === undefined || !Number.isSafeInteger(version)) throw new BulkheadError('BH_STORE_FOREIGN_FILE');
  return { schema, version };
}

function writeMeta(db: SqliteDatabase, schema: StorageSchema, version: number, now: number): void {
  const upsert = db.prepare(`INSERT INTO ${metaTable} ("key", "value") VALUES (?, ?) ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"`);
  upsert.run('format', '1');
  upsert.run('schema', schema.canonical);
  upsert.run('schemaVersion', String(version));
  upsert.run('migratedAt', String(now));
  db.pragma(`user_version = ${version}`);
}

function createCollection(db: SqliteDatabase, collection: CollectionDef): void {
  db.exec(collection.createSql);
  for (const index of collection.indexes) db.exec(index.createSql);
}

function migrate(db: SqliteDatabase, schema: StorageSchema, meta: Meta, now: number): void {
  const recorded = JSON.parse(meta.schema) as RecordedStorage;
  const refuse = (change: string): never => {
    throw new BulkheadError('BH_STORE_DESTRUCTIVE_CHANGE', { plugin: schema.plugin, change });
  };
  const steps: (() => void)[] = [];
  for (const [name, old] of Object.entries(recorded.collections)) {
    const current = schema.collections.get(name);
    if (!current) refuse(`removes the collection '${name}'`);
    const collection = current as CollectionDef;
    for (const [field, oldField] of Object.entries(old.fields)) {
      const currentField = collection.fields.get(field);
      if (!currentField || currentField.system) refuse(`removes the field '${name}.${field}'`);
      const def = currentField as NonNullable<typeof currentField>;
      if (def.type !== oldField.type) refuse(`changes the type of the field '${name}.${field}'`);
      // Its values are sealed text: unsealed, they would reach the plugin as enc:v1: strings.
      if (oldField.sealed === true && !def.sealed) refuse(`unseals the field '${name}.${field}' (sealed values stay sealed)`);
      if (def.required && !oldField.required) {
        if (def.default === undefined) refuse(`makes the field '${name}.${field}' required without a default for existing records`);
        steps.push(() => backfill(db, collection, field, def.default, true));
      }
    }
    for (const def of collection.declared) {
      if (Object.hasOwn(old.fields, def.name)) continue;
      if (def.required && def.default === undefined) {
        refuse(`adds the required field '${name}.${def.name}' without a default for existing records`);
      }
      steps.push(() => {
        db.exec(`ALTER TABLE ${collection.table} ADD COLUMN ${def.column} ${sqlTypes[def.type]}`);
        if (def.default !== undefined) backfill(db, collection, def.name, def.default, false);
      });
    }
    const oldIndexes = new Set(old.indexes.map((i) => i.name));
    const newIndexes = new Set(collection.indexes.map((i) => i.name));
    for (const index of old.indexes) if (!newIndexes.has(index.name)) steps.push(() => db.exec(`DROP INDEX IF EXISTS ${quoteIdentifier(index.name)}`));
    for (const index of collection.indexes) if (!oldIndexes.has(index.name)) steps.push(() => db.exec(index.createSql));
  }
  for (const collection of schema.collections.values()) {
    if (!Object.hasOwn(recorded.collections, collection.name)) steps.push(() => createCollection(db, collection));
  }
  try {
    db.transaction(() => {
      for (const step of steps) step();
      writeMeta(db, schema, meta.version + 1, now);
    }).immediate();
  } catch (error) {
    if (error instanceof BulkheadError) throw error;
    const code = sqliteCode(error);
    const reason = code === 'SQLITE_CONSTRAINT_UNIQUE'
      ? 'a new unique index does not hold for the existing records'
      : `SQLite ${code ?? 'error'}`;
    throw new BulkheadError('BH_STORE_MIGRATION_FAILED', { plugin: schema.plugin, reason });
  }
}

function backfill(db: SqliteDatabase, collection: CollectionDef, field: string, value: unknown, onlyNull: boolean): void {
  const def = collection.fields.get(field);
  if (!def) return;
  db.prepare(`UPDATE ${collection.table} SET ${def.column} = ?${onlyNull ? ` WHERE ${def.column} IS NULL` : ''}`).run(
    encodeValue(def.type, value),
  );
}
