import { BulkheadError } from '../core/errors.js';
import { limitDefault } from '../config/limits.js';
import { jsonLimitExceeded } from '../core/json-limits.js';
import { valueFitsType, type FieldType } from '../manifest/manifest.js';
import type { CollectionDef, FieldDef, StorageSchema } from './storage-schema.js';

/** What SQLite receives as a parameter. Booleans become 1/0, JSON values become text. */
export type SqlValue = string | number | null;
export type QueryOp = 'insert' | 'find' | 'update' | 'delete' | 'count';

export interface CompiledQuery {
  readonly op: QueryOp;
  /** Every identifier in it comes from the manifest; every value is a `?` parameter. */
  readonly sql: string;
  readonly params: SqlValue[];
  readonly collection: CollectionDef;
  /** For insert: the record as it will be stored. */
  readonly record?: Record<string, unknown>;
  /**
   * For find: the same query answering one row, the number of records and the records as a JSON array (same params),
   * each record's size counted by `bh_answer_bytes` before it joins the array.
   */
  readonly jsonSql?: string;
  /**
   * For insert: indexes into params of sealed values to seal (with the record's id) before running.
   * For update: true when it writes a sealed value (its SQL seals with bh_seal per record).
   * Absent when the query writes no sealed value.
   */
  readonly seals?: readonly { readonly param: number; readonly field: string }[] | true;
}

export interface CompileContext {
  /** Milliseconds since the epoch, for createdAt and updatedAt. */
  readonly now: number;
  readonly newId: () => string;
}

/**
 * Every limit of the query language, from the registry's `query.*` (host/config/limits.ts);
 * schemas/query.v1.json states the same.
 */
export const queryLimits = Object.freeze({
  defaultLimit: limitDefault('query.defaultLimit'),
  maxLimit: limitDefault('query.maxLimit'),
  maxOffset: limitDefault('query.maxOffset'),
  maxDepth: limitDefault('query.maxDepth'),
  maxConditions: limitDefault('query.maxConditions'),
  maxListItems: limitDefault('query.maxListItems'),
  maxInItems: limitDefault('query.maxInItems'),
  maxOrderBy: limitDefault('query.maxOrderBy'),
  /**
   * A LIKE pattern is matched against one value in native code that cannot be interrupted: its
   * worst case is (value bytes) x (pattern length), about 15 ms at these two limits.
   */
  maxLikeLength: limitDefault('query.maxLikeLength'),
  /** UTF-8 bytes of one text value, or of one json value as stored. */
  maxValueBytes: limitDefault('query.maxValueBytes'),
  /** Nesting of a json value (the PDK reads answers up to 64 levels; records sit 3 levels deep). */
  maxJsonDepth: limitDefault('query.maxJsonDepth'),
});

/**
 * The per-row budget check of the store (host/store/query-budget.ts): SQLite calls it for every
 * row it examines, and it stops the statement past the call's deadline or the query's row budget.
 */
export const budgetCheck = 'bh_step()';

const requestKeys: Readonly<Record<QueryOp, ReadonlySet<string>>> = {
  insert: new Set(['op', 'collection', 'values']),
  find: new Set(['op', 'collection', 'where', 'orderBy', 'limit', 'offset']),
  update: new Set(['op', 'collection', 'where', 'set']),
  delete: new Set(['op', 'collection', 'where']),
  count: new Set(['op', 'collection', 'where']),
};

const expectedValue: Readonly<Record<FieldType, string>> = {
  text: 'a string',
  integer: 'a whole number (safe integer)',
  real: 'a finite number',
  boolean: 'true or false',
  json: 'a JSON value',
  timestamp: 'whole milliseconds since the epoch',
};

// A Map, not an object literal: an operator named `constructor` or `__proto__` must be a miss.
const operatorSql: ReadonlyMap<string, string> = new Map([
  ['eq', ' = ?'],
  ['ne', ' IS NOT ?'],
  ['lt', ' < ?'],
  ['lte', ' <= ?'],
  ['gt', ' > ?'],
  ['gte', ' >= ?'],
]);
const operatorList = 'eq, ne, lt, lte, gt, gte, in, like';

/**
 * Compiles a JSON query (schemas/query.v1.json) against a plugin's storage schema into SQL and
 * parameters. Identifiers are only ever taken from the schema, never copied from the request, and
 * errors describe the problem without quoting the request's values or unknown names.
 *
 * @example
 * compileQuery(schema, { op: 'find', collection: 'notes', where: { done: false }, limit: 10 }, ctx)
 * // { sql: 'SELECT "id", ... FROM "c_notes" WHERE "done" = ? LIMIT ? OFFSET ?', params: [0, 10, 0] }
 */
export function compileQuery(schema: StorageSchema, request: unknown, context: CompileContext): CompiledQuery {
  if (!isPlainObject(request)) invalid('the request must be a JSON object');
  const op = request['op'];
  if (typeof op !== 'string' || !Object.hasOwn(requestKeys, op)) invalid('op must be one of insert, find, update, delete, count');
  const allowed = requestKeys[op as QueryOp];
  for (const key of Object.keys(request)) {
    if (!allowed.has(key)) invalid(`the request has a key that ${op} does not take (${op} takes ${[...allowed].join(', ')})`);
  }
  const collectionName = request['collection'];
  if (typeof collectionName !== 'string') invalid('collection must be a string');
  const collection = schema.collections.get(collectionName as string);
  if (!collection) throw new BulkheadError('BH_QUERY_UNKNOWN_COLLECTION', { declared: schema.collectionList });

  switch (op as QueryOp) {
    case 'insert':
      return compileInsert(collection, request['values'], context);
    case 'find':
      return compileFind(collection, request);
    case 'count': {
      // Without conditions SQLite counts the b-tree's pages, bounded by the file quota: no check.
      const params: SqlValue[] = [];
      const where = whereClause(collection, request['where'], params, false);
      return { op: 'count', sql: `SELECT count(*) AS "count" FROM ${collection.table}${where && withBudget(where)}`, params, collection };
    }
    case 'update':
      return compileUpdate(collection, request, context);
    case 'delete': {
      // Deleting every record is SQLite's truncate, bounded by the file quota: no check.
      const params: SqlValue[] = [];
      const where = whereClause(collection, request['where'], params, true);
      return { op: 'delete', sql: `DELETE FROM ${collection.table}${where && withBudget(where)}`, params, collection };
    }
  }
}

/** Encodes a checked value for SQLite. */
export function encodeValue(type: FieldType, value: unknown): SqlValue {
  if (value === null) return null;
  if (type === 'boolean') return value ? 1 : 0;
  if (type === 'json') {
    // Checked before anything recursive runs: a deeper value would be stored and then break
    // every read of its collection.
    if (jsonLimitExceeded(value, { maxDepth: queryLimits.maxJsonDepth })) tooComplex(`a json value is nested more than ${queryLimits.maxJsonDepth} levels deep`);
    return JSON.stringify(value);
  }
  return value as string | number;
}

function compileInsert(collection: CollectionDef, values: unknown, context: CompileContext): CompiledQuery {
  if (!isPlainObject(values)) invalid('values must be an object of field values');
  checkWritableKeys(collection, values, 'values');
  const id = context.newId();
  const params: SqlValue[] = [id, context.now, context.now];
  const record: Record<string, unknown> = { id, createdAt: context.now, updatedAt: context.now };
  const seals: { param: number; field: string }[] = [];
  for (const field of collection.declared) {
    let value = Object.hasOwn(values, field.name) ? values[field.name] : undefined;
    if (value === undefined) value = field.default;
    if (value === undefined) {
      if (field.required) throw new BulkheadError('BH_QUERY_MISSING_FIELD', { collection: collection.name, field: field.name });
      value = null;
    }
    checkValue(field, value, `values.${field.name}`, field.required);
    if (field.sealed && value !== null) seals.push({ param: params.length, field: field.name });
    params.push(encodeChecked(field, value, `values.${field.name}`));
    record[field.name] = value;
  }
  return { op: 'insert', sql: collection.insertSql, params, collection, record, ...(seals.length > 0 ? { seals } : {}) };
}

function compileUpdate(collection: CollectionDef, request: Record<string, unknown>, context: CompileContext): CompiledQuery {
  const set = request['set'];
  if (!isPlainObject(set) || Object.keys(set).length === 0) invalid('set must be an object with at least one field');
  checkWritableKeys(collection, set, 'set');
  const params: SqlValue[] = [];
  const assignments: string[] = [];
  let seals = false;
  for (const key of Object.keys(set)) {
    const field = collection.fields.get(key) as FieldDef;
    const value = set[key];
    checkValue(field, value, `set.${field.name}`, field.required);
    if (field.sealed && value !== null) {
      // Sealed per record: the additional data binds each value to its record's id.
      assignments.push(`${field.column} = bh_seal('${collection.name}', '${field.name}', "id", ?)`);
      seals = true;
    } else {
      assignments.push(`${field.column} = ?`);
    }
    params.push(encodeChecked(field, value, `set.${field.name}`));
  }
  assignments.push('"updatedAt" = ?');
  params.push(context.now);
  const where = whereClause(collection, request['where'], params, true);
  return { op: 'update', sql: `UPDATE ${collection.table} SET ${assignments.join(', ')}${withBudget(where)}`, params, collection, ...(seals ? { seals: true as const } : {}) };
}

function compileFind(collection: CollectionDef, request: Record<string, unknown>): CompiledQuery {
  const params: SqlValue[] = [];
  const where = whereClause(collection, request['where'], params, false);
  let order = '';
  const orderTerms: { column: string; direction: string }[] = [];
  const orderBy = request['orderBy'];
  if (orderBy !== undefined) {
    if (!Array.isArray(orderBy) || orderBy.length === 0 || orderBy.length > queryLimits.maxOrderBy) {
      invalid(`orderBy must be a list of 1 to ${queryLimits.maxOrderBy} entries`);
    }
    const terms = (orderBy as unknown[]).map((entry) => {
      if (!isPlainObject(entry) || Object.keys(entry).some((k) => k !== 'field' && k !== 'direction')) {
        invalid('each orderBy entry must be an object with field and optional direction');
      }
      const name = entry['field'];
      const field = typeof name === 'string' ? collection.fields.get(name) : undefined;
      if (!field) unknownField(collection, 'orderBy');
      if (field.sealed) sealedField(collection, field, 'orderBy');
      const direction = entry['direction'] ?? 'asc';
      if (direction !== 'asc' && direction !== 'desc') invalid('orderBy direction must be asc or desc');
      orderTerms.push({ column: field.column, direction: direction === 'asc' ? 'ASC' : 'DESC' });
      return `${field.column} ${direction === 'asc' ? 'ASC' : 'DESC'}`;
    });
    order = ` ORDER BY ${terms.join(', ')}`;
  }
  const limit = request['limit'] ?? queryLimits.defaultLimit;
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > queryLimits.maxLimit) {
    invalid(`limit must be a whole number from 1 to ${queryLimits.maxLimit}`);
  }
  const offset = request['offset'] ?? 0;
  if (!Number.isInteger(offset) || (offset as number) < 0 || (offset as number) > queryLimits.maxOffset) {
    invalid(`offset must be a whole number from 0 to ${queryLimits.maxOffset}`);
  }
  params.push(limit as number, offset as number);
  const from = `FROM ${collection.table}${withBudget(where)}${order} LIMIT ? OFFSET ?`;
  // Each record is written as JSON once, in the subquery, and its size counted before it joins
  // the array: an answer larger than the call's memory budget stops before it is built. The
  // ORDER BY inside the aggregate keeps the array in the query's order (SQLite >= 3.44), on the
  // sort keys carried out of the subquery as o0, o1, ...
  const keys = orderTerms.map((term, i) => `, ${term.column} AS "o${i}"`).join('');
  const arrayOrder = orderTerms.length === 0 ? '' : ` ORDER BY ${orderTerms.map((term, i) => `"o${i}" ${term.direction}`).join(', ')}`;
  return {
    op: 'find',
    sql: `SELECT ${collection.readList} ${from}`,
    // The records are joined as text (a subquery's column loses its JSON subtype, and re-parsing it
    // with json() would cost a second pass over every record).
    jsonSql: `SELECT count(*), coalesce('[' || group_concat("r", ','${arrayOrder}) || ']', '[]') FROM (SELECT ${collection.jsonObject} AS "r"${keys} ${from}) WHERE bh_answer_bytes(octet_length("r"))`,
    params,
    collection,
  };
}

/** A WHERE clause (or none) with the budget check in front of its conditions. */
function withBudget(where: string): string {
  return where === '' ? ` WHERE ${budgetCheck}` : ` WHERE ${budgetCheck} AND ${where.slice(' WHERE '.length)}`;
}

/** `' WHERE ...'`, or '' for no conditions. Update and delete must say `where` (`{}` for all records). */
function whereClause(collection: CollectionDef, where: unknown, params: SqlValue[], required: boolean): string {
  if (where === undefined) {
    if (required) invalid('where is required for update and delete (use {} to mean every record)');
    return '';
  }
  const state = { conditions: 0 };
  const sql = compileConditions(collection, where, params, 1, state, 'where');
  return sql === '' ? '' : ` WHERE ${sql}`;
}

function compileConditions(
  collection: CollectionDef,
  where: unknown,
  params: SqlValue[],
  depth: number,
  state: { conditions: number },
  place: string,
): string {
  if (!isPlainObject(where)) invalid(`${place} must be an object of conditions`);
  if (depth > queryLimits.maxDepth) tooComplex(`where is nested more than ${queryLimits.maxDepth} levels deep`);
  const parts: string[] = [];
  for (const key of Object.keys(where)) {
    const value = where[key];
    if (key === 'and' || key === 'or') {
      if (!Array.isArray(value) || value.length === 0 || value.length > queryLimits.maxListItems) {
        invalid(`${place}.${key} must be a list of 1 to ${queryLimits.maxListItems} conditions`);
      }
      const inner = (value as unknown[]).map((item, i) => {
        const sql = compileConditions(collection, item, params, depth + 1, state, `${place}.${key}[${i}]`);
        if (sql === '') invalid(`${place}.${key}[${i}] must contain at least one condition`);
        return sql;
      });
      parts.push(inner.length === 1 ? (inner[0] as string) : `(${inner.join(key === 'and' ? ' AND ' : ' OR ')})`);
      continue;
    }
    const field = collection.fields.get(key);
    if (!field) unknownField(collection, place);
    if (field.sealed) sealedField(collection, field, 'where');
    if (isPlainObject(value)) {
      const operators = Object.keys(value);
      if (operators.length === 0) invalid(`${place}.${field.name} must name at least one operator (${operatorList})`);
      for (const operator of operators) {
        parts.push(compileOperator(field, operator, value[operator], params, `${place}.${field.name}`, state));
      }
    } else if (Array.isArray(value)) {
      invalid(`${place}.${field.name} must be a value or an object of operators; use {"in": [...]} for a list`);
    } else {
      parts.push(compileOperator(field, 'eq', value, params, `${place}.${field.name}`, state));
    }
  }
  return parts.length > 1 ? `(${parts.join(' AND ')})` : (parts[0] ?? '');
}

function compileOperator(
  field: FieldDef,
  operator: string,
  operand: unknown,
  params: SqlValue[],
  place: string,
  state: { conditions: number },
): string {
  state.conditions += 1;
  if (state.conditions > queryLimits.maxConditions) tooComplex(`where has more than ${queryLimits.maxConditions} conditions`);
  const sql = operatorSql.get(operator);
  if (sql !== undefined) {
    if (operator === 'eq' || operator === 'ne') {
      if (operand === null) return `${field.column} IS ${operator === 'eq' ? '' : 'NOT '}NULL`;
      if (field.type === 'json') invalid(`${place}: a json field can only be compared with null`);
    } else if (field.type === 'json' || field.type === 'boolean') {
      invalid(`${place}: ${field.type} fields cannot be ordered with ${operator}`);
    }
    checkValue(field, operand, `${place}.${operator}`, true);
    params.push(encodeValue(field.type, operand));
    return field.column + sql;
  }
  if (operator === 'in') {
    if (field.type === 'json') invalid(`${place}: a json field can only be compared with null`);
    if (!Array.isArray(operand) || operand.length > queryLimits.maxInItems) {
      invalid(`${place}.in must be a list of at most ${queryLimits.maxInItems} values`);
    }
    for (const item of operand as unknown[]) {
      checkValue(field, item, `${place}.in[]`, true);
      params.push(encodeValue(field.type, item));
    }
    return `${field.column} IN (${(operand as unknown[]).map(() => '?').join(', ')})`;
  }
  if (operator === 'like') {
    if (field.type !== 'text') invalid(`${place}: like works on text fields only`);
    if (typeof operand !== 'string' || operand.length > queryLimits.maxLikeLength) {
      invalid(`${place}.like must be a pattern string of at most ${queryLimits.maxLikeLength} characters`);
    }
    params.push(operand as string);
    return `${field.column} LIKE ? ESCAPE '\\'`;
  }
  invalid(`${place} has an unknown operator; use ${operatorList}`);
}

function checkWritableKeys(collection: CollectionDef, values: Record<string, unknown>, place: string): void {
  for (const key of Object.keys(values)) {
    const field = collection.fields.get(key);
    if (!field) unknownField(collection, place);
    if (field.system) invalid(`${place} cannot set id, createdAt or updatedAt: the host sets them`);
  }
}

function checkValue(field: FieldDef, value: unknown, place: string, notNull: boolean): void {
  if (value === null) {
    if (notNull) {
      throw new BulkheadError('BH_QUERY_TYPE_MISMATCH', { place, expected: `${expectedValue[field.type]}, not null`, type: field.type, field: field.name });
    }
    return;
  }
  if (!valueFitsType(field.type, value)) {
    throw new BulkheadError('BH_QUERY_TYPE_MISMATCH', { place, expected: expectedValue[field.type], type: field.type, field: field.name });
  }
  if (typeof value === 'string' && value.length > queryLimits.maxValueBytes / 3 && Buffer.byteLength(value) > queryLimits.maxValueBytes) {
    throw new BulkheadError('BH_QUERY_VALUE_TOO_LARGE', { place, limit: queryLimits.maxValueBytes });
  }
}

/** Encodes a json value, refusing one whose stored text would pass the value limit. */
function encodeChecked(field: FieldDef, value: unknown, place: string): SqlValue {
  const encoded = encodeValue(field.type, value);
  if (field.type === 'json' && typeof encoded === 'string' && Buffer.byteLength(encoded) > queryLimits.maxValueBytes) {
    throw new BulkheadError('BH_QUERY_VALUE_TOO_LARGE', { place, limit: queryLimits.maxValueBytes });
  }
  return encoded;
}


function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(problem: string): never {
  throw new BulkheadError('BH_QUERY_INVALID', { problem });
}

function tooComplex(problem: string): never {
  throw new BulkheadError('BH_QUERY_TOO_COMPLEX', { problem });
}

function sealedField(collection: CollectionDef, field: FieldDef, place: string): never {
  throw new BulkheadError('BH_QUERY_SEALED_FIELD', { field: field.name, collection: collection.name, place });
}

function unknownField(collection: CollectionDef, place: string): never {
  throw new BulkheadError('BH_QUERY_UNKNOWN_FIELD', { place, collection: collection.name, declared: collection.fieldList });
}
