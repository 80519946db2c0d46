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
  readonly selectList: string;
  readonly insertSql: string;
  readonly createSql: string;
  /** All field names joined for error messages (manifest names, never user data). */
  readonly fieldList: string;
  /** Converts a row as SQLite returns it into a record (booleans and JSON decoded). */
  readonly decode: (row: Record<string, unknown>) => Record<string, unknown>;
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
      fields.set(field, { name: field, type, required: true, default: undefined, system: true, column: quoteIdentifier(field) });
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
        column: quoteIdentifier(field),
      };
      fields.set(field, def);
      declared.push(def);
      canonicalFields[field] = { type: def.type, required: def.required, default: def.default ?? null };
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
    collections.set(name, {
      name,
      table,
      fields,
      declared,
      indexes,
      selectList: columnList,
      insertSql: `INSERT INTO ${table} (${columnList}) VALUES (${all.map(() => '?').join(', ')})`,
      createSql: `CREATE TABLE ${table} (${columnDefs.join(', ')}) STRICT`,
      fieldList: all.map((f) => f.name).join(', '),
      decode: rowDecoder(declared),
      jsonObject: `json_object(${all.map((f) => `'${f.name}', ${jsonValue(f)}`).join(', ')})`,
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

/** A column as a JSON value in SQL: the same value `rowDecoder` gives (the name is an identifier). */
function jsonValue(field: FieldDef): string {
  if (field.type === 'boolean') return `CASE ${field.column} WHEN 1 THEN json('true') WHEN 0 THEN json('false') END`;
  if (field.type === 'json') return `json(${field.column})`;
  return field.column;
}

function rowDecoder(declared: readonly FieldDef[]): (row: Record<string, unknown>) => Record<string, unknown> {
  const booleans = declared.filter((f) => f.type === 'boolean').map((f) => f.name);
  const jsons = declared.filter((f) => f.type === 'json').map((f) => f.name);
  if (booleans.length === 0 && jsons.length === 0) return (row) => row;
  return (row) => {
    for (const name of booleans) {
      const value = row[name];
      if (value !== null && value !== undefined) row[name] = value === 1;
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
        readonly fields: Readonly<Record<string, { type: FieldType; required: boolean; default: unknown }>>;
        readonly indexes: readonly { name: string; fields: string[]; unique: boolean }[];
      }
    >
  >;
}
