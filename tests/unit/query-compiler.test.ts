import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { isBulkheadError, type ErrorCode } from '../../host/core/errors.js';
import { fromRoot } from '../../host/core/paths.js';
import { compileQuery, queryLimits } from '../../host/store/query-compiler.js';
import { buildStorageSchema } from '../../host/store/storage-schema.js';
import { notesManifest } from '../helpers/fixtures.js';

const schema = buildStorageSchema('notes', notesManifest.storage!);
const context = { now: 1_700_000_000_000, newId: () => 'id-1' };
const compile = (request: unknown) => compileQuery(schema, request, context);
const columns = '"id", "createdAt", "updatedAt", "text", "tags", "pinned", "priority", "score", "dueAt"';

const querySchema = JSON.parse(readFileSync(fromRoot('schemas', 'query.v1.json'), 'utf8')) as object;
const validateRequest = new Ajv2020({ strict: false }).compile(querySchema);

const golden: { name: string; request: unknown; sql: string; params: unknown[] }[] = [
  {
    name: 'insert fills every column, defaults and nulls included',
    request: { op: 'insert', collection: 'notes', values: { text: 'buy milk', tags: ['home'], score: 1.5 } },
    sql: `INSERT INTO "c_notes" (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    params: ['id-1', context.now, context.now, 'buy milk', '["home"]', 0, null, 1.5, null],
  },
  {
    name: 'find by id',
    request: { op: 'find', collection: 'notes', where: { id: 'abc' } },
    sql: `SELECT ${columns} FROM "c_notes" WHERE bh_step() AND "id" = ? LIMIT ? OFFSET ?`,
    params: ['abc', 100, 0],
  },
  {
    name: 'find with operators, and/or, order, limit and offset',
    request: {
      op: 'find',
      collection: 'notes',
      where: { pinned: true, priority: { gte: 2, lt: 5 }, or: [{ text: { like: '%milk%' } }, { dueAt: null }] },
      orderBy: [{ field: 'createdAt', direction: 'desc' }, { field: 'text' }],
      limit: 10,
      offset: 20,
    },
    sql: `SELECT ${columns} FROM "c_notes" WHERE bh_step() AND ("pinned" = ? AND "priority" >= ? AND "priority" < ? AND ("text" LIKE ? ESCAPE '\\' OR "dueAt" IS NULL)) ORDER BY "createdAt" DESC, "text" ASC LIMIT ? OFFSET ?`,
    params: [1, 2, 5, '%milk%', 10, 20],
  },
  {
    name: 'in, ne and ne null',
    request: { op: 'count', collection: 'notes', where: { and: [{ id: { in: ['a', 'b'] } }, { text: { ne: 'x' } }, { tags: { ne: null } }] } },
    sql: `SELECT count(*) AS "count" FROM "c_notes" WHERE bh_step() AND ("id" IN (?, ?) AND "text" IS NOT ? AND "tags" IS NOT NULL)`,
    params: ['a', 'b', 'x'],
  },
  {
    name: 'empty in list matches nothing',
    request: { op: 'count', collection: 'notes', where: { id: { in: [] } } },
    sql: `SELECT count(*) AS "count" FROM "c_notes" WHERE bh_step() AND "id" IN ()`,
    params: [],
  },
  {
    name: 'count without where',
    request: { op: 'count', collection: 'notes' },
    sql: `SELECT count(*) AS "count" FROM "c_notes"`,
    params: [],
  },
  {
    name: 'update sets fields and updatedAt',
    request: { op: 'update', collection: 'notes', where: { id: 'abc' }, set: { text: 'oat milk', pinned: false, tags: null } },
    sql: `UPDATE "c_notes" SET "text" = ?, "pinned" = ?, "tags" = ?, "updatedAt" = ? WHERE bh_step() AND "id" = ?`,
    params: ['oat milk', 0, null, context.now, 'abc'],
  },
  {
    name: 'delete with an explicit empty where deletes all',
    request: { op: 'delete', collection: 'notes', where: {} },
    sql: `DELETE FROM "c_notes"`,
    params: [],
  },
  {
    name: 'delete by time range',
    request: { op: 'delete', collection: 'notes', where: { createdAt: { lt: 1000 }, score: { gt: -0.5 } } },
    sql: `DELETE FROM "c_notes" WHERE bh_step() AND ("createdAt" < ? AND "score" > ?)`,
    params: [1000, -0.5],
  },
  {
    name: 'user-supplied text that looks like SQL is only ever a parameter',
    request: { op: 'find', collection: 'notes', where: { text: `x'; DROP TABLE "c_notes"; --` }, limit: 1 },
    sql: `SELECT ${columns} FROM "c_notes" WHERE bh_step() AND "text" = ? LIMIT ? OFFSET ?`,
    params: [`x'; DROP TABLE "c_notes"; --`, 1, 0],
  },
];

for (const g of golden) {
  test(`golden: ${g.name}`, () => {
    const compiled = compile(g.request);
    assert.equal(compiled.sql, g.sql);
    assert.deepEqual(compiled.params, g.params);
    assert.ok(validateRequest(g.request), 'the request is valid against schemas/query.v1.json');
  });
}

const refusals: { name: string; request: unknown; code: ErrorCode }[] = [
  { name: 'not an object', request: '[]', code: 'BH_QUERY_INVALID' },
  { name: 'raw SQL', request: { op: 'sql', sql: 'SELECT * FROM sqlite_schema' }, code: 'BH_QUERY_INVALID' },
  { name: 'unknown collection', request: { op: 'find', collection: 'sqlite_schema' }, code: 'BH_QUERY_UNKNOWN_COLLECTION' },
  { name: 'collection named by prototype key', request: { op: 'find', collection: '__proto__' }, code: 'BH_QUERY_UNKNOWN_COLLECTION' },
  { name: 'unknown field in where', request: { op: 'find', collection: 'notes', where: { 'text" OR 1=1 --': 'x' } }, code: 'BH_QUERY_UNKNOWN_FIELD' },
  { name: 'a user id field the manifest does not declare', request: { op: 'find', collection: 'notes', where: { userId: 'bob' } }, code: 'BH_QUERY_UNKNOWN_FIELD' },
  { name: 'unknown field in values', request: { op: 'insert', collection: 'notes', values: { text: 'a', owner: 'bob' } }, code: 'BH_QUERY_UNKNOWN_FIELD' },
  { name: 'setting id', request: { op: 'insert', collection: 'notes', values: { text: 'a', id: 'mine' } }, code: 'BH_QUERY_INVALID' },
  { name: 'missing required field', request: { op: 'insert', collection: 'notes', values: {} }, code: 'BH_QUERY_MISSING_FIELD' },
  { name: 'null for a required field', request: { op: 'update', collection: 'notes', where: {}, set: { text: null } }, code: 'BH_QUERY_TYPE_MISMATCH' },
  { name: 'wrong type', request: { op: 'insert', collection: 'notes', values: { text: 5 } }, code: 'BH_QUERY_TYPE_MISMATCH' },
  { name: 'unsafe integer', request: { op: 'find', collection: 'notes', where: { priority: 2 ** 60 } }, code: 'BH_QUERY_TYPE_MISMATCH' },
  { name: 'unknown operator', request: { op: 'find', collection: 'notes', where: { text: { regexp: '.*' } } }, code: 'BH_QUERY_INVALID' },
  { name: 'operator named like a prototype property', request: { op: 'find', collection: 'notes', where: { text: { constructor: 'x' } } }, code: 'BH_QUERY_INVALID' },
  { name: 'operator named __proto__', request: JSON.parse('{"op":"find","collection":"notes","where":{"text":{"__proto__":"x"}}}'), code: 'BH_QUERY_INVALID' },
  { name: 'like on a number', request: { op: 'find', collection: 'notes', where: { priority: { like: '1%' } } }, code: 'BH_QUERY_INVALID' },
  { name: 'ordering booleans', request: { op: 'find', collection: 'notes', where: { pinned: { gt: false } } }, code: 'BH_QUERY_INVALID' },
  { name: 'comparing json', request: { op: 'find', collection: 'notes', where: { tags: { eq: ['a'] } } }, code: 'BH_QUERY_INVALID' },
  { name: 'limit over 1000', request: { op: 'find', collection: 'notes', limit: 1001 }, code: 'BH_QUERY_INVALID' },
  { name: 'negative offset', request: { op: 'find', collection: 'notes', offset: -1 }, code: 'BH_QUERY_INVALID' },
  { name: 'update without where', request: { op: 'update', collection: 'notes', set: { text: 'x' } }, code: 'BH_QUERY_INVALID' },
  { name: 'delete without where', request: { op: 'delete', collection: 'notes' }, code: 'BH_QUERY_INVALID' },
  { name: 'extra key', request: { op: 'find', collection: 'notes', user: 'bob' }, code: 'BH_QUERY_INVALID' },
  { name: 'order by unknown field', request: { op: 'find', collection: 'notes', orderBy: [{ field: 'rowid' }] }, code: 'BH_QUERY_UNKNOWN_FIELD' },
  { name: 'empty and', request: { op: 'find', collection: 'notes', where: { and: [] } }, code: 'BH_QUERY_INVALID' },
  {
    name: 'nesting deeper than the limit',
    request: { op: 'find', collection: 'notes', where: Array.from({ length: 12 }).reduce<object>((w) => ({ and: [w] }), { text: 'x' }) },
    code: 'BH_QUERY_TOO_COMPLEX',
  },
  {
    name: 'too many conditions',
    request: { op: 'find', collection: 'notes', where: { or: Array.from({ length: 60 }, () => ({ and: Array.from({ length: 5 }, () => ({ text: 'x' })) })) } },
    code: 'BH_QUERY_TOO_COMPLEX',
  },
  {
    name: 'a json value nested deeper than the stack (attack: crashing the host with recursion)',
    request: { op: 'insert', collection: 'notes', values: { text: 'x', tags: Array.from({ length: 200_000 }).reduce<unknown[]>((inner) => [inner], []) } },
    code: 'BH_QUERY_TOO_COMPLEX',
  },
  { name: 'more orderBy entries than allowed', request: { op: 'find', collection: 'notes', orderBy: Array.from({ length: 9 }, () => ({ field: 'text' })) }, code: 'BH_QUERY_INVALID' },
  { name: 'like pattern over 1024 characters', request: { op: 'find', collection: 'notes', where: { text: { like: '%'.repeat(1025) } } }, code: 'BH_QUERY_INVALID' },
  { name: 'offset past the maximum', request: { op: 'find', collection: 'notes', offset: 1_000_001 }, code: 'BH_QUERY_INVALID' },
  { name: 'more than 64 entries in an or', request: { op: 'find', collection: 'notes', where: { or: Array.from({ length: 65 }, () => ({ text: 'x' })) } }, code: 'BH_QUERY_INVALID' },
  { name: 'in list too long', request: { op: 'find', collection: 'notes', where: { id: { in: Array.from({ length: 1001 }, () => 'x') } } }, code: 'BH_QUERY_INVALID' },
];

for (const r of refusals) {
  test(`refused with ${r.code}: ${r.name}`, () => {
    assert.throws(() => compile(r.request), (error: unknown) => isBulkheadError(error, r.code));
  });
}

test('errors never quote the values or unknown names of the request', () => {
  const marker = 'MARKER-7f3a';
  const requests = [
    { op: 'find', collection: marker },
    { op: 'find', collection: 'notes', where: { [marker]: 1 } },
    { op: 'find', collection: 'notes', where: { text: { [marker]: 1 } } },
    { op: 'insert', collection: 'notes', values: { text: 1, [marker]: marker } },
    { op: 'insert', collection: 'notes', values: { priority: marker } },
    { op: marker, collection: 'notes' },
    { op: 'find', collection: 'notes', [marker]: marker },
  ];
  for (const request of requests) {
    try {
      compile(request);
      assert.fail('expected a refusal');
    } catch (error) {
      assert.ok(isBulkheadError(error));
      assert.ok(!error.message.includes(marker), `${error.code} leaked a request value`);
    }
  }
});

test('every limit in the compiler is the one the schema states', () => {
  const defs = (querySchema as { $defs: Record<string, { properties: Record<string, { maximum?: number; maxItems?: number; maxLength?: number }> }> }).$defs;
  assert.equal(defs['find']?.properties['limit']?.maximum, queryLimits.maxLimit);
  assert.equal(defs['find']?.properties['offset']?.maximum, queryLimits.maxOffset);
  assert.equal(defs['find']?.properties['orderBy']?.maxItems, queryLimits.maxOrderBy);
  assert.equal(defs['operators']?.properties['in']?.maxItems, queryLimits.maxInItems);
  assert.equal(defs['operators']?.properties['like']?.maxLength, queryLimits.maxLikeLength);
});

// ---- property: whatever JSON comes in, the output is a coded error or SQL over manifest names ----

const manifestIdentifiers = new Set(['c_notes', ...schema.collections.get('notes')!.fields.keys(), 'count']);
const sqlWords = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'IN', 'IS', 'NOT', 'NULL', 'LIKE', 'ESCAPE', 'ORDER', 'BY', 'ASC', 'DESC', 'LIMIT', 'OFFSET', 'INSERT', 'INTO', 'VALUES', 'UPDATE', 'SET', 'DELETE', 'count', 'AS', 'bh_step']);

function assertOnlyManifestIdentifiers(sql: string): void {
  for (const match of sql.matchAll(/"([^"]*)"/g)) assert.ok(manifestIdentifiers.has(match[1] as string), 'identifier from the manifest');
  const rest = sql.replace(/"[^"]*"/g, ' ').replace(/'\\'/g, ' ');
  assert.doesNotMatch(rest, /'/, 'no string literal besides the LIKE escape');
  for (const word of rest.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) assert.ok(sqlWords.has(word), 'only SQL keywords outside quotes');
}

const fieldNames = ['id', 'createdAt', 'updatedAt', 'text', 'tags', 'pinned', 'priority', 'score', 'dueAt'];
const hostileNames = ['userId', 'rowid', '"; DROP TABLE x; --', '__proto__', 'constructor', 'sqlite_schema', 'text"', 'TEXT', 'and', 'or'];
const name = fc.oneof(fc.constantFrom(...fieldNames, ...hostileNames), fc.string({ maxLength: 8 }));
const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(2 ** 60));
const { where } = fc.letrec<{ where: Record<string, unknown>; cond: unknown }>((tie) => ({
  where: fc.oneof(
    { depthSize: 'small' },
    fc.dictionary(name, tie('cond'), { maxKeys: 3 }),
    fc.record({ and: fc.array(tie('where'), { maxLength: 3 }) }),
    fc.record({ or: fc.array(tie('where'), { maxLength: 3 }) }),
  ),
  cond: fc.oneof(
    scalar,
    fc.dictionary(fc.constantFrom('eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'like', 'regexp', 'raw', 'constructor', 'toString', '__proto__'), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })), { maxKeys: 2 }),
    fc.array(scalar, { maxLength: 2 }),
  ),
}));
const request = fc.record(
  {
    op: fc.constantFrom('insert', 'find', 'update', 'delete', 'count', 'sql', 'drop'),
    collection: fc.constantFrom('notes', 'c_notes', 'sqlite_schema', 'other', '__proto__'),
    where: fc.oneof(where, scalar),
    values: fc.dictionary(name, fc.oneof(scalar, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 4 }),
    set: fc.dictionary(name, scalar, { maxKeys: 3 }),
    orderBy: fc.array(fc.record({ field: name, direction: fc.constantFrom('asc', 'desc', 'sideways') }), { maxLength: 3 }),
    limit: fc.oneof(fc.integer({ min: -5, max: 2000 }), fc.double()),
    offset: fc.integer({ min: -5, max: 10 }),
    extra: scalar,
  },
  { requiredKeys: ['op', 'collection'] },
);

// Plausible requests: the right keys for their op, hostile names and values inside.
const plausible = fc.oneof(
  fc.record({ op: fc.constant('find'), collection: fc.constant('notes'), where, limit: fc.integer({ min: 1, max: 1000 }) }, { requiredKeys: ['op', 'collection'] }),
  fc.record({ op: fc.constant('count'), collection: fc.constant('notes'), where }, { requiredKeys: ['op', 'collection'] }),
  fc.record({ op: fc.constant('delete'), collection: fc.constant('notes'), where }),
  fc.record({ op: fc.constant('update'), collection: fc.constant('notes'), where, set: fc.dictionary(fc.constantFrom('text', 'priority', 'tags', 'pinned', ...hostileNames), scalar, { minKeys: 1, maxKeys: 2 }) }),
  fc.record({ op: fc.constant('insert'), collection: fc.constant('notes'), values: fc.record({ text: fc.oneof(fc.string(), scalar), tags: fc.jsonValue({ maxDepth: 2 }), priority: scalar }, { requiredKeys: [] }) }),
);

test('property: random requests only ever yield coded errors or SQL whose identifiers all come from the manifest', () => {
  let compiled = 0;
  fc.assert(
    fc.property(fc.oneof(request, plausible, plausible, fc.jsonValue()), (req) => {
      try {
        const result = compile(req);
        compiled += 1;
        assertOnlyManifestIdentifiers(result.sql);
        const placeholders = result.sql.match(/\?/g)?.length ?? 0;
        assert.equal(placeholders, result.params.length, 'one parameter per placeholder');
        for (const p of result.params) assert.ok(p === null || typeof p === 'string' || typeof p === 'number');
      } catch (error) {
        assert.ok(isBulkheadError(error) && error.code.startsWith('BH_QUERY_'), `uncoded error: ${String(error)}`);
      }
    }),
    { numRuns: 5000 },
  );
  assert.ok(compiled > 50, `the generator must reach the compiler's success paths (${compiled} compiled)`);
});
