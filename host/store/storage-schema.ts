import { createHash } from 'node:crypto';
import { BulkheadError } from '../core/errors.js';
import { systemFields, type FieldType, type StorageSpec } from '../manifest/manifest.js';

/** One column of a collection, declared or host-managed. Identifiers are pre-quoted. */
export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  readonly required: boolean;
  readonly default: unknown;
  readonly system: boolean;
  /** Encrypted with the user's vault key (host/vault/sealed.ts); stored as `enc:v1:` text. */
  readonly sealed: boolean;
  /** `"name"`: safe to put in SQL because the name matched the manifest's identifier pattern. */
  readonly column: string;
}

export interface IndexDef {
  /** `ix_<hash>`: derived from (collection, fields, unique) so it can never be ambiguous. */
  readonly name: string;
  readonly fields: readonly string[];
  readonly unique: boolean;
  readonly createSql: string;
}

/** A collection as the store and the query compiler use it: everything precomputed once. */
export interface CollectionDef {
  readonly name: string;
  readonly table: string;
  /** Declared and system fields by name; a Map so that names like `__proto__` are just misses. */
  readonly fields: ReadonlyMap<string, FieldDef>;
  readonly declared: readonly FieldDef[];
  readonly indexes: readonly IndexDef[];
  /** Every column as stored (sealed fields as their `enc:v1:` text): for exports. */
  readonly selectList: string;
  /**
   * Every column as a find returns it: a sealed field opened with the user's vault key
   * (`bh_open`), or the locked sentinel while the vault is locked. Same as selectList without sealed fields.
   */
  readonly readList: string;
  /** The declared fields that are sealed (empty for most collections). */
  readonly sealed: readonly FieldDef[];
  readonly insertSql: string;
  readonly createSql: string;
  /** All field names joined for error messages (manifest names, never user data). */
  readonly fieldList: string;
  /** Converts a row of `readList` into a record (booleans and JSON decoded, the locked sentinel as the locked marker). */
  readonly decode: (row: Record<string, unknown>) => Record<string, unknown>;
  /** Converts a row of `selectList` into a record for an export: sealed values stay sealed text. */
  readonly decodeStored: (row: Record<string, unknown>) => Record<string, unknown>;
  /**
   * `json_object(...)` of a row of `selectList`, decoded as `decode` does it (booleans as true or
   * false, JSON fields as JSON), so SQLite can write the records of a find as JSON text itself.
   */
  readonly jsonObject: string;
}

export interface StorageSchema {
  readonly plugin: string;
  readonly collections: ReadonlyMap<string, CollectionDef>;
  readonly collectionList: string;
  /** Canonical JSON of the declared storage; stored in each file to detect manifest changes. */
  readonly canonical: string;
}

/** SQLite column type (tables are STRICT) of each field type. */
export const sqlTypes: Readonly<Record<FieldType, string>> = {
  text: 'TEXT',
  integer: 'INTEGER',
  real: 'REAL',
  boolean: 'INTEGER',
  json: 'TEXT',
  timestamp: 'INTEGER',
};

const identifierPattern = /^[a-zA-Z][a-zA-Z0-9_]{0,62}$/;

/** Quotes an identifier that already matched the manifest pattern (so it holds no quote). */
export function quoteIdentifier(name: string): string {
  if (!identifierPattern.test(name)) throw new BulkheadError('BH_MANIFEST_INVALID', { source: 'storage', problem: 'an identifier is not valid' });
  return `"${name}"`;
}

/** Builds the store's view of a validated manifest storage section. */
export function buildStorageSchema(plugin: string, storage: StorageSpec): StorageSchema {
  const collections = new Map<string, CollectionDef>();
  const canonicalCollections: Record<string, unknown> = {};
  for (const name of Object.keys(storage.collections).sort()) {
    const spec = storage.collections[name];
    if (!spec) continue;
    const table = quoteIdentifier(`c_${name}`);
    const fields = new Map<string, FieldDef>();
    for (const [field, type] of Object.entries(systemFields)) {
      fields.set(field, { name: field, type, required: true, default: undefined, system: true, sealed: false, column: quoteIdentifier(field) });
    }
    const declared: FieldDef[] = [];
    const canonicalFields: Record<string, unknown> = {};
    for (const [field, fieldSpec] of Object.entries(spec.fields)) {
      const def: FieldDef = {
        name: field,
        type: fieldSpec.type,
        required: fieldSpec.required === true,
        default: fieldSpec.default,
        system: false,
        sealed: fieldSpec.sealed === true,
        column: quoteIdentifier(field),
      };
      fields.set(field, def);
      declared.push(def);
      // `sealed` is recorded only when set, so that files written before the vault keep their schema.
      canonicalFields[field] = { type: def.type, required: def.required, default: def.default ?? null, ...(def.sealed ? { sealed: true } : {}) };
    }
    const indexes = (spec.indexes ?? []).map((index): IndexDef => {
      const unique = index.unique === true;
      const indexName = `ix_${createHash('sha256').update(JSON.stringify([name, index.fields, unique])).digest('hex').slice(0, 24)}`;
      const columns = index.fields.map((f) => quoteIdentifier(f)).join(', ');
      return {
        name: indexName,
        fields: index.fields,
        unique,
        createSql: `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${quoteIdentifier(indexName)} ON ${table} (${columns})`,
      };
    });
    const all = [...fields.values()];
    const columnList = all.map((f) => f.column).join(', ');
    const columnDefs = all.map((f) =>
      f.name === 'id' ? `"id" TEXT PRIMARY KEY NOT NULL` : `${f.column} ${sqlTypes[f.type]}${f.system ? ' NOT NULL' : ''}`,
    );
    const sealed = declared.filter((f) => f.sealed);
    collections.set(name, {
      name,
      table,
      fields,
      declared,
      indexes,
      selectList: columnList,
      readList: sealed.length === 0 ? columnList : all.map((f) => (f.sealed ? `${openedColumn(name, f)} AS ${f.column}` : f.column)).join(', '),
      sealed,
      insertSql: `INSERT INTO ${table} (${columnList}) VALUES (${all.map(() => '?').join(', ')})`,
      createSql: `CREATE TABLE ${table} (${columnDefs.join(', ')}) STRICT`,
      fieldList: all.map((f) => f.name).join(', '),
      decode: rowDecoder(declared, true),
      decodeStored: rowDecoder(declared, false),
      jsonObject: `json_object(${all.map((f) => `'${f.name}', ${jsonValue(name, f)}`).join(', ')})`,
    });
    canonicalCollections[name] = {
      fields: canonicalFields,
      indexes: indexes.map((i) => ({ name: i.name, fields: i.fields, unique: i.unique })),
    };
  }
  return {
    plugin,
    collections,
    collectionList: [...collections.keys()].join(', ') || '(none)',
    canonical: JSON.stringify({ collections: canonicalCollections }),
  };
}

/**
 * What a find returns in place of a sealed value while the user's vault is locked. An object, so
 * that it can never be mistaken for a text value; plugins test for it (pdk: isLocked).
 */
export const lockedMarker = Object.freeze({ $sealed: 'locked' });
/** What `bh_open` gives SQL for a value it cannot open while the vault is locked; decode turns it into lockedMarker. */
export const lockedSentinel = '\u0000bulkhead:sealed:locked';

/**
 * A sealed column opened for a find: `bh_open` (registered per connection by the store, for the
 * file's user) decrypts it with the vault key, or gives the locked sentinel. Collection and field
 * names are manifest identifiers (checked by quoteIdentifier), safe as SQL string literals.
 */
function openedColumn(collection: string, field: FieldDef): string {
  return `bh_open('${collection}', '${field.name}', "id", ${field.column})`;
}

/** A column as a JSON value in SQL: the same value `rowDecoder` gives (the name is an identifier). */
function jsonValue(collection: string, field: FieldDef): string {
  if (field.type === 'boolean') return `CASE ${field.column} WHEN 1 THEN json('true') WHEN 0 THEN json('false') END`;
  if (field.sealed) {
    const opened = openedColumn(collection, field);
    const value = field.type === 'json' ? `json(${opened})` : opened;
    return `CASE WHEN ${field.column} IS NULL THEN NULL WHEN bh_unlocked() THEN ${value} ELSE json('${JSON.stringify(lockedMarker)}') END`;
  }
  if (field.type === 'json') return `json(${field.column})`;
  return field.column;
}

function rowDecoder(declared: readonly FieldDef[], opened: boolean): (row: Record<string, unknown>) => Record<string, unknown> {
  const booleans = declared.filter((f) => f.type === 'boolean').map((f) => f.name);
  // Stored sealed values are enc:v1: text, not JSON: an export keeps them as they are.
  const jsons = declared.filter((f) => f.type === 'json' && (opened || !f.sealed)).map((f) => f.name);
  const sealed = opened ? declared.filter((f) => f.sealed).map((f) => f.name) : [];
  if (booleans.length === 0 && jsons.length === 0 && sealed.length === 0) return (row) => row;
  return (row) => {
    for (const name of booleans) {
      const value = row[name];
      if (value !== null && value !== undefined) row[name] = value === 1;
    }
    for (const name of sealed) {
      if (row[name] === lockedSentinel) row[name] = { ...lockedMarker };
    }
    for (const name of jsons) {
      const value = row[name];
      if (typeof value === 'string') row[name] = JSON.parse(value) as unknown;
    }
    return row;
  };
}

/** The storage of a file as recorded in it, parsed back from its canonical JSON. */
export interface RecordedStorage {
  readonly collections: Readonly<
    Record<
      string,
      {
        readonly fields: Readonly<Record<string, { type: FieldType; required: boolean; default: unknown; sealed?: boolean }>>;
        readonly indexes: readonly { name: string; fields: string[]; unique: boolean }[];
      }
    >
  >;
}
