// Untrusted JSON is measured before anything recursive sees it. Attack: a value nested thousands
// of levels deep (JSON.parse builds it happily) overflowing the stack of structuredClone, a
// recursive freeze, JSON.stringify or Ajv, which crashes the host with an uncoded RangeError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeJsonLimit, jsonLimitExceeded, manifestJsonLimits, maxManifestDepth, maxParamsDepth, paramsJsonLimits } from '../../host/core/json-limits.js';

/** `levels` arrays inside each other, as JSON text. */
const nestedArrays = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
/** `levels` objects inside each other: {"a":{"a":...{}}}. */
const nestedObjects = (levels: number): string => `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`;

test('depth counts containers: a scalar is 0 levels, {} is 1, {"a":[]} is 2', () => {
  assert.equal(jsonLimitExceeded(7, { maxDepth: 0 }), undefined);
  assert.equal(jsonLimitExceeded({}, { maxDepth: 0 }), 'depth');
  assert.equal(jsonLimitExceeded({}, { maxDepth: 1 }), undefined);
  assert.equal(jsonLimitExceeded({ a: [] }, { maxDepth: 1 }), 'depth');
  assert.equal(jsonLimitExceeded({ a: [] }, { maxDepth: 2 }), undefined);
});

test('params may nest exactly maxParamsDepth levels, and not one more (arrays and objects alike)', () => {
  for (const nested of [nestedArrays, nestedObjects]) {
    assert.equal(jsonLimitExceeded(JSON.parse(nested(maxParamsDepth)), paramsJsonLimits), undefined);
    assert.equal(jsonLimitExceeded(JSON.parse(nested(maxParamsDepth + 1)), paramsJsonLimits), 'depth');
  }
});

test('a manifest may nest exactly maxManifestDepth levels, and not one more', () => {
  assert.equal(jsonLimitExceeded(JSON.parse(nestedObjects(maxManifestDepth)), manifestJsonLimits), undefined);
  assert.equal(jsonLimitExceeded(JSON.parse(nestedObjects(maxManifestDepth + 1)), manifestJsonLimits), 'depth');
});

test('stack exhaustion: values 100,000 and 1,000,000 levels deep are measured without overflowing', () => {
  for (const levels of [100_000, 1_000_000]) {
    assert.equal(jsonLimitExceeded(JSON.parse(nestedArrays(levels)), paramsJsonLimits), 'depth');
  }
  // Deep but within a generous limit: the walk itself must not recurse either.
  assert.equal(jsonLimitExceeded(JSON.parse(nestedArrays(100_000)), { maxDepth: 100_000 }), undefined);
});

test('a wide manifest past maxValues is refused; one value fewer passes', () => {
  const limit = manifestJsonLimits.maxValues ?? 0;
  // The root array is one value, so limit - 1 items make exactly `limit` values.
  assert.equal(jsonLimitExceeded(new Array(limit - 1).fill(0), manifestJsonLimits), undefined);
  assert.equal(jsonLimitExceeded(new Array(limit).fill(0), manifestJsonLimits), 'values');
});

test('a cyclic object (only code can build one) ends the walk as too deep', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  assert.equal(jsonLimitExceeded(cyclic, paramsJsonLimits), 'depth');
});

test('the exceeded limit is described by its number, never by the value', () => {
  assert.equal(describeJsonLimit('depth', paramsJsonLimits), 'nested deeper than 32 levels');
  assert.equal(describeJsonLimit('values', manifestJsonLimits), 'made of more than 100000 values');
});
