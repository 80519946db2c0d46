/**
 * Where a JSON text first breaks the grammar JSON.parse accepts (RFC 8259), and why, for plugin
 * authors: JSON.parse's own message differs between Node versions, often has no position, and
 * quotes the text. This module imports nothing, so pdk/build.mjs can load it from dist/ as well.
 *
 * The problem is a fixed phrase: it never quotes the text, which may hold anything.
 */
export interface JsonSyntaxError {
  /** Index (UTF-16 code units) of the character at fault. */
  readonly offset: number;
  /** 1-based; \n, \r\n and a lone \r each end a line. */
  readonly line: number;
  /** 1-based, counted in characters (code points), as editors show it. */
  readonly column: number;
  readonly problem: string;
}

const numberPattern = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const hex4 = /[0-9a-fA-F]{4}/y;

/**
 * The first syntax error in `text`, or undefined when JSON.parse would accept it. Iterative, so
 * a hostile text of a million `[` costs memory for a stack of offsets, never the call stack.
 *
 * @example
 * findJsonSyntaxError('{\n  "a": 1,\n}') // { line: 2, column: 9, problem: 'a trailing comma ...' }
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const n = text.length;
  let i = 0;
  /** Offsets of the `{` and `[` not yet closed. */
  const open: number[] = [];
  const fail = (offset: number, problem: string): JsonSyntaxError => ({ offset, ...lineAndColumn(text, offset), problem });
  const skipSpace = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      i++;
    }
  };
  const unclosed = (): JsonSyntaxError => {
    const at = open[open.length - 1] ?? 0;
    return fail(at, `this "${text[at] ?? ''}" is never closed (the text ends first)`);
  };
  /** At a `"`: moves past the string, or answers why it is not one. */
  const readString = (): JsonSyntaxError | undefined => {
    const start = i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return fail(i, 'a string holds a raw line break or control character: write it escaped, e.g. \\n');
      if (c === 0x5c) {
        const next = text[i + 1];
        if (next === 'u') {
          hex4.lastIndex = i + 2;
          if (!hex4.test(text)) return fail(i, 'a string has a \\u escape without 4 hex digits');
          i += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) {
          i += 2;
        } else {
          return fail(i, 'a string has an invalid escape (valid ones: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
        }
      } else {
        i++;
      }
    }
    return fail(start, 'a string that starts here is never closed');
  };
  /** At the start of a value: moves past a string, number or literal, or opens a container. */
  const readValue = (): JsonSyntaxError | 'opened' | undefined => {
    if (i >= n) return open.length > 0 ? unclosed() : fail(i, n === 0 || text.trim() === '' ? 'the file is empty' : 'the text ends where a value should start');
    const c = text[i];
    if (c === '{' || c === '[') {
      open.push(i++);
      return 'opened';
    }
    if (c === '"') return readString();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      numberPattern.lastIndex = i;
      const start = i;
      if (numberPattern.test(text)) i = numberPattern.lastIndex;
      const next = text[i];
      if (i === start || (next !== undefined && /[0-9.eE+-]/.test(next))) {
        return fail(start, 'a number is malformed (no leading zeros, no leading "+" or ".", digits after "." and after "e")');
      }
      return undefined;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return undefined;
      }
    }
    if (c === "'") return fail(i, 'strings must be in double quotes');
    if (c === '/') return fail(i, 'JSON has no comments');
    return fail(i, 'expected a value (a string in double quotes, a number, true, false, null, an object or an array)');
  };
  /** After `{` or a `,` in an object: a property name, then `:`. */
  const readKey = (): JsonSyntaxError | undefined => {
    skipSpace();
    if (i >= n) return unclosed();
    if (text[i] === "'") return fail(i, 'property names must be in double quotes');
    if (text[i] !== '"') return fail(i, 'expected a property name in double quotes');
    const bad = readString();
    if (bad) return bad;
    skipSpace();
    if (i >= n) return unclosed();
    if (text[i] !== ':') return fail(i, 'expected ":" after a property name');
    i++;
    return undefined;
  };

  let expectValue = true;
  for (;;) {
    skipSpace();
    if (expectValue) {
      const result = readValue();
      if (result === 'opened') {
        skipSpace();
        const closer = text[open[open.length - 1] ?? 0] === '{' ? '}' : ']';
        if (text[i] === closer) {
          open.pop();
          i++;
          expectValue = false;
        } else if (closer === '}') {
          const bad = readKey();
          if (bad) return bad;
        }
        continue;
      }
      if (result) return result;
      expectValue = false;
      continue;
    }
    const top = open[open.length - 1];
    if (top === undefined) return i < n ? fail(i, 'there is more text after the JSON value') : undefined;
    if (i >= n) return unclosed();
    const inObject = text[top] === '{';
    const c = text[i];
    if (c === ',') {
      const comma = i++;
      skipSpace();
      const next = text[i];
      if (next === '}' || next === ']') return fail(comma, `a trailing comma: nothing follows it before "${next}"`);
      if (inObject) {
        const bad = readKey();
        if (bad) return bad;
      }
      expectValue = true;
      continue;
    }
    if (c === (inObject ? '}' : ']')) {
      open.pop();
      i++;
      continue;
    }
    return fail(i, inObject ? 'expected "," or "}" after a property value' : 'expected "," or "]" after an array item');
  }
}

/** The 1-based line and column of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(k + 1) !== 0x0a)) {
      line++;
      lineStart = k + 1;
    }
  }
  let column = 1;
  for (let k = lineStart; k < offset && k < text.length; k++) {
    const c = text.charCodeAt(k);
    // The second half of a surrogate pair is not a character of its own.
    if (!(c >= 0xdc00 && c <= 0xdfff && k > lineStart && isHighSurrogate(text.charCodeAt(k - 1)))) column++;
  }
  return { line, column };
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** " at line 7, column 3 (a trailing comma ...)" for a text JSON.parse refused, or "" when the scanner finds no error. */
export function describeJsonSyntaxError(text: string): string {
  const error = findJsonSyntaxError(text);
  return error ? ` at line ${error.line}, column ${error.column} (${error.problem})` : '';
}
