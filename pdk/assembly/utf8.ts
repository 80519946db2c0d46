// A growable buffer of UTF-8 bytes that encodes (and, for JSON strings, escapes) as it writes.
//
// Requests, results and replies are written straight into it and handed to the host with one
// block_write, instead of building strings, joining them and encoding the result. The PDK keeps
// its buffers from call to call, so writing costs no allocation once they have grown to their
// working size.

const HEX = "0123456789abcdef";

/** 2^53: beyond it not every integer is a distinct f64. */
const MAX_EXACT_INTEGER: f64 = 9007199254740992.0;

/** A buffer that grew past this for one large output is dropped on `reset`, so it does not keep the memory. */
const KEEP_BYTES: i32 = 64 * 1024;
const INITIAL_BYTES: i32 = 256;
/** Larger than any block the host accepts; keeps the arithmetic below far from overflow. */
const MAX_BYTES: i64 = 0x3fffffff;

export class Utf8Buffer {
  /** Start of the bytes; valid until the next write (the buffer may move when it grows). */
  ptr: usize = 0;
  /** Bytes written. */
  length: i32 = 0;
  private capacity: i32 = 0;
  /** The storage: a managed buffer, so the garbage collector frees it with its owner. */
  private storage: ArrayBuffer | null = null;

  /** Forgets what was written, keeping a modest buffer for the next use. */
  reset(): void {
    this.length = 0;
    if (this.capacity > KEEP_BYTES) {
      this.storage = null;
      this.ptr = 0;
      this.capacity = 0;
    }
  }

  /** Makes room for `extra` more bytes. */
  @inline
  reserve(extra: i64): void {
    if (<i64>this.length + extra > <i64>this.capacity) this.grow(extra);
  }

  private grow(extra: i64): void {
    const needed = <i64>this.length + extra;
    if (needed > MAX_BYTES) throw new Error("Utf8Buffer: more than 1 GiB");
    let capacity = max(this.capacity << 1, INITIAL_BYTES);
    while (<i64>capacity < needed) capacity <<= 1;
    const storage = new ArrayBuffer(capacity);
    if (this.length > 0) memory.copy(changetype<usize>(storage), this.ptr, <usize>this.length);
    this.storage = storage;
    this.ptr = changetype<usize>(storage);
    this.capacity = capacity;
  }

  /** One byte (ASCII). */
  @inline
  byte(b: i32): void {
    this.reserve(1);
    store<u8>(this.ptr + <usize>this.length, <u8>b);
    this.length++;
  }

  /** A string known to be ASCII (a key or keyword written by the PDK), byte for byte. */
  ascii(text: string): void {
    const n = text.length;
    this.reserve(n);
    const src = changetype<usize>(text);
    let at = this.ptr + <usize>this.length;
    for (let i = 0; i < n; i++) store<u8>(at + <usize>i, <u8>load<u16>(src + (<usize>i << 1)));
    this.length += n;
  }

  /** `text` as UTF-8; an unpaired surrogate becomes U+FFFD, so the bytes are always valid UTF-8. */
  utf8(text: string): void {
    const n = text.length;
    this.reserve(<i64>n * 3);
    const src = changetype<usize>(text);
    let at = this.ptr + <usize>this.length;
    for (let i = 0; i < n; i++) {
      const c = <u32>load<u16>(src + (<usize>i << 1));
      if (c < 0x80) {
        store<u8>(at++, <u8>c);
        continue;
      }
      at = putWide(at, src, i, n, c, false);
      if (tookPair) i++;
    }
    this.length = <i32>(at - this.ptr);
  }

  /**
   * `text` as a quoted JSON string. `"`, `\` and control characters are escaped (\n, \r, \t, \b,
   * \f, else \u00XX) and so are unpaired surrogates (\udXXX), so the bytes are valid UTF-8 that
   * any JSON parser reads back as `text`; everything else is written as it is.
   */
  jsonString(text: string): void {
    this.byte(0x22);
    this.jsonChars(text, 0, text.length);
    this.byte(0x22);
  }

  /**
   * Units [start, end) of `text` escaped as in `jsonString`, without the quotes (the caller has
   * clamped the range). A surrogate pair cut by the range is written as an escaped half.
   */
  jsonChars(text: string, start: i32, end: i32): void {
    const n = end;
    // at most 6 bytes per UTF-16 unit (\u00XX, \udXXX)
    this.reserve(<i64>(n - start) * 6);
    const src = changetype<usize>(text);
    let at = this.ptr + <usize>this.length;
    for (let i = start; i < n; i++) {
      // Four units at a time while they are plain ASCII (no quote, backslash or control).
      while (i + 4 <= n) {
        const x = load<u64>(src + (<usize>i << 1));
        if (!plainAscii4(x)) break;
        store<u32>(at, <u32>((x & 0xff) | ((x >> 8) & 0xff00) | ((x >> 16) & 0xff0000) | ((x >> 24) & 0xff000000)));
        at += 4;
        i += 4;
      }
      if (i >= n) break;
      const c = <u32>load<u16>(src + (<usize>i << 1));
      if (c < 0x80) {
        if (c >= 0x20 && c != 0x22 && c != 0x5c) {
          store<u8>(at++, <u8>c);
          continue;
        }
        at = putEscape(at, c);
        continue;
      }
      at = putWide(at, src, i, n, c, true);
      if (tookPair) i++;
    }
    this.length = <i32>(at - this.ptr);
  }

  /** An integer in decimal. */
  integer(value: i64): void {
    this.reserve(20);
    let at = this.ptr + <usize>this.length;
    let n: u64;
    if (value < 0) {
      store<u8>(at++, 0x2d);
      n = <u64>(-value);
    } else {
      n = <u64>value;
    }
    let digits = 1;
    for (let rest = n; rest >= 10; rest /= 10) digits++;
    let end = at + <usize>digits;
    do {
      store<u8>(--end, <u8>(0x30 + <u32>(n % 10)));
      n /= 10;
    } while (n != 0);
    this.length = <i32>(at + <usize>digits - this.ptr);
  }

  /**
   * A JSON number: non-finite numbers become null, as in JavaScript; an integral number within
   * ±2^53 is written without fraction or exponent, so timestamps in milliseconds round-trip.
   */
  number(n: f64): void {
    if (!isFinite(n)) this.ascii("null");
    else if (n == Math.floor(n) && Math.abs(n) <= MAX_EXACT_INTEGER) this.integer(<i64>n);
    else this.ascii(n.toString());
  }

  /** The bytes decoded as a string (they are valid UTF-8 when only the methods above wrote them). */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.length);
  }
}

/**
 * Whether four UTF-16 units (a little-endian u64) are all ASCII that JSON writes as it is: below
 * 0x80, not below 0x20, not `"` (0x22), not `\` (0x5c). A lane below a bound borrows from the
 * next one, which can only add a hit where there already is one.
 */
// @ts-ignore: decorator
@inline
function plainAscii4(x: u64): bool {
  const high: u64 = 0x8000800080008000;
  if (x & 0xff80ff80ff80ff80) return false;
  const quote = x ^ 0x0022002200220022;
  const backslash = x ^ 0x005c005c005c005c;
  const hits = (x - 0x0020002000200020) | (quote - 0x0001000100010001) | (backslash - 0x0001000100010001);
  // a lane's top bit is set by a borrow (x, quote and backslash all have it clear)
  return (hits & high) == 0;
}

// @ts-ignore: decorator
@inline
function putThree(at: usize, c: u32): usize {
  store<u8>(at, <u8>(0xe0 | (c >> 12)));
  store<u8>(at + 1, <u8>(0x80 | ((c >> 6) & 0x3f)));
  store<u8>(at + 2, <u8>(0x80 | (c & 0x3f)));
  return at + 3;
}

// @ts-ignore: decorator
/** Set by `putWide` when it wrote a surrogate pair, i.e. used the unit after `i` as well. */
let tookPair = false;

/**
 * Writes the non-ASCII unit `c` (unit `i` of the `n` at `src`) as UTF-8 and returns the end. A
 * surrogate pair becomes one 4-byte sequence (and sets `tookPair`); an unpaired surrogate becomes
 * its `\uXXXX` escape when `escapeLone` (inside JSON strings), else U+FFFD.
 */
@inline
function putWide(at: usize, src: usize, i: i32, n: i32, c: u32, escapeLone: bool): usize {
  tookPair = false;
  if (c < 0x800) return putTwo(at, c);
  if ((c & 0xf800) == 0xd800) {
    const low = lowSurrogateAfter(src, i, n, c);
    if (low != 0) {
      tookPair = true;
      return putPair(at, c, low);
    }
    if (escapeLone) return putUnicodeEscape(at, c);
    return putThree(at, 0xfffd);
  }
  return putThree(at, c);
}

@inline
function putTwo(at: usize, c: u32): usize {
  store<u8>(at, <u8>(0xc0 | (c >> 6)));
  store<u8>(at + 1, <u8>(0x80 | (c & 0x3f)));
  return at + 2;
}

/** The low surrogate that pairs with `c` at unit `i` of the `n` units at `src`, or 0 when there is none. */
@inline
function lowSurrogateAfter(src: usize, i: i32, n: i32, c: u32): u32 {
  if (c >= 0xdc00 || i + 1 >= n) return 0;
  const d = <u32>load<u16>(src + (<usize>(i + 1) << 1));
  return (d & 0xfc00) == 0xdc00 ? d : 0;
}

@inline
function putPair(at: usize, high: u32, low: u32): usize {
  const c = 0x10000 + (((high & 0x3ff) << 10) | (low & 0x3ff));
  store<u8>(at, <u8>(0xf0 | (c >> 18)));
  store<u8>(at + 1, <u8>(0x80 | ((c >> 12) & 0x3f)));
  store<u8>(at + 2, <u8>(0x80 | ((c >> 6) & 0x3f)));
  store<u8>(at + 3, <u8>(0x80 | (c & 0x3f)));
  return at + 4;
}

function putEscape(at: usize, c: u32): usize {
  let short: u32 = 0;
  if (c == 0x22) short = 0x22;
  else if (c == 0x5c) short = 0x5c;
  else if (c == 0x0a) short = 0x6e; // n
  else if (c == 0x0d) short = 0x72; // r
  else if (c == 0x09) short = 0x74; // t
  else if (c == 0x08) short = 0x62; // b
  else if (c == 0x0c) short = 0x66; // f
  if (short == 0) return putUnicodeEscape(at, c);
  store<u8>(at, 0x5c);
  store<u8>(at + 1, <u8>short);
  return at + 2;
}

function putUnicodeEscape(at: usize, c: u32): usize {
  const hex = changetype<usize>(HEX);
  store<u8>(at, 0x5c);
  store<u8>(at + 1, 0x75); // u
  store<u8>(at + 2, load<u8>(hex + (<usize>((c >> 12) & 15) << 1)));
  store<u8>(at + 3, load<u8>(hex + (<usize>((c >> 8) & 15) << 1)));
  store<u8>(at + 4, load<u8>(hex + (<usize>((c >> 4) & 15) << 1)));
  store<u8>(at + 5, load<u8>(hex + (<usize>(c & 15) << 1)));
  return at + 6;
}
