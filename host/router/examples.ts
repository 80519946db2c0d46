/**
 * Patterns learned from manifest examples. An example is a phrase and the params it means; every
 * string param (and every string in an array param) that appears in the phrase becomes a slot, the
 * rest stays literal. "remember to call the dentist on Monday, tag it health" with
 * {"text": "call the dentist on Monday", "tags": ["health"]} becomes
 * `remember to <text>, tag it <tags[0]>`. A message matches when it ends with the pattern, word by
 * word, case-insensitively; the pattern with the most literal text wins.
 */
import type { Capability } from '../plugins/catalog.js';
import type { Catalog } from './route.js';

export interface ExamplePattern {
  readonly capability: Capability;
  /** Literal characters in the pattern: more means more specific. */
  readonly score: number;
  match(text: string): Record<string, unknown> | undefined;
}

interface Slot {
  readonly value: string;
  readonly param: string;
  /** Index in an array param, or undefined for a plain string param. */
  readonly index: number | undefined;
}

/** Literal text shorter than this is too little to recognise a phrase by. */
const minLiteralChars = 4;

export function compileExamples(catalog: Catalog): ExamplePattern[] {
  const patterns: ExamplePattern[] = [];
  for (const capability of catalog) {
    for (const example of capability.spec.examples ?? []) {
      if (!example.text) continue;
      const pattern = compileExample(capability, example.text, example.params);
      if (pattern) patterns.push(pattern);
    }
  }
  return patterns;
}

function compileExample(capability: Capability, text: string, params: Record<string, unknown>): ExamplePattern | undefined {
  const slots: Slot[] = [];
  for (const [param, value] of Object.entries(params)) {
    if (typeof value === 'string') slots.push({ value, param, index: undefined });
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) value.forEach((v, index) => slots.push({ value: v as string, param, index }));
    else return undefined; // a number or object param cannot be read back out of a phrase
  }
  // Place each slot at its first occurrence, longest values first so that none sits inside another.
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
  placed.sort((a, b) => a.start - b.start);

  let source = '';
  let literal = 0;
  let at = 0;
  placed.forEach((slot, i) => {
    const before = text.slice(at, slot.start);
    source += literalSource(before);
    literal += before.trim().length;
    // An array element is one word; a string is as short as the literal after it allows.
    source += slot.index === undefined ? (i === placed.length - 1 && slot.end === text.length ? '(.+)' : '(.+?)') : '([^\\s,]+)';
    at = slot.end;
  });
  const after = text.slice(at).replace(/[\s.!?]+$/, '');
  source += literalSource(after);
  literal += after.trim().length;
  if (literal < minLiteralChars) return undefined;
  const regex = new RegExp(`(?:^|\\s)${source.replace(/^\\s\+/, '')}[\\s.!?]*$`, 'i');
  const order = placed.map((slot) => ({ param: slot.param, index: slot.index }));
  const arrays = new Set(slots.filter((s) => s.index !== undefined).map((s) => s.param));
  return {
    capability,
    score: literal,
    match(message: string): Record<string, unknown> | undefined {
      const found = regex.exec(message);
      if (!found) return undefined;
      const out: Record<string, unknown> = {};
      for (const name of arrays) out[name] = [];
      order.forEach((slot, i) => {
        const value = (found[i + 1] ?? '').trim();
        if (slot.index === undefined) out[slot.param] = value;
        else (out[slot.param] as string[]).push(value);
      });
      return out;
    },
  };
}

/** Literal text as a regex: words matched case-insensitively, any run of spaces as one. */
function literalSource(text: string): string {
  return text
    .split(/(\s+)/)
    .map((part) => (/^\s+$/.test(part) ? '\\s+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
}
