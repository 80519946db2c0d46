/**
 * Regular expressions whose text comes from a manifest, run in time linear in the input.
 *
 * JavaScript's RegExp backtracks: a params `pattern` of `^(a|a)*$` held the event loop for 93 s
 * on 31 `a` and a `!`. RE2 (here its pure-JavaScript port, re2js) has no backtracking, so the
 * cost of a match is bounded by input length times pattern size, and RE2 caps the pattern size
 * itself (repeat counts <= 1000, "expression too large" past that). The price is RE2 syntax: no
 * backreferences and no lookaround, which are exactly the features that cannot be matched in
 * linear time. A manifest that uses them is refused at load, never run on the backtracking engine.
 *
 * @example
 * new Ajv2020({ code: { regExp: linearRegExp } }); // every `pattern` / `patternProperties` key
 */
import { RE2JS } from 're2js';

/** A manifest pattern that RE2 cannot compile; the message never quotes the pattern. */
export class NonLinearPatternError extends Error {
  constructor() {
    super('the pattern is not RE2 syntax');
    this.name = 'NonLinearPatternError';
  }
}

/** What Ajv needs from a pattern: `.test()`, and a `toString()` that tells patterns apart. */
export interface LinearRegExp {
  test(text: string): boolean;
  toString(): string;
}

/**
 * Ajv's `code.regExp` engine. Ajv calls it as a plain function with the pattern and "u" (its
 * `unicodeRegExp` default), and keys its per-schema cache of compiled patterns on the result's
 * `toString()`, which for re2js is the pattern text, so two patterns never share an entry.
 */
export function linearRegExp(pattern: string, flags: string): LinearRegExp {
  // RE2 always matches Unicode code points, so "u" changes nothing; anything else would be
  // silently ignored, which is worse than refusing.
  if (flags !== '' && flags !== 'u') throw new NonLinearPatternError();
  return compileLinear(pattern);
}
// Ajv copies `code` into standalone validation code; Bulkhead never generates standalone code,
// and the string only has to be unique per engine.
linearRegExp.code = 'linearRegExp /* host/manifest/linear-regex.ts */';

/** Compiles RE2 syntax; NonLinearPatternError when RE2 refuses it. */
export function compileLinear(pattern: string, flags = 0): RE2JS {
  try {
    return RE2JS.compile(pattern, flags);
  } catch {
    throw new NonLinearPatternError();
  }
}
