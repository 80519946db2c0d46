// The scanner that locates JSON syntax errors for plugin authors must agree with JSON.parse on
// what is valid (whatever the Node version's messages say), and point at the right line and column.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { findJsonSyntaxError, lineAndColumn } from '../../host/core/json-position.js';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const alphabet = [...'{}[],:"\\ \n\r\t0123456789.eE+-truefalsnul\'/x\u0001\u00e9', '\u{1F600}'];

test('the scanner finds an error exactly when JSON.parse refuses the text (mutated JSON values)', () => {
  const mutation = fc.record({ kind: fc.constantFrom('replace', 'insert', 'delete'), at: fc.nat(), ch: fc.constantFrom(...alphabet) });
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom(0, 2), fc.array(mutation, { maxLength: 3 }), (value, indent, mutations) => {
      const chars = [...JSON.stringify(value, null, indent)];
      for (const { kind, at, ch } of mutations) {
        const i = chars.length === 0 ? 0 : at % (chars.length + (kind === 'insert' ? 1 : 0));
        if (kind === 'insert') chars.splice(i, 0, ch);
        else if (kind === 'delete') chars.splice(i, 1);
        else chars[i] = ch;
      }
      const text = chars.join('');
      assert.equal(findJsonSyntaxError(text) === undefined, parses(text), JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
});

test('errors point at the mistake, never quote the text', () => {
  const cases: [string, number, number, RegExp][] = [
    ['{\n  "a": 1,\n}', 2, 9, /trailing comma/],
    ['{\r\n  "a": 1\r\n  "b": 2\r\n}', 3, 3, /expected "," or "}"/],
    ['[1, 2', 1, 1, /this "\[" is never closed/],
    ['{"a": "x', 1, 7, /a string that starts here is never closed/],
    ['{"\u{1F600}": 01}', 1, 7, /a number is malformed/],
    ['{"a": 1} // note', 1, 10, /more text after/],
    ["{'a': 1}", 1, 2, /double quotes/],
    ['', 1, 1, /the file is empty/],
  ];
  for (const [text, line, column, problem] of cases) {
    const error = findJsonSyntaxError(text);
    assert.ok(error, text);
    assert.deepEqual([error.line, error.column], [line, column], text);
    assert.match(error.problem, problem);
  }
});

test('a million unclosed brackets are located without a deep call stack', () => {
  const error = findJsonSyntaxError('['.repeat(1_000_000));
  assert.equal(error?.column, 1_000_000);
});

test('lines end at \\n, \\r\\n and a lone \\r; columns count characters, not UTF-16 units', () => {
  assert.deepEqual(lineAndColumn('a\nb\r\nc\rd', 7), { line: 4, column: 1 });
  assert.deepEqual(lineAndColumn('\u{1F600}\u{1F600}x', 4), { line: 1, column: 3 });
});
