import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { BulkheadError, errorTable, type ErrorCode } from '../../host/core/errors.js';
import { errorsDocPath, renderErrorsDoc } from '../../host/core/errors-doc.js';
import { fromRoot } from '../../host/core/paths.js';

test('host/core/errors.md matches the error table (run `npm run docs:errors` after changing it)', () => {
  assert.equal(readFileSync(errorsDocPath, 'utf8'), renderErrorsDoc());
});

test('every code is BH_ + upper case, and every message is a sentence that ends with a full stop', () => {
  for (const [code, { message }] of Object.entries(errorTable)) {
    assert.match(code, /^BH_[A-Z]+(_[A-Z]+)+$/);
    assert.match(message, /^[{A-Z].*\.$/s, code);
  }
});

test('a thrown error fills its placeholders and serialises to {code, message} only', () => {
  const error = new BulkheadError('BH_KEY_MALFORMED', { variable: 'BULKHEAD_SIGNING_KEY' });
  assert.equal(error.code, 'BH_KEY_MALFORMED');
  assert.ok(error.message.startsWith('BULKHEAD_SIGNING_KEY must be exactly 32 bytes'));
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(error)) as object).sort(), ['code', 'message']);
});

test('every code in the table is used by the host, and the host uses no code outside it', () => {
  // The host and the dashboard (the browser front) throw them.
  const source = ['host', 'dashboard']
    .map((dir) => fromRoot(dir))
    .flatMap((dir) =>
      readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.ts') && path.join(dir, f) !== fromRoot('host', 'core', 'errors.ts'))
        .map((f) => readFileSync(path.join(dir, f), 'utf8')),
    )
    .join('\n');
  const used = new Set(source.match(/'BH_[A-Z_]+'/g)?.map((s) => s.slice(1, -1)));
  for (const code of Object.keys(errorTable)) assert.ok(used.has(code), `${code} is never thrown: remove it or use it`);
  for (const code of used) assert.ok(Object.hasOwn(errorTable, code as ErrorCode), `${code} is not in the table`);
});
