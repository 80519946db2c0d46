import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBulkheadError } from '../../host/core/errors.js';
import { parseManifest } from '../../host/manifest/manifest.js';

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
  { name: 'sealed field before the vault exists', manifest: { ...base, storage: { collections: { a: { fields: { b: { type: 'text', sealed: true } } } } } } },
  { name: 'duplicate capability', manifest: { ...base, capabilities: [{ name: 'add', description: 'a' }, { name: 'add', description: 'b' }] } },
];

for (const c of invalid) {
  test(`manifest refused: ${c.name}`, () => {
    assert.throws(() => parseManifest(c.manifest, 'plugins/notes'), (e: unknown) => isBulkheadError(e, 'BH_MANIFEST_INVALID') && e.message.includes('plugins/notes'));
  });
}

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
