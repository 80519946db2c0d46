import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isBulkheadError } from '../../host/core/errors.js';
import { fromRoot } from '../../host/core/paths.js';
import { parseManifest, pluginNamePattern } from '../../host/manifest/manifest.js';

const base = { manifestVersion: 1, name: 'notes', version: '1.0.0', description: 'Notes' };

const invalid: { name: string; manifest: unknown }[] = [
  { name: 'not an object', manifest: [] },
  { name: 'missing name', manifest: { ...base, name: undefined } },
  { name: 'upper-case plugin name', manifest: { ...base, name: 'Notes' } },
  { name: 'path in plugin name', manifest: { ...base, name: '../notes' } },
  { name: 'unknown top-level key', manifest: { ...base, network: true } },
  { name: 'unknown permission', manifest: { ...base, permissions: ['filesystem'] } },
  { name: 'SQL in a collection name', manifest: { ...base, storage: { collections: { 'x; DROP': { fields: {} } } } } },
  { name: 'quote in a field name', manifest: { ...base, storage: { collections: { a: { fields: { 'b"': { type: 'text' } } } } } } },
  { name: 'reserved field id', manifest: { ...base, storage: { collections: { a: { fields: { id: { type: 'text' } } } } } } },
  { name: 'reserved field in other case', manifest: { ...base, storage: { collections: { a: { fields: { CreatedAt: { type: 'integer' } } } } } } },
  { name: 'fields differing only in case', manifest: { ...base, storage: { collections: { a: { fields: { name: { type: 'text' }, Name: { type: 'text' } } } } } } },
  { name: 'unknown field type', manifest: { ...base, storage: { collections: { a: { fields: { b: { type: 'blob' } } } } } } },
  { name: 'default of the wrong type', manifest: { ...base, storage: { collections: { a: { fields: { b: { type: 'integer', default: 'x' } } } } } } },
  { name: 'index on an undeclared field', manifest: { ...base, storage: { collections: { a: { fields: { b: { type: 'text' } }, indexes: [{ fields: ['c'] }] } } } } },
  { name: 'sealed field without the vault permission', manifest: { ...base, permissions: ['query'], storage: { collections: { a: { fields: { b: { type: 'text', sealed: true } } } } } } },
  { name: 'sealed integer field (only text and json can be sealed)', manifest: { ...base, permissions: ['query', 'vault'], storage: { collections: { a: { fields: { b: { type: 'integer', sealed: true } } } } } } },
  {
    name: 'index on a sealed field (an index would order and compare encrypted values)',
    manifest: { ...base, permissions: ['query', 'vault'], storage: { collections: { a: { fields: { b: { type: 'text', sealed: true } }, indexes: [{ fields: ['b'] }] } } } },
  },
  {
    name: 'unique index that includes a sealed field',
    manifest: { ...base, permissions: ['query', 'vault'], storage: { collections: { a: { fields: { b: { type: 'text' }, c: { type: 'json', sealed: true } }, indexes: [{ fields: ['b', 'c'], unique: true }] } } } },
  },
  { name: 'duplicate capability', manifest: { ...base, capabilities: [{ name: 'add', description: 'a' }, { name: 'add', description: 'b' }] } },
];

for (const c of invalid) {
  test(`manifest refused: ${c.name}`, () => {
    assert.throws(() => parseManifest(c.manifest, 'plugins/notes'), (e: unknown) => isBulkheadError(e, 'BH_MANIFEST_INVALID') && e.message.includes('plugins/notes'));
  });
}

test('sealed text and json fields are accepted with the vault permission, and the index error names the field', () => {
  const manifest = parseManifest(
    { ...base, permissions: ['query', 'vault'], storage: { collections: { a: { fields: { s: { type: 'text' }, b: { type: 'text', sealed: true }, c: { type: 'json', sealed: true } }, indexes: [{ fields: ['s'] }] } } } },
    'plugins/notes',
  );
  assert.equal(manifest.storage?.collections['a']?.fields['b']?.sealed, true);
  assert.throws(
    () => parseManifest({ ...base, permissions: ['query', 'vault'], storage: { collections: { a: { fields: { b: { type: 'text', sealed: true } }, indexes: [{ fields: ['b'] }] } } } }, 'plugins/notes'),
    (e: unknown) => isBulkheadError(e, 'BH_MANIFEST_INVALID') && /indexes\/0 names the sealed field b/.test(e.message),
  );
});

test('a full manifest is accepted and frozen', () => {
  const manifest = parseManifest(
    {
      ...base,
      permissions: ['query', 'reply'],
      limits: { timeoutMs: 2000, memoryMiB: 64 },
      capabilities: [
        { name: 'add', description: 'Add a note', params: { type: 'object', properties: { text: { type: 'string' } } }, examples: [{ text: 'note buy milk', params: { text: 'buy milk' } }], dashboard: true },
        { name: 'admin:purge', export: 'admin_purge', description: 'Purge' },
      ],
      storage: { collections: { notes: { fields: { text: { type: 'text', required: true }, pinned: { type: 'boolean', default: false } }, indexes: [{ fields: ['createdAt'] }] } } },
    },
    'test',
  );
  assert.equal(manifest.name, 'notes');
  assert.ok(Object.isFrozen(manifest) && Object.isFrozen(manifest.storage?.collections['notes']?.fields));
});

// Attack: a manifest nested thousands of levels deep overflowed the stack of structuredClone and
// deepFreeze (RangeError, host down). It must be a coded refusal, whichever part holds the depth.
const deep = (levels: number): unknown => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`);
const tooDeep: { name: string; manifest: unknown }[] = [
  { name: 'a capability params schema 5,000 levels deep', manifest: { ...base, capabilities: [{ name: 'add', description: 'a', params: { type: 'object', default: deep(5000) } }] } },
  { name: 'example params 5,000 levels deep', manifest: { ...base, capabilities: [{ name: 'add', description: 'a', examples: [{ params: { a: deep(5000) } }] }] } },
  { name: 'a field default 100,000 levels deep', manifest: { ...base, storage: { collections: { a: { fields: { b: { type: 'json', default: deep(100_000) } } } } } } },
];
for (const c of tooDeep) {
  test(`stack exhaustion: manifest refused with BH_MANIFEST_INVALID: ${c.name}`, () => {
    assert.throws(
      () => parseManifest(c.manifest, 'plugins/deep'),
      (e: unknown) => isBulkheadError(e, 'BH_MANIFEST_INVALID') && e.message.includes('nested deeper than 64 levels'),
    );
  });
}

test('the plugin name pattern in code is the one in schemas/plugin-manifest.v1.json', () => {
  const schema = JSON.parse(readFileSync(fromRoot('schemas', 'plugin-manifest.v1.json'), 'utf8')) as { properties: { name: { pattern: string } } };
  assert.equal(pluginNamePattern.source, schema.properties.name.pattern);
});
