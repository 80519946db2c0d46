/**
 * Patterns learned from manifest examples. An example is a phrase and the params it means; every
 * string param (and every string in an array param) that appears in the phrase becomes a slot, the
 * rest stays literal. "remember to call the dentist on Monday, tag it health" with
 * {"text": "call the dentist on Monday", "tags": ["health"]} becomes
 * `remember to <text>, tag it <tags[0]>`. A message matches when it ends with the pattern, word by
 * word, case-insensitively. Patterns come out ordered for the router: built-ins' first, then the
 * most literal text first.
 *
 * Every chat message reaches these patterns and a manifest shapes them, so their cost must not
 * depend on what the manifest says: they run on RE2 (linear in the message, with the same
 * leftmost-first, lazy-slot answers a backtracking RegExp gives), behind a cheap check that every
 * literal word occurs in order, and their number and size are capped (the caps below).
 */
import { limitDefault } from '../config/limits.js';
import { RE2JS } from 're2js';
import { compileLinear, NonLinearPatternError } from '../manifest/linear-regex.js';
import type { Capability } from '../plugins/catalog.js';
import type { Catalog } from './route.js';

/** Most example patterns one plugin contributes to routing (its other examples still show in help). */
export const maxExamplePatternsPerPlugin = limitDefault('router.maxExamplePatternsPerPlugin');
/** Most example patterns in one catalog; built-ins are counted first, so they are never crowded out. */
export const maxExamplePatterns = limitDefault('router.maxExamplePatterns');
/** Most slots in one example: each is a capture group, and captures are what make matching cost. */
export const maxSlotsPerExample = limitDefault('router.maxSlotsPerExample');
/**
 * Most patterns whose slots are read out for one message. Reading slots is the costly step (up to
 * ~0.4 ms on 500 characters with 16 slots, against ~0.02 ms for the yes/no test before it), and only
 * a pattern whose params then fail the schema makes the router read another of the same plugin.
 */
export const maxReadsPerMessage = limitDefault('router.maxReadsPerMessage');

export interface ExamplePattern {
  readonly capability: Capability;
  /** Literal characters in the pattern: more means more specific. */
  readonly score: number;
  /** Does the message match? `lower` is `text.toLowerCase()`, computed once per message. */
  test(text: string, lower: string): boolean;
  /** The params in a message that passed `test`. */
  read(text: string): Record<string, unknown> | undefined;
}

interface Slot {
  readonly value: string;
  readonly param: string;
  /** Index in an array param, or undefined for a plain string param. */
  readonly index: number | undefined;
}

/** Literal text shorter than this is too little to recognise a phrase by. */
const minLiteralChars = 4;

// RE2's \s and . differ from JavaScript's (no Unicode spaces; . stops only at \n): these classes
// spell out JavaScript's meaning so routing answers what it answered on RegExp.
const spaceChars = '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
const spaces = `[${spaceChars}]+`;
const anyChar = '[^\\n\\r\\x{2028}\\x{2029}]';

export function compileExamples(catalog: Catalog): ExamplePattern[] {
  const patterns: ExamplePattern[] = [];
  const perPlugin = new Map<string, number>();
  for (const capability of [...catalog].sort(builtInsFirst)) {
    for (const example of capability.spec.examples ?? []) {
      const counted = perPlugin.get(capability.plugin) ?? 0;
      if (patterns.length >= maxExamplePatterns || counted >= maxExamplePatternsPerPlugin) break;
      if (!example.text) continue;
      const pattern = compileExample(capability, example.text, example.params);
      if (!pattern) continue;
      patterns.push(pattern);
      perPlugin.set(capability.plugin, counted + 1);
    }
  }
  // The router takes the first match of each plugin, and a built-in's before anyone else's.
  return patterns.sort((a, b) => builtInsFirst(a.capability, b.capability) || b.score - a.score);
}

function builtInsFirst(a: Capability, b: Capability): number {
  return Number(b.builtIn) - Number(a.builtIn);
}

function compileExample(capability: Capability, text: string, params: Record<string, unknown>): ExamplePattern | undefined {
  const slots = slotsOf(params);
  if (!slots || slots.length > maxSlotsPerExample) return undefined;
  const placed = place(slots, text);
  if (!placed) return undefined;

  let source = '';
  const literals: string[] = [];
  let at = 0;
  placed.forEach((slot, i) => {
    literals.push(text.slice(at, slot.start));
    source += literalSource(text.slice(at, slot.start));
    // An array element is one word; a string is as short as the literal after it allows.
    const last = i === placed.length - 1 && slot.end === text.length;
    source += slot.index === undefined ? `(${anyChar}+${last ? '' : '?'})` : `([^${spaceChars},]+)`;
    at = slot.end;
  });
  const after = text.slice(at).replace(/[\s.!?]+$/, '');
  literals.push(after);
  source += literalSource(after);
  const score = literals.reduce((sum, literal) => sum + literal.trim().length, 0);
  if (score < minLiteralChars) return undefined;
  if (source.startsWith(spaces)) source = source.slice(spaces.length);
  let regex: RE2JS;
  try {
    regex = compileLinear(`(?:^|${spaces})${source}[${spaceChars}.!?]*$`, RE2JS.CASE_INSENSITIVE);
  } catch (error) {
    if (error instanceof NonLinearPatternError) return undefined; // e.g. a lone surrogate in the text
    throw error;
  }
  const words = literals.flatMap((literal) => literal.toLowerCase().split(/\s+/)).filter((word) => word !== '');
  return {
    capability,
    score,
    // Words first (most messages fail there), then RE2's automaton without captures.
    test: (message, lower) => wordsInOrder(lower, words) && regex.test(message),
    read: (message) => paramsOf(regex.exec(message), placed, slots),
  };
}

/** The slots of an example's params, or undefined when a param cannot be read back from text. */
function slotsOf(params: Record<string, unknown>): Slot[] | undefined {
  const slots: Slot[] = [];
  for (const [param, value] of Object.entries(params)) {
    if (typeof value === 'string') slots.push({ value, param, index: undefined });
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) value.forEach((v, index) => slots.push({ value: v as string, param, index }));
    else return undefined; // a number or object param cannot be read back out of a phrase
  }
  return slots;
}

/** Each slot at its first occurrence, longest values first so that none sits inside another. */
function place(slots: readonly Slot[], text: string): (Slot & { start: number; end: number })[] | undefined {
  const lower = text.toLowerCase();
  const placed: (Slot & { start: number; end: number })[] = [];
  for (const slot of [...slots].sort((a, b) => b.value.length - a.value.length)) {
    if (slot.value === '') return undefined;
    let from = 0;
    let start = -1;
    for (;;) {
      start = lower.indexOf(slot.value.toLowerCase(), from);
      if (start === -1) return undefined;
      const end = start + slot.value.length;
      if (!placed.some((p) => start < p.end && end > p.start)) break;
      from = start + 1;
    }
    placed.push({ ...slot, start, end: start + slot.value.length });
  }
  return placed.sort((a, b) => a.start - b.start);
}

/**
 * The cheap test before the regex: every literal word occurs, in order, in the lower-cased message.
 * Whatever the regex matches passes it, so it only saves work; most messages fail at the first word.
 */
function wordsInOrder(lower: string, words: readonly string[]): boolean {
  let from = 0;
  for (const word of words) {
    const at = lower.indexOf(word, from);
    if (at === -1) return false;
    from = at + word.length;
  }
  return true;
}

function paramsOf(found: (string | undefined)[] | null, placed: readonly Slot[], slots: readonly Slot[]): Record<string, unknown> | undefined {
  if (!found) return undefined;
  const out: Record<string, unknown> = {};
  for (const slot of slots) if (slot.index !== undefined) out[slot.param] = [];
  placed.forEach((slot, i) => {
    const value = (found[i + 1] ?? '').trim();
    if (slot.index === undefined) out[slot.param] = value;
    else (out[slot.param] as string[]).push(value);
  });
  return out;
}

/** Literal text as RE2 source: words matched case-insensitively, any run of spaces as one. */
function literalSource(text: string): string {
  return text
    .split(/(\s+)/)
    .map((part) => (/^\s+$/.test(part) ? spaces : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
}
