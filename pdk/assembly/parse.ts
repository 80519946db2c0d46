// The JSON parser behind Json.parse, parseJson and the PDK's reading of params and host answers.
//
// One parser reads either UTF-16 units (T = u16: a string a plugin passes to Json.parse) or UTF-8
// bytes (T = u8: the input and host answers, read without decoding the whole text first; only the
// strings it keeps are decoded). Positions count units of the text read.
//
// Its state is module-level, not an object: parsing is never re-entered (it calls no user code),
// and the per-character loops then touch only numbers and raw addresses, which stays fast under
// any AssemblyScript runtime (the incremental one spills every object a method is called on to
// its shadow stack, which in such a loop cost more than the work itself).
import { parseDecimal } from "./decimal";
import { JSON_MAX_DEPTH, Json } from "./json";

/** The outcome of `parseJson`: a value, or an error and the offset (in UTF-16 units) where it arose. */
export class JsonParseResult {
  constructor(
    public readonly value: Json | null,
    public readonly error: string,
    public readonly offset: i32,
  ) {}

  get ok(): bool { return this.value != null; }
}

/** Parses one JSON value (with optional surrounding whitespace). Never traps on bad input. */
export function parseJson(text: string): JsonParseResult {
  source = text; // keeps the text alive while it is read through its address
  const value = parseDocument<u16>(changetype<usize>(text), text.length);
  source = null;
  return new JsonParseResult(value, problem, value != null ? 0 : at);
}

/**
 * Parses `length` bytes of UTF-8 at `ptr` (valid UTF-8, as the host sends; the caller keeps them
 * alive); null when they are not one JSON value.
 */
export function parseJsonBytes(ptr: usize, length: i32): Json | null {
  return parseDocument<u8>(ptr, length);
}

/**
 * Parses a host answer held in `owner`, whole and checked like parseJsonBytes, except that the
 * objects inside it (find's records, insert's record, an error) are only checked, then built on
 * first use; `getString`, `getNumber`, `getBool` and `has` read them without building them at all.
 * A list of records costs a few strings instead of a dozen allocations per record.
 */
export function parseAnswer(owner: ArrayBuffer, length: i32): Json | null {
  lazyOwner = owner;
  const value = parseDocument<u8>(changetype<usize>(owner), length);
  lazyOwner = null;
  return value;
}

// ---- state -------------------------------------------------------------------------------------

/** The text being read: its address, length in units, and the position reached. */
let base: usize = 0;
let end: i32 = 0;
let at: i32 = 0;
/** Why the text is not JSON ("" while it may be). */
let problem: string = "";
/** The string being parsed, when it is one. */
let source: string | null = null;
/**
 * False while only checking the grammar: nothing is built (no allocation) and every value read
 * stands in as `checked()`. The same functions do both, so what is checked is exactly what parses.
 */
let building = true;
/** While parsing a host answer: the buffer holding it, which its lazy objects keep. */
let lazyOwner: ArrayBuffer | null = null;
/**
 * While checking a lazy object: its depth, whose members are noted in the members scratch as they
 * pass (where each key's bytes start and end, where its value starts), and whether a key had an
 * escape or non-ASCII text (then keys are compared only once the object is built).
 */
let indexDepth: i32 = -1;
let indexCount: i32 = 0;
let indexUndecided = false;
/** Whether the last string read was plain ASCII, without escapes. */
let plainAscii = false;

/** What a checked value stands in as (any non-null Json; this one is never allocated). */
// @ts-ignore: decorator
@inline
function checked(): Json {
  return Json.nullValue();
}

/** Unmanaged UTF-16 scratch for strings with escapes. */
let unitsPtr: usize = 0;
let unitsCapacity: i32 = 0;

/** Keys seen recently, by a hash of their bytes: records repeat the same few keys. */
const KEY_CACHE_SIZE: i32 = 64;
const KEY_CACHE_MAX_LENGTH: i32 = 32;
const keyCache = new StaticArray<string | null>(KEY_CACHE_SIZE);

// @ts-ignore: decorator
@inline
function unit<T>(position: i32): u32 {
  return <u32>load<T>(base + (<usize>position << alignof<T>()));
}

function fail(error: string): Json | null {
  if (problem.length == 0) problem = error;
  return null;
}

// ---- grammar -----------------------------------------------------------------------------------

function parseDocument<T>(ptr: usize, length: i32): Json | null {
  base = ptr;
  end = length;
  at = 0;
  problem = "";
  building = true;
  const value = parseValue<T>(1);
  if (value) {
    skipSpace<T>();
    if (at == end) return value;
    fail("unexpected text after the value");
  }
  return null;
}

function skipSpace<T>(): void {
  const ptr = base;
  const length = end;
  let pos = at;
  while (pos < length) {
    const c = <u32>load<T>(ptr + (<usize>pos << alignof<T>()));
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    pos++;
  }
  at = pos;
}

/** Consumes `c` if it is next. */
// @ts-ignore: decorator
@inline
function consume<T>(c: u32): bool {
  if (at < end && unit<T>(at) == c) {
    at++;
    return true;
  }
  return false;
}

function parseValue<T>(depth: i32): Json | null {
  skipSpace<T>();
  if (at >= end) return fail("unexpected end of input");
  const c = unit<T>(at);
  if (c == 0x7b) return parseObject<T>(depth); // {
  if (c == 0x5b) return parseArray<T>(depth); // [
  if (c == 0x22) {
    const s = parseString<T>(false);
    return s == null ? null : building ? Json.fromString(s) : checked();
  }
  if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return parseNumber<T>();
  if (literal<T>("true")) return Json.fromBool(true);
  if (literal<T>("false")) return Json.fromBool(false);
  if (literal<T>("null")) return Json.nullValue();
  return fail("unexpected character");
}

/** Notes a member of the lazy object being checked; its value starts after the spaces at the position. */
function noteMember(keyStart: i32, keyEnd: i32): void {
  if (!plainAscii) indexUndecided = true;
  let pos = at;
  while (pos < end) {
    const c = <u32>load<u8>(base + <usize>pos);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    pos++;
  }
  reserveMembers(indexCount + 1);
  const slot = membersPtr + (<usize>indexCount * 12);
  store<i32>(slot, keyStart);
  store<i32>(slot, keyEnd, 4);
  store<i32>(slot, pos, 8);
  indexCount++;
}

/** A value inside an object or array: while parsing a host answer, an object is only checked, and left lazy. */
function parseNested<T>(depth: i32): Json | null {
  if (sizeof<T>() == 1 && building && lazyOwner != null) {
    skipSpace<T>();
    if (at < end && unit<T>(at) == 0x7b) {
      const start = at;
      building = false;
      indexDepth = depth;
      indexCount = 0;
      indexUndecided = false;
      const value = parseObject<T>(depth);
      building = true;
      indexDepth = -1;
      if (value == null) return null;
      let index: StaticArray<i32> | null = null;
      if (!indexUndecided) {
        index = new StaticArray<i32>(indexCount * 3);
        memory.copy(changetype<usize>(index), membersPtr, <usize>indexCount * 12);
      }
      return Json.lazyObject(lazyOwner as ArrayBuffer, start, at, index);
    }
  }
  return parseValue<T>(depth);
}

function literal<T>(word: string): bool {
  const n = word.length;
  if (at + n > end) return false;
  const w = changetype<usize>(word);
  for (let i = 0; i < n; i++) {
    if (unit<T>(at + i) != <u32>load<u16>(w + (<usize>i << 1))) return false;
  }
  at += n;
  return true;
}

function parseObject<T>(depth: i32): Json | null {
  if (depth > JSON_MAX_DEPTH) return fail("nested too deeply");
  at++; // {
  const result = building ? Json.object() : checked();
  skipSpace<T>();
  if (consume<T>(0x7d)) return result; // }
  while (true) {
    skipSpace<T>();
    if (at >= end || unit<T>(at) != 0x22) return fail("expected a string key");
    const keyStart = at + 1;
    const key = parseString<T>(true);
    if (key == null) return null;
    const keyEnd = at - 1;
    skipSpace<T>();
    if (!consume<T>(0x3a)) return fail("expected ':'"); // :
    if (depth == indexDepth) noteMember(keyStart, keyEnd);
    const item = parseNested<T>(depth + 1);
    if (item == null) return null;
    if (building) result.set(key, item);
    skipSpace<T>();
    if (consume<T>(0x2c)) continue; // ,
    if (consume<T>(0x7d)) return result; // }
    return fail("expected ',' or '}'");
  }
}

function parseArray<T>(depth: i32): Json | null {
  if (depth > JSON_MAX_DEPTH) return fail("nested too deeply");
  at++; // [
  const result = building ? Json.array() : checked();
  skipSpace<T>();
  if (consume<T>(0x5d)) return result; // ]
  while (true) {
    const item = parseNested<T>(depth + 1);
    if (item == null) return null;
    if (building) (result.asArray() as Array<Json>).push(item);
    skipSpace<T>();
    if (consume<T>(0x2c)) continue; // ,
    if (consume<T>(0x5d)) return result; // ]
    return fail("expected ',' or ']'");
  }
}

/**
 * Reads a string starting at its opening quote. Escapes yield UTF-16 units, so a \uD83D\uDE00
 * pair becomes one character. A key may come from the key cache.
 */
function parseString<T>(isKey: bool): string | null {
  const ptr = base;
  const length = end;
  const start = at + 1; // after the opening quote
  let pos = start;
  let seen: u32 = 0; // every unit or-ed: below 0x80 means ASCII
  plainAscii = false;
  while (pos < length) {
    if (sizeof<T>() == 1) {
      // Eight bytes at a time while none is a quote, a backslash or a control character.
      while (pos + 8 <= length) {
        const x = load<u64>(ptr + <usize>pos);
        if (!plainBytes8(x)) break;
        if (x & 0x8080808080808080) seen = 0x80;
        pos += 8;
      }
      if (pos >= length) break;
    }
    const c = <u32>load<T>(ptr + (<usize>pos << alignof<T>()));
    if (c == 0x22) {
      at = pos + 1;
      plainAscii = seen < 0x80;
      if (!building) return "";
      return plainString<T>(ptr + (<usize>start << alignof<T>()), pos - start, seen, isKey);
    }
    if (c == 0x5c) return escapedString<T>(start);
    if (c < 0x20) {
      at = pos;
      fail("control character in a string");
      return null;
    }
    seen |= c;
    pos++;
  }
  at = pos;
  fail("unterminated string");
  return null;
}

/** The string of `count` units at `src`, which hold no escape. */
function plainString<T>(src: usize, count: i32, seen: u32, isKey: bool): string {
  if (sizeof<T>() == 2) return String.UTF16.decodeUnsafe(src, <usize>count << 1);
  if (seen >= 0x80) return String.UTF8.decodeUnsafe(src, <usize>count);
  if (isKey && count <= KEY_CACHE_MAX_LENGTH) return cachedKey(src, count);
  return widen(src, count);
}

/** A string with escapes, from `start` (after the opening quote), decoded into the UTF-16 scratch. */
function escapedString<T>(start: i32): string | null {
  const ptr = base;
  const length = end;
  let pos = start;
  let units = 0;
  while (pos < length) {
    // the run up to the next quote or backslash
    const run = pos;
    while (pos < length) {
      const c = <u32>load<T>(ptr + (<usize>pos << alignof<T>()));
      if (c == 0x22 || c == 0x5c) break;
      if (c < 0x20) {
        at = pos;
        fail("control character in a string");
        return null;
      }
      pos++;
    }
    units = appendRun<T>(units, run, pos);
    if (pos >= length) break;
    if (unit<T>(pos) == 0x22) {
      at = pos + 1;
      return building ? String.UTF16.decodeUnsafe(unitsPtr, <usize>units << 1) : "";
    }
    pos++; // backslash
    if (pos >= length) break;
    const e = unit<T>(pos);
    pos++;
    let decoded: u32 = 0;
    if (e == 0x22) decoded = 0x22;
    else if (e == 0x5c) decoded = 0x5c;
    else if (e == 0x2f) decoded = 0x2f;
    else if (e == 0x62) decoded = 0x08;
    else if (e == 0x66) decoded = 0x0c;
    else if (e == 0x6e) decoded = 0x0a;
    else if (e == 0x72) decoded = 0x0d;
    else if (e == 0x74) decoded = 0x09;
    else if (e == 0x75) {
      at = pos;
      const hex = hex4<T>();
      if (hex < 0) {
        fail("bad \\u escape");
        return null;
      }
      pos = at;
      decoded = <u32>hex;
    } else {
      at = pos - 1;
      fail("unknown escape");
      return null;
    }
    reserveUnits(units + 1);
    store<u16>(unitsPtr + (<usize>units << 1), <u16>decoded);
    units++;
  }
  at = pos;
  fail("unterminated string");
  return null;
}

/** Appends units [from, to) to the UTF-16 scratch after `units` units, decoding UTF-8 when T = u8; returns the new count. */
function appendRun<T>(units: i32, from: i32, to: i32): i32 {
  const count = to - from;
  if (count <= 0) return units;
  // a byte yields at most one unit (four bytes yield two)
  reserveUnits(units + count);
  const src = base + (<usize>from << alignof<T>());
  const dst = unitsPtr + (<usize>units << 1);
  if (sizeof<T>() == 2) {
    memory.copy(dst, src, <usize>count << 1);
    return units + count;
  }
  return units + decodeUtf8(src, count, dst);
}

/** Four hex digits at the position as a number (consumed), or -1. */
function hex4<T>(): i32 {
  if (at + 4 > end) return -1;
  let value = 0;
  for (let k = 0; k < 4; k++) {
    const c = unit<T>(at + k);
    let digit: i32;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) digit = c - 0x41 + 10;
    else return -1;
    value = (value << 4) | digit;
  }
  at += 4;
  return value;
}

function parseNumber<T>(): Json | null {
  const n = readNumber<T>();
  if (isNaN(n)) return null;
  return building ? Json.fromNumber(n) : checked();
}

/**
 * Checks the JSON number grammar, then converts, correctly rounded: integers of up to 18 digits
 * are accumulated exactly and converted once; anything else goes to parseDecimal. NaN (which no
 * JSON number is) when the grammar fails; 0 when only checking.
 */
function readNumber<T>(): f64 {
  const start = at;
  let negative = false;
  if (unit<T>(at) == 0x2d) {
    negative = true;
    at++;
  }
  const intStart = at;
  if (at < end && unit<T>(at) == 0x30) {
    at++;
  } else if (!digits<T>()) {
    return badNumber();
  }
  const intDigits = at - intStart;
  let integral = true;
  if (consume<T>(0x2e)) { // .
    integral = false;
    if (!digits<T>()) return badNumber();
  }
  if (at < end && (unit<T>(at) | 0x20) == 0x65) { // e or E
    integral = false;
    at++;
    if (at < end && (unit<T>(at) == 0x2b || unit<T>(at) == 0x2d)) at++;
    if (!digits<T>()) return badNumber();
  }
  if (!building) return 0;
  if (integral && intDigits <= 18) {
    let whole: i64 = 0;
    for (let i = intStart; i < at; i++) whole = whole * 10 + <i64>(unit<T>(i) - 0x30);
    const n = <f64>whole;
    return negative ? -n : n;
  }
  return parseDecimal<T>(base, start, at);
}

function badNumber(): f64 {
  fail("bad number");
  return NaN;
}

/** Consumes one or more digits; false when there were none. */
function digits<T>(): bool {
  const ptr = base;
  const length = end;
  const start = at;
  let pos = start;
  while (pos < length) {
    const c = <u32>load<T>(ptr + (<usize>pos << alignof<T>()));
    if (c < 0x30 || c > 0x39) break;
    pos++;
  }
  at = pos;
  return pos > start;
}

// ---- lazy objects ------------------------------------------------------------------------------

/** Where to look: a lazy object's checked text, [start, stop) of `owner`. */
function enter(owner: ArrayBuffer, start: i32, stop: i32): void {
  base = changetype<usize>(owner);
  end = stop;
  at = start;
  problem = "";
}

/** The keys cannot be compared without decoding them: build the object instead. */
export const LAZY_UNDECIDED: i32 = -2;

/**
 * Where the value of member `key` starts, from a lazy object's index (noted while checking it):
 * the last such member, as when the object is built (a later duplicate wins); -1 when there is
 * none; LAZY_UNDECIDED when `key` is not ASCII.
 */
export function lazyFind(owner: ArrayBuffer, index: StaticArray<i32>, key: string): i32 {
  const keyPtr = changetype<usize>(key);
  const keyLength = key.length;
  for (let i = 0; i < keyLength; i++) if (load<u16>(keyPtr + (<usize>i << 1)) >= 0x80) return LAZY_UNDECIDED;
  const bytes = changetype<usize>(owner);
  const members = changetype<usize>(index);
  for (let m = index.length / 3 - 1; m >= 0; m--) {
    const slot = members + (<usize>m * 12);
    const keyStart = load<i32>(slot);
    if (load<i32>(slot, 4) - keyStart != keyLength) continue;
    let same = true;
    for (let i = 0; i < keyLength; i++) {
      if (<u32>load<u8>(bytes + <usize>(keyStart + i)) != <u32>load<u16>(keyPtr + (<usize>i << 1))) {
        same = false;
        break;
      }
    }
    if (same) return load<i32>(slot, 8);
  }
  return -1;
}

/** Unmanaged scratch for the members of the lazy object being checked. */
let membersPtr: usize = 0;
let membersCapacity: i32 = 0;

function reserveMembers(count: i32): void {
  if (count <= membersCapacity) return;
  let capacity = max(membersCapacity << 1, 16);
  while (capacity < count) capacity <<= 1;
  membersPtr = membersPtr == 0 ? heap.alloc(<usize>capacity * 12) : heap.realloc(membersPtr, <usize>capacity * 12);
  membersCapacity = capacity;
}

/** The string at `position` of `owner` (checked text), or null when the value there is not a string. */
export function lazyString(owner: ArrayBuffer, stop: i32, position: i32): string | null {
  enter(owner, position, stop);
  if (unit<u8>(position) != 0x22) return null;
  building = true;
  return parseString<u8>(false);
}

/** The number at `position` of `owner` (checked text), or `fallback` when the value there is not a number. */
export function lazyNumber(owner: ArrayBuffer, stop: i32, position: i32, fallback: f64): f64 {
  enter(owner, position, stop);
  const c = unit<u8>(position);
  if (c != 0x2d && (c < 0x30 || c > 0x39)) return fallback;
  building = true;
  const value = readNumber<u8>();
  return isNaN(value) ? fallback : value;
}

/** The boolean at `position` of `owner` (checked text), or `fallback` when the value there is not one. */
export function lazyBool(owner: ArrayBuffer, position: i32, fallback: bool): bool {
  const c = <u32>load<u8>(changetype<usize>(owner) + <usize>position);
  return c == 0x74 ? true : c == 0x66 ? false : fallback; // t, f
}

/** Builds the lazy object [start, stop) of `owner`. */
export function lazyBuild(owner: ArrayBuffer, start: i32, stop: i32): Json {
  // The text was checked where it stood, nested deeper than here, so it parses.
  return parseDocument<u8>(changetype<usize>(owner) + <usize>start, stop - start) as Json;
}

// ---- strings -----------------------------------------------------------------------------------

function reserveUnits(units: i32): void {
  if (units <= unitsCapacity) return;
  let capacity = max(unitsCapacity << 1, 256);
  while (capacity < units) capacity <<= 1;
  unitsPtr = unitsPtr == 0 ? heap.alloc(<usize>capacity << 1) : heap.realloc(unitsPtr, <usize>capacity << 1);
  unitsCapacity = capacity;
}

/**
 * Whether eight bytes (a little-endian u64) hold no `"` (0x22), `\` (0x5c) or control character
 * (below 0x20). A byte below a bound borrows from the next one, which can only add a hit where
 * there already is one; bytes of 0x80 and above are never hits.
 */
// @ts-ignore: decorator
@inline
function plainBytes8(x: u64): bool {
  const high: u64 = 0x8080808080808080;
  const quote = x ^ 0x2222222222222222;
  const backslash = x ^ 0x5c5c5c5c5c5c5c5c;
  const hits = ((x - 0x2020202020202020) & ~x) | ((quote - 0x0101010101010101) & ~quote) | ((backslash - 0x0101010101010101) & ~backslash);
  return (hits & high) == 0;
}

/** ASCII bytes as a string. */
function widen(src: usize, count: i32): string {
  const text = changetype<string>(__new(<usize>count << 1, idof<string>()));
  const dst = changetype<usize>(text);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const b = <u64>load<u32>(src + <usize>i);
    store<u64>(dst + (<usize>i << 1), (b & 0xff) | ((b & 0xff00) << 8) | ((b & 0xff0000) << 16) | ((b & 0xff000000) << 24));
  }
  for (; i < count; i++) store<u16>(dst + (<usize>i << 1), load<u8>(src + <usize>i));
  return text;
}

/** A short ASCII key: the cached string when the same bytes were seen before, else a new one (then cached). */
function cachedKey(src: usize, count: i32): string {
  let hash: u32 = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < count; i++) hash = (hash ^ <u32>load<u8>(src + <usize>i)) * 0x01000193;
  const slot = <i32>((hash ^ (hash >> 16)) & <u32>(KEY_CACHE_SIZE - 1));
  const cached = unchecked(keyCache[slot]);
  if (cached != null && cached.length == count) {
    const units = changetype<usize>(cached);
    let same = true;
    for (let i = 0; i < count; i++) {
      if (<u32>load<u16>(units + (<usize>i << 1)) != <u32>load<u8>(src + <usize>i)) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  const key = widen(src, count);
  unchecked((keyCache[slot] = key));
  return key;
}

/**
 * Decodes `count` bytes of UTF-8 at `src` into UTF-16 units at `dst`; returns the units written
 * (at most `count`). Like String.UTF8.decode: a sequence cut short by the end is dropped.
 */
function decodeUtf8(src: usize, count: i32, dst: usize): i32 {
  let pos = src;
  const stop = src + <usize>count;
  let out = dst;
  while (pos < stop) {
    let u0 = <u32>load<u8>(pos++);
    if (u0 < 0x80) {
      store<u16>(out, <u16>u0);
      out += 2;
      continue;
    }
    if (pos == stop) break;
    const u1 = <u32>load<u8>(pos++) & 63;
    if ((u0 & 224) == 192) {
      store<u16>(out, <u16>(((u0 & 31) << 6) | u1));
      out += 2;
      continue;
    }
    if (pos == stop) break;
    const u2 = <u32>load<u8>(pos++) & 63;
    if ((u0 & 240) == 224) {
      u0 = ((u0 & 15) << 12) | (u1 << 6) | u2;
    } else {
      if (pos == stop) break;
      u0 = ((u0 & 7) << 18) | (u1 << 12) | (u2 << 6) | (<u32>load<u8>(pos++) & 63);
    }
    if (u0 < 0x10000) {
      store<u16>(out, <u16>u0);
      out += 2;
    } else {
      u0 -= 0x10000;
      store<u16>(out, <u16>((u0 >> 10) | 0xd800));
      store<u16>(out + 2, <u16>((u0 & 0x3ff) | 0xdc00));
      out += 4;
    }
  }
  return <i32>((out - dst) >> 1);
}
